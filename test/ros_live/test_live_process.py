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
"""Smoke test of the live harness: `scripts/perception_node` as a real process.

It starts with the tiny checkpoint, answers camera frames published from this process (DDS
between processes, localhost only, this run's domain) and exits 0 within 10 s of SIGINT, as
`ros2 launch` stops it.
"""

from __future__ import annotations

from pathlib import Path
import signal


def test_perception_process_publishes_and_exits_0_on_sigint(
    live, ros, node_process, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    from st_f2m_ros.msg import EmotionSequence

    proc = node_process('perception_node', *live.perception_args(tiny_checkpoint, tmp_path))
    proc.wait_for_output('ready: model', timeout=90.0)

    camera = ros.publisher(Image, 'image', qos_profile_sensor_data)
    ros.wait_for_subscribers(camera, timeout=20.0)
    out = ros.record(EmotionSequence, 'emotion/sequence')
    frames = live.rendered_frames(3.0)
    stamps = live.play(ros, camera, frames, live.image_msg, until=lambda: out.messages)
    live.check_sequence(out.wait(1, timeout=10.0)[-1], stamps)

    code, took = proc.stop(signal.SIGINT, timeout=10.0)
    log = proc.output()
    assert code == 0, f'exit code {code}:\n{log}'
    assert 'Traceback' not in log, log
    assert took < 10.0
