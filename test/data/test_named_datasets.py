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

from collections.abc import Iterator
import json
from pathlib import Path
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
import yaml

from st_f2m_ros.cli.main import main
from st_f2m_ros.data.dataset import write_clips
from st_f2m_ros.data.loaders.common import rate_indices, take_frames
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


@settings(max_examples=100, deadline=None)
@given(fps=st.floats(1.0, 120.0), n=st.integers(0, 400), rate=st.floats(0.5, 60.0))
def test_rate_indices_thin_a_video_to_the_model_rate(fps: float, n: int, rate: float) -> None:
    times = np.arange(n) / fps
    keep = rate_indices(times, rate)
    assert (np.diff(keep) > 0).all() and (keep < max(n, 1)).all()
    if n:
        assert keep[0] == 0
        grid = np.arange(times[0], times[-1] + 0.5 / rate, 1.0 / rate)
        assert len(keep) <= len(grid)  # never more frames than grid points
        grid = grid[grid <= times[-1] + 1e-9]
        # every grid point inside the video has a kept frame within half a frame interval
        gap = np.abs(times[keep][None, :] - grid[:, None]).min(axis=1)
        assert (gap <= 0.5 / fps + 1e-9).all()
    if rate >= fps:
        np.testing.assert_array_equal(keep, np.arange(n))
    np.testing.assert_array_equal(rate_indices(times, None), np.arange(n))


def test_videos_are_thinned_to_the_model_rate(tmp_path: Path, formats: SimpleNamespace) -> None:
    crema = load_dataset(f'cremad:{_write(formats, "cremad", tmp_path / "c")}', 32, rate=8.0)
    assert [len(c) for c in crema] == [2, 2, 2]  # 5 frames at 30 fps: 0 and 0.133 s
    np.testing.assert_allclose(crema[0].times, [0.0, 4 / 30])
    disfa = load_dataset(f'disfa:{_write(formats, "disfa", tmp_path / "d")}', 32, rate=8.0)
    np.testing.assert_allclose(disfa[0].times, [0.0, 0.1, 0.25, 0.35])  # 8 frames at 20 fps
    happy = disfa[0].labels[2]
    assert disfa[0].labels.tolist() == [0, 0, happy, happy] and happy != 0  # AU12 from frame 4
    assert disfa[0].components.shape == (4, 12)
    full = load_dataset(f'disfa:{tmp_path / "d"}', 32)[0]
    np.testing.assert_array_equal(disfa[0].crops, full.crops[[0, 2, 5, 7]])
    wflw = load_dataset(f'wflw:{_write(formats, "wflw", tmp_path / "w")}', 32, rate=4.0)
    np.testing.assert_allclose(wflw[0].times, [0.0, 0.25])


def test_take_frames_streams_only_what_it_needs() -> None:
    read: list[int] = []

    def source() -> Iterator[np.ndarray]:
        for i in range(10):
            read.append(i)
            yield np.full((1,), i)

    got = [int(f[0]) for f in take_frames(source(), np.array([1, 4, 5]))]
    assert got == [1, 4, 5] and read == list(range(6))


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


@pytest.mark.slow  # ~5 s CPU each (torch, encoding, two plots)
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


def test_cli_errors_are_one_line(
    tmp_path: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ck = ['--checkpoint', str(tiny_checkpoint)]
    assert main(['evaluate', '--dataset', f'ckplus:{tmp_path}', *ck, '--held-out']) == 1
    assert 'records no validation subjects' in capsys.readouterr().err
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


def test_train_cli_takes_a_data_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / 'train.yaml'
    config.write_text(yaml.safe_dump({**TINY, 'out_dir': str(tmp_path / 'run')}))
    missing = tmp_path / 'missing'
    assert main(['train', '--config', str(config), '--dataset', f'ckplus:{missing}']) == 1
    assert 'missing is not a folder; expected the CK+ layout' in capsys.readouterr().err
    assert main(['train', '--config', str(config), '--dataset', f'mosei:{tmp_path}']) == 1
    assert 'FACET' in capsys.readouterr().err
    args = ['train', '--config', str(config), '--frame-label-noise', '1.5']
    assert main(args) == 1
    assert 'frame_label_noise must be in [0, 1)' in capsys.readouterr().err


@pytest.mark.slow
def test_train_on_ckplus_with_frame_label_noise_then_evaluate(
    tmp_path: Path, formats: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    from st_f2m_ros.meta.trainer import Trainer

    spec = f'ckplus:{formats.ckplus(tmp_path / "ck", CKPLUS_TRAIN)}'
    data = {**TINY['data'], 'dataset': spec}
    cfg = train_config_from_dict({**TINY, 'data': data, 'out_dir': str(tmp_path / 'run')})
    trainer = Trainer(cfg)
    metrics = trainer.run()
    assert 0.0 <= metrics['val_acc'] <= 1.0
    # noise hit the training people only, by exactly round(0.3 * frames) per clip
    clean = {c.source: c.labels for c in load_dataset(spec, 32)}
    assert [c.subject for c in trainer.val_clips] and [c.subject for c in trainer.train_clips]
    for c in trainer.val_clips:
        np.testing.assert_array_equal(c.labels, clean[c.source])
    for c in trainer.train_clips:
        assert (c.labels != clean[c.source]).sum() == round(0.3 * len(c))
    final = tmp_path / 'run' / 'final.safetensors'
    assert main(['evaluate', '--dataset', spec, '--checkpoint', str(final), '--held-out']) == 0
    out = capsys.readouterr().out
    n_val = len(trainer.val_clips)
    assert f'{spec}: {n_val} clips' in out and '1 subjects' in out and 'fine-19' in out
