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
"""The paper-experiment harness: budgets, feature cache, protocol, and every command end to end.

The end-to-end test runs `st-f2m experiment all --budget tiny`: the numbers of so small a run
mean nothing, but every experiment command, method, condition and report file is exercised on
the real encoder, trainer and /adapt code, so none of them rots.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
import torch

from st_f2m_ros.data.clip import Clip, Utterance
from st_f2m_ros.errors import ConfigError, DataError
from st_f2m_ros.evaluation.experiments import budget as bmod
from st_f2m_ros.evaluation.experiments.features import (
    FeatureSet,
    read_feature_set,
    speed_altered,
    write_feature_set,
)
from st_f2m_ros.evaluation.experiments.methods import (
    METHODS,
    fraction_of,
    method,
    with_label_noise,
    without_vision,
)
from st_f2m_ros.evaluation.experiments.protocol import person_scores, summarize
from st_f2m_ros.evaluation.experiments.runner import (
    ABLATION_METHODS,
    PAPER_EXPERIMENTS,
    TABLE3_METHODS,
    TABLE4_METHODS,
    TABLE5_METHODS,
)


def _clip(subject: str, n: int, seed: int = 0, t0: float = 100.0) -> Clip:
    rng = np.random.default_rng(seed)
    labels = np.repeat(rng.integers(0, 19, size=max(1, n // 8 + 1)), 8)[:n]
    return Clip(
        subject, np.zeros((n, 1, 1, 3), np.uint8), t0 + np.arange(n) / 8.0,
        labels.astype(np.int64), rng.normal(size=(n, 12)).astype(np.float32),
        np.ones(n, dtype=bool), source=f'test:{subject}',
        utterances=[Utterance(t0 + 0.5, t0 + 1.5, 'I am fine, thank you')],
    )  # fmt: skip


def _set(people: int = 3, n: int = 40) -> FeatureSet:
    clips = [_clip(f's{i:03d}', n, i) for i in range(people)]
    return FeatureSet(clips, [torch.randn(len(c), 9, 64) for c in clips])


# -- budgets ------------------------------------------------------------------------------
def test_shipped_budgets_load_and_tiny_is_smallest() -> None:
    tiny, reduced, full = (bmod.load_budget(n) for n in ('tiny', 'reduced', 'full'))
    assert tiny.train_people < reduced.train_people <= full.train_people
    assert 0.0 in reduced.levels and 0.4 in reduced.alpha_beta  # the paper's 0 % and alpha=0.4


@pytest.mark.parametrize(
    ('text', 'match'),
    [
        ('budgets: {tiny: {shots: 0}}', 'shots must be >= 1'),
        ('budgets: {tiny: {levels: [1.5]}}', 'levels'),
        ('budgets: {tiny: {bogus: 1}}', 'unknown keys'),
        ('budgets: {other: {}}', "no budget 'tiny'"),
        ('budgets: [', 'not valid YAML'),
    ],
)
def test_bad_budget_files_are_named_errors(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / 'b.yaml'
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        bmod.load_budget('tiny', path)


# -- feature cache and data views ------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(st.integers(1, 30), st.integers(1, 3))
def test_feature_cache_round_trip(n: int, people: int) -> None:
    import tempfile

    fs = _set(people, n)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / 'x.safetensors'
        write_feature_set(path, fs)
        back = read_feature_set(path)
    assert [c.subject for c in back.clips] == [c.subject for c in fs.clips]
    for a, b, fa, fb in zip(fs.clips, back.clips, fs.features, back.features):
        assert np.array_equal(a.labels, b.labels) and np.allclose(a.times, b.times)
        assert np.allclose(a.components, b.components) and torch.equal(fa, fb)
        assert a.utterances == b.utterances and a.source == b.source


def test_a_damaged_cache_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / 'bad.safetensors'
    path.write_bytes(b'not a safetensors file')
    with pytest.raises(DataError, match='delete it to recompute'):
        read_feature_set(path)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.5, 2.0), st.integers(16, 80))
def test_speed_alteration_moves_labels_with_frames(speed: float, n: int) -> None:
    fs = _set(1, n)
    out = speed_altered(fs, speed, speed, seed=0)
    clip, src = out.clips[0], fs.clips[0]
    assert len(clip) == pytest.approx(n / speed, abs=2)
    assert np.allclose(np.diff(clip.times), 1 / 8.0)  # the camera keeps its rate
    # every new frame is an old frame: features and labels stay paired
    for i in range(len(clip)):
        j = int(torch.nonzero((fs.features[0] == out.features[0][i]).all(-1).all(-1))[0])
        assert src.labels[j] == clip.labels[i]
    assert clip.utterances[0].start - clip.times[0] == pytest.approx(0.5 / speed)


def test_data_views() -> None:
    fs = _set(10, 24)
    assert all(not c.face_found.any() for c in without_vision(fs).clips)
    assert fraction_of(fs, 0.2).subjects == fs.subjects[:4]  # at least 4: 3 fit + 1 validate
    noisy = with_label_noise(fs, 0.3, seed=1)
    changed = np.mean(
        np.concatenate([a.labels != b.labels for a, b in zip(fs.clips, noisy.clips)])
    )
    assert 0.2 < changed < 0.4
    with pytest.raises(ConfigError, match='unknown method'):
        method('nope')


# -- protocol -------------------------------------------------------------------------------
def test_person_scores_and_summary() -> None:
    y = np.array([0, 1, 2, 3, 5])  # neutral, happiness low/medium/high, anger_medium
    perfect = person_scores(y, y)
    assert perfect['acc19'] == perfect['acc7'] == perfect['recall19'] == 1.0
    intensity = person_scores(y, np.array([0, 3, 3, 3, 5]))  # right emotion, wrong intensity
    assert intensity['acc19'] == pytest.approx(3 / 5) and intensity['acc7'] == 1.0
    fer = person_scores(y, y, fine=False)
    assert fer['acc19'] is None and fer['acc7'] == 1.0
    s = summarize([perfect, intensity])
    assert s['acc19'] == pytest.approx(0.8) and s['worst_acc19'] == pytest.approx(0.6)
    assert summarize([]) is None


# -- every experiment command, end to end -------------------------------------------------------
@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from st_f2m_ros.cli.main import main

    out = tmp_path_factory.mktemp('experiments')
    results = out / 'RESULTS.md'
    results.write_text('# Results\n\nkept text\n')
    rc = main(['experiment', 'all', '--budget', 'tiny', '--out', str(out), '--results',
               str(results), '--threads', '1'])  # fmt: skip
    assert rc == 0
    return out, results


@pytest.mark.slow
@pytest.mark.parametrize('name', PAPER_EXPERIMENTS)
def test_every_experiment_writes_complete_rows(tiny_run: tuple[Path, Path], name: str) -> None:
    out, results = tiny_run
    res = json.loads((out / f'{name}.json').read_text())
    expected = {
        'table3': TABLE3_METHODS, 'table4': TABLE4_METHODS, 'table5': TABLE5_METHODS,
        'ablation': ABLATION_METHODS, 'alpha_beta': ('st_f2m',),
    }[name]  # fmt: skip
    assert tuple(res['methods']) == expected and res['seeds'] == [0]
    cells = {(r['method'], r['condition'], r.get('alpha'), r.get('beta')) for r in res['rows']}
    assert len(res['rows']) == len(cells)  # one seed: one row per cell
    assert {r['method'] for r in res['rows']} == set(expected)
    assert {r['condition'] for r in res['rows']} == set(res['conditions'])
    for r in res['rows']:
        assert set(r['per_person']) == {'u000', 'u001'}
        kind = METHODS[r['method']].kind
        assert (r['before'] is None) == (kind == 'protonet')  # ProtoNet needs a support set
        assert (r['after'] is None) == (kind == 'fer')  # the FER net does not adapt
        for phase in ('before', 'after'):
            for k, v in (r[phase] or {}).items():
                assert v is None or 0.0 <= v <= 1.0, (r['method'], phase, k, v)
        if kind == 'stf2m':  # sliding windows (as the node stamps decisions) beside segments
            assert r['after']['sliding_acc19'] is not None
            assert r['worse_after']['people'] == 2
    assert (out / f'{name}.md').is_file() and list(out.glob(f'{name}_*.png'))
    text = results.read_text()
    assert f'<!-- experiment:{name}:start -->' in text and 'kept text' in text


@pytest.mark.slow
def test_trained_models_are_reused_not_retrained(tiny_run: tuple[Path, Path]) -> None:
    """table4/5/ablation reuse table3's models: one file per (method, seed, data variant)."""
    out, _ = tiny_run
    names = [p.name.split('-')[0] for p in (out / 'models').glob('*.safetensors')]
    trained = [m for m in TABLE3_METHODS if METHODS[m].trains]
    fewshot = [m for m in TABLE5_METHODS if METHODS[m].trains]
    assert sorted(names) == sorted(trained + fewshot)  # tiny alpha_beta grid is (0.4, 0.4)
    table4 = json.loads((out / 'table4.json').read_text())
    table3 = json.loads((out / 'table3.json').read_text())
    clean3 = {r['method']: r['after'] for r in table3['rows']}
    for r in table4['rows']:
        if r['condition'].endswith(':0'):  # level 0 is the clean data and the same model
            assert r['after'] == clean3[r['method']]


