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
"""The real EmotionBehaviorNode under real rclpy (Kilted wheels): rules of config/behavior.yaml.

Kilted (like Jazzy) declares `start_type_description_service` on every node; the node used to
refuse it as an unknown behaviour parameter and exit. Here it starts from the shipped YAML and
answers EmotionSequence input with the commands the rules give.
"""

from __future__ import annotations

from pathlib import Path
import threading
import time
from typing import Any

import pytest

rclpy = pytest.importorskip('rclpy')

from conftest import wait_for  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def graph():
    """The behaviour node (config/behavior.yaml) and a probe node spinning in a thread."""
    from std_msgs.msg import Float32, String

    from st_f2m_ros.msg import EmotionSequence
    from st_f2m_ros.ros.emotion_behavior_node import EmotionBehaviorNode
    from st_f2m_ros.ros.qos import RELIABLE

    rclpy.init(args=['--ros-args', '--params-file', str(ROOT / 'config' / 'behavior.yaml')])
    node = EmotionBehaviorNode()
    probe = Node('behavior_probe')
    got: dict[str, list] = {'cmd': [], 'speed': [], 'alert': []}
    probe.create_subscription(
        String, 'behavior/command', lambda m: got['cmd'].append(m.data), RELIABLE
    )
    probe.create_subscription(
        Float32, 'behavior/speed_scale', lambda m: got['speed'].append(m.data), RELIABLE
    )
    probe.create_subscription(
        String, 'caregiver/alert', lambda m: got['alert'].append(m.data), RELIABLE
    )
    pub = probe.create_publisher(EmotionSequence, 'emotion/sequence', RELIABLE)
    executor = MultiThreadedExecutor(num_threads=2)
    executor.add_node(node)
    executor.add_node(probe)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    assert wait_for(lambda: pub.get_subscription_count() > 0)
    try:
        yield node, probe, pub, got
    finally:
        executor.shutdown(timeout_sec=2.0)
        node.destroy_node()
        probe.destroy_node()
        rclpy.try_shutdown()
        thread.join(timeout=2.0)


def sequence(probe: Node, emotion: str, intensity: str | None, *, confidence: float = 0.9,
             status: int = 0, age: float = 0.0, start_age: float = 0.2) -> Any:  # fmt: skip
    from st_f2m_ros.msg import EmotionSequence, EmotionState
    from st_f2m_ros.taxonomy import class_id

    now = probe.get_clock().now().nanoseconds * 1e-9
    stamp = now - age

    def t(sec: float) -> Any:
        from builtin_interfaces.msg import Time

        return Time(sec=int(sec), nanosec=int((sec % 1.0) * 1e9))

    msg = EmotionSequence()
    msg.header.stamp = t(stamp)
    state = EmotionState()
    state.start, state.end = t(stamp - start_age), t(stamp)
    if emotion == 'unknown':
        state.emotion, state.class_id = EmotionState.UNKNOWN, 0
    else:
        state.class_id = class_id(emotion, intensity)
    state.confidence = float(confidence)
    state.status = status
    msg.states = [state]
    return msg


def publish_until(pub: Any, got: dict, msg_fn: Any, expected: str, timeout: float = 4.0) -> None:
    """Publish fresh sequences until the newest command is `expected`."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pub.publish(msg_fn())
        if got['cmd'] and got['cmd'][-1] == expected:
            return
        time.sleep(0.1)
    raise AssertionError(f'expected {expected!r}, last commands {got["cmd"][-5:]}')


def test_starts_under_kilted_rclpy_with_its_own_parameters(graph) -> None:
    node, _, _, _ = graph
    # the parameter rclpy itself declares on Jazzy/Kilted is there and not refused
    assert node.has_parameter('start_type_description_service')
    assert node.has_parameter('use_sim_time')
    assert [r.name for r in node.engine.config.rules] == [
        'distress', 'agitation', 'surprise', 'joy',
    ]  # fmt: skip
    result = node.set_parameters([Parameter('use_sim_time', value=False)])[0]
    assert result.successful, result.reason
    result = node.set_parameters([Parameter('min_confidence', value=2.0)])[0]
    assert not result.successful and 'min_confidence' in result.reason


def test_commands_for_happy_negative_and_stale_input(graph) -> None:
    _, probe, pub, got = graph
    # confident happiness -> rule joy
    publish_until(pub, got, lambda: sequence(probe, 'happiness', 'high'), 'continue_and_engage')
    assert wait_for(lambda: got['speed'] and got['speed'][-1] == pytest.approx(1.0))
    assert got['alert'] == []

    # low confidence -> cautious
    publish_until(
        pub, got, lambda: sequence(probe, 'happiness', 'high', confidence=0.2), 'observe'
    )
    # unknown / abstaining state -> cautious
    got['cmd'].clear()
    publish_until(pub, got, lambda: sequence(probe, 'unknown', None, status=1), 'observe')
    assert wait_for(lambda: got['speed'] and got['speed'][-1] == pytest.approx(0.5))

    # sustained high-intensity anger -> rule agitation, and one caregiver alert after 3 s
    t0 = time.monotonic()
    publish_until(
        pub,
        got,
        lambda: sequence(probe, 'anger', 'high', start_age=0.2 + time.monotonic() - t0),
        'slow_down_and_keep_distance',
    )
    assert got['alert'] == []  # not sustained yet
    while time.monotonic() - t0 < 3.6 and not got['alert']:
        pub.publish(sequence(probe, 'anger', 'high', start_age=0.2 + time.monotonic() - t0))
        time.sleep(0.1)
    assert wait_for(lambda: got['alert'], 2.0), 'no caregiver alert for sustained anger'
    assert got['alert'][0].startswith('sustained anger (high)')
    assert got['cmd'][-1] == 'slow_down_and_keep_distance'
    assert got['speed'][-1] == pytest.approx(0.5)

    # a stale sequence (10 s old) -> cautious, and silence -> the timer turns cautious
    publish_until(pub, got, lambda: sequence(probe, 'happiness', 'high', age=10.0), 'observe')
    publish_until(pub, got, lambda: sequence(probe, 'happiness', 'high'), 'continue_and_engage')
    n = len(got['cmd'])
    assert wait_for(lambda: len(got['cmd']) > n and got['cmd'][-1] == 'observe', 3.0)
    assert len(got['alert']) == 1
