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
"""Recognition metrics of the paper's tables (ACC, RECALL) plus macro-F1 and timing error.

Labels are fine-grained class ids (taxonomy); -1 marks "no label" and is dropped. An abstained
prediction (UNKNOWN) is passed as -1 too and counts as wrong, so abstaining never inflates
accuracy; `coverage` reports how often the recognizer committed to a class.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from st_f2m_ros import taxonomy

BASIC_LABELS: tuple[str, ...] = (taxonomy.NEUTRAL, *taxonomy.EMOTIONS)


@dataclass
class Report:
    """Scores of one prediction run against ground truth."""

    n: int
    accuracy: float
    recall: float  # macro recall over classes present in the ground truth
    macro_f1: float
    coverage: float  # fraction of samples with a committed (non-abstained) prediction
    per_class_recall: dict[str, float] = field(default_factory=dict)
    confusion: list[list[int]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts [true, pred]; predictions of -1 (abstain) are not placed in any column."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    ok = (y_true >= 0) & (y_pred >= 0)
    np.add.at(cm, (y_true[ok], y_pred[ok]), 1)
    return cm


def score(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...]) -> Report:
    """Accuracy, macro recall, macro-F1 and the confusion matrix over `labels`."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f'y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape')
    keep = y_true >= 0
    y_true, y_pred = y_true[keep], y_pred[keep]
    k = len(labels)
    cm = confusion_matrix(y_true, y_pred, k)
    n = int(y_true.size)
    if n == 0:
        return Report(0, float('nan'), float('nan'), float('nan'), float('nan'),
                      confusion=cm.tolist(), labels=list(labels))
    correct = np.diag(cm)
    support = np.bincount(y_true, minlength=k)
    predicted = cm.sum(axis=0)
    present = support > 0
    recall = np.divide(correct, support, out=np.zeros(k), where=present)
    precision = np.divide(correct, predicted, out=np.zeros(k), where=predicted > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(k), where=denom > 0)
    return Report(
        n=n,
        accuracy=float(correct.sum() / n),
        recall=float(recall[present].mean()),
        macro_f1=float(f1[present].mean()),
        coverage=float((y_pred >= 0).mean()),
        per_class_recall={labels[i]: float(recall[i]) for i in np.flatnonzero(present)},
        confusion=cm.tolist(),
        labels=list(labels),
    )


def to_basic(ids: np.ndarray) -> np.ndarray:
    """Fine-grained class ids -> basic-emotion ids (0 neutral, 1..6); -1 stays -1."""
    ids = np.asarray(ids, dtype=np.int64)
    lut = np.array([taxonomy.basic_emotion_of(c) for c in range(taxonomy.NUM_CLASSES)])
    out = np.full_like(ids, -1)
    ok = ids >= 0
    out[ok] = lut[ids[ok]]
    return out


def score_fine_and_basic(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Report]:
    """The 19-class fine-grained report and the 7-class basic-emotion report."""
    return {
        'fine': score(y_true, y_pred, taxonomy.CLASS_LABELS),
        'basic': score(to_basic(y_true), to_basic(y_pred), BASIC_LABELS),
    }


def boundaries(times: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Times at which the label changes (midpoint between the two samples)."""
    times = np.asarray(times, dtype=np.float64)
    labels = np.asarray(labels)
    change = np.flatnonzero(labels[1:] != labels[:-1])
    return (times[change] + times[change + 1]) / 2.0


def segment_timing_error(true_bounds: np.ndarray, pred_bounds: np.ndarray) -> float:
    """Mean distance (s) from each true segment boundary to the nearest predicted one.

    NaN when there is no true boundary; inf when there are true but no predicted boundaries.
    """
    true_bounds = np.asarray(true_bounds, dtype=np.float64)
    pred_bounds = np.sort(np.asarray(pred_bounds, dtype=np.float64))
    if true_bounds.size == 0:
        return float('nan')
    if pred_bounds.size == 0:
        return float('inf')
    idx = np.clip(np.searchsorted(pred_bounds, true_bounds), 1, pred_bounds.size) - 1
    left = np.abs(true_bounds - pred_bounds[idx])
    right = np.abs(true_bounds - pred_bounds[np.minimum(idx + 1, pred_bounds.size - 1)])
    return float(np.minimum(left, right).mean())
