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
"""Tracker maths with time passed in: One-Euro filter, IoU, target selection, template follow."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
import numpy as np
import pytest

from st_f2m_ros.perception.tracking import (
    BoxSmoother,
    OneEuroConfig,
    OneEuroFilter,
    TemplateFollower,
    iou,
    select_target,
)


def test_one_euro_first_step_by_hand():
    f = OneEuroFilter(OneEuroConfig(min_cutoff=1.0, beta=0.0, d_cutoff=1.0))
    assert f(0.0, 0.0) == pytest.approx(0.0)
    # dt = 0.1 s, cutoff 1 Hz: alpha = 1 / (1 + 1 / (2 pi 0.1)) = 0.38586
    alpha = 1.0 / (1.0 + 1.0 / (2 * math.pi * 0.1))
    assert f(0.1, 1.0) == pytest.approx(alpha, rel=1e-9)


def test_one_euro_constant_signal_is_unchanged_and_jitter_is_reduced():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(OneEuroConfig(min_cutoff=0.5, beta=0.0))
    raw = 5.0 + rng.normal(0, 1.0, 300)
    out = np.array([f(i / 30, x) for i, x in enumerate(raw)])
    assert np.std(out[50:]) < 0.5 * np.std(raw[50:])
    g = OneEuroFilter()
    assert all(g(i / 30, 3.0) == pytest.approx(3.0) for i in range(10))


def test_one_euro_speed_raises_cutoff():
    slow = OneEuroFilter(OneEuroConfig(min_cutoff=1.0, beta=0.0))
    fast = OneEuroFilter(OneEuroConfig(min_cutoff=1.0, beta=1.0))
    for i in range(30):
        a, b = slow(i / 30, 10.0 * i), fast(i / 30, 10.0 * i)
    assert abs(b - 10.0 * 29) < abs(a - 10.0 * 29)  # less lag on a moving signal


def test_one_euro_restarts_on_time_going_back():
    f = OneEuroFilter()
    f(1.0, 0.0)
    f(1.1, 10.0)
    assert f(0.5, 7.0) == pytest.approx(7.0)


def test_box_smoother_keeps_a_still_box():
    s = BoxSmoother()
    for i in range(5):
        box = s(i * 0.1, (10.0, 20.0, 30.0, 40.0))
    assert box == pytest.approx((10.0, 20.0, 30.0, 40.0))


boxes = st.tuples(
    st.floats(-100, 100), st.floats(-100, 100), st.floats(0.1, 100), st.floats(0.1, 100)
)


@given(boxes, boxes)
def test_iou_properties(a, b):
    v = iou(a, b)
    assert 0.0 <= v <= 1.0 + 1e-9
    assert v == pytest.approx(iou(b, a))
    assert iou(a, a) == pytest.approx(1.0)


def test_iou_by_hand():
    assert iou((0, 0, 2, 2), (1, 1, 2, 2)) == pytest.approx(1 / 7)
    assert iou((0, 0, 1, 1), (5, 5, 1, 1)) == 0.0


def test_select_target():
    boxes = [(0, 0, 10, 10), (100, 100, 30, 30)]
    assert select_target([], 'largest') is None
    assert select_target(boxes, 'largest') == 1
    assert select_target(boxes, 'tracked', previous=(1, 1, 10, 10)) == 0
    assert select_target(boxes, 'tracked', previous=(500, 500, 5, 5)) == 1


def test_template_follower_finds_a_shifted_patch():
    rng = np.random.default_rng(1)
    img = (rng.random((120, 160)) * 255).astype(np.uint8)
    f = TemplateFollower()
    f.start(img, (40, 30, 30, 30))
    shifted = np.roll(img, (5, -7), axis=(0, 1))
    found = f.follow(shifted, (40, 30, 30, 30))
    assert found is not None
    box, score = found
    assert box[:2] == pytest.approx((33, 35)) and score > 0.99
    assert f.follow(np.zeros_like(img), (40, 30, 30, 30)) is None


def test_template_follower_ignores_the_lower_face():
    # A changing mouth (or a mask) must not break the track: only the upper face is matched.
    rng = np.random.default_rng(2)
    img = (rng.random((120, 160)) * 255).astype(np.uint8)
    f = TemplateFollower(upper=0.6)
    f.start(img, (40, 30, 40, 40))
    moved = np.roll(img, (3, 4), axis=(0, 1))
    moved[33 + 26 : 33 + 40, 44:84] = 255 - moved[33 + 26 : 33 + 40, 44:84]  # new "mouth"
    found = f.follow(moved, (40, 30, 40, 40))
    assert found is not None
    box, score = found
    assert box == pytest.approx((44, 33, 40, 40)) and score > 0.99
