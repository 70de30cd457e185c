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
"""Input messages (camera images, transcripts) read into plain dataclasses, without ROS types.

The field-by-field copies let the perception core and the adaptation manager work on images
and speech from rclpy callbacks, rosbags records and tests alike; times are float seconds from
the message stamps (`runtime.messages.stamp_to_seconds`). Transcript text is patient data:
never log it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from st_f2m_ros.runtime.messages.convert import stamp_to_ns, stamp_to_seconds


@dataclass(frozen=True)
class RawImage:
    """The fields of a sensor_msgs/Image, without ROS types (input of perception.image_convert)."""

    stamp: float
    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: bytes
    frame_id: str = ''


@dataclass(frozen=True)
class RawCompressedImage:
    """The fields of a sensor_msgs/CompressedImage (format e.g. 'jpeg', 'bgr8; png')."""

    stamp: float
    format: str
    data: bytes
    frame_id: str = ''


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, np.ndarray):
        return data.astype(np.uint8, copy=False).tobytes()
    return bytes(data)


def image_from_msg(msg: Any) -> RawImage:
    """Copy a sensor_msgs/Image into a RawImage (stamp in seconds)."""
    return RawImage(
        stamp=stamp_to_seconds(msg.header.stamp),
        height=int(msg.height),
        width=int(msg.width),
        encoding=str(msg.encoding),
        is_bigendian=int(msg.is_bigendian),
        step=int(msg.step),
        data=_as_bytes(msg.data),
        frame_id=str(msg.header.frame_id),
    )


def compressed_from_msg(msg: Any) -> RawCompressedImage:
    """Copy a sensor_msgs/CompressedImage into a RawCompressedImage."""
    return RawCompressedImage(
        stamp=stamp_to_seconds(msg.header.stamp),
        format=str(msg.format),
        data=_as_bytes(msg.data),
        frame_id=str(msg.header.frame_id),
    )


# --------------------------------------------------------------------------- transcripts


@dataclass(frozen=True)
class TranscriptRecord:
    """A transcript message as the core sees it. `text` is patient data: never log it."""

    stamp: float
    text: str
    start: float | None = None
    end: float | None = None
    speaker_id: str = ''
    confidence: float = -1.0
    is_final: bool = True


def transcript_from_msg(msg: Any) -> TranscriptRecord:
    """Read an st_f2m_ros/Transcript; a zero start/end means "use header.stamp"."""
    stamp = stamp_to_seconds(msg.header.stamp)
    start = stamp_to_seconds(msg.start) if stamp_to_ns(msg.start) else None
    end = stamp_to_seconds(msg.end) if stamp_to_ns(msg.end) else None
    return TranscriptRecord(
        stamp=stamp,
        text=str(msg.text),
        start=start,
        end=end,
        speaker_id=str(msg.speaker_id),
        confidence=float(msg.confidence),
        is_final=bool(msg.is_final),
    )


def transcript_from_string(text: str, arrival: float) -> TranscriptRecord:
    """A plain std_msgs/String transcript, stamped with its arrival time."""
    return TranscriptRecord(stamp=float(arrival), text=str(text))


def transcript_from_live_speech(msg: Any, arrival: float) -> TranscriptRecord | None:
    """Read an hri_msgs/LiveSpeech; only final results count (None for incremental ones).

    A zero header stamp (some speech nodes leave it empty) falls back to the arrival time.
    """
    final = str(getattr(msg, 'final', ''))
    if not final:
        return None
    stamp = stamp_to_seconds(msg.header.stamp) if stamp_to_ns(msg.header.stamp) else arrival
    return TranscriptRecord(
        stamp=stamp, text=final, confidence=float(getattr(msg, 'confidence', -1.0))
    )
