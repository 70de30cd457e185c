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
"""The eq. 5 search: grid parsing, fitness, table, CSV, plot, the CLI, with and without a model."""

from __future__ import annotations

import csv
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
import numpy as np
import pytest

from st_f2m_ros.cli.main import main
from st_f2m_ros.errors import ConfigError
from st_f2m_ros.fuzzy.tuning import (
    fitness_search,
    format_table,
    macro_recall,
    parse_grid,
    plot_grid,
    rule_evaluator,
    write_csv,
)


def _bowl(alpha: float, beta: float) -> tuple[float, float]:
    """A known surface: accuracy peaks at (0.4, 0.6), recall at (0.4, 0.4)."""
    acc = 1.0 - (alpha - 0.4) ** 2 - (beta - 0.6) ** 2
    rec = 1.0 - (alpha - 0.4) ** 2 - (beta - 0.4) ** 2
    return acc, rec


def test_grid_parsing() -> None:
    assert parse_grid('0.1:0.9:0.1').tolist() == pytest.approx(
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    )
    assert parse_grid('0.4, 0.2,0.4').tolist() == [0.2, 0.4]
    for bad in ('x', '0.1:0.9:0', '-0.1,0.2', '', '0.1:0.5'):
        with pytest.raises(ConfigError, match='grid'):
            parse_grid(bad)


@given(
    start=st.floats(min_value=0.01, max_value=1.0),
    step=st.floats(min_value=0.01, max_value=0.5),
    n=st.integers(min_value=1, max_value=12),
)
def test_grid_range_is_inclusive_and_sorted(start: float, step: float, n: int) -> None:
    stop = start + step * (n - 1)
    values = parse_grid(f'{start!r}:{stop!r}:{step!r}')
    assert np.all(np.diff(values) > 0)
    assert values[0] == pytest.approx(start, abs=1e-6)
    assert values[-1] == pytest.approx(stop, abs=1e-5)


def test_search_finds_the_best_cell_of_a_known_surface() -> None:
    grid = parse_grid('0.1:0.9:0.1')
    result = fitness_search(_bowl, grid, grid)
    assert result.accuracy.shape == (9, 9)
    assert result.best == pytest.approx((0.4, 0.5))  # the mean of both peaks
    assert fitness_search(_bowl, grid, grid, weight=1.0).best == pytest.approx((0.4, 0.6))
    assert fitness_search(_bowl, grid, grid, weight=0.0).best == pytest.approx((0.4, 0.4))
    with pytest.raises(ConfigError, match='weight'):
        fitness_search(_bowl, grid, grid, weight=1.5)


def test_table_csv_and_plot(tmp_path: Path) -> None:
    result = fitness_search(_bowl, [0.2, 0.4], [0.4, 0.6, 0.8])
    table = format_table(result)
    assert table.splitlines()[0].split()[1:] == ['0.40', '0.60', '0.80']
    assert '0.960/1.000' in table  # alpha 0.4, beta 0.4: accuracy 1 - 0.04, recall 1
    assert 'best: alpha=0.4 beta=0.4' in table  # tie with (0.4, 0.6): the first cell wins
    rows = list(csv.DictReader(write_csv(result, tmp_path / 'grid.csv').open()))
    assert len(rows) == 6
    assert float(rows[3]['accuracy']) == pytest.approx(0.96)
    png = plot_grid(result, tmp_path / 'grid.png', 'test')
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert not list(tmp_path.glob('.*.tmp'))


def test_macro_recall() -> None:
    y = np.array([0, 0, 0, 1])
    assert macro_recall(y, np.array([0, 0, 0, 0])) == pytest.approx(0.5)
    assert macro_recall(y, y) == 1.0


def test_rule_evaluator_prefers_ranges_that_tolerate_noise() -> None:
    evaluate = rule_evaluator(samples_per_class=10, noise=0.3, seed=1)
    acc_narrow, _ = evaluate(0.1, 0.4)
    acc_paper, rec_paper = evaluate(0.4, 0.4)
    assert acc_narrow < acc_paper  # narrow sets: noisy components fire nothing -> neutral
    assert 0.4 < acc_paper <= 1.0 and 0.4 < rec_paper <= 1.0
    clean = rule_evaluator(samples_per_class=3, noise=0.0)
    assert clean(0.4, 0.4)[0] > 0.9  # clipped crisp codings: all but the paper's tie


def test_cli_rule_only_mode_writes_csv_and_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            'tune-fuzzy',
            '--alphas',
            '0.2,0.4',
            '--betas',
            '0.4',
            '--samples-per-class',
            '5',
            '--out',
            str(tmp_path),
        ]
    )
    assert status == 0
    out = capsys.readouterr().out
    assert 'alpha\\beta' in out and 'best: alpha=' in out
    assert (tmp_path / 'fuzzy_tuning.csv').is_file()
    assert (tmp_path / 'fuzzy_tuning.png').is_file()


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(['tune-fuzzy', '--alphas', 'wide', '--out', str(tmp_path)]) == 1
    assert 'cannot read the grid' in capsys.readouterr().err
    assert main(['tune-fuzzy', '--checkpoint', str(tmp_path / 'm.safetensors')]) == 1
    assert '--dataset' in capsys.readouterr().err
    bad = tmp_path / 'rules.yaml'
    bad.write_text('rules: []\n', encoding='utf-8')
    assert main(['tune-fuzzy', '--rules', str(bad), '--out', str(tmp_path)]) == 1
    assert 'rule base' in capsys.readouterr().err


