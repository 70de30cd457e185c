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
"""Closed loop on the robot: perception node (+ behaviour node) with remappable topics.

    ros2 launch st_f2m_ros robot.launch.py camera_topic:=/camera/color/image_raw \
        transcript_topic:=/speech/text subject_id:=p07 start_behavior:=true

Parameters come from config/perception.yaml and config/behavior.yaml (or `config_file:=` /
`behavior_config_file:=`); the arguments below override a few of them.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'st_f2m_ros'

ARGUMENTS = (
    ('camera_topic', '/camera/image_raw', 'sensor_msgs/Image topic (CompressedImage: '
     '<camera_topic>/compressed with use_compressed in the config)'),
    ('transcript_topic', '/speech/transcript', 'speech transcript topic (std_msgs/String or '
     'st_f2m_ros/Transcript, as transcript_type in the config)'),
    ('config_file', PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', 'perception.yaml']),
     'perception node parameter file'),
    ('behavior_config_file',
     PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', 'behavior.yaml']),
     'behaviour node parameter file (its rules)'),
    ('subject_id', 'default', 'person to recognise / adapt to when no REP 155 id is known'),
    ('backend', 'torch', 'inference backend: torch, onnx or tensorrt'),
    ('device', 'cpu', 'torch device: cpu or cuda[:N]'),
    ('start_behavior', 'true', 'also start the example behaviour node'),
    ('log_level', 'info', 'ROS log level of both nodes'),
)  # fmt: skip


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments, the perception node and the optional behaviour node."""
    cfg = {name: LaunchConfiguration(name) for name, _, _ in ARGUMENTS}
    log_args = ['--ros-args', '--log-level', cfg['log_level']]
    perception = Node(
        package=PACKAGE,
        executable='perception_node',
        name='st_f2m_perception',
        output='screen',
        emulate_tty=True,
        parameters=[
            cfg['config_file'],
            {
                # value_type=str: a subject such as "007" must not become an integer.
                'subject_id': ParameterValue(cfg['subject_id'], value_type=str),
                'backend': ParameterValue(cfg['backend'], value_type=str),
                'device': ParameterValue(cfg['device'], value_type=str),
            },
        ],
        remappings=[
            ('image', cfg['camera_topic']),
            ('image/compressed', [cfg['camera_topic'], '/compressed']),
            ('transcript', cfg['transcript_topic']),
        ],
        arguments=log_args,
    )
    behavior = Node(
        package=PACKAGE,
        executable='emotion_behavior_node',
        name='st_f2m_behavior',
        output='screen',
        emulate_tty=True,
        parameters=[cfg['behavior_config_file']],
        condition=IfCondition(cfg['start_behavior']),
        arguments=log_args,
    )
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=text)
        for name, default, text in ARGUMENTS
    ]
    return LaunchDescription([*declared, perception, behavior])
