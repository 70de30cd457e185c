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
"""Smoke test of the live harness: PerceptionNode with use_compressed (JPEG CompressedImage)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope='module')
def ros_args(live, tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    folder = tmp_path_factory.mktemp('perception_compressed')
    return live.perception_args(tiny_checkpoint, folder, use_compressed=True)


def test_compressed_frames_give_emotion_sequences(live, ros, perception) -> None:
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CompressedImage

    from st_f2m_ros.msg import EmotionSequence

    camera = ros.publisher(CompressedImage, 'image/compressed', qos_profile_sensor_data)
    ros.wait_for_subscribers(camera)
    out = ros.record(EmotionSequence, 'emotion/sequence')
    stamps = live.play(ros, camera, live.rendered_frames(3.0, seed=2), live.compressed_msg)
    for msg in out.wait(1, timeout=10.0):
        live.check_sequence(msg, stamps)
