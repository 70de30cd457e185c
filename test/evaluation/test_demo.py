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
"""The embedded default job end to end on short recordings (what make demo runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from st_f2m_ros import taxonomy
from st_f2m_ros.cli import main as cli
from st_f2m_ros.evaluation import metrics


def _seconds(t: Any) -> float:
    return t.sec + t.nanosec * 1e-9


def _recount(
    session_bag: Path, run_bag: Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray, set[str]]:
    """(true class, decided class or -1, latency, model ids) per message of a run, decoded here.

    Each prediction message is scored at its header stamp by its newest state (a decision
    only with status OK); the truth is the ground-truth state whose [start, end) holds it.
    """
    from st_f2m_ros.evaluation.replay import read_sequences

    truth_msgs = read_sequences(session_bag, '/emotion/ground_truth')
    spans = {
        (_seconds(s.start), _seconds(s.end), s.class_id) for m in truth_msgs for s in m.states
    }
    truth, pred, latency, models = [], [], [], set()
    for m in read_sequences(run_bag, '/emotion/sequence'):
        t = _seconds(m.header.stamp)
        inside = [c for a, b, c in spans if a <= t < b]
        assert len(inside) <= 1, (t, inside)  # ground-truth segments do not overlap
        truth.append(inside[0] if inside else -1)
        ok = m.states and m.states[-1].status == 0
        pred.append(m.states[-1].class_id if ok else -1)
        latency.append(float(m.processing_latency))
        models.add(m.model_id)
    return np.array(truth), np.array(pred), np.array(latency), models


@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / 'demo'
    status = cli.main(['demo', '--out', str(out), '--seconds', '8', '--support-seconds', '12'])
    assert status == 0
    printed = capsys.readouterr().out
    report = json.loads((out / 'report.json').read_text())
    adaptation = report['adaptation']
    assert adaptation['model_id'].endswith('+p07@v1')
    assert adaptation['clips_used'] >= 2
    assert adaptation['support_accuracy_after'] >= adaptation['support_accuracy_before']
    for run in ('base', 'adapted'):
        # Recount each run from the bags it wrote: the report must say what they hold.
        truth, pred, latency, models = _recount(out / 'session', out / f'run_{run}')
        assert models == ({adaptation['model_id']} if run == 'adapted' else {
            adaptation['model_id'].split('+')[0]})  # fmt: skip
        scored = truth >= 0
        fine, basic = report[run]['fine'], report[run]['basic']
        assert report[run]['messages'] == len(pred) > 10
        assert fine['n'] == basic['n'] == int(scored.sum()) > 10
        assert fine['accuracy'] == pytest.approx(float(np.mean(pred[scored] == truth[scored])))
        assert fine['coverage'] == pytest.approx(float(np.mean(pred[scored] >= 0)))
        assert fine['confusion'] == metrics.confusion_matrix(
            truth[scored], pred[scored], taxonomy.NUM_CLASSES).tolist()  # fmt: skip
        recall = [np.mean(pred[truth == c] == c) for c in np.unique(truth[scored])]
        assert fine['recall'] == pytest.approx(float(np.mean(recall)))
        to_basic = np.array([taxonomy.basic_emotion_of(c) for c in range(taxonomy.NUM_CLASSES)])
        hits = (pred[scored] >= 0) & (to_basic[pred[scored]] == to_basic[truth[scored]])
        assert basic['accuracy'] == pytest.approx(float(np.mean(hits)))
        again = metrics.score_fine_and_basic(truth, pred)
        for name, rep in (('fine', fine), ('basic', basic)):
            assert rep['macro_f1'] == pytest.approx(again[name].macro_f1)
        assert report[run]['latency_p50_s'] == pytest.approx(float(np.median(latency)))
        assert report[run]['latency_p95_s'] == pytest.approx(float(np.percentile(latency, 95)))
    # The printed before/after table shows the report's numbers, base left, adapted right.
    table = {
        'fine accuracy (19)': lambda r: r['fine']['accuracy'],
        'fine macro recall': lambda r: r['fine']['recall'],
        'fine macro-F1': lambda r: r['fine']['macro_f1'],
        'basic accuracy (7)': lambda r: r['basic']['accuracy'],
        'basic macro-F1': lambda r: r['basic']['macro_f1'],
        'coverage (no abstain)': lambda r: r['fine']['coverage'],
        'segment timing err (s)': lambda r: r['segment_timing_error_s'],
        'latency p95 (ms)': lambda r: r['latency_p95_s'] * 1e3,
    }
    lines = printed.splitlines()
    for name, value in table.items():
        row = next(line for line in lines if line.startswith(name))
        expected = [f'{value(report[run]):.3f}' for run in ('base', 'adapted')]
        assert row[len(name) :].split() == expected, row
    for name in ('confusion_base', 'confusion_adapted', 'timeline', 'contact_sheet'):
        assert (out / f'{name}.png').stat().st_size > 10_000
    # the adaptation was persisted like /adapt does
    assert list((out / 'adaptations' / 'p07').glob('v0001.*'))
