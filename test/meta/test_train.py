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
"""`st-f2m train`: the whole recipe on a tiny synthetic set, resume, logs, DDP with 2 processes."""

from __future__ import annotations

import csv
import os
from pathlib import Path
import subprocess
import sys

import pytest
import yaml

from st_f2m_ros.cli.main import main
from st_f2m_ros.errors import ConfigError
from st_f2m_ros.meta.train_config import load_train_config, train_config_from_dict
from st_f2m_ros.model.checkpoint import load_checkpoint, read_metadata

TINY = {
    'seed': 0,
    'threads': 1,
    'model': {
        'backbone': 'resnet18_quarter',
        'crop_size': 48,
        'window': 4,
        'feat_dim': 16,
        'hidden': 32,
        'text_encoder': 'hashing',
    },
    'data': {'n_subjects': 3, 'clips_per_subject': 1, 'duration': 24.0, 'val_subjects': 1},
    'frames': {'epochs': 1, 'batch_size': 32, 'frame_stride': 3},
    'windows': {'epochs': 1, 'batch_size': 16},
    'meta': {
        'epochs': 1,
        'iterations': 2,
        'tasks_per_batch': 2,
        'n_way': 2,
        'k_shot': 1,
        'q_query': 1,
        'per_subject': False,
    },
}


def _write(tmp_path: Path, **over: object) -> Path:
    cfg = {**TINY, 'out_dir': str(tmp_path / 'run'), **over}
    path = tmp_path / 'train.yaml'
    path.write_text(yaml.safe_dump(cfg))
    return path


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / 'metrics.csv', newline='') as f:
        return list(csv.DictReader(f))


def test_shipped_train_config_parses() -> None:
    cfg = load_train_config(Path(__file__).parents[2] / 'config' / 'train.yaml')
    assert cfg.export and cfg.export.endswith('st_f2m_default.safetensors')
    assert cfg.export_half


def test_bad_configs_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match='unknown keys in frames'):
        train_config_from_dict({'frames': {'epochz': 1}})
    with pytest.raises(ConfigError, match=r'meta\.scope'):
        train_config_from_dict({'meta': {'scope': 'x'}})
    with pytest.raises(ConfigError, match='not found'):
        load_train_config(tmp_path / 'missing.yaml')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('model: [1, 2')
    with pytest.raises(ConfigError, match='not valid YAML'):
        load_train_config(bad)


