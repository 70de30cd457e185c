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
"""Offline evaluation over real rosbag2 files written with the package's message types."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from st_f2m_ros import taxonomy
from st_f2m_ros.errors import DataError
from st_f2m_ros.evaluation import plots, replay
from st_f2m_ros.interfaces import typestore

SEQ = 'st_f2m_ros/msg/EmotionSequence'


def _sequence(store, stamp: float, states: list[tuple[float, float, int, int]]):
    t = store.types
    time = t['builtin_interfaces/msg/Time']

    def ts(x: float):
        return time(sec=int(x), nanosec=round((x - int(x)) * 1e9))

    state_cls = t['st_f2m_ros/msg/EmotionState']
    built = []
    for start, end, cid, status in states:
        fc = taxonomy.decode_class(cid)
        built.append(state_cls(
            start=ts(start), end=ts(end), emotion=fc.emotion_id, emotion_label=fc.emotion,
            intensity=fc.intensity_id, intensity_value=0.5, class_id=cid, class_label=fc.label,
            confidence=0.9, class_probabilities=np.full(19, 1 / 19, np.float32),
            components=np.zeros(12, np.float32), component_reliable=np.ones(12, bool),
            components_measured=False, modalities=1, status=status))
    return t[SEQ](
        header=t['std_msgs/msg/Header'](stamp=ts(stamp), frame_id='cam'), subject_id='s0',
        model_id='m', class_labels=list(taxonomy.CLASS_LABELS), states=built,
        window_size=1.0, window_hop=0.25, processing_latency=0.02)


def _write_bag(path: Path, topics: dict[str, list]) -> Path:
    from rosbags.rosbag2 import StoragePlugin, Writer

    store = typestore('humble')
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        for topic, msgs in topics.items():
            conn = writer.add_connection(topic, SEQ, typestore=store)
            for msg in msgs:
                ns = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
                writer.write(conn, ns, store.serialize_cdr(msg, SEQ))
    return path


@pytest.fixture
def bag(tmp_path: Path) -> Path:
    store = typestore('humble')
    anger = taxonomy.class_id('anger', 'high')
    joy = taxonomy.class_id('happiness', 'low')
    truth = [_sequence(store, 10.0, [(10.0, 12.0, 0, 0), (12.0, 14.0, anger, 0),
                                     (14.0, 16.0, joy, 0)])]
    # predictions every 0.5 s; boundary at 12 seen at 12.5 (late), joy confused with
    # happiness_medium once, one abstention
    plan = {10.0: 0, 10.5: 0, 11.0: 0, 11.5: 0, 12.0: 0, 12.5: anger, 13.0: anger, 13.5: anger,
            14.0: joy, 14.5: joy + 1, 15.0: joy, 15.5: -1}
    preds = [
        _sequence(store, t, [(t - 1.0, t, max(c, 0), 0 if c >= 0 else 1)])
        for t, c in plan.items()
    ]
    return _write_bag(tmp_path / 'run', {replay.GROUND_TRUTH_TOPIC: truth,
                                          replay.PREDICTION_TOPIC: preds})


def test_evaluate_bag(bag: Path, tmp_path: Path) -> None:
    ev = replay.evaluate_bags(bag)
    assert ev.messages == 12
    # wrong: 12.0 (still neutral), 14.5 (intensity), 15.5 (abstain) -> 9 / 12
    assert ev.fine.accuracy == pytest.approx(9 / 12)
    assert ev.basic.accuracy == pytest.approx(10 / 12)
    assert ev.fine.coverage == pytest.approx(11 / 12)
    assert ev.latency_p95 == pytest.approx(0.02)
    # true boundaries 12.0 and 14.0; predicted boundaries at 12.25, 13.75, 14.25, 14.75
    assert ev.timing_error == pytest.approx(0.25)
    assert set(ev.summary()) >= {'fine', 'basic', 'segment_timing_error_s'}
    for name, report in (('fine', ev.fine), ('basic', ev.basic)):
        png = plots.plot_confusion(report, tmp_path / f'{name}.png', name)
        assert png.stat().st_size > 5000
    assert plots.plot_timeline({'run': ev}, tmp_path / 't.png').stat().st_size > 5000


def test_missing_topic_names_what_is_there(bag: Path) -> None:
    with pytest.raises(DataError, match="no topic /nope; it has \\['/emotion/ground_truth'"):
        replay.evaluate_bags(bag, pred_topic='/nope')


def test_missing_bag_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DataError, match='does not exist'):
        replay.evaluate_bags(tmp_path / 'nothing.mcap')


def test_one_span_rule_at_the_boundaries() -> None:
    """A frame at a segment's end belongs to the next segment, for evaluation and /adapt."""
    import numpy as np

    from st_f2m_ros.data.bag_reader import GroundTruthState, labels_at
    from st_f2m_ros.evaluation.replay import Segment, label_at
    from st_f2m_ros.stamps import seconds_to_stamp, stamp_to_seconds

    t0 = 1_700_000_000.1  # an epoch-sized stamp: float rounding would show here
    bounds = [t0, t0 + 1.0 / 3, t0 + 2.0 / 3, t0 + 1.0]

    def through_message(t):  # what a reader sees after a round trip through Time
        sec, ns = seconds_to_stamp(t)
        return stamp_to_seconds(type('T', (), {'sec': sec, 'nanosec': ns})())

    b = [through_message(t) for t in bounds]
    segs = [Segment(b[0], b[1], 4), Segment(b[1], b[2], 7), Segment(b[2], b[3], 9)]
    states = [GroundTruthState(s.start, s.end, s.class_id, '', 'p', np.zeros(12)) for s in segs]
    times = np.array([b[0], b[1], b[2], b[3], b[1] - 1e-6, b[0] - 1e-6])
    expected = [4, 7, 9, -1, 4, -1]
    assert label_at(segs, times).tolist() == expected
    assert labels_at(states, times).tolist() == expected
