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
"""The session benchmark: its metrics, its support recordings, its shortcuts, end to end."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from st_f2m_ros import taxonomy
from st_f2m_ros.evaluation import metrics
from st_f2m_ros.evaluation.session_report import aggregate, error_kinds
from st_f2m_ros.evaluation.support_recording import class_rounds, noisy_labels

labels = st.lists(st.integers(0, taxonomy.NUM_CLASSES - 1), min_size=1, max_size=120)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_macro_recall_and_f1_match_sklearn(data: st.DataObject) -> None:
    """Macro recall / F1 over the classes present in the truth, abstentions (-1) wrong."""
    sk = pytest.importorskip('sklearn.metrics')
    y_true = np.array(data.draw(labels))
    y_pred = np.array(
        data.draw(
            st.lists(st.integers(-1, taxonomy.NUM_CLASSES - 1), min_size=len(y_true),
                     max_size=len(y_true))
        )
    )  # fmt: skip
    rep = metrics.score(y_true, y_pred, taxonomy.CLASS_LABELS)
    present = sorted(set(y_true.tolist()))
    kw = {'labels': present, 'average': 'macro', 'zero_division': 0}
    assert rep.accuracy == pytest.approx(sk.accuracy_score(y_true, y_pred))
    assert rep.recall == pytest.approx(sk.recall_score(y_true, y_pred, **kw))
    assert rep.macro_f1 == pytest.approx(sk.f1_score(y_true, y_pred, **kw))
    assert rep.coverage == pytest.approx(float((y_pred >= 0).mean()))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_error_kinds_partition_every_window(data: st.DataObject) -> None:
    y_true = np.array(data.draw(labels))
    y_pred = np.array(
        data.draw(st.lists(st.integers(-1, 18), min_size=len(y_true), max_size=len(y_true)))
    )
    kinds = error_kinds(y_true, y_pred)
    assert sum(kinds.values()) == pytest.approx(1.0)
    assert kinds['correct'] == pytest.approx(float((y_true == y_pred).mean()))


@given(st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_class_rounds_show_every_class_k_times_never_twice_in_a_row(k: int, seed: int) -> None:
    order = class_rounds(np.random.default_rng(seed), k)
    assert np.bincount(order, minlength=taxonomy.NUM_CLASSES).tolist() == [k] * 19
    assert all(a != b for a, b in itertools.pairwise(order))


@given(st.integers(1, 5), st.sampled_from([0.0, 0.1, 0.3, 0.5]), st.integers(0, 2**31 - 1))
def test_noisy_labels_wrong_share_and_no_merge(k: int, share: float, seed: int) -> None:
    truth = list(class_rounds(np.random.default_rng(seed), k))
    given_ = noisy_labels(truth, share, np.random.default_rng(seed + 1))
    assert sum(a != b for a, b in zip(truth, given_)) == round(share * len(truth))
    assert all(a != b for a, b in itertools.pairwise(given_))  # clips never merge


def test_aggregate_mean_std_worst_and_people_worse() -> None:
    def row(name: str, base: float, after: float) -> dict:
        def cell(a: float) -> dict:
            scores = dict.fromkeys(('accuracy', 'recall', 'macro_f1', 'coverage'), a)
            return {'fine': scores, 'basic': scores}

        return {'subject': name, 'base': cell(base), 'k1': cell(after)}

    rows = [row('a', 0.5, 0.7), row('b', 0.4, 0.3), row('c', 0.6, 0.6)]
    s = aggregate(rows, ['k1'])
    after = np.array([0.7, 0.3, 0.6])
    assert s['k1']['fine']['accuracy']['mean'] == pytest.approx(after.mean())
    assert s['k1']['fine']['accuracy']['std'] == pytest.approx(after.std(ddof=1))
    assert s['k1']['fine']['accuracy']['worst'] == pytest.approx(0.3)
    assert s['k1']['fine']['accuracy']['worst_subject'] == 'b'
    assert s['k1']['worse_than_base']['fine'] == ['b']  # c is equal, not worse


def test_in_window_accuracy_and_windows_file_round_trip(tmp_path: Path) -> None:
    """A decision naming a class shown anywhere in its 1 s window counts as in-window."""
    from types import SimpleNamespace as Ns

    from st_f2m_ros.evaluation.session_report import analysis, load_windows, save_windows

    segs = [Ns(start=0.0, end=2.0, class_id=3), Ns(start=2.0, end=5.0, class_id=6)]
    ev = Ns(times=np.array([1.0, 1.5, 2.2, 2.9, 3.5, 4.5]), truth=np.array([3, 3, 6, 6, 6, 6]),
            predicted=np.array([3, 0, 3, 6, -1, 3]), segments=segs)  # fmt: skip
    people = [Ns(subject='a', evaluations={'base': ev})]
    got = analysis(people, ['base'], window_s=1.0)['base']
    assert got['in_window_accuracy'] == pytest.approx(3 / 6)  # 1.0, 2.2 (lag), 2.9
    assert got['by_time_since_segment_start']['0-0.5 s']['windows'] == 1
    assert got['error_kinds']['abstained'] == pytest.approx(1 / 6)
    again = load_windows(save_windows(people, tmp_path / 'w.npz'))
    redone = analysis(again, ['base'], window_s=1.0)['base']
    assert json.dumps(redone, sort_keys=True) == json.dumps(got, sort_keys=True)  # NaN-safe


def test_support_bag_is_what_adapt_reads(tmp_path: Path) -> None:
    """No ground-truth topic; the sidecar labels the first K rounds; noise: hard-linked copy."""
    from st_f2m_ros.data.bag_reader import BagReader
    from st_f2m_ros.data.synthetic import SyntheticConfig
    from st_f2m_ros.evaluation.support_recording import write_support_bags
    from st_f2m_ros.runtime.adaptation.clip_sources import sidecar_labels

    cam = SyntheticConfig(fps=4, width=160, height=120)
    bags = write_support_bags(tmp_path, 'u900', 5, [(1, 0.0), (2, 0.0), (2, 0.3)], cam, (0.5, 0.5))
    assert [(b.shots, b.noise) for b in bags] == [(2, 0.0), (2, 0.3), (1, 0.0)]
    k2, k2n, k1 = bags
    with BagReader(k2.path) as r:
        assert set(r.topics) == {'/camera/image_raw/compressed'}
        n2 = sum(1 for _ in r.messages(['/camera/image_raw/compressed']))
    with BagReader(k1.path) as r:
        n1 = sum(1 for _ in r.messages(['/camera/image_raw/compressed']))
    assert n1 == 19 * 2 and n2 == 38 * 2  # 0.5 s clips at 4 fps; k1 is a prefix of k2
    doc = sidecar_labels(k2n.path.with_name(k2n.path.name + '.labels.yaml'))
    given_ = [taxonomy.CLASS_LABELS.index(s['label']) for s in doc['segments']]
    assert given_ == k2n.given_labels and k2n.true_labels == k2.true_labels
    assert k2n.wrong == round(0.3 * 38) and k2.wrong == 0
    assert k1.true_labels == k2.true_labels[:19]
    assert (k2n.path / 'metadata.yaml').stat().st_ino == (k2.path / 'metadata.yaml').stat().st_ino


@pytest.mark.slow
def test_rescored_heads_equal_a_replay_with_the_head_live(tmp_path: Path) -> None:
    """The shortcut: one replay re-scored with an adapted head is what a replay with it gives."""
    from st_f2m_ros.evaluation.session_bench import BenchConfig, _record, _replay, _values
    from st_f2m_ros.evaluation.session_trace import rescore
    from st_f2m_ros.runtime.adaptation.request import AdaptRequest
    from st_f2m_ros.runtime.session import build_session

    cfg = BenchConfig(people=1, session_seconds=5.0, fps=10.0, shots=(1,), noise=0.0)
    values = _values(cfg, tmp_path)
    session = build_session(values, 'u000', with_pipeline=False)
    try:
        bag, support = _record(cfg, 'u000', tmp_path)
        base, _ = _replay(session, values, 'u000', bag)
        out = session.manager.adapt(AdaptRequest('u000', clip_uris=[str(support[0].path)]))
        assert out.success, out.message
        head = session.recognizer.state
        live, _ = _replay(session, values, 'u000', bag, head)
        again = rescore(base, session.recognizer, head)
        same_base = rescore(base, session.recognizer, session.recognizer.state)
    finally:
        session.close()
    assert base.windows > 10 and len(again) == len(live.results)

    def decisions(results: list) -> list[tuple]:
        return [(r.stamp, r.current.status, r.current.class_id, r.model_id) for r in results]

    assert decisions(again) == decisions(live.results)
    for a, b in zip(again, live.results):
        np.testing.assert_allclose(
            a.current.class_probabilities, b.current.class_probabilities, atol=1e-5
        )
    assert decisions(same_base) == decisions(base.results)  # the base head re-scored: unchanged


@pytest.mark.slow
def test_support_memo_gives_the_adaptation_of_a_fresh_request(
    tmp_path: Path, tiny_checkpoint: Path
) -> None:
    """k1 answered from the memo of the longer k2 stream = k1 tracked and encoded afresh."""
    from st_f2m_ros.data.synthetic import SyntheticConfig
    from st_f2m_ros.evaluation.session_bench import BenchConfig, _values
    from st_f2m_ros.evaluation.support_memo import support_memo
    from st_f2m_ros.evaluation.support_recording import write_support_bags
    from st_f2m_ros.runtime.adaptation.request import AdaptRequest
    from st_f2m_ros.runtime.session import build_session

    cam = SyntheticConfig(fps=8, width=320, height=240)
    k2, k1 = write_support_bags(tmp_path, 'u901', 3, [(1, 0.0), (2, 0.0)], cam, (1.0, 1.0))
    values = _values(BenchConfig(model=str(tiny_checkpoint), shots=(1, 2)), tmp_path)
    session = build_session(values, 'u901', with_pipeline=False)
    m = session.manager
    try:
        fresh = m.adapt(AdaptRequest('u901', clip_uris=[str(k1.path)]))
        p_fresh = session.recognizer.state.params
        with support_memo(m, session.model) as counts:
            m.adapt(AdaptRequest('u901', clip_uris=[str(k2.path)]))
            memo = m.adapt(AdaptRequest('u901', clip_uris=[str(k1.path)]))
        p_memo = session.recognizer.state.params
    finally:
        session.close()
    assert fresh.success and memo.success
    assert counts['frames'] == 3 * 19 * 8 and counts['tracked'] == 2 * 19 * 8
    assert counts['encoded'] < counts['crops']
    assert memo.support_accuracy_after == fresh.support_accuracy_after
    for k, v in p_fresh.items():
        np.testing.assert_allclose(np.asarray(p_memo[k]), np.asarray(v), atol=1e-6)


@pytest.mark.slow
def test_session_bench_end_to_end(tmp_path: Path, tiny_checkpoint: Path) -> None:
    from st_f2m_ros.cli import main as cli

    out = tmp_path / 'bench'
    args = ['session-bench', '--out', str(out), '--people', '2', '--seconds', '4',
            '--fps', '8', '--shots', '1', '--noise-shots', '1', '--clip-seconds', '1', '1',
            '--size', '320', '240', '--model', str(tiny_checkpoint)]  # fmt: skip
    assert cli.main(args) == 0
    report = json.loads((out / 'session_bench.json').read_text())
    assert report['conditions'] == ['k1', 'k1_noise30']
    assert [p['subject'] for p in report['people']] == ['u000', 'u001']
    for p in report['people']:
        assert p['adaptations']['k1']['clips_used'] == 19
        assert p['adaptations']['k1_noise30']['wrong_labels'] == round(0.3 * 19)
        for cond in ('base', 'k1', 'k1_noise30'):
            for level in ('fine', 'basic'):
                cov = p[cond][level]['coverage']
                assert 0.0 <= cov <= 1.0
    acc = [p['k1']['fine']['accuracy'] for p in report['people']]
    assert report['summary']['k1']['fine']['accuracy']['worst'] == pytest.approx(min(acc))
    assert len(report['goals']) == 5
    md = (out / 'session_bench.md').read_text()
    assert '| k1_noise30 |' in md and 'Where the errors are' in md and 'What /adapt saw' in md
    assert (out / 'session_bench_people.png').stat().st_size > 1000
    assert not (out / 'bags').exists()  # recordings are dropped unless --keep-bags
    assert (out / 'session_bench_windows.npz').is_file()
    (out / 'session_bench.md').unlink()
    assert cli.main(['session-bench', '--out', str(out), '--rerender']) == 0  # no replay
    assert '| k1_noise30 |' in (out / 'session_bench.md').read_text()
