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
"""Every valid subject id gives a topic name that rclpy itself accepts (ROS4HRI face topics)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.validate_full_topic_name import validate_full_topic_name  # noqa: E402
from rclpy.validate_topic_name import validate_topic_name  # noqa: E402

from st_f2m_ros.ros.hri import expression_topic  # noqa: E402
from st_f2m_ros.runtime.subjects import ros_name_token  # noqa: E402

SUBJECT_IDS = st.from_regex(r'\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z').filter(
    lambda s: '..' not in s
)


@given(SUBJECT_IDS)
@settings(max_examples=500, deadline=None)
def test_expression_topic_is_a_valid_ros_name(subject: str) -> None:
    topic = expression_topic(subject)
    assert validate_full_topic_name(topic)
    assert validate_topic_name(ros_name_token(subject))


@pytest.mark.parametrize('subject', ['007', 'p-07', 'a.b', '0' * 64, 'x-' * 32])
def test_ids_that_are_not_tokens_still_give_valid_topics(subject: str) -> None:
    from rclpy.exceptions import InvalidTopicNameException

    with pytest.raises(InvalidTopicNameException):  # the old topic name: /humans/faces/<id>/...
        validate_full_topic_name(f'/humans/faces/{subject}/expression')
    assert validate_full_topic_name(expression_topic(subject))