def test_cli_reports_config_errors_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(['train', '--config', str(tmp_path / 'none.yaml')]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'not found' in err[0]


@pytest.mark.slow
def test_train_end_to_end_then_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / 'exported.safetensors'
    config = _write(tmp_path)
    assert main(['train', '--config', str(config), '--export', str(export)]) == 0
    run = tmp_path / 'run'
    for name in ('last', 'best', 'final'):
        assert (run / f'{name}.safetensors').is_file()
    assert (run / 'train_state.safetensors').is_file()
    assert any((run / 'tb').iterdir())  # TensorBoard event file
    rows = _rows(run)
    assert [r['stage'] for r in rows] == ['frames', 'windows', 'meta']
    assert all(r['val_acc'] != '' for r in rows)
    meta = read_metadata(export)
    assert meta['dtype'] == 'float16' and 'val_metrics' in meta
    assert load_checkpoint(export).config.crop_size == 48
    assert 'val_acc' in capsys.readouterr().out
    # resume: one more meta epoch runs, finished stages are skipped
    more = yaml.safe_load(config.read_text())
    more['meta']['epochs'] = 2
    config.write_text(yaml.safe_dump(more))
    assert main(['train', '--config', str(config), '--resume']) == 0
    rows = _rows(run)
    assert [(r['stage'], r['epoch']) for r in rows][-2:] == [('meta', '1'), ('meta', '2')]
    assert len(rows) == 4


def test_meta_pools_subjects_when_each_has_too_few_segments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """4-way episodes need 4 classes with 2 segments in one person: none has them here, so the
    meta stage samples across the training subjects instead of stopping."""
    meta = {**TINY['meta'], 'per_subject': True, 'n_way': 4, 'iterations': 1}
    config = _write(tmp_path, frames={'epochs': 0}, windows={'epochs': 0}, meta=meta)
    assert main(['train', '--config', str(config)]) == 0
    assert [(r['stage'], r['epoch']) for r in _rows(tmp_path / 'run')] == [('meta', '1')]
    assert 'sampling episodes across subjects' in capsys.readouterr().out


def test_resume_without_state_is_an_error(tmp_path: Path) -> None:
    assert main(['train', '--config', str(_write(tmp_path)), '--resume']) == 1


# Run under torchrun: `st-f2m train` with Trainer.run wrapped to save, per rank, the parameters
# before and after training (rank 1 writes nothing otherwise).
_DDP_PROBE = """
import sys
from pathlib import Path

from safetensors.torch import save_file

from st_f2m_ros.cli.main import main
from st_f2m_ros.meta.trainer import Trainer

run = Trainer.run


def run_and_save(self):
    start = {k: v.detach().clone() for k, v in self.model.named_parameters()}
    metrics = run(self)
    tensors = {f'start.{k}': v.contiguous() for k, v in start.items()}
    tensors |= {f'end.{k}': v.detach().contiguous() for k, v in self.model.named_parameters()}
    save_file(tensors, str(Path(sys.argv[2]) / f'rank{self.rank}.safetensors'))
    return metrics


Trainer.run = run_and_save
sys.exit(main(['train', '--config', sys.argv[1]]))
"""


@pytest.mark.slow
def test_ddp_two_processes_train_one_synchronised_model(tmp_path: Path) -> None:
    """Each rank trains on its own share of the data; DDP averages the gradients, so after
    every step both ranks hold the same parameters (without DDP they would drift apart)."""
    from safetensors.torch import load_file
    import torch

    config = _write(tmp_path)
    probe = tmp_path / 'probe.py'
    probe.write_text(_DDP_PROBE)
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    cmd = [
        sys.executable,
        '-m',
        'torch.distributed.run',
        '--standalone',
        '--nproc-per-node',
        '2',
        str(probe),
        str(config),
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _rows(tmp_path / 'run')
    assert [r['stage'] for r in rows] == ['frames', 'windows', 'meta']  # rank 0 logs once
    assert (tmp_path / 'run' / 'final.safetensors').is_file()
    r0, r1 = (load_file(str(tmp_path / f'rank{r}.safetensors')) for r in (0, 1))
    names = [k[len('end.') :] for k in r0 if k.startswith('end.')]
    assert set(r0) == set(r1) and names
    # every stage trained something: the backbone (frames), the head (windows, meta) ...
    moved = [n for n in names if not torch.equal(r0[f'start.{n}'], r0[f'end.{n}'])]
    assert any(n.startswith('backbone.') for n in moved), moved
    assert any(n.startswith('head.') for n in moved), moved
    # ... from the same start on both ranks, to the same end.
    for n in names:
        assert torch.equal(r0[f'start.{n}'], r1[f'start.{n}']), n
    diverged = [n for n in names if not torch.equal(r0[f'end.{n}'], r1[f'end.{n}'])]
    assert not diverged, f'parameters differ between the ranks: {diverged[:5]}'
    # rank 0's parameters are what it saved
    final = load_checkpoint(tmp_path / 'run' / 'final.safetensors').state_dict()
    for n in names:
        assert torch.equal(final[n], r0[f'end.{n}']), n


def test_hflip_mirrors_crops_and_swaps_left_right_components() -> None:
    import numpy as np
    import torch

    from st_f2m_ros.meta.objectives import hflip_half
    from st_f2m_ros.taxonomy import COMPONENTS

    crops = np.zeros((64, 8, 8, 3), np.uint8)
    crops[:, :, 0] = 255  # a bright left column
    comps = torch.zeros(64, 12)
    comps[:, COMPONENTS.index('left_eyebrow')] = 1.0
    comps[:, COMPONENTS.index('left_mouth_corner')] = -1.0
    out, out_comps = hflip_half(crops, comps, np.random.default_rng(0))
    flipped = out[:, 0, 7, 0] == 255
    assert 10 < flipped.sum() < 54  # about half
    assert np.all(out[~flipped, 0, 0, 0] == 255)
    f = torch.from_numpy(flipped)
    assert torch.all(out_comps[f, COMPONENTS.index('right_eyebrow')] == 1.0)
    assert torch.all(out_comps[f, COMPONENTS.index('right_mouth_corner')] == -1.0)
    assert torch.equal(out_comps[~f], comps[~f])
    assert crops[:, :, 0].min() == 255  # inputs untouched
