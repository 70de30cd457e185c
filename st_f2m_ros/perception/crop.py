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
"""Face crop geometry shared by the live pipeline and dataset generation.

Training crops and run-time crops must be cut the same way (same margin, same square, same
resize), or the model sees a different distribution on the robot than in training. Both call
`crop_face`.
"""

from __future__ import annotations

import cv2
import numpy as np

# Extra context around a detector box, as a fraction of its size on each side.
DEFAULT_MARGIN = 0.15


def square_box(
    box: tuple[float, float, float, float], margin: float = DEFAULT_MARGIN
) -> tuple[float, float, float]:
    """Return (cx, cy, side) of the square that holds `box` (x, y, w, h) plus a margin."""
    x, y, w, h = box
    side = max(w, h) * (1.0 + 2.0 * margin)
    return x + w / 2.0, y + h / 2.0, side


def crop_face(
    image: np.ndarray,
    box: tuple[float, float, float, float],
    size: int,
    margin: float = DEFAULT_MARGIN,
) -> np.ndarray:
    """Cut a square crop of `size` x `size` around `box`, padding with black past the border.

    Args:
        image: uint8 [H, W, 3] BGR image.
        box: face box (x, y, w, h) in pixels.
        size: side of the output crop.
        margin: context added on each side, as a fraction of the box size.

    Returns:
        uint8 [size, size, 3] BGR crop.

    """
    cx, cy, side = square_box(box, margin)
    scale = size / max(side, 1e-6)
    # Affine map from the square in the image to the output crop: one warp does the crop,
    # the resize and the border padding together.
    m = np.array(
        [[scale, 0.0, size / 2.0 - scale * cx], [0.0, scale, size / 2.0 - scale * cy]],
        dtype=np.float64,
    )
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.warpAffine(
        image, m, (size, size), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
