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
from st_f2m_ros.taxonomy import NUM_CLASSES, class_id

# PerceptionStats, OncePerCause and InputClock are tested in test/runtime/test_stats.py and
# test/runtime/test_timeline.py (PIPE).


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
