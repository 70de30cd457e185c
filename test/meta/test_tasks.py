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
"""Task construction of paper V-A: views, position groups, episodes, subject splits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from st_f2m_ros.data.clip import Clip, Utterance
from st_f2m_ros.errors import DataError
from st_f2m_ros.meta.tasks import (
    EpisodeSampler,
    Group,
    PositionEncoder,
    build_groups,
    make_views,
    segment_runs,
    split_subjects,
    window_indices,
)


def _clip(labels: list[int], subject: str = 'p1', fps: float = 10.0, utt=()) -> Clip:
    n = len(labels)
    return Clip(
        subject,
        np.zeros((n, 8, 8, 3), np.uint8),
        np.arange(n) / fps,
        np.asarray(labels, np.int64),
        utterances=list(utt),
    )


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-1, 18), max_size=60))
def test_segment_runs_cover_the_labelled_frames(labels: list[int]) -> None:
    arr = np.asarray(labels, np.int64)
    runs = segment_runs(arr)
    covered = np.zeros(len(arr), bool)
    for first, end, label in runs:
        assert first < end and np.all(arr[first:end] == label) and label >= 0
        covered[first:end] = True
        if end < len(arr):
            assert arr[end] != label  # runs are maximal
    assert np.array_equal(covered, arr >= 0)


def test_views_per_modality_and_groups_by_position() -> None:
    labels = [0] * 10 + [5] * 20 + [-1] * 5 + [9] * 15
    utt = [Utterance(1.2, 2.5, 'that is annoying'), Utterance(3.6, 4.8, 'what a surprise')]
    clip = _clip(labels, utt=utt)
    vision, text = make_views(clip, 0)
    assert [(v.frames, v.label) for v in vision] == [((0, 10), 0), ((10, 30), 5), ((35, 50), 9)]
    assert [(v.label, v.text) for v in text] == [(5, 'that is annoying'), (9, 'what a surprise')]
    groups = build_groups([clip])
    assert [(g.position, g.label, g.text) for g in groups] == [
        (0, 0, ''),  # no speech in the neutral segment: text masked
        (1, 5, 'that is annoying'),
        (2, 9, 'what a surprise'),
    ]


def test_position_codes_separate_times_and_are_deterministic() -> None:
    enc = PositionEncoder(seed=0)
    codes = enc(np.array([0.5, 0.5, 3.0, 10.0]))
    assert np.array_equal(codes[0], codes[1])
    assert np.array_equal(codes, PositionEncoder(seed=0)(np.array([0.5, 0.5, 3.0, 10.0])))
    assert np.linalg.norm(codes[0] - codes[2]) > 0.1
    assert np.linalg.norm(codes[2] - codes[3]) > 0.1


def test_split_subjects_is_disjoint_and_deterministic() -> None:
    subjects = [f's{i}' for i in range(10)] * 2
    train, test = split_subjects(subjects, 3, seed=1)
    assert len(test) == 3 and len(train) == 7 and not set(train) & set(test)
    assert (train, test) == split_subjects(subjects, 3, seed=1)
    with pytest.raises(DataError, match='cannot hold out'):
        split_subjects(subjects, 10)


@settings(max_examples=60, deadline=None)
@given(
    first=st.integers(0, 20),
    length=st.integers(1, 60),
    window=st.integers(1, 12),
    seed=st.integers(0, 5),
)
def test_window_indices_stay_in_the_segment(
    first: int, length: int, window: int, seed: int
) -> None:
    times = np.arange(100) / 10.0
    idx = window_indices((first, first + length), times, window, 10.0, np.random.default_rng(seed))
    assert idx.shape == (window,)
    assert idx.min() >= first and idx.max() < first + length
    assert np.all(np.diff(idx) >= 0)
    if length >= window:
        assert np.all(np.diff(idx) == 1)  # 1/rate spacing at the clip's own rate


def test_episodes_are_n_way_k_shot_within_one_subject() -> None:
    groups = [
        Group(0, s, c, i, (0, 1), '') for s in ('a', 'b') for c in range(6) for i in range(3)
    ]
    sampler = EpisodeSampler(groups, n_way=4, k_shot=1, q_query=2, seed=0)
    for _ in range(20):
        ep = sampler.sample()
        assert len(ep.classes) == 4 and len(ep.support) == 4 and len(ep.query) == 8
        assert not set(ep.support) & set(ep.query)
        assert len({groups[i].subject for i in ep.support + ep.query}) == 1
        assert sorted({groups[i].label for i in ep.support}) == ep.classes
    with pytest.raises(DataError, match='lower n_way'):
        EpisodeSampler(groups, n_way=7, k_shot=1, q_query=2)
