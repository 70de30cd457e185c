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
"""Smoke tests of the live harness: PerceptionNode under real rclpy, raw camera frames.

(a) bgr8 sensor_msgs/Image frames in -> st_f2m_ros/EmotionSequence out, stamped with a frame's
stamp, with well-formed states; (c) /adapt refuses a bad request with a reason, and the node
keeps publishing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope='module')
def ros_args(live, tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return live.perception_args(tiny_checkpoint, tmp_path_factory.mktemp('perception'))


@pytest.fixture(scope='module')
def frames(live) -> list[Any]:
    return live.rendered_frames(3.0)


def camera_to_sequences(live, ros, frames: list[Any]) -> tuple[list[Any], list[float]]:
    """Play the frames into `image`; the EmotionSequences that came back, and the stamps."""
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    from st_f2m_ros.msg import EmotionSequence

    camera = ros.publisher(Image, 'image', qos_profile_sensor_data)
    ros.wait_for_subscribers(camera)
    out = ros.record(EmotionSequence, 'emotion/sequence')
    try:
        stamps = live.play(ros, camera, frames, live.image_msg)
        return out.wait(1, timeout=10.0), stamps
    finally:
        out.close()
        ros.probe.destroy_publisher(camera)


def test_image_frames_give_emotion_sequences(live, ros, perception, frames) -> None:
    sequences, stamps = camera_to_sequences(live, ros, frames)
    for msg in sequences:
        live.check_sequence(msg, stamps)
    assert sequences[-1].subject_id == 'default'


def test_bad_adapt_request_is_refused_and_the_node_keeps_publishing(
    live, ros, perception, frames
) -> None:
    from st_f2m_ros.srv import Adapt

    client = ros.client(Adapt, 'adapt')
    for request in (
        Adapt.Request(subject_id='no such/person!'),  # invalid id
        Adapt.Request(subject_id='p01'),  # no clips at all
        Adapt.Request(subject_id='p01', clip_uris=['/etc/passwd']),  # outside the clip roots
    ):
        response = ros.call_service(client, request, timeout=30.0)
        assert response.success is False, request
        assert response.message, 'a refusal must say why'
        assert response.model_id
    sequences, stamps = camera_to_sequences(live, ros, frames[: len(frames) // 2])
    live.check_sequence(sequences[-1], stamps)
