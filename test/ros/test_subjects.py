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
"""Subject ids: one validator everywhere, and a collision-free ROS name token for ROS4HRI.

(rclpy's own topic-name validation of the tokens runs in test/ros_live/test_node_names.py.)
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
import pytest

from st_f2m_ros.errors import AdaptationError
from st_f2m_ros.ros import params as P
from st_f2m_ros.runtime.subjects import (
    ros_name_token,
    subject_from_token,
    subject_id_problem,
    validate_subject_id,
)

# Every valid subject id (the hypothesis strategy filters the '..' rule).
SUBJECT_IDS = st.from_regex(r'\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z').filter(
    lambda s: '..' not in s
)
# The rcl token rule, restated: alphanumerics and '_', not starting with a digit.
TOKEN = r'\A[A-Za-z_][A-Za-z0-9_]*\Z'


@pytest.mark.parametrize('bad', ['a..b', '..', '.hidden', '-x', '', 'a/b', 'a b', 'é', 'x' * 65])
def test_invalid_ids_refused_everywhere(bad: str) -> None:
    assert subject_id_problem(bad)
    with pytest.raises(AdaptationError, match='invalid subject id'):
        validate_subject_id(bad)
    # the parameter uses the same rule: `a..b` used to pass the pattern and fail in /adapt
    assert P.validate_changes({'subject_id': bad}, P.defaults())
    if bad:
        assert P.validate_changes({'hri_face_id': bad}, P.defaults())


@pytest.mark.parametrize('good', ['p07', '007', 'p-07', 'a.b', '_x', 'Z', 'x' * 64, 'p_07'])
def test_valid_ids(good: str) -> None:
    assert validate_subject_id(good) == good
    assert P.validate_changes({'subject_id': good}, P.defaults()) is None


@pytest.mark.parametrize(
    ('subject', 'token'),
    [
        ('p07', 'p07'),  # REP 155 style ids keep their topic
        ('abcde', 'abcde'),
        ('p_07', 'p_07'),
        ('007', '_007'),
        ('p-07', '_pZh07'),
        ('a.b', '_aZdb'),
        ('a__b', '_aZuZub'),
        ('Zed-1', '_ZZedZh1'),
    ],
)
def test_token_examples(subject: str, token: str) -> None:
    assert ros_name_token(subject) == token
    assert subject_from_token(token) == subject


@given(SUBJECT_IDS)
def test_token_is_a_ros_token_and_round_trips(subject: str) -> None:
    import re

    token = ros_name_token(subject)
    assert re.match(TOKEN, token), token
    assert '__' not in token and not token.endswith('_')
    assert subject_from_token(token) == subject


@given(SUBJECT_IDS, SUBJECT_IDS)
def test_tokens_are_collision_free(a: str, b: str) -> None:
    assert (ros_name_token(a) == ros_name_token(b)) == (a == b)


@pytest.mark.parametrize('token', ['_p07', '1a', '_aZ', '_aZq', 'a-b', '_a_b'])
def test_foreign_tokens_are_not_decoded(token: str) -> None:
    with pytest.raises((ValueError, AdaptationError)):
        subject_from_token(token)
