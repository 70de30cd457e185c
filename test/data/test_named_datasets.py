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
"""Named data sets (`name:PATH`) on the format fixtures: load, train, evaluate, bad specs."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from st_f2m_ros.cli.main import main
from st_f2m_ros.data.dataset import write_clips
from st_f2m_ros.errors import ConfigError, DataError
from st_f2m_ros.meta.tasks import build_groups
from st_f2m_ros.meta.train_config import train_config_from_dict
from st_f2m_ros.named_datasets import DATASETS, load_dataset, parse_spec
from st_f2m_ros.taxonomy import NUM_CLASSES, class_id

DISGUST = '3.0000000e+00'
HAPPY = '5.0000000e+00'
# three people, two sequences each: every training person has two runs of every level
CKPLUS_TRAIN = (
    ('S005', '001', DISGUST, 13),
    ('S005', '002', DISGUST, 13),
    ('S010', '001', HAPPY, 13),
    ('S010', '002', HAPPY, 13),
    ('S011', '001', DISGUST, 13),
    ('S011', '002', HAPPY, 13),
)


def _write(formats: SimpleNamespace, name: str, root: Path) -> Path:
    """A small fixture of data set `name` under `root`."""
    if name == 'ckplus':
        formats.ckplus(root, CKPLUS_TRAIN[:2] + CKPLUS_TRAIN[4:5])
    elif name == 'cremad':
        formats.cremad(root, ('1001_DFA_ANG_HI', '1001_IEO_ANG_HI', '1002_TIE_SAD_XX'))
    elif name == 'disfa':
        formats.disfa(root, n=8, subjects=('SN001', 'SN002'))
    elif name in ('wflw', 'wflw-test'):
        base = formats.wflw_template()
        smile = base.copy()
        smile[[76, 82], 1] -= 8
        split = 'test' if name == 'wflw-test' else 'train'
        formats.wflw(
            root, [base, smile, base + 0.5, smile], split, ('0--Parade', '1--Handshaking')
        )
    elif name == 'clips':
        formats.ckplus(root / 'src', CKPLUS_TRAIN[:1])
        write_clips(root, load_dataset(f'ckplus:{root / "src"}', 32))
    return root


LOADABLE = [n for n, d in DATASETS.items() if d.load is not None]


@pytest.mark.parametrize('name', LOADABLE)
def test_every_loadable_data_set_gives_clips_the_trainer_reads(
    name: str, tmp_path: Path, formats: SimpleNamespace
) -> None:
    clips = load_dataset(f'{name}:{_write(formats, name, tmp_path)}', 32)
    assert clips and all(c.crop_size == 32 for c in clips)
    for c in clips:
        assert c.labels.min() >= 0 and c.labels.max() < NUM_CLASSES
        assert len(c) >= 2  # task construction needs runs of >= 2 frames (stills repeated)
    assert build_groups(clips)  # labelled windows exist
    if name in ('disfa', 'wflw', 'wflw-test'):  # labelled by the fuzzy rule base
        assert all(c.components is not None for c in clips)


def test_ckplus_labels_through_the_registry(tmp_path: Path, formats: SimpleNamespace) -> None:
    clips = load_dataset(f'ckplus:{_write(formats, "ckplus", tmp_path)}', 32)
    assert sorted({c.subject for c in clips}) == ['S005', 'S011']
    levels = [class_id('disgust', k) for k in ('low', 'medium', 'high')]
    assert clips[0].labels.tolist() == [0] + [levels[0]] * 4 + [levels[1]] * 4 + [levels[2]] * 4


def test_mosei_is_refused_with_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match='input variant of E that takes FACET features'):
        load_dataset(f'mosei:{tmp_path}', 32)
    with pytest.raises(ConfigError, match='not face images'):
        train_config_from_dict({'data': {'dataset': f'mosei:{tmp_path}'}})


def test_bad_specs(tmp_path: Path, formats: SimpleNamespace) -> None:
    with pytest.raises(ConfigError, match=r"unknown data set 'affectnet'.*known: ckplus"):
        parse_spec('affectnet:/data')
    with pytest.raises(ConfigError, match='expected NAME:PATH'):
        parse_spec('ckplus')
    with pytest.raises(ConfigError, match='expected NAME:PATH'):
        parse_spec('ckplus:')
    with pytest.raises(DataError, match=r'missing is not a folder.*cohn-kanade-images'):
        load_dataset(f'ckplus:{tmp_path / "missing"}', 32)
    disfa = _write(formats, 'disfa', tmp_path / 'disfa')
    with pytest.raises(DataError, match=r'^ckplus:.*cohn-kanade-images'):
        load_dataset(f'ckplus:{disfa}', 32)  # a DISFA folder is not CK+
    with pytest.raises(DataError, match=r'^wflw:.*list_98pt_rect_attr_train\.txt'):
        load_dataset(f'wflw:{disfa}', 32)
    with pytest.raises(DataError, match=r'^clips:.*index\.json'):
        load_dataset(f'clips:{disfa}', 32)
    with pytest.raises(ConfigError, match='not both'):
        train_config_from_dict({'data': {'dataset': f'ckplus:{disfa}', 'root': str(disfa)}})
    with pytest.raises(ConfigError, match='frame_label_noise'):
        train_config_from_dict({'data': {'frame_label_noise': 1.0}})


@pytest.mark.parametrize('name', LOADABLE)
def test_evaluate_cli_on_each_data_set(
    name: str,
    tmp_path: Path,
    formats: SimpleNamespace,
    tiny_checkpoint: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = f'{name}:{_write(formats, name, tmp_path / "data")}'
    out = tmp_path / 'eval'
    args = ['evaluate', '--dataset', spec, '--checkpoint', str(tiny_checkpoint)]
    assert main([*args, '--k-shot', '1', '--out', str(out)]) == 0
    report = json.loads((out / 'report.json').read_text())
    assert report['dataset'] == spec and report['windows'] > 0
    assert 0.0 <= report['fine']['accuracy'] <= 1.0 and report['basic']['n'] == report['windows']
    assert (out / 'confusion_fine.png').is_file()
    text = capsys.readouterr().out
    assert 'fine-19' in text and 'basic-7' in text
    if name == 'ckplus':  # S005 has two runs of each level: adaptation is measured
        assert set(report['adapt']) == {'val_adapt_before', 'val_adapt_after'}


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(['evaluate', '--dataset', f'mosei:{tmp_path}']) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'FACET' in err[0]
    assert main(['evaluate', '--dataset', f'cremad:{tmp_path / "none"}']) == 1
    assert 'VideoFlash' in capsys.readouterr().err
    for cmd in ('train', 'evaluate'):
        with pytest.raises(SystemExit):
            main([cmd, '--help'])
        assert 'DISFA-FER' in capsys.readouterr().out


TINY = {
    'seed': 0,
    'threads': 1,
    'model': {
        'backbone': 'resnet18_quarter',
        'crop_size': 32,
        'window': 4,
        'feat_dim': 16,
        'hidden': 32,
        'text_encoder': 'hashing',
    },
    'data': {'val_subjects': 1, 'frame_label_noise': 0.3},
    'frames': {'epochs': 1, 'batch_size': 32},
    'windows': {'epochs': 1, 'batch_size': 16},
    'meta': {
        'epochs': 1,
        'iterations': 1,
        'tasks_per_batch': 1,
        'n_way': 2,
        'k_shot': 1,
        'q_query': 1,
        'per_subject': False,
    },
}


@pytest.mark.slow
def test_train_on_ckplus_with_frame_label_noise_then_evaluate(
    tmp_path: Path, formats: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    from st_f2m_ros.meta.train_config import load_train_config
    from st_f2m_ros.meta.trainer import Trainer

    spec = f'ckplus:{formats.ckplus(tmp_path / "ck", CKPLUS_TRAIN)}'
    config = tmp_path / 'train.yaml'
    config.write_text(yaml.safe_dump({**TINY, 'out_dir': str(tmp_path / 'run')}))
    # the CLI path: --dataset overrides the config's data source
    assert main(['train', '--config', str(config), '--dataset', spec]) == 0
    assert 'val_acc' in capsys.readouterr().out
    final = tmp_path / 'run' / 'final.safetensors'
    assert final.is_file()
    assert main(['evaluate', '--dataset', spec, '--checkpoint', str(final)]) == 0
    assert 'fine-19' in capsys.readouterr().out
    # noise hit the training people only, by exactly round(0.3 * frames) per clip
    cfg = load_train_config(config)
    cfg.data.dataset, cfg.out_dir = spec, str(tmp_path / 'run2')
    trainer = Trainer(cfg)
    trainer.run()
    clean = {c.source: c.labels for c in load_dataset(spec, 32)}
    for c in trainer.val_clips:
        np.testing.assert_array_equal(c.labels, clean[c.source])
    for c in trainer.train_clips:
        assert (c.labels != clean[c.source]).sum() == round(0.3 * len(c))
