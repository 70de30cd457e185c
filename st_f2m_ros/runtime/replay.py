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
"""Offline bag replay: run the perception pipeline over a rosbag2 at its own timestamps.

The same core as the live node, without ROS 2: messages are read in log-time order with
`data.bag_reader.BagReader` (MCAP or sqlite3), images go to `process_image` /
`process_compressed` with their header stamps and their log time as arrival time (the
recorder's clock: a camera restart is judged like live), transcripts to `on_transcript`,
staleness is checked at every message's log time, and every
EmotionSequence result is written to an output bag (rosbag2 metadata version 8, readable by
Humble and Jazzy) at the stamp of the input it came from. Used by `st-f2m run` and the demo.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
import shutil
import time
from typing import Any

from st_f2m_ros.errors import ConfigError, DataError
from st_f2m_ros.runtime.messages.inputs import transcript_from_msg
from st_f2m_ros.runtime.pipeline.pipeline import PerceptionPipeline
from st_f2m_ros.runtime.pipeline.results import STATUS_NAMES, EmotionSequenceResult

DEFAULT_CAMERA_TOPIC = '/camera/image_raw'
DEFAULT_TRANSCRIPT_TOPIC = '/speech/transcript'
DEFAULT_OUTPUT_TOPIC = '/emotion/sequence'
SEQUENCE_TYPE = 'st_f2m_ros/msg/EmotionSequence'
IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
TRANSCRIPT_TYPES = ('st_f2m_ros/msg/Transcript', 'std_msgs/msg/String')


@dataclass
class ReplaySummary:
    """What a replay processed, skipped and produced."""

    camera_topic: str
    transcript_topic: str | None
    frames: int = 0
    transcripts: int = 0
    results: int = 0
    bag_duration: float = 0.0
    wall_time: float = 0.0
    decisions: Counter[str] = field(default_factory=Counter)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def realtime_factor(self) -> float:
        """Bag seconds processed per wall-clock second (x real time)."""
        return self.bag_duration / self.wall_time if self.wall_time > 0 else 0.0

    def lines(self) -> list[str]:
        """Human-readable summary (no patient data)."""
        s = self.stats
        skipped = ', '.join(
            f'{k[8:]}={v}' for k, v in sorted(s.items()) if k.startswith('skipped_') and v
        )  # fmt: skip
        skipped = skipped.replace('total=', 'all=') or 'none'
        states = ', '.join(f'{k}={v}' for k, v in sorted(self.decisions.items())) or 'none'
        return [
            f'topics            camera {self.camera_topic}, '
            f'transcripts {self.transcript_topic or "none"}',
            f'frames            {self.frames} received, {s.get("frames_processed", 0)} processed, '
            f'face found in {100 * s.get("face_found_rate_total", 0.0):.1f} %',
            f'transcripts       {self.transcripts}',
            f'windows           {s.get("windows_total", 0)}; frames encoded '
            f'{s.get("frames_encoded", 0)}',
            f'outputs           {self.results} EmotionSequence messages; newest state: {states}',
            f'skipped           {skipped}',
            f'window latency    p50 {s.get("latency_p50_ms", 0):.1f} ms, '
            f'p95 {s.get("latency_p95_ms", 0):.1f} ms',
            f'throughput        {self.bag_duration:.1f} s of bag in {self.wall_time:.1f} s '
            f'= {self.realtime_factor:.2f}x real time '
            f'({self.frames / self.wall_time if self.wall_time else 0:.1f} frames/s)',
        ]


def _choose_topic(found: dict[str, str], wanted: str, types: tuple[str, ...], default: str):
    """`wanted` if the bag has it with a right type; the default name may fall back by type."""
    if wanted in found:
        if found[wanted] not in types:
            raise DataError(f'topic {wanted} has type {found[wanted]}, expected one of {types}')
        return wanted
    if wanted == default:
        for t in types:
            for name, msgtype in sorted(found.items()):
                if msgtype == t:
                    return name
    return None


class SequenceBagWriter:
    """Writes EmotionSequence results into a new rosbag2 (version 8) at their stamps."""

    def __init__(
        self, path: str | Path, topic: str = DEFAULT_OUTPUT_TOPIC, storage: str = 'mcap',
        overwrite: bool = False, distro: str = 'humble',
    ) -> None:  # fmt: skip
        from rosbags.rosbag2 import StoragePlugin, Writer

        from st_f2m_ros.interfaces import typestore
        from st_f2m_ros.runtime.messages.convert import MessageKit

        self.path = Path(path)
        if storage not in ('mcap', 'sqlite3'):
            raise ConfigError(f'storage must be mcap or sqlite3, got {storage!r}')
        if self.path.exists():
            if not overwrite:
                raise DataError(f'{self.path} exists; choose another --out or pass --overwrite')
            shutil.rmtree(self.path)
        self._store = typestore(distro)
        self._kit = MessageKit.from_typestore(self._store)
        plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
        self._writer = Writer(self.path, version=8, storage_plugin=plugin)
        self._writer.open()
        self._conn = self._writer.add_connection(topic, SEQUENCE_TYPE, typestore=self._store)
        self.count = 0

    def write(self, result: EmotionSequenceResult) -> None:
        """Serialise one result at its stamp (ns)."""
        from st_f2m_ros.runtime.messages.convert import seconds_to_stamp, sequence_to_msg

        msg = sequence_to_msg(self._kit, result)
        sec, nanosec = seconds_to_stamp(result.stamp)
        ns = sec * 1_000_000_000 + nanosec
        self._writer.write(self._conn, ns, self._store.serialize_cdr(msg, SEQUENCE_TYPE))
        self.count += 1

    def close(self) -> None:
        """Finish the bag (writes metadata.yaml)."""
        self._writer.close()


def replay_bag(
    pipeline: PerceptionPipeline,
    bag: str | Path,
    on_result: Callable[[EmotionSequenceResult], None] | None = None,
    camera_topic: str = DEFAULT_CAMERA_TOPIC,
    transcript_topic: str = DEFAULT_TRANSCRIPT_TOPIC,
    progress: Callable[[int, int], None] | None = None,
) -> ReplaySummary:
    """Feed a bag's camera and transcript messages through `pipeline` in log-time order.

    `on_result` receives every result (e.g. a SequenceBagWriter's `write`); `progress` is
    called with (messages done, messages total). Raises DataError for a missing bag or topic.
    """
    from st_f2m_ros.data.bag_reader import BagReader

    with BagReader(bag) as reader:
        found = reader.topics
        cam = _choose_topic(found, camera_topic, IMAGE_TYPES, DEFAULT_CAMERA_TOPIC)
        if cam is None:
            raise DataError(
                f'{bag} has no camera topic {camera_topic} (topics: {sorted(found)}); '
                'pass --camera-topic'
            )
        txt = _choose_topic(found, transcript_topic, TRANSCRIPT_TYPES, DEFAULT_TRANSCRIPT_TOPIC)
        if txt is None and transcript_topic != DEFAULT_TRANSCRIPT_TOPIC:
            raise DataError(f'{bag} has no transcript topic {transcript_topic}')
        topics = [cam] + ([txt] if txt else [])
        total = _message_count(reader, topics)
        summary = ReplaySummary(cam, txt)
        first = last = None
        t0 = time.perf_counter()
        done = 0
        for m in reader.messages(topics):
            done += 1
            first = m.log_time if first is None else first
            last = m.log_time
            results = []
            if m.topic == cam:
                summary.frames += 1
                msg = m.msg
                arrival = m.log_time
                if m.msgtype == 'sensor_msgs/msg/CompressedImage':
                    out = pipeline.process_compressed(
                        m.stamp, msg.format, msg.data, arrival=arrival
                    )
                else:
                    out = pipeline.process_image(
                        m.stamp, msg.encoding, msg.height, msg.width, msg.step,
                        msg.is_bigendian, msg.data, arrival=arrival,
                    )  # fmt: skip
                results.append(out.result)
            else:
                _transcript(pipeline, m)
                summary.transcripts += 1
            results.append(pipeline.on_tick(pipeline.input_time(m.log_time)))
            for result in results:
                if result is None:
                    continue
                summary.results += 1
                cur = result.current
                if cur is not None:
                    label = cur.class_label if cur.status == 0 else STATUS_NAMES[cur.status]
                    summary.decisions[label] += 1
                if on_result is not None:
                    on_result(result)
            if progress is not None:
                progress(done, total)
        summary.wall_time = time.perf_counter() - t0
        summary.bag_duration = (last - first) if first is not None and last is not None else 0.0
        summary.stats = pipeline.stats.snapshot()
        return summary


def _message_count(reader: Any, topics: list[str]) -> int:
    """Messages on `topics` from the bag index (0 when the reader cannot tell)."""
    try:
        conns = reader._r().connections  # rosbags AnyReader behind data.bag_reader.BagReader
        return int(sum(c.msgcount for c in conns if c.topic in topics))
    except (AttributeError, TypeError):
        return 0


def _transcript(pipeline: PerceptionPipeline, m: Any) -> None:
    """Hand a String (stamped on arrival) or a final Transcript to the pipeline."""
    msg = m.msg
    if m.msgtype == 'std_msgs/msg/String':
        pipeline.on_transcript(m.stamp, msg.data, arrival=m.log_time)
        return
    if not msg.is_final:
        return
    rec = transcript_from_msg(msg)
    pipeline.on_transcript(rec.stamp, rec.text, rec.start, rec.end, arrival=m.log_time)
