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
"""launch_testing: the behaviour node turns sequences into commands, alerts, and stays cautious.

Runs where ROS 2 is installed (add_launch_test in CMakeLists.txt); skipped under plain pytest
without rclpy / launch_testing.
"""

import pytest

REASON = (
    'needs ROS 2 (rclpy, launch_testing, launch_ros) and the built st_f2m_ros '
    'interfaces: source a ROS 2 workspace and run colcon test'
)
pytest.importorskip('rclpy', reason=REASON)
pytest.importorskip('launch_testing', reason=REASON)
pytest.importorskip('launch_ros', reason=REASON)
pytest.importorskip('st_f2m_ros.msg', reason=REASON)

import os  # noqa: E402
import time  # noqa: E402
import unittest  # noqa: E402

from ament_index_python.packages import get_package_share_directory  # noqa: E402
import launch  # noqa: E402
import launch_ros.actions  # noqa: E402
import launch_testing  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
import rclpy  # noqa: E402
from std_msgs.msg import Float32, String  # noqa: E402

from st_f2m_ros.msg import EmotionSequence, EmotionState  # noqa: E402
from st_f2m_ros.taxonomy import CLASS_LABELS, class_id  # noqa: E402


@pytest.mark.launch_test
def generate_test_description():
    """The behaviour node with the shipped rules."""
    config = os.path.join(get_package_share_directory('st_f2m_ros'), 'config', 'behavior.yaml')
    node = launch_ros.actions.Node(
        package='st_f2m_ros',
        executable='emotion_behavior_node',
        name='st_f2m_behavior',
        output='screen',
        parameters=[config],
    )
    return launch.LaunchDescription([node, launch_testing.actions.ReadyToTest()]), {
        'behavior': node
    }


def _sequence(stamp, cid: int, conf: float = 0.9) -> EmotionSequence:
    st = EmotionState()
    st.start = stamp
    st.end = stamp
    st.class_id = cid
    st.class_label = CLASS_LABELS[cid]
    st.confidence = conf
    st.status = st.STATUS_OK
    seq = EmotionSequence()
    seq.header.stamp = stamp
    seq.class_labels = list(CLASS_LABELS)
    seq.states = [st]
    return seq


class TestBehaviorNode(unittest.TestCase):
    """Publishes sequences and watches the commands."""

    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node('st_f2m_behavior_probe')

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def test_rules_alert_and_staleness(self):
        commands, speeds, alerts = [], [], []
        self.node.create_subscription(
            String, '/behavior/command', lambda m: commands.append(m.data), 10
        )
        self.node.create_subscription(
            Float32, '/behavior/speed_scale', lambda m: speeds.append(m.data), 10
        )
        self.node.create_subscription(
            String, '/caregiver/alert', lambda m: alerts.append(m.data), 10
        )
        pub = self.node.create_publisher(EmotionSequence, '/emotion/sequence', 10)
        anger = class_id('anger', 'high')
        end = time.monotonic() + 30.0
        while time.monotonic() < end and not alerts:  # >= 3 s of anger_high at 10 Hz
            pub.publish(_sequence(self.node.get_clock().now().to_msg(), anger))
            rclpy.spin_once(self.node, timeout_sec=0.1)
        self.assertIn('slow_down_and_keep_distance', commands)
        self.assertIn(0.5, speeds)
        self.assertTrue(alerts, 'no caregiver alert after sustained anger_high')
        commands.clear()
        end = time.monotonic() + 5.0
        while time.monotonic() < end:  # silence: the node must turn cautious
            rclpy.spin_once(self.node, timeout_sec=0.1)
        self.assertIn('observe', commands)
        commands.clear()
        for _ in range(10):  # a low-confidence state is never a confident command
            pub.publish(_sequence(self.node.get_clock().now().to_msg(), anger, conf=0.1))
            rclpy.spin_once(self.node, timeout_sec=0.1)
        self.assertTrue(commands)
        self.assertNotIn('slow_down_and_keep_distance', commands)


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    """The node exits cleanly on SIGINT."""

    def test_exit_code(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info, allowable_exit_codes=[0])
