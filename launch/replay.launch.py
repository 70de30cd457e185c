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
"""Replay a bag into the live perception node and record its outputs.

    ros2 launch st_f2m_ros replay.launch.py bag:=session.mcap out:=session_out

`ros2 bag play --clock` drives the nodes' clock (use_sim_time), so outputs carry the bag's
time; `ros2 bag record` writes /emotion/sequence, /diagnostics and the behaviour topics to
`out` (MCAP). Playback starts after `start_delay` seconds (model loading) and everything shuts
down shortly after the bag ends. Evaluate the result offline with `st-f2m evaluate`.
"""

from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    ExecuteProcess,
    RegisterEventHandler,
    TimerAction,
)
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'st_f2m_ros'
RECORDED = (
    '/emotion/sequence', '/diagnostics', '/behavior/command', '/behavior/speed_scale',
    '/caregiver/alert',
)  # fmt: skip

ARGUMENTS = (
    ('bag', None, 'input bag (folder, .mcap or .db3) with camera and speech topics'),
    ('out', 'replay_out', 'output bag folder (must not exist)'),
    ('rate', '1.0', 'playback rate'),
    ('start_delay', '5.0', 'seconds to wait for the nodes before playing'),
    ('camera_topic', '/camera/image_raw', 'camera topic in the bag'),
    ('transcript_topic', '/speech/transcript', 'transcript topic in the bag'),
    ('config_file', PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', 'perception.yaml']),
     'perception node parameter file'),
    ('behavior_config_file',
     PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', 'behavior.yaml']),
     'behaviour node parameter file'),
    ('subject_id', 'default', 'person in the bag'),
    ('start_behavior', 'false', 'also run the behaviour node'),
)  # fmt: skip


def generate_launch_description() -> LaunchDescription:
    """Nodes and recorder first, `ros2 bag play` after a delay, shutdown when it ends."""
    cfg = {name: LaunchConfiguration(name) for name, _, _ in ARGUMENTS}
    perception = Node(
        package=PACKAGE,
        executable='perception_node',
        name='st_f2m_perception',
        output='screen',
        parameters=[
            cfg['config_file'],
            {
                'use_sim_time': True,
                'subject_id': ParameterValue(cfg['subject_id'], value_type=str),
            },
        ],
        remappings=[
            ('image', cfg['camera_topic']),
            ('image/compressed', [cfg['camera_topic'], '/compressed']),
            ('transcript', cfg['transcript_topic']),
        ],
    )
    behavior = Node(
        package=PACKAGE,
        executable='emotion_behavior_node',
        name='st_f2m_behavior',
        output='screen',
        parameters=[cfg['behavior_config_file'], {'use_sim_time': True}],
        condition=IfCondition(cfg['start_behavior']),
    )
    record = ExecuteProcess(
        cmd=['ros2', 'bag', 'record', '-s', 'mcap', '-o', cfg['out'], *RECORDED],
        output='screen',
    )
    play = ExecuteProcess(
        cmd=['ros2', 'bag', 'play', cfg['bag'], '--clock', '--rate', cfg['rate']],
        output='screen',
    )
    finish = RegisterEventHandler(
        OnProcessExit(
            target_action=play,
            on_exit=[
                TimerAction(period=2.0, actions=[EmitEvent(event=Shutdown(reason='bag finished'))])
            ],
        )
    )
    declared = [
        DeclareLaunchArgument(name, description=text)
        if default is None
        else DeclareLaunchArgument(name, default_value=default, description=text)
        for name, default, text in ARGUMENTS
    ]
    delayed_play = TimerAction(period=cfg['start_delay'], actions=[play])
    return LaunchDescription([*declared, perception, behavior, record, finish, delayed_play])
