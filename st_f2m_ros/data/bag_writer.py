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
"""rosbag2 writer for synthetic sessions (`st-f2m make-bag`), through `rosbags`, no ROS needed.

Topics (names configurable, `BagTopics`):

* camera: ``sensor_msgs/Image`` (bgr8 or rgb8) on ``/camera/image_raw``, or
  ``sensor_msgs/CompressedImage`` (JPEG) on ``/camera/image_raw/compressed``;
* speech: ``st_f2m_ros/Transcript`` (with start/end in the camera clock) and/or
  ``std_msgs/String`` on ``/speech/transcript``; with both, the String goes on that topic and
  the Transcript on ``<topic>_stamped``; a message is logged at the utterance's end (when it
  would have been heard);
* ground truth: one ``st_f2m_ros/EmotionSequence`` per script segment on
  ``/emotion/ground_truth``, logged at the segment's last frame, holding that segment's state
  (start = its first frame's stamp, end = the next segment's first frame stamp).

Header stamps come from the frame clock (``start_time + i / fps``) and equal the bag log
times. The metadata is rosbag2 **version 8**: Humble's rosbag2 refuses version 9, whose
``offered_qos_profiles`` is a YAML list ("yaml-cpp: bad conversion"); version 8 keeps it a
string, which Humble and Jazzy both read.

The messages themselves are built by `data.bag_messages.MessageFactory`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
import shutil
from typing import Any

import numpy as np

from st_f2m_ros.data.bag_messages import GT_MODEL_ID, MessageFactory, reliable_qos
from st_f2m_ros.data.synthetic.generator import SyntheticConfig, SyntheticSession
from st_f2m_ros.data.synthetic.subjects import make_subject, make_subjects
from st_f2m_ros.errors import ConfigError, DataError
from st_f2m_ros.taxonomy import MODALITY_TEXT, MODALITY_VISION

__all__ = [
    'BAG_VERSION',
    'DEFAULT_START',
    'ENCODINGS',
    'GT_MODEL_ID',
    'STORAGES',
    'TRANSCRIPT_TYPES',
    'BagSummary',
    'BagTopics',
    'MessageFactory',
    'write_session',
    'write_synthetic_bag',
]

BAG_VERSION = 8
ENCODINGS = ('bgr8', 'rgb8', 'jpeg')
TRANSCRIPT_TYPES = ('transcript', 'string', 'both')
STORAGES = ('mcap', 'sqlite3')
DEFAULT_START = 1_700_000_000.0  # fixed epoch (s) so that bags are reproducible


@dataclass(frozen=True)
class BagTopics:
    """Topic names of a synthetic bag."""

    image: str = '/camera/image_raw'
    compressed: str = '/camera/image_raw/compressed'
    transcript: str = '/speech/transcript'
    ground_truth: str = '/emotion/ground_truth'
    frame_id: str = 'camera'


@dataclass(frozen=True)
class BagSummary:
    """What was written."""

    path: Path
    storage: str
    frames: int
    transcripts: int
    ground_truth: int
    duration: float
    topics: dict[str, str]  # topic -> message type


def _segment_spans(session: SyntheticSession) -> list[tuple[int, int, int]]:
    """(first frame, last frame, class id) of each run of equal labels, in frame indices."""
    labels = session.labels
    cuts = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts - 1, [len(labels) - 1]])
    return [(int(a), int(b), int(labels[a])) for a, b in zip(starts, ends)]


def write_session(
    writer: Any,
    conns: dict[str, Any],
    factory: MessageFactory,
    session: SyntheticSession,
    encoding: str,
    transcript_type: str,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int, int]:
    """Write one session's messages in time order; return (frames, transcripts, gt msgs)."""
    store = factory.store
    fps = session.config.fps
    events: list[tuple[int, int, str, Any]] = []  # (log time ns, order, key, payload)
    spans = _segment_spans(session)
    gt_at = {b: (a, b, cid) for a, b, cid in spans}
    for u in session.utterances:
        events.append((round(float(u.end) * 1e9), 1, 'speech', u))
    events.sort(key=lambda e: (e[0], e[1]))
    ev = 0
    n_text = n_gt = 0

    def flush(upto_ns: int) -> None:
        nonlocal ev, n_text
        while ev < len(events) and events[ev][0] <= upto_ns:
            ns, _, _, u = events[ev]
            if transcript_type in ('string', 'both'):
                writer.write(
                    conns['string'],
                    ns,
                    store.serialize_cdr(factory.string(u.text), 'std_msgs/msg/String'),
                )
            if transcript_type in ('transcript', 'both'):
                msg = factory.transcript(u.start, u.end, u.text, session.subject.subject_id)
                writer.write(
                    conns['transcript'], ns, store.serialize_cdr(msg, 'st_f2m_ros/msg/Transcript')
                )
            n_text += 1
            ev += 1

    for frame in session.frames():
        ns = round(float(frame.time) * 1e9)
        flush(ns - 1)
        if encoding == 'jpeg':
            msg = factory.compressed(frame.time, frame.image)
            writer.write(
                conns['image'], ns, store.serialize_cdr(msg, 'sensor_msgs/msg/CompressedImage')
            )
        else:
            msg = factory.image(frame.time, frame.image, encoding)
            writer.write(conns['image'], ns, store.serialize_cdr(msg, 'sensor_msgs/msg/Image'))
        if frame.index in gt_at:
            a, b, cid = gt_at[frame.index]
            start = float(session.times[a])
            end = (
                float(session.times[b + 1])
                if b + 1 < len(session)
                else (float(session.times[b]) + 1.0 / fps)
            )
            spoken = any(u.start < end and u.end > start for u in session.utterances)
            state = factory.state(
                start,
                end,
                cid,
                session.components[a : b + 1].mean(axis=0),
                MODALITY_VISION | (MODALITY_TEXT if spoken else 0),
            )
            seq = factory.sequence(frame.time, session.subject.subject_id, [state], 1.0 / fps)
            writer.write(
                conns['ground_truth'],
                ns,
                store.serialize_cdr(seq, 'st_f2m_ros/msg/EmotionSequence'),
            )
            n_gt += 1
        if progress:
            progress(1)
    flush(2**62)
    return len(session), n_text, n_gt


