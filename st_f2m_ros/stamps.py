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
"""builtin_interfaces/Time <-> float seconds, in one place (no ROS import).

Every reader of a stamp (the node, bag replay, evaluation, /adapt clip labels) converts with
these functions, so that the same message time is the same float everywhere and a frame at a
ground-truth segment's boundary gets the same label in every consumer (`data.bag_reader.
labels_at`: half-open [start, end)). Stamp validity rules for live input are in
`runtime/pipeline/timeline.py`.
"""

from __future__ import annotations

import math
from typing import Any

from st_f2m_ros.errors import PerceptionError

NS_PER_S = 1_000_000_000
INT32_MAX = 2**31 - 1


def seconds_to_stamp(t: float) -> tuple[int, int]:
    """Split float seconds into builtin_interfaces/Time (sec, nanosec), nanosec in [0, 1e9).

    Rounds to the nearest nanosecond; negative times borrow from `sec` as rclpy does.
    """
    if not math.isfinite(t):
        raise PerceptionError(f'cannot stamp a non-finite time {t!r}; check the input stamps')
    # floor + remainder keeps full precision for epoch-sized stamps (t * 1e9 would not).
    whole = math.floor(t)
    sec, nanosec = divmod(round((t - whole) * NS_PER_S), NS_PER_S)
    sec += int(whole)
    if not -(2**31) <= sec <= INT32_MAX:
        raise PerceptionError(f'time {t} s does not fit builtin_interfaces/Time (int32 seconds)')
    return int(sec), int(nanosec)


def stamp_to_seconds(stamp: Any) -> float:
    """Float seconds of anything with `sec` and `nanosec` (rclpy and rosbags Time alike)."""
    return int(stamp.sec) + int(stamp.nanosec) / NS_PER_S


def stamp_to_ns(stamp: Any) -> int:
    """The exact integer nanoseconds of a Time message."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def ns_to_seconds(ns: int) -> float:
    """Float seconds of integer nanoseconds (bag log times), rounded like `stamp_to_seconds`."""
    sec, nanosec = divmod(int(ns), NS_PER_S)
    return sec + nanosec / NS_PER_S
