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
paper's Tables III-V at window level. Beside it, the same models score a window ending at
every frame against the label at its end (`sliding_*`), which is how the node's decisions are
stamped: the difference is what segment changes cost. The user-level figure (a replayed
session with smoothing, abstention and segment changes) is `st-f2m session-bench`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from st_f2m_ros.evaluation.experiments.features import TestPerson
from st_f2m_ros.evaluation.experiments.methods import Fitted
from st_f2m_ros.evaluation.metrics import score_fine_and_basic

METRICS = ('acc19', 'recall19', 'f1_19', 'acc7', 'recall7', 'sliding_acc19', 'sliding_acc7')
PER_PERSON = ('acc19', 'acc7', 'sliding_acc19', 'sliding_acc7')


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
        vals = [v for p in per_person if (v := _clean(p.get(k))) is not None]
        out[k] = float(np.mean(vals)) if vals else None
    for k in ('acc19', 'acc7'):
        vals = [v for p in per_person if (v := _clean(p.get(k))) is not None]
        out[f'worst_{k}'] = float(min(vals)) if vals else None
    return out


def _phase(pred: dict[str, tuple[Any, Any]], fine: bool) -> dict[str, float | None] | None:
    """One person's scores under one phase: segment metrics, plus sliding-window accuracy."""
    y, p = pred['segments']
    if p is None:
        return None
    scores = person_scores(y, p, fine)
    ys, ps = pred['sliding']
    if ps is not None and len(ys):
        sliding = person_scores(ys, ps, fine)
        scores.update(sliding_acc19=sliding['acc19'], sliding_acc7=sliding['acc7'])
    return scores


def evaluate(fitted: Fitted, people: list[TestPerson]) -> dict[str, Any]:
    """Scores of one fitted method on the test people.

    {before, after, per_person, worse_after}: `before` / `after` hold the means over people
    (and the worst person) of the segment-window metrics and of the sliding-window accuracy
    (`sliding_acc19/7`: a window ending at every frame, as the node publishes); `worse_after`
    counts the people whose segment accuracy is lower after adaptation than before.
    """
    fine = fitted.method.kind != 'fer'
    before, after, per = [], [], {}
    for person in people:
        entry: dict[str, float | None] = {}
        pred = fitted.predict(person.query, person.support)
        for phase, scores in (('before', before), ('after', after)):
            s = _phase(pred[phase], fine) if phase in pred else None
            if s is not None:
                scores.append(s)
                entry.update({f'{phase}_{k}': s.get(k) for k in PER_PERSON})
        per[person.subject] = {k: _clean(v) for k, v in entry.items()}
    worse = None
    if before and after:
        worse = {
            k: sum(
                1
                for p in per.values()
                if p.get(f'after_{k}') is not None
                and p.get(f'before_{k}') is not None
                and p[f'after_{k}'] < p[f'before_{k}']
            )
            for k in ('acc19', 'acc7')
        }
        worse['people'] = len(per)
    return {
        'before': summarize(before),
        'after': summarize(after),
        'per_person': per,
        'worse_after': worse,
    }
