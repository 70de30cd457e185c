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
"""Window summary of the front end's per-frame measurements, and the crop box (no model files).

Why: abstention and the `component_reliable` mask are decisions a control node acts on; they
must follow the documented rules exactly (majority of low-quality frames abstains with the
most common reason; a component is reported only when most frames measured it; the value is
the median of those frames, 0 otherwise).
"""

from __future__ import annotations

import numpy as np
import pytest

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.perception.face import FaceConfig
from st_f2m_ros.perception.face_stage import crop_box
from st_f2m_ros.runtime.pipeline.face_window import FrameFace, window_face
from st_f2m_ros.runtime.pipeline.postprocess import TemporalPostprocessor, WindowDecisionInput
from st_f2m_ros.runtime.pipeline.results import STATUS_LOW_CONFIDENCE, STATUS_OK


def _face(value: float, mouth_ok: bool = True, bad: str | None = None) -> FrameFace:
    rel = np.ones(12, bool)
    rel[7:] = mouth_ok
    return FrameFace(np.full(12, value, np.float32), rel, bad)


def test_window_median_of_reliable_frames_and_majority_mask() -> None:
    w = window_face([_face(0.1), _face(0.3, mouth_ok=False), _face(0.5), None], 0.5)
    assert w.abstain is None
    assert w.reliable.all()  # mouth measured in 2 of 3 frames
    assert w.components[0] == pytest.approx(0.3)  # median of 0.1, 0.3, 0.5
    assert w.components[7] == pytest.approx(0.3)  # median of 0.1, 0.5 (the reliable ones)
    w = window_face([_face(0.1, False), _face(0.3, False), _face(0.5)], 0.5)
    assert not w.reliable[7:].any() and np.all(w.components[7:] == 0)  # not guessed


def test_mostly_low_quality_window_abstains_with_the_common_reason() -> None:
    faces = [_face(0, bad='yaw'), _face(0, bad='occluded'), _face(0, bad='yaw'), _face(0)]
    assert window_face(faces, 0.5).abstain == 'yaw'
    assert window_face(faces, 0.75).abstain is None
    assert window_face([None, None], 0.5) == window_face([], 0.5)  # Haar: nothing measured


def test_abstained_window_is_low_confidence_at_once() -> None:
    post = TemporalPostprocessor(num_classes=19)
    probs = np.zeros(19)
    probs[3] = 1.0
    states = post.update(WindowDecisionInput(0.0, 1.0, probs, np.zeros(12), 0.5, 1))
    assert states[-1].status == STATUS_OK
    states = post.update(WindowDecisionInput(0.25, 1.25, None, abstain='face_small'))
    assert states[-1].status == STATUS_LOW_CONFIDENCE and states[-1].reason == 'face_small'
    assert not states[-1].component_reliable.any()


def test_crop_box_is_a_square_around_the_landmarks() -> None:
    cfg = FaceConfig()
    x, y, w, h = crop_box((100.0, 50.0, 80.0, 100.0), cfg)
    assert w == h == pytest.approx(cfg.box_scale * 100.0)
    assert x + w / 2 == pytest.approx(140.0)
    assert y + h / 2 == pytest.approx(100.0 + cfg.box_shift * w)
    with pytest.raises(ConfigError):
        FaceConfig(detector='blazeface_long').validate()
    with pytest.raises(ConfigError):
        FaceConfig(occluded_face='guess').validate()
