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
"""On-disk datasets: round trip, workers, torch views, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from st_f2m_ros.cli.main import main
from st_f2m_ros.data import load_clip, load_clips, make_synthetic_dataset, read_index, save_clip
from st_f2m_ros.data.clip import Clip, Utterance
from st_f2m_ros.data.synthetic import SyntheticConfig, SyntheticSession, make_subject
from st_f2m_ros.data.torch_dataset import ClipDataset, FrameDataset
from st_f2m_ros.errors import DataError


def _tiny(root: Path, workers: int = 1) -> None:
    make_synthetic_dataset(
        root,
        n_subjects=2,
        clips_per_subject=2,
        duration=1.0,
        seed=5,
        crop_size=32,
        workers=workers,
    )


def test_dataset_round_trip_matches_the_generator(tmp_path: Path) -> None:
    _tiny(tmp_path / 'ds')
    index = read_index(tmp_path / 'ds')
    assert index.subjects == ['s000', 's001'] and len(index) == 4
    assert index.meta['crop_size'] == 32 and index.meta['seed'] == 5
    clips = load_clips(tmp_path / 'ds')
    ref = SyntheticSession(make_subject('s001', 5), SyntheticConfig(duration=1.0), 5, 1).to_clip(
        32
    )
    got = clips[3]
    np.testing.assert_array_equal(got.crops, ref.crops)
    np.testing.assert_array_equal(got.labels, ref.labels)
    np.testing.assert_array_equal(got.times, ref.times)
    np.testing.assert_allclose(got.components, ref.components)
    assert got.utterances == ref.utterances and got.subject == 's001'
    assert sum(index.entries[3].class_counts) == len(got) == 30
    assert [c.subject for c in load_clips(tmp_path / 'ds', subjects=['s001'])] == ['s001'] * 2


def test_workers_do_not_change_the_data(tmp_path: Path) -> None:
    _tiny(tmp_path / 'a', workers=1)
    _tiny(tmp_path / 'b', workers=2)
    for name in ('s000_000.npz', 's001_001.npz'):
        a, b = (
            load_clip(tmp_path / 'a' / 'clips' / name),
            load_clip(tmp_path / 'b' / 'clips' / name),
        )
        np.testing.assert_array_equal(a.crops, b.crops)
        np.testing.assert_array_equal(a.labels, b.labels)


def test_torch_datasets(tmp_path: Path) -> None:
    _tiny(tmp_path / 'ds')
    ds = ClipDataset(tmp_path / 'ds')
    assert len(ds) == 4 and ds.subjects == ['s000', 's001'] and ds.indices_of('s001') == [2, 3]
    assert isinstance(ds[2], Clip) and ds[2].subject == 's001'
    frames = FrameDataset(ds)
    assert len(frames) == 120
    item = frames[31]
    assert tuple(item['crop'].shape) == (3, 32, 32) and str(item['crop'].dtype) == 'torch.uint8'
    np.testing.assert_array_equal(item['crop'].numpy().transpose(1, 2, 0), ds[1].crops[1])
    assert int(item['label']) == int(ds[1].labels[1]) and item['subject'] == 's000'
    assert len(ClipDataset([ds[0], ds[3]], subjects=['s001'])) == 1


def test_clip_without_utterances_or_components_round_trips(tmp_path: Path) -> None:
    clip = Clip(
        'x',
        np.zeros((3, 8, 8, 3), np.uint8),
        np.array([0.0, 0.1, 0.2]),
        np.array([-1, 0, 5]),
        utterances=[],
        source='test',
    )
    save_clip(tmp_path / 'c.npz', clip)
    back = load_clip(tmp_path / 'c.npz')
    assert back.components is None and back.utterances == [] and back.labels.tolist() == [-1, 0, 5]
    clip.utterances = [Utterance(0.0, 0.2, 'hello there')]
    save_clip(tmp_path / 'c.npz', clip)
    assert load_clip(tmp_path / 'c.npz').utterances == clip.utterances
    assert back.measured is None and back.measured_ok is None


def test_front_end_measurements_round_trip_and_are_checked(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    measured = rng.normal(size=(3, 12)).astype(np.float32)
    ok = rng.random((3, 12)) > 0.3
    clip = Clip(
        'x',
        np.zeros((3, 8, 8, 3), np.uint8),
        np.array([0.0, 0.1, 0.2]),
        np.array([0, 0, 5]),
        measured=measured,
        measured_ok=ok,
    )
    save_clip(tmp_path / 'c.npz', clip)
    back = load_clip(tmp_path / 'c.npz')
    np.testing.assert_array_equal(back.measured, measured)
    np.testing.assert_array_equal(back.measured_ok, ok)
    assert back.measured_ok.dtype == np.bool_
    item = FrameDataset([back])[2]
    np.testing.assert_array_equal(item['measured'].numpy(), measured[2])
    np.testing.assert_array_equal(item['measured_ok'].numpy(), ok[2])
    with pytest.raises(DataError, match='together'):
        Clip('x', clip.crops, clip.times, clip.labels, measured=measured)
    with pytest.raises(DataError, match='measured and measured_ok must have shape'):
        Clip('x', clip.crops, clip.times, clip.labels, measured=measured[:2], measured_ok=ok[:2])


def test_missing_and_broken_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match='make-dataset'):
        read_index(tmp_path)
    (tmp_path / 'index.json').write_text('{not json')
    with pytest.raises(DataError, match=r'index\.json.*JSON'):
        read_index(tmp_path)
    (tmp_path / 'index.json').write_text(json.dumps({'format': 'other'}))
    with pytest.raises(DataError, match='format'):
        read_index(tmp_path)
    (tmp_path / 'bad.npz').write_bytes(b'garbage')
    with pytest.raises(DataError, match=r'bad\.npz'):
        load_clip(tmp_path / 'bad.npz')
    np.savez(tmp_path / 'partial.npz', crops=np.zeros((1, 4, 4, 3), np.uint8))
    with pytest.raises(DataError, match=r'partial.npz lacks arrays .*times'):
        load_clip(tmp_path / 'partial.npz')
    arrays = dict(
        crops=np.zeros((2, 4, 4, 3), np.uint8),
        times=np.array([0.0, 0.0]),
        labels=np.zeros(2, np.int64),
        utt_start=np.zeros(0),
        utt_end=np.zeros(0),
        utt_text=np.zeros(0, dtype=np.str_),
        subject=np.array('s'),
    )
    np.savez(tmp_path / 'order.npz', **arrays)
    with pytest.raises(DataError, match=r'order\.npz.*increasing'):
        load_clip(tmp_path / 'order.npz')


def test_make_dataset_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / 'cli'
    assert (
        main(
            [
                'make-dataset',
                '--out',
                str(out),
                '--subjects',
                '1',
                '--clips-per-subject',
                '1',
                '--duration',
                '0.5',
                '--crop-size',
                '24',
                '--corrupt',
                'fog:0.3',
            ]
        )
        == 0
    )
    assert 'wrote 1 clips' in capsys.readouterr().out
    assert load_clips(out)[0].crops.shape == (15, 24, 24, 3)
    assert read_index(out).meta['config']['corruptions'] == 'fog:0.3'
    assert main(['make-dataset', '--out', str(out), '--corrupt', 'smoke:1']) == 1
    assert 'unknown corruption' in capsys.readouterr().err
