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
"""Read camera images, transcripts and ground truth from any bag `rosbags` reads.

MCAP and sqlite3 rosbag2 bags (and ROS 1 bags) work alike. Messages come back as the type
store's objects, whose fields are the ROS 2 field names (``msg.header.stamp.sec``,
``msg.encoding``, ``msg.data``), so the same converters serve rclpy messages and bag
messages. Used by ``st-f2m run`` (replay), the evaluator, and ``/adapt`` support clips stored
as bags with a label topic. Time is in seconds (float) from header stamps where a message has
one, else from the bag's log time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from st_f2m_ros.errors import DataError
from st_f2m_ros.stamps import ns_to_seconds, stamp_to_seconds

IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
TRANSCRIPT_TYPES = ('st_f2m_ros/msg/Transcript', 'std_msgs/msg/String')
SEQUENCE_TYPE = 'st_f2m_ros/msg/EmotionSequence'


@dataclass
class BagMessage:
    """One deserialised message."""

    topic: str
    msgtype: str
    stamp: float  # header stamp (s) if the message has a header, else log time
    log_time: float  # bag log time (s)
    msg: Any


@dataclass(frozen=True)
class TranscriptEvent:
    """A transcript message: text with its span; a plain String gets start = end = stamp."""

    stamp: float
    text: str
    start: float
    end: float
    speaker: str = ''


@dataclass(frozen=True)
class GroundTruthState:
    """One labelled span from an EmotionSequence ground-truth topic."""

    start: float
    end: float
    class_id: int
    label: str
    subject: str
    components: np.ndarray


# One stamp conversion for every reader (st_f2m_ros/stamps.py); the old name stays.
stamp_seconds = stamp_to_seconds


class BagReader:
    """Context manager over one bag folder (or file).

    Args:
        path: rosbag2 folder (MCAP or sqlite3) or ROS 1 .bag file.
        distro: type store used for types the bag does not embed ('humble' or 'jazzy').

    """

    def __init__(self, path: str | Path, distro: str = 'humble') -> None:
        self.path = Path(path)
        self.distro = distro
        self._reader: Any = None

    def __enter__(self) -> BagReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Open the bag; DataError if it is missing or not a bag."""
        from rosbags.highlevel import AnyReader, AnyReaderError

        from st_f2m_ros.interfaces import typestore

        if not self.path.exists():
            raise DataError(f'bag {self.path} not found: the path does not exist')
        try:
            self._reader = AnyReader([self.path], default_typestore=typestore(self.distro))
            self._reader.open()
        except (AnyReaderError, OSError, ValueError, KeyError) as err:
            self._reader = None
            raise DataError(f'{self.path} is not a readable rosbag2/rosbag1 bag: {err}') from err

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _r(self) -> Any:
        if self._reader is None:
            raise DataError(f'bag {self.path} is not open; use "with BagReader(path) as bag"')
        return self._reader

    @property
    def topics(self) -> dict[str, str]:
        """Topic -> message type."""
        return {c.topic: c.msgtype for c in self._r().connections}

    @property
    def start_time(self) -> float:
        return ns_to_seconds(self._r().start_time)

    @property
    def end_time(self) -> float:
        return ns_to_seconds(self._r().end_time)

    def find_topic(self, types: tuple[str, ...], topic: str | None = None) -> str:
        """`topic` if given (checked), else the first topic of one of `types`."""
        found = self.topics
        if topic is not None:
            if topic not in found:
                raise DataError(f'{self.path} has no topic {topic}; topics: {sorted(found)}')
            if found[topic] not in types:
                raise DataError(
                    f'{self.path}: topic {topic} has type {found[topic]}, expected one of {types}'
                )
            return topic
        for t in types:
            for name, msgtype in found.items():
                if msgtype == t:
                    return name
        raise DataError(f'{self.path} has no topic of type {" or ".join(types)}; topics: {found}')

    def messages(self, topics: list[str] | None = None) -> Iterator[BagMessage]:
        """All messages (or those of `topics`) in log-time order, deserialised."""
        reader = self._r()
        conns = [c for c in reader.connections if topics is None or c.topic in topics]
        if not conns:
            return
        try:
            for conn, ns, raw in reader.messages(connections=conns):
                msg = reader.deserialize(raw, conn.msgtype)
                log_time = ns_to_seconds(ns)
                header = getattr(msg, 'header', None)
                stamp = stamp_seconds(header.stamp) if header is not None else log_time
                yield BagMessage(conn.topic, conn.msgtype, stamp, log_time, msg)
        except DataError:
            raise
        except Exception as err:  # rosbags raises several reader/deserializer error types
            raise DataError(
                f'{self.path}: cannot read messages ({type(err).__name__}: {err})'
            ) from err

    def images(self, topic: str | None = None) -> Iterator[BagMessage]:
        """Camera messages (sensor_msgs/Image or CompressedImage) of one topic."""
        yield from self.messages([self.find_topic(IMAGE_TYPES, topic)])

    def transcripts(self, topic: str | None = None) -> Iterator[TranscriptEvent]:
        """Transcript events; the stamped st_f2m_ros/Transcript is preferred when both exist."""
        name = self.find_topic(TRANSCRIPT_TYPES, topic)
        for m in self.messages([name]):
            if m.msgtype == 'std_msgs/msg/String':
                yield TranscriptEvent(m.stamp, m.msg.data, m.stamp, m.stamp)
            else:
                if not m.msg.is_final:
                    continue
                start, end = stamp_seconds(m.msg.start), stamp_seconds(m.msg.end)
                if start == 0.0 and end == 0.0:
                    start = end = m.stamp
                yield TranscriptEvent(m.stamp, m.msg.text, start, end, m.msg.speaker_id)

    def ground_truth(self, topic: str | None = None) -> list[GroundTruthState]:
        """States of an EmotionSequence topic, in time order, duplicates (same span) dropped."""
        name = self.find_topic((SEQUENCE_TYPE,), topic)
        seen: dict[tuple[float, float], GroundTruthState] = {}
        for m in self.messages([name]):
            for s in m.msg.states:
                span = (stamp_seconds(s.start), stamp_seconds(s.end))
                seen[span] = GroundTruthState(
                    span[0],
                    span[1],
                    int(s.class_id),
                    s.class_label,
                    m.msg.subject_id,
                    np.asarray(s.components, dtype=np.float32),
                )
        return sorted(seen.values(), key=lambda s: s.start)


def labels_at(spans: Sequence[Any], times: np.ndarray) -> np.ndarray:
    """Class id at each time from labelled spans; -1 where none covers it.

    THE ground-truth lookup (evaluation, /adapt support clips from bags and sidecars): a span
    covers the half-open [start, end), so a frame stamped exactly at a boundary belongs to the
    span that starts there, for every consumer. `spans` are anything with `start`, `end` and
    `class_id` (GroundTruthState, evaluation Segment); later spans win where they overlap.
    """
    times = np.asarray(times, dtype=np.float64)
    out = np.full(times.shape, -1, dtype=np.int64)
    for s in spans:
        out[(times >= s.start) & (times < s.end)] = int(s.class_id)
    return out