def write_synthetic_bag(
    path: str | Path,
    subjects: int = 1,
    duration: float = 10.0,
    seed: int = 0,
    config: SyntheticConfig | None = None,
    storage: str = 'mcap',
    encoding: str = 'bgr8',
    transcript_type: str = 'transcript',
    topics: BagTopics | None = None,
    distro: str = 'humble',
    start_time: float = DEFAULT_START,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    subject_ids: Sequence[str] | None = None,
    clip_index: int = 0,
) -> BagSummary:
    """Write `subjects` synthetic sessions of `duration` s, one after another, into a bag.

    Args:
        path: bag folder to create (rosbag2 layout: metadata.yaml + one storage file).
        subject_ids: record these people (make_subject(id, seed)) instead of `subjects`
            generated ones; the same id and seed is the same person in every bag.
        clip_index: which of each person's recordings (a different script per index), e.g.
            a support recording (1) of the person in a session bag (0).
        storage: 'mcap' (default) or 'sqlite3'.
        encoding: 'bgr8' or 'rgb8' (sensor_msgs/Image), or 'jpeg' (sensor_msgs/CompressedImage).
        transcript_type: 'transcript' (st_f2m_ros/Transcript), 'string' or 'both'.
        overwrite: replace an existing bag folder (otherwise DataError).
        progress: called with the number of frames just written.

    """
    from rosbags.rosbag2 import StoragePlugin, Writer, WriterError

    from st_f2m_ros.interfaces import typestore

    if storage not in STORAGES:
        raise ConfigError(f'storage must be one of {STORAGES}, got {storage!r}')
    if encoding not in ENCODINGS:
        raise ConfigError(f'encoding must be one of {ENCODINGS}, got {encoding!r}')
    if transcript_type not in TRANSCRIPT_TYPES:
        raise ConfigError(
            f'transcript type must be one of {TRANSCRIPT_TYPES}, got {transcript_type!r}'
        )
    people = (
        [make_subject(sid, seed) for sid in subject_ids]
        if subject_ids
        else make_subjects(subjects, seed)
        if subjects >= 1
        else []
    )
    if not people:
        raise ConfigError(f'need at least one subject, got {subjects}')
    path = Path(path)
    if path.exists():
        if not overwrite:
            raise DataError(f'{path} exists; choose another --out or pass --overwrite')
        shutil.rmtree(path)
    topics = topics or BagTopics()
    cfg = replace(config or SyntheticConfig(), duration=duration)
    store = typestore(distro)
    factory = MessageFactory(store, topics.frame_id)
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    image_type = (
        'sensor_msgs/msg/CompressedImage' if encoding == 'jpeg' else ('sensor_msgs/msg/Image')
    )
    image_topic = topics.compressed if encoding == 'jpeg' else topics.image
    types = {image_topic: image_type, topics.ground_truth: 'st_f2m_ros/msg/EmotionSequence'}
    stamped_topic = (
        topics.transcript + '_stamped' if transcript_type == 'both' else topics.transcript
    )
    if transcript_type in ('string', 'both'):
        types[topics.transcript] = 'std_msgs/msg/String'
    if transcript_type in ('transcript', 'both'):
        types[stamped_topic] = 'st_f2m_ros/msg/Transcript'
    totals = [0, 0, 0]
    try:
        with Writer(path, version=BAG_VERSION, storage_plugin=plugin) as writer:
            qos = [reliable_qos(10)]
            conns = {
                'image': writer.add_connection(
                    image_topic, image_type, typestore=store, offered_qos_profiles=qos
                ),
                'ground_truth': writer.add_connection(
                    topics.ground_truth,
                    types[topics.ground_truth],
                    typestore=store,
                    offered_qos_profiles=qos,
                ),
            }
            if transcript_type in ('string', 'both'):
                conns['string'] = writer.add_connection(
                    topics.transcript,
                    'std_msgs/msg/String',
                    typestore=store,
                    offered_qos_profiles=qos,
                )
            if transcript_type in ('transcript', 'both'):
                conns['transcript'] = writer.add_connection(
                    stamped_topic,
                    'st_f2m_ros/msg/Transcript',
                    typestore=store,
                    offered_qos_profiles=qos,
                )
            for k, person in enumerate(people):
                session = SyntheticSession(
                    person, cfg, seed, clip_index, start_time=start_time + k * duration
                )
                counts = write_session(
                    writer, conns, factory, session, encoding, transcript_type, progress
                )
                totals = [a + b for a, b in zip(totals, counts)]
    except WriterError as err:
        raise DataError(f'cannot write bag {path}: {err}') from err
    return BagSummary(
        path, storage, totals[0], totals[1], totals[2], len(people) * duration, types
    )
