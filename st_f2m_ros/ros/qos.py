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
"""The QoS profiles of the nodes, defined once.

RELIABLE (depth 10) for outputs and commands that must not be lost (EmotionSequence,
transcripts, /diagnostics, behaviour commands, ROS4HRI); cameras use rclpy's
`qos_profile_sensor_data` (best effort), re-exported as SENSOR.
"""

from __future__ import annotations

from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
SENSOR = qos_profile_sensor_data

__all__ = ['RELIABLE', 'SENSOR']
