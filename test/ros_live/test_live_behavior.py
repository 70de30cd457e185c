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
"""Smoke test of the live harness: EmotionBehaviorNode with config/behavior.yaml under Kilted.

Kilted's rclpy declares `start_type_description_service` on every node (issue 8: the node used
to refuse it as an unknown behaviour parameter and exit).
"""

from __future__ import annotations

import time

import pytest


@pytest.fixture(scope='module')
def ros_args(live) -> list[str]:
    return ['--ros-args', '--params-file', str(live.ROOT / 'config' / 'behavior.yaml')]


def test_behavior_node_starts_and_answers_a_sequence(live, ros) -> None:
    from std_msgs.msg import String

    from st_f2m_ros.msg import EmotionSequence, EmotionState
    from st_f2m_ros.ros.emotion_behavior_node import EmotionBehaviorNode
    from st_f2m_ros.taxonomy import CLASS_LABELS, class_id

    node = ros.add_node(EmotionBehaviorNode())
    assert node.get_name() == live.BEHAVIOR
    assert node.has_parameter('start_type_description_service')

    pub = ros.publisher(EmotionSequence, 'emotion/sequence')
    ros.wait_for_subscribers(pub)
    commands = ros.record(String, 'behavior/command')
    cid = class_id('happiness', 'high')
    for _ in range(30):  # confident, current sequences until a command comes back
        now = ros.now()
        state = EmotionState(
            start=now, end=now, class_id=cid, class_label=CLASS_LABELS[cid], confidence=0.95
        )
        msg = EmotionSequence(class_labels=list(CLASS_LABELS), states=[state])
        msg.header.stamp = now
        pub.publish(msg)
        if commands.messages:
            break
        time.sleep(0.1)
    assert commands.wait(1, timeout=5.0)[-1].data
