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
"""Offline evaluation of a recognizer's EmotionSequence stream against bag ground truth.

Reads rosbag2 files with the shared `data.bag_reader.BagReader` (MCAP or sqlite3, no ROS 2
needed): the ground truth is the EmotionSequence stream the synthetic bag writer puts on
`/emotion/ground_truth` (or any recorded reference on another topic), the predictions are what
`st-f2m run` or a live node recorded on `/emotion/sequence`. Each prediction message is scored
at its header stamp, which is the stamp of the input frame it came from, by its newest state:
that is what a control node acting on the message would have used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from st_f2m_ros.errors import DataError
from st_f2m_ros.evaluation import metrics
from st_f2m_ros.stamps import stamp_to_seconds

GROUND_TRUTH_TOPIC = '/emotion/ground_truth'
PREDICTION_TOPIC = '/emotion/sequence'
STATUS_OK = 0


@dataclass
class Segment:
    """A labelled time span."""

    start: float
    end: float
    class_id: int


@dataclass
class Prediction:
    """The decision carried by one EmotionSequence message."""

    stamp: float
    class_id: int  # -1 when the newest state is not a decision (abstain, stale, no face)
    latency: float


@dataclass
class Evaluation:
    """Scores of a replay run."""

    fine: metrics.Report
    basic: metrics.Report
    timing_error: float
    latency_p50: float
    latency_p95: float
    messages: int
    times: np.ndarray = field(repr=False)
    truth: np.ndarray = field(repr=False)
    predicted: np.ndarray = field(repr=False)
    segments: list[Segment] = field(repr=False, default_factory=list)

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures (no per-sample arrays)."""
        return {
            'messages': self.messages,
            'fine': self.fine.as_dict(),
            'basic': self.basic.as_dict(),
            'segment_timing_error_s': self.timing_error,
            'latency_p50_s': self.latency_p50,
            'latency_p95_s': self.latency_p95,
        }


def read_sequences(path: Path, topic: str) -> list[Any]:
    """All EmotionSequence messages on `topic` of a bag, in log order (shared BagReader)."""
    from st_f2m_ros.data.bag_reader import BagReader

    with BagReader(Path(path)) as bag:
        if topic not in bag.topics:
            raise DataError(f'bag {path} has no topic {topic}; it has {sorted(bag.topics)}')
        return [m.msg for m in bag.messages([topic])]


def truth_segments(messages: list[Any]) -> list[Segment]:
    """The distinct ground-truth states of a stream, sorted by start time."""
    seen = {
        (stamp_to_seconds(s.start), stamp_to_seconds(s.end), int(s.class_id))
        for m in messages
        for s in m.states
    }
    return [Segment(*k) for k in sorted(seen)]


def predictions(messages: list[Any]) -> list[Prediction]:
    """One decision per message: its newest state's class, or -1 when it is no decision."""
    out = []
    for m in messages:
        stamp = stamp_to_seconds(m.header.stamp)
        if m.states:
            last = m.states[-1]
            cid = int(last.class_id) if int(last.status) == STATUS_OK else -1
        else:
            cid = -1
        out.append(Prediction(stamp, cid, float(m.processing_latency)))
    return sorted(out, key=lambda p: p.stamp)


def label_at(segments: list[Segment], times: np.ndarray) -> np.ndarray:
    """Ground-truth class at each time (-1 outside): `data.bag_reader.labels_at`, [start, end)."""
    from st_f2m_ros.data.bag_reader import labels_at

    return labels_at(segments, np.asarray(times, dtype=np.float64))


def evaluate(truth_msgs: list[Any], pred_msgs: list[Any]) -> Evaluation:
    """Score prediction messages against ground-truth messages."""
    segments = truth_segments(truth_msgs)
    preds = predictions(pred_msgs)
    if not segments:
        raise DataError('the ground-truth stream holds no states')
    if not preds:
        raise DataError('the prediction stream holds no messages')
    times = np.array([p.stamp for p in preds])
    predicted = np.array([p.class_id for p in preds], dtype=np.int64)
    truth = label_at(segments, times)
    reports = metrics.score_fine_and_basic(truth, predicted)
    true_bounds = np.array([s.start for s in segments[1:]])
    committed = predicted >= 0
    pred_bounds = metrics.boundaries(times[committed], predicted[committed])
    lat = np.array([p.latency for p in preds])
    return Evaluation(
        fine=reports['fine'],
        basic=reports['basic'],
        timing_error=metrics.segment_timing_error(true_bounds, pred_bounds),
        latency_p50=float(np.percentile(lat, 50)),
        latency_p95=float(np.percentile(lat, 95)),
        messages=len(preds),
        times=times,
        truth=truth,
        predicted=predicted,
        segments=segments,
    )


def evaluate_bags(
    truth_bag: Path,
    pred_bag: Path | None = None,
    truth_topic: str = GROUND_TRUTH_TOPIC,
    pred_topic: str = PREDICTION_TOPIC,
) -> Evaluation:
    """Evaluate the predictions in `pred_bag` (default: the same bag) against `truth_bag`."""
    truth = read_sequences(Path(truth_bag), truth_topic)
    preds = read_sequences(Path(pred_bag or truth_bag), pred_topic)
    return evaluate(truth, preds)
