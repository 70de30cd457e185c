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
"""Frame-label noise (Table V): exact fraction, never the same class, seeded, validation clean."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.data.dataset import load_clips, read_index, write_clips
from st_f2m_ros.data.label_noise import add_frame_label_noise, noise_dataset_folder, noisy_labels
from st_f2m_ros.errors import DataError
from st_f2m_ros.taxonomy import NUM_CLASSES

label_lists = st.lists(st.integers(-1, NUM_CLASSES - 1), min_size=0, max_size=200)
fractions = st.floats(0.0, 1.0, allow_nan=False)


def _clip(labels: list[int], subject: str = 'p0') -> Clip:
    n = len(labels)
    return Clip(
        subject=subject,
        crops=np.zeros((n, 16, 16, 3), np.uint8),
        times=np.arange(n) / 8.0,
        labels=np.asarray(labels, dtype=np.int64),
    )


@settings(max_examples=200, deadline=None)
@given(labels=label_lists, fraction=fractions, seed=st.integers(0, 2**32 - 1))
def test_exact_fraction_never_same_label_unlabelled_kept(
    labels: list[int], fraction: float, seed: int
) -> None:
    y = np.asarray(labels, dtype=np.int64)
    out = noisy_labels(y, fraction, np.random.default_rng(seed))
    labelled = y >= 0
    changed = out != y
    assert changed.sum() == round(fraction * labelled.sum())  # exact, within rounding
    assert not changed[~labelled].any()  # -1 stays -1
    assert ((out >= 0) & (out < NUM_CLASSES))[labelled].all()
    assert (out[changed] != y[changed]).all()  # a changed frame never keeps its class
    assert out.dtype == np.int64 and out.shape == y.shape


@settings(max_examples=50, deadline=None)
@given(
    clips=st.lists(label_lists, min_size=1, max_size=5),
    fraction=fractions,
    seed=st.integers(0, 2**32 - 1),
)
def test_deterministic_per_seed_and_input_untouched(
    clips: list[list[int]], fraction: float, seed: int
) -> None:
    data = [_clip(c, f'p{i}') for i, c in enumerate(clips)]
    before = [c.labels.copy() for c in data]
    a = add_frame_label_noise(data, fraction, seed)
    b = add_frame_label_noise(data, fraction, seed)
    for x, y, orig, clip in zip(a, b, before, data):
        np.testing.assert_array_equal(x.labels, y.labels)
        np.testing.assert_array_equal(clip.labels, orig)  # pure: inputs not modified
        assert x.crops is clip.crops  # only the labels are replaced


def test_other_seed_other_draw_and_zero_is_identity() -> None:
    clip = _clip(list(np.arange(300) % NUM_CLASSES))
    a = add_frame_label_noise([clip], 0.3, 1)[0].labels
    b = add_frame_label_noise([clip], 0.3, 2)[0].labels
    assert (a != b).any()
    assert add_frame_label_noise([clip], 0.0, 1)[0] is clip


@settings(max_examples=50, deadline=None)
@given(
    subjects=st.lists(st.sampled_from(['a', 'b', 'c', 'd']), min_size=1, max_size=8),
    fraction=st.floats(0.05, 1.0),
    seed=st.integers(0, 1000),
)
def test_only_training_subjects_are_noised(
    subjects: list[str], fraction: float, seed: int
) -> None:
    clips = [_clip(list(range(NUM_CLASSES)) * 3, s) for s in subjects]
    train = {'a', 'b'}
    out = add_frame_label_noise(clips, fraction, seed, only_subjects=train)
    for before, after in zip(clips, out):
        if before.subject in train:
            assert (after.labels != before.labels).sum() == round(fraction * len(before))
        else:
            assert after is before  # validation clips are untouched


def test_bad_fraction_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r'in \[0, 1\]'):
        add_frame_label_noise([_clip([1, 2])], 1.5)
    with pytest.raises(DataError, match=r'in \[0, 1\]'):
        noisy_labels(np.array([1]), -0.1, np.random.default_rng(0))


def test_noise_dataset_folder(tmp_path: Path) -> None:
    clips = [_clip(list(range(NUM_CLASSES)) * 2, s) for s in ('a', 'b')]
    write_clips(tmp_path, clips, {'generator': 'test'})
    changed = noise_dataset_folder(tmp_path, 0.25, seed=3)
    loaded = load_clips(tmp_path)
    expect = add_frame_label_noise(clips, 0.25, 3)
    assert changed == 2 * round(0.25 * 2 * NUM_CLASSES)
    for got, want in zip(loaded, expect):
        np.testing.assert_array_equal(got.labels, want.labels)
    index = read_index(tmp_path)
    assert index.meta['frame_label_noise'] == 0.25 and index.meta['generator'] == 'test'
    counts = np.bincount(loaded[0].labels, minlength=NUM_CLASSES).tolist()
    assert list(index.entries[0].class_counts) == counts
    with pytest.raises(DataError, match='already has frame label noise'):
        noise_dataset_folder(tmp_path, 0.25)


def test_make_dataset_cli_frame_label_noise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from st_f2m_ros.cli.main import main

    common = ['--subjects', '1', '--clips-per-subject', '1', '--duration', '2', '--fps', '8']
    common += ['--crop-size', '16', '--seed', '4']
    assert main(['make-dataset', '--out', str(tmp_path / 'clean'), *common]) == 0
    noisy = tmp_path / 'noisy'
    assert main(['make-dataset', '--out', str(noisy), *common, '--frame-label-noise', '0.3']) == 0
    assert 'relabelled' in capsys.readouterr().out
    (clean_clip,), (noisy_clip,) = load_clips(tmp_path / 'clean'), load_clips(noisy)
    np.testing.assert_array_equal(clean_clip.crops, noisy_clip.crops)
    changed = noisy_clip.labels != clean_clip.labels
    assert changed.sum() == round(0.3 * len(clean_clip))
    np.testing.assert_array_equal(
        noisy_clip.labels, add_frame_label_noise([clean_clip], 0.3, 4)[0].labels
    )
    assert read_index(noisy).meta['frame_label_noise'] == 0.3
    assert main(['make-dataset', '--out', str(noisy), *common, '--frame-label-noise', '2']) == 1
