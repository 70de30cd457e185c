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
"""Diagnostics figures, once-per-cause logging, the input clock and the debug image."""

from __future__ import annotations

import numpy as np
import pytest

from st_f2m_ros.runtime.messages.debug_draw import GREY, draw_debug, label_of
from st_f2m_ros.runtime.pipeline.results import EmotionStateResult
from st_f2m_ros.runtime.pipeline.stats import InputClock, NodeStats, OncePerCause
from st_f2m_ros.taxonomy import NUM_CLASSES, class_id


def test_stats_fps_latency_face_rate() -> None:
    s = NodeStats(horizon=10.0)
    for i in range(31):  # 30 fps for 1 s, face in 2 of 3 frames
        s.frame(100.0 + i / 30.0, face_found=i % 3 != 0)
    for ms in range(1, 101):
        s.latency(101.0, ms / 1000.0)
    s.drop('encoding')
    summary = s.summary(101.0)
    assert summary['fps'] == pytest.approx(30.0)
    assert summary['face_found_rate'] == pytest.approx(20 / 31)
    assert summary['latency_p50_ms'] == pytest.approx(50.5)
    assert summary['latency_p95_ms'] == pytest.approx(95.05)
    reports = s.reports(
        101.0,
        'm+p07@v2',
        'adapted p07@v2',
        stale=False,
        extra={'skipped': {'image_encoding': 3}, 'face_rate': 0.5},
    )
    perception, adaptation = reports
    assert perception.level == 'OK' and perception.values['dropped_encoding'] == 1
    assert perception.values['skipped_image_encoding'] == 3
    assert perception.values['face_found_rate'] == 0.5
    assert adaptation.values['model_id'] == 'm+p07@v2'
    assert s.reports(200.0, 'm', 'base model', stale=True)[0].level == 'STALE'
    assert (
        s.reports(101.0, 'm', 'base model (p07: persisted adaptation rejected)', stale=False)[
            1
        ].level
        == 'WARN'
    )


def test_low_fps_warns() -> None:
    s = NodeStats(min_fps_warn=5.0)
    s.frame(0.0, True)
    s.frame(1.0, True)
    assert s.reports(1.0, 'm', 'base model', stale=False)[0].level == 'WARN'


def test_once_per_cause() -> None:
    o = OncePerCause(period=60.0)
    assert o.should_log('encoding', 0.0)
    assert not o.should_log('encoding', 30.0)
    assert o.should_log('step', 30.0)
    assert o.should_log('encoding', 61.0)


def test_input_clock_live_and_replay() -> None:
    c = InputClock(max_skew=5.0)
    assert c.now(1000.0) == 1000.0
    c.observe(999.9, 1000.0)  # live: stamps agree with the node clock
    assert c.now(1002.0) == 1002.0
    r = InputClock(max_skew=5.0)
    r.observe(50.0, 1000.0)  # a bag from the past, replayed without --clock
    assert r.now(1000.5) == pytest.approx(50.5)
    r.observe(49.0, 1000.6)  # older stamp does not move the clock back
    assert r.now(1001.0) == pytest.approx(51.0)


def _state(cid: int, status: int = 0) -> EmotionStateResult:
    probs = np.eye(NUM_CLASSES, dtype=np.float32)[cid] * 0.8
    return EmotionStateResult.decided(0.0, 1.0, cid, probs, np.zeros(12), 0.5, 1, status)


def test_debug_image_draws_box_label_and_bar() -> None:
    img = np.zeros((120, 160, 3), dtype=np.uint8)
    anger = _state(class_id('anger', 'high'))
    out = draw_debug(img, (40.0, 20.0, 60.0, 60.0), anger, 'adapted p07@v1')
    assert img.sum() == 0  # input untouched
    text, colour = label_of(anger)
    assert text == 'anger (high)'
    assert tuple(out[20, 70]) == colour  # top edge of the face box
    bar = out[-2]
    filled = np.all(bar == colour, axis=1).sum()
    assert filled == pytest.approx(0.8 * 160, abs=2)  # confidence bar length
    abstain = label_of(_state(class_id('anger', 'high'), status=1))
    assert abstain == ('? (low confidence)', GREY)
    assert label_of(None)[0] == 'waiting'
    assert draw_debug(img, None, None, 'base model').shape == img.shape
