# Copyright 2026 The st_f2m_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""Subject ids: the one validator (parameter, /adapt, /reset, ROS4HRI) and their ROS name token.

A subject id names a folder of the adaptation store and appears in `model_id`, so it must be
a safe file name: 1-64 of letters, digits, `_`, `-`, `.`; not starting with `.` or `-`; no
`..`. One rule everywhere, so that an id accepted by `ros2 param set` never fails later in
/adapt (the old parameter pattern let `a..b` through to the store's check).

A subject id is not always a valid ROS name token (`007` starts with a digit, `p-07` has a
`-`), yet ROS4HRI puts the face id into topic names (/humans/faces/<id>/expression).
`ros_name_token` maps every valid id to a valid token, collision-free:
* ids that already are plain tokens (a letter, then letters/digits, single `_` between them:
  `p07`, `abcde`, `p_07`) are used unchanged, so REP 155 ids keep their topics;
* any other id becomes `_` + the id with `Z` -> `ZZ`, `_` -> `Zu`, `-` -> `Zh`, `.` -> `Zd`
  (`007` -> `_007`, `p-07` -> `_pZh07`, `a.b` -> `_aZdb`). Plain tokens never start with `_`
  and the escape is uniquely decodable, so two ids never share a token (`subject_from_token`
  inverts it).
"""

from __future__ import annotations

import re

from st_f2m_ros.errors import AdaptationError

SUBJECT_ID_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$')
# A ROS name token kept unchanged: starts with a letter, no '__', no trailing '_'.
PLAIN_TOKEN_RE = re.compile(r'^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*$')
_ESCAPE = {'Z': 'ZZ', '_': 'Zu', '-': 'Zh', '.': 'Zd'}
_UNESCAPE = {v[1]: k for k, v in _ESCAPE.items()}
RULE = '1-64 letters, digits, "_", "-" or "." (not starting with "." or "-", no "..")'


def subject_id_problem(value: object) -> str | None:
    """Why `value` is not a valid subject id, or None when it is."""
    if not isinstance(value, str):
        return f'subject id must be a string, got {type(value).__name__}'
    if not SUBJECT_ID_RE.match(value) or '..' in value:
        return f'invalid subject id {value!r}: use {RULE}'
    return None


def validate_subject_id(value: object) -> str:
    """Return `value` when it is a valid subject id, else raise AdaptationError (the reason)."""
    problem = subject_id_problem(value)
    if problem:
        raise AdaptationError(problem)
    return value  # type: ignore[return-value]


def ros_name_token(subject: str) -> str:
    """The ROS name token (one topic-name segment) of a valid subject id; collision-free."""
    validate_subject_id(subject)
    if PLAIN_TOKEN_RE.match(subject):
        return subject
    return '_' + ''.join(_ESCAPE.get(c, c) for c in subject)


def subject_from_token(token: str) -> str:
    """Inverse of `ros_name_token` (raises ValueError for a token it never produces)."""
    if not token.startswith('_'):
        if not PLAIN_TOKEN_RE.match(token):
            raise ValueError(f'{token!r} is not a token of a subject id')
        return token
    out, chars = [], iter(token[1:])
    for c in chars:
        if c == 'Z':
            nxt = next(chars, '')
            if nxt not in _UNESCAPE:
                raise ValueError(f'{token!r}: bad escape Z{nxt}')
            out.append(_UNESCAPE[nxt])
        elif c.isascii() and c.isalnum():
            out.append(c)
        else:
            raise ValueError(f'{token!r}: unexpected {c!r}')
    subject = validate_subject_id(''.join(out))
    if ros_name_token(subject) != token:  # e.g. '_p07': p07 maps to itself
        raise ValueError(f'{token!r} is not the token of {subject!r}')
    return subject
