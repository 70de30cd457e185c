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
"""launch_testing: the perception node starts, publishes /emotion/sequence, answers /adapt.

Runs where ROS 2 is installed (`colcon test --packages-select st_f2m_ros`, registered by
add_launch_test in CMakeLists.txt); skipped under plain pytest without rclpy / launch_testing.
Needs the package built (interfaces generated) and its default checkpoint installed.
"""

import pytest

REASON = (
    'needs ROS 2 (rclpy, launch_testing, launch_ros) and the built st_f2m_ros '
    'interfaces: source a ROS 2 workspace and run colcon test'
)
pytest.importorskip('rclpy', reason=REASON)
pytest.importorskip('launch_testing', reason=REASON)
pytest.importorskip('launch_ros', reason=REASON)
pytest.importorskip('st_f2m_ros.srv', reason=REASON)

import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import unittest  # noqa: E402

from ament_index_python.packages import get_package_share_directory  # noqa: E402
import launch  # noqa: E402
import launch_ros.actions  # noqa: E402
import launch_testing  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from st_f2m_ros.msg import EmotionSequence  # noqa: E402
from st_f2m_ros.srv import Adapt, ResetAdaptation  # noqa: E402

WORK = tempfile.mkdtemp(prefix='st_f2m_launch_test_')
CLIP_ROOT = os.path.join(WORK, 'clips')
os.makedirs(CLIP_ROOT, exist_ok=True)


@pytest.mark.launch_test
def generate_test_description():
    """The perception node with a private store and clip root, camera on /test/image."""
    config = os.path.join(get_package_share_directory('st_f2m_ros'), 'config', 'perception.yaml')
    overrides = {
        'adaptation_store': os.path.join(WORK, 'store'),
        'clip_roots': [CLIP_ROOT],
        'stale_timeout': 2.0,
    }
    from st_f2m_ros.model.checkpoint import DEFAULT_CHECKPOINT, save_checkpoint

    if not DEFAULT_CHECKPOINT.is_file():  # no packaged model yet: an untrained one will do
        from st_f2m_ros.model.config import STF2MConfig
        from st_f2m_ros.model.stf2m import STF2MModel

        path = os.path.join(WORK, 'untrained.safetensors')
        save_checkpoint(
            STF2MModel(STF2MConfig(backbone='resnet18_quarter', text_encoder='hashing')), path
        )
        overrides['checkpoint'] = path
    node = launch_ros.actions.Node(
        package='st_f2m_ros',
        executable='perception_node',
        name='st_f2m_perception',
        output='screen',
        parameters=[config, overrides],
        remappings=[('image', '/test/image'), ('transcript', '/test/transcript')],
    )
    return (
        launch.LaunchDescription([node, launch_testing.actions.ReadyToTest()]),
        {'perception': node},
    )


def _image(stamp, t: float) -> Image:
    h, w = 240, 320
    img = np.full((h, w, 3), 90, dtype=np.uint8)
    img[60:180, 110:210] = (150, 170, 200)  # a face-sized bright patch
    img[100:110, 130:145] = img[100:110, 175:190] = 30  # eyes
    img[150:158, 140:180] = int(40 + 30 * np.sin(t))  # mouth
    msg = Image(height=h, width=w, encoding='bgr8', is_bigendian=0, step=w * 3)
    msg.header.stamp = stamp
    msg.header.frame_id = 'camera'
    msg.data = img.tobytes()
    return msg


class TestPerceptionNode(unittest.TestCase):
    """Talks to the running node through its topics and services."""

    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node('st_f2m_perception_probe')

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def _call(self, srv_type, name, request, timeout=60.0):
        client = self.node.create_client(srv_type, name)
        self.assertTrue(client.wait_for_service(timeout_sec=timeout), f'{name} not offered')
        future = client.call_async(request)
        rclpy.spin_until_future_complete(self.node, future, timeout_sec=timeout)
        self.assertTrue(future.done(), f'{name} did not answer')
        return future.result()

    def test_sequence_is_published_with_the_input_stamp(self):
        received = []
        self.node.create_subscription(EmotionSequence, '/emotion/sequence', received.append, 10)
        pub = self.node.create_publisher(Image, '/test/image', 10)
        stamps = set()
        end = time.monotonic() + 60.0
        while time.monotonic() < end and not received:
            now = self.node.get_clock().now()
            msg = _image(now.to_msg(), time.monotonic())
            stamps.add((msg.header.stamp.sec, msg.header.stamp.nanosec))
            pub.publish(msg)
            rclpy.spin_once(self.node, timeout_sec=1.0 / 15)
        self.assertTrue(received, 'no EmotionSequence on /emotion/sequence within 60 s')
        seq = received[0]
        self.assertIn((seq.header.stamp.sec, seq.header.stamp.nanosec), stamps)
        self.assertEqual(len(seq.class_labels), 19)
        self.assertTrue(seq.model_id)
        for state in seq.states:
            if state.status != state.STATUS_OK:
                self.assertEqual(state.emotion, state.UNKNOWN)

    def test_adapt_rejects_bad_requests(self):
        bad_subject = self._call(Adapt, '/adapt', Adapt.Request(subject_id='../escape'))
        self.assertFalse(bad_subject.success)
        self.assertIn('subject', bad_subject.message)
        empty = self._call(Adapt, '/adapt', Adapt.Request(subject_id='p07'))
        self.assertFalse(empty.success)
        self.assertIn('no support clips', empty.message)
        outside = self._call(
            Adapt, '/adapt', Adapt.Request(subject_id='p07', clip_uris=['/etc/hostname'])
        )
        self.assertFalse(outside.success)
        self.assertIn('outside', outside.message)
        self.assertNotIn('+p07', outside.model_id)  # base model still in use

    def test_reset_answers(self):
        resp = self._call(
            ResetAdaptation,
            '/reset_adaptation',
            ResetAdaptation.Request(subject_id='p07', delete_persisted=True),
        )
        self.assertTrue(resp.success, resp.message)


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    """The node exits cleanly on SIGINT."""

    def test_exit_code(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info, allowable_exit_codes=[0])
