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
"""Shared by the pipeline live tests: the real PerceptionNode in-process, a probe node, bag replay.

A helper module, not a test module; `test_pipeline_*.py` and `test_bad_input*.py`
import it. The node runs on a MultiThreadedExecutor in a thread like `perception_node` runs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
import os
from pathlib import Path
import random
import threading
from typing import Any

import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('st_f2m_ros.msg')

from conftest import wait_for  # noqa: E402  (the harness's poller, re-exported)
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402

from st_f2m_ros.ros.qos import RELIABLE, SENSOR  # noqa: E402  (the nodes' own profiles)

STATUS_STALE = 2


@dataclass
class Graph:
    """The node under test, a probe publishing its inputs and what came out."""

    node: Any
    probe: Any
    image: Any
    compressed: Any
    string: Any
    sequences: list = field(default_factory=list)
    diagnostics: list = field(default_factory=list)

    def values(self) -> dict[str, str]:
        """The newest /diagnostics perception status as a dict."""
        for arr in reversed(self.diagnostics):
            for st in arr.status:
                if st.name.endswith('perception'):
                    return {kv.key: kv.value for kv in st.values}
        return {}


def use_own_domain() -> None:
    """Each test in its own DDS domain, localhost only."""
    os.environ['ROS_DOMAIN_ID'] = str(random.randint(1, 100))
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'


def run_graph(checkpoint: Path, tmp_path: Path, *params: str) -> Iterator[Graph]:
    """Start the real PerceptionNode with `params` (name:=value) and a probe; yield a Graph."""
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import CompressedImage, Image
    from std_msgs.msg import String

    from st_f2m_ros.msg import EmotionSequence
    from st_f2m_ros.ros.perception_node import PerceptionNode

    use_own_domain()
    args = ['--ros-args', '-p', f'checkpoint:={checkpoint}', '-p', 'num_threads:=1']
    args += ['-p', f'adaptation_store:={tmp_path / "store"}']
    for p in params:
        args += ['-p', p]
    rclpy.init(args=args)
    node = PerceptionNode()
    probe = Node('pipe_probe')
    g = Graph(
        node=node,
        probe=probe,
        image=probe.create_publisher(Image, 'image', SENSOR),
        compressed=probe.create_publisher(CompressedImage, 'image/compressed', SENSOR),
        string=probe.create_publisher(String, 'transcript', RELIABLE),
    )
    probe.create_subscription(EmotionSequence, 'emotion/sequence', g.sequences.append, RELIABLE)
    probe.create_subscription(DiagnosticArray, '/diagnostics', g.diagnostics.append, RELIABLE)
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    executor.add_node(probe)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: g.diagnostics, 15.0), 'no /diagnostics from the node'
        yield g
        assert thread.is_alive(), 'the executor died (an exception escaped a callback)'
    finally:
        executor.shutdown(timeout_sec=5.0)
        thread.join(timeout=5.0)
        node.close()
        node.destroy_node()
        probe.destroy_node()
        rclpy.try_shutdown()


def stamp_of(t: float) -> Any:
    from builtin_interfaces.msg import Time

    sec = int(t // 1)
    return Time(sec=sec, nanosec=min(999_999_999, round((t - sec) * 1e9)))


def image_msg(t: float, fields: Any, frame_id: str = 'camera') -> Any:
    """A sensor_msgs/Image from image_convert.ImageFields (or any object with those fields)."""
    from sensor_msgs.msg import Image

    msg = Image()
    msg.header.stamp = stamp_of(t)
    msg.header.frame_id = frame_id
    msg.height, msg.width, msg.encoding = int(fields.height), int(fields.width), fields.encoding
    msg.is_bigendian, msg.step = int(fields.is_bigendian), int(fields.step)
    data = fields.data
    msg.data = data if isinstance(data, bytes) else bytes(memoryview(data).cast('B'))
    return msg


def compressed_msg(t: float, fmt: str, data: bytes, frame_id: str = 'camera') -> Any:
    from sensor_msgs.msg import CompressedImage

    msg = CompressedImage()
    msg.header.stamp = stamp_of(t)
    msg.header.frame_id = frame_id
    msg.format = fmt
    msg.data = bytes(data)
    return msg


def string_msg(text: str) -> Any:
    from std_msgs.msg import String

    return String(data=text)