@pytest.fixture(scope='module')
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real synthetic dataset on disk (one subject, 3 s), written by the data package."""
    from st_f2m_ros.data import write_clips
    from st_f2m_ros.data.synthetic import generate_clips

    root = tmp_path_factory.mktemp('fuzzy_ds')
    clips = generate_clips(n_subjects=1, clips_per_subject=1, duration=3.0, seed=0, crop_size=48)
    write_clips(root, clips)
    return root


def test_search_with_a_fixed_model_checkpoint(tmp_path: Path, dataset: Path) -> None:
    """A real (untrained, tiny) checkpoint and a real synthetic dataset through the CLI."""
    import torch

    from st_f2m_ros.fuzzy.tuning import model_evaluator
    from st_f2m_ros.model.checkpoint import save_checkpoint
    from st_f2m_ros.model.config import STF2MConfig
    from st_f2m_ros.model.stf2m import STF2MModel

    torch.manual_seed(0)
    cfg = STF2MConfig(
        backbone='resnet18_quarter', crop_size=48, text_encoder='hashing', hidden=32, feat_dim=16
    )
    save_checkpoint(STF2MModel(cfg), tmp_path / 'm.safetensors')
    evaluate = model_evaluator(tmp_path / 'm.safetensors', dataset)
    for cell in ((0.2, 0.2), (0.8, 0.8)):
        acc, rec = evaluate(*cell)
        assert 0.0 <= acc <= 1.0 and 0.0 <= rec <= 1.0
    status = main(
        ['tune-fuzzy', '--checkpoint', str(tmp_path / 'm.safetensors'), '--dataset',
         str(dataset), '--alphas', '0.4', '--betas', '0.4,0.6', '--out', str(tmp_path / 'out')]
    )  # fmt: skip
    assert status == 0
    assert len((tmp_path / 'out' / 'fuzzy_tuning.csv').read_text().splitlines()) == 3
    with pytest.raises(ConfigError, match='no labelled windows'):
        model_evaluator(tmp_path / 'm.safetensors', dataset, classes=['fear_high', 'fear_low'])


def test_search_on_dataset_components_without_a_model(tmp_path: Path, dataset: Path) -> None:
    """Clips whose components are the crisp codings: the rules recover 18 of 19 classes."""
    from st_f2m_ros.data import write_clips
    from st_f2m_ros.data.clip import Clip
    from st_f2m_ros.fuzzy import load_rule_base
    from st_f2m_ros.fuzzy.tuning import component_evaluator

    codings = load_rule_base().coding_matrix().astype(np.float32)
    n = codings.shape[0]
    clip = Clip(
        subject='crisp',
        crops=np.zeros((n, 32, 32, 3), np.uint8),
        times=np.arange(n, dtype=np.float64),
        labels=np.arange(n, dtype=np.int64),
        components=codings,
    )
    write_clips(tmp_path / 'crisp', [clip])
    acc, rec = component_evaluator(tmp_path / 'crisp')(0.4, 0.4)
    # Clipped like FCIS outputs, Disgust-High ties Disgust-Medium (documented): 18 / 19.
    assert acc == pytest.approx(18 / 19) and rec == pytest.approx(18 / 19)
    assert component_evaluator(tmp_path / 'crisp', classes=['disgust_high'])(0.4, 0.4)[0] == 0
    # Real synthetic components (FACS prototypes, independent of the rules) also run.
    acc, rec = component_evaluator(dataset)(1.0, 0.4)
    assert 0.0 <= acc <= 1.0 and 0.0 <= rec <= 1.0
    status = main(
        ['tune-fuzzy', '--dataset', str(dataset), '--alphas', '0.4,1.0', '--betas', '0.4',
         '--out', str(tmp_path)]
    )  # fmt: skip
    assert status == 0
    with pytest.raises(ConfigError, match='no labelled frames'):
        component_evaluator(dataset, subjects=['nobody'])


def test_class_subset_like_the_papers_fig_10() -> None:
    evaluate = rule_evaluator(samples_per_class=20, noise=0.2, classes=['anger_high'])
    acc_wide, rec_wide = evaluate(0.8, 0.4)
    assert acc_wide == rec_wide  # one class: accuracy is its recall
    assert evaluate(0.1, 0.4)[0] < acc_wide
    with pytest.raises(ConfigError, match='unknown class label'):
        rule_evaluator(classes=['anger_extreme'])