@pytest.mark.slow
def test_fuzzy_components_runs_through_the_front_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With an encoder that reads measured components (the shipped default), every frame goes
    through the face stage; without one, the experiment is refused with the command that
    trains one."""
    from st_f2m_ros.cli.main import main
    from st_f2m_ros.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint

    out = tmp_path / 'fc'
    pixel = DEFAULT_CHECKPOINT.parent / 'st_f2m_pixel.safetensors'  # no component input
    args = ['experiment', 'fuzzy_components', '--out', str(out)]
    assert main([*args, '--encoder', str(pixel)]) == 1  # a ConfigError
    assert 'config/train_components.yaml' in capsys.readouterr().err
    assert load_checkpoint(DEFAULT_CHECKPOINT).config.component_input
    assert main([*args, '--threads', '1']) == 0
    res = json.loads((out / 'fuzzy_components.json').read_text())
    assert {(r['method'], r['condition']) for r in res['rows']} == {
        (m, c) for m in ('st_f2m', 'no_fuzzy') for c in res['conditions']
    }
    assert len(res['conditions']) == 3 and (out / 'fuzzy_components_bars.png').is_file()
    assert 'front end' in ' '.join(res['notes'])


@pytest.mark.slow
def test_rerender_rewrites_reports_without_running(tiny_run: tuple[Path, Path]) -> None:
    from st_f2m_ros.cli.main import main

    out, _ = tiny_run
    fresh = out / 'fresh' / 'RESULTS.md'
    fresh.parent.mkdir()
    models = sorted(p.stat().st_mtime_ns for p in (out / 'models').glob('*.safetensors'))
    assert main(['experiment', 'all', '--out', str(out), '--results', str(fresh),
                 '--rerender']) == 0  # fmt: skip
    assert models == sorted(p.stat().st_mtime_ns for p in (out / 'models').glob('*.safetensors'))
    for name in PAPER_EXPERIMENTS:
        assert f'<!-- experiment:{name}:start -->' in fresh.read_text()
    assert main(['experiment', 'table3', '--out', str(out / 'empty'), '--rerender']) == 1


def test_results_blocks_sit_one_heading_level_deeper() -> None:
    from st_f2m_ros.evaluation.experiments.report import demote_headings

    text = '## Title\n\ntext # not a heading\n```\n# a shell comment\n```\n### Table'
    assert demote_headings(text) == (
        '### Title\n\ntext # not a heading\n```\n# a shell comment\n```\n#### Table'
    )
