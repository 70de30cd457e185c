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
"""The meta-test protocol: each unseen person is read before and after adapting to them.

Per test person: every labelled segment of their session clip is one query window (centred, as
in the trainer's validation); "before" is the trained model as shipped, "after" the same model
adapted to that person's separate support recording (/adapt's code for ST-F2M variants,
prototypes for ProtoNet). Metrics per person (19-class and 7-class accuracy and macro recall,
19-class macro-F1), then the mean over people and the worst person: the protocol of the
paper's Tables III-V at window level. The user-level figure (a replayed session with
smoothing, abstention and segment changes) is `st-f2m session-bench`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from st_f2m_ros.evaluation.experiments.features import TestPerson
from st_f2m_ros.evaluation.experiments.methods import Fitted
from st_f2m_ros.evaluation.metrics import score_fine_and_basic

METRICS = ('acc19', 'recall19', 'f1_19', 'acc7', 'recall7')


def person_scores(y: np.ndarray, pred: np.ndarray, fine: bool = True) -> dict[str, float | None]:
    """The metrics of one person's query windows (19-class ones None when not `fine`)."""
    r = score_fine_and_basic(y, pred)
    out: dict[str, float | None] = {
        'acc19': r['fine'].accuracy, 'recall19': r['fine'].recall, 'f1_19': r['fine'].macro_f1,
        'acc7': r['basic'].accuracy, 'recall7': r['basic'].recall,
    }  # fmt: skip
    if not fine:
        out.update(acc19=None, recall19=None, f1_19=None)
    return out


def _clean(v: float | None) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def summarize(per_person: list[dict[str, float | None]]) -> dict[str, float | None] | None:
    """Mean over people of each metric, and the worst person's 19- and 7-class accuracy."""
    if not per_person:
        return None
    out: dict[str, float | None] = {}
    for k in METRICS:
        vals = [v for p in per_person if (v := _clean(p[k])) is not None]
        out[k] = float(np.mean(vals)) if vals else None
    for k in ('acc19', 'acc7'):
        vals = [v for p in per_person if (v := _clean(p[k])) is not None]
        out[f'worst_{k}'] = float(min(vals)) if vals else None
    return out


def evaluate(fitted: Fitted, people: list[TestPerson]) -> dict[str, Any]:
    """Scores of one fitted method on the test people: {before, after, per_person}."""
    fine = fitted.method.kind != 'fer'
    before, after, per = [], [], {}
    for person in people:
        y, pred = fitted.predict(person.query, None)
        entry: dict[str, float | None] = {}
        if pred is not None:
            s = person_scores(y, pred, fine)
            before.append(s)
            entry.update(before_acc19=s['acc19'], before_acc7=s['acc7'])
        if fitted.method.kind != 'fer':
            y, pred = fitted.predict(person.query, person.support)
            if pred is not None:
                s = person_scores(y, pred, fine)
                after.append(s)
                entry.update(after_acc19=s['acc19'], after_acc7=s['acc7'])
        per[person.subject] = {k: _clean(v) for k, v in entry.items()}
    return {'before': summarize(before), 'after': summarize(after), 'per_person': per}
