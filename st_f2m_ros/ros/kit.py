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
"""The MessageKit of rclpy's generated classes (what the converters fill in the live nodes)."""

from __future__ import annotations

from typing import Any

from st_f2m_ros.runtime.messages.convert import (
    MessageKit,
    rclpy_bool_fixed,
    rclpy_bytes_seq,
    rclpy_float_seq,
)


def hri_msgs_module() -> Any | None:
    """The hri_msgs.msg module, or None when ROS4HRI is not installed."""
    try:
        import hri_msgs.msg
    except ImportError:
        return None
    return hri_msgs.msg


def rclpy_kit() -> MessageKit:
    """A MessageKit over the generated Python classes (needs a sourced ROS 2 workspace)."""
    from builtin_interfaces.msg import Time
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from st_f2m_ros.msg import EmotionSequence, EmotionState
    from st_f2m_ros.srv import Adapt, ResetAdaptation

    hri = hri_msgs_module()
    return MessageKit(
        Time=Time,
        Header=Header,
        EmotionState=EmotionState,
        EmotionSequence=EmotionSequence,
        AdaptResponse=Adapt.Response,
        ResetResponse=ResetAdaptation.Response,
        DiagnosticArray=DiagnosticArray,
        DiagnosticStatus=DiagnosticStatus,
        KeyValue=KeyValue,
        Image=Image,
        Expression=None if hri is None else hri.Expression,
        float_seq=rclpy_float_seq,
        bytes_seq=rclpy_bytes_seq,
        bool_fixed=rclpy_bool_fixed,
    )
