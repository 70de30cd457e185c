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
"""The package's ROS 2 interface definitions, usable without ROS 2 through `rosbags`.

Bags are written and read, and messages serialised to CDR, with a `rosbags` type store of the
target distribution (Humble by default) extended with the package's own .msg files. The .msg /
.srv texts are found, in order: inside the installed Python package (`resources/interfaces/`,
copied there by setup.py at build time), in a source checkout (`<repo>/msg`, `<repo>/srv`),
or in a colcon install (`<prefix>/share/st_f2m_ros/` for each prefix of AMENT_PREFIX_PATH).
A service is registered as its two halves, `st_f2m_ros/srv/Adapt_Request` and `_Response`,
which is how rosidl names them.
"""

from __future__ import annotations

from functools import lru_cache
import os
from pathlib import Path
from typing import Any

from st_f2m_ros.errors import DataError

PACKAGE = 'st_f2m_ros'
MESSAGES: tuple[str, ...] = ('EmotionState', 'EmotionSequence', 'SupportClip', 'Transcript')
SERVICES: tuple[str, ...] = ('Adapt', 'ResetAdaptation')
DISTROS: tuple[str, ...] = ('humble', 'jazzy')

_HERE = Path(__file__).resolve().parent


def _candidate_roots() -> list[Path]:
    roots = [_HERE / 'resources' / 'interfaces', _HERE.parent]
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        if prefix:
            roots.append(Path(prefix) / 'share' / PACKAGE)
    return roots


def interface_dir() -> Path:
    """Return the folder holding `msg/` and `srv/` with the package's definitions."""
    for root in _candidate_roots():
        if (root / 'msg' / 'EmotionSequence.msg').is_file():
            return root
    tried = ', '.join(str(r) for r in _candidate_roots())
    raise DataError(f'cannot find the st_f2m_ros .msg files; looked in: {tried}')


def interface_text(kind: str, name: str) -> str:
    """Return the text of `msg/<name>.msg` or `srv/<name>.srv`."""
    if kind not in ('msg', 'srv'):
        raise ValueError(f'kind must be "msg" or "srv", got {kind!r}')
    return (interface_dir() / kind / f'{name}.{kind}').read_text(encoding='utf-8')


def split_service(text: str) -> tuple[str, str]:
    """Split a .srv text into its request and response message texts."""
    lines = text.splitlines()
    seps = [i for i, line in enumerate(lines) if line.strip() == '---']
    if len(seps) != 1:
        raise DataError(f'a .srv needs exactly one "---" separator, found {len(seps)}')
    i = seps[0]
    return '\n'.join(lines[:i]) + '\n', '\n'.join(lines[i + 1 :]) + '\n'


def interface_types() -> dict[str, Any]:
    """Parse every package interface into a rosbags types dict (message name -> definition)."""
    from rosbags.typesys import get_types_from_msg

    types: dict[str, Any] = {}
    for name in MESSAGES:
        types.update(get_types_from_msg(interface_text('msg', name), f'{PACKAGE}/msg/{name}'))
    for name in SERVICES:
        request, response = split_service(interface_text('srv', name))
        for half, text in (('Request', request), ('Response', response)):
            parsed = get_types_from_msg(text, f'{PACKAGE}/srv/{name}_{half}')
            types.update({_srv_name(k): _fix_refs(v) for k, v in parsed.items()})
    return types


# rosbags' .msg parser knows no services: it files a .srv half under "<pkg>/srv/msg/<Name>"
# and resolves the package's own message types relative to that. Undo both so that the
# halves carry rosidl's names ("<pkg>/srv/Adapt_Request") and refer to "<pkg>/msg/...".
_SRV_PREFIX = f'{PACKAGE}/srv/msg/'


def _srv_name(name: str) -> str:
    return f'{PACKAGE}/srv/{name[len(_SRV_PREFIX):]}' if name.startswith(_SRV_PREFIX) else name


def _fix_refs(node: Any) -> Any:
    if isinstance(node, str) and node.startswith(_SRV_PREFIX):
        return f'{PACKAGE}/msg/{node[len(_SRV_PREFIX):]}'
    if isinstance(node, tuple):
        return tuple(_fix_refs(n) for n in node)
    if isinstance(node, list):
        return [_fix_refs(n) for n in node]
    return node


@lru_cache(maxsize=4)
def typestore(distro: str = 'humble') -> Any:
    """Return a rosbags Typestore of `distro` ('humble' or 'jazzy') with the package's types."""
    from rosbags.typesys import Stores, get_typestore

    stores = {'humble': Stores.ROS2_HUMBLE, 'jazzy': Stores.ROS2_JAZZY}
    if distro not in stores:
        raise DataError(f'unknown ROS 2 distribution {distro!r}; expected one of {DISTROS}')
    store = get_typestore(stores[distro])
    store.register(interface_types())
    return store
