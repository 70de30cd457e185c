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
"""Metrics checked against hand-computed numbers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
import numpy as np
import pytest

from st_f2m_ros import taxonomy
from st_f2m_ros.evaluation import metrics


def test_hand_computed_example() -> None:
    labels = ('a', 'b', 'c')
    y_true = np.array([0, 0, 0, 1, 1, 2, -1])
    y_pred = np.array([0, 0, 1, 1, -1, 2, 2])
    r = metrics.score(y_true, y_pred, labels)
    # the -1 truth is dropped; 4 of 6 right; the abstain on a 'b' counts as wrong
    assert r.n == 6
    assert r.accuracy == pytest.approx(4 / 6)
    # recall a=2/3, b=1/2, c=1 -> mean 13/18
    assert r.recall == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    # precision a=1, b=1/2, c=1; f1 a=0.8, b=0.5, c=1
    assert r.macro_f1 == pytest.approx((0.8 + 0.5 + 1.0) / 3)
    assert r.coverage == pytest.approx(5 / 6)
    assert r.confusion == [[2, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_basic_mapping() -> None:
    fine = np.array([0, taxonomy.class_id('anger', 'low'), taxonomy.class_id('anger', 'high'), -1])
    assert metrics.to_basic(fine).tolist() == [0, 2, 2, -1]
    reports = metrics.score_fine_and_basic(fine[:3], np.array([0, fine[2], fine[1]]))
    assert reports['fine'].accuracy == pytest.approx(1 / 3)
    assert reports['basic'].accuracy == 1.0  # intensity confusions vanish at the basic level


@given(st.lists(st.integers(0, 18), min_size=1, max_size=60))
def test_perfect_prediction_scores_one(ids: list[int]) -> None:
    y = np.array(ids)
    r = metrics.score(y, y, taxonomy.CLASS_LABELS)
    assert r.accuracy == r.recall == r.macro_f1 == r.coverage == 1.0
    assert np.trace(np.array(r.confusion)) == len(ids)


def test_segment_timing_error() -> None:
    assert metrics.segment_timing_error(np.array([1.0, 3.0]), np.array([1.2, 2.5])) == (
        pytest.approx((0.2 + 0.5) / 2))
    assert np.isinf(metrics.segment_timing_error(np.array([1.0]), np.array([])))
    assert np.isnan(metrics.segment_timing_error(np.array([]), np.array([1.0])))
    b = metrics.boundaries(np.array([0.0, 1.0, 2.0, 3.0]), np.array([4, 4, 7, 7]))
    assert b.tolist() == [1.5]


def test_shape_mismatch_is_reported() -> None:
    with pytest.raises(ValueError, match='differ in shape'):
        metrics.score(np.zeros(3), np.zeros(4), taxonomy.CLASS_LABELS)
