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
"""Ground-truth component values measured back from the drawn face geometry.

The labels that supervise the fuzzy component stage (FCIS, paper IV / Table II) are read from
the landmarks that `render.draw_face` actually draws (brow heights, lid gaps, lip gap and
thicknesses, corner heights, nose length, nostril width), relative to the same person's
resting face, the way a FACS coder scores a face against the person's neutral baseline. With
the current renderer this recovers the drawn component values exactly (clipped to the Table II
range); it keeps the ground truth tied to the picture if the drawing changes.
"""

from __future__ import annotations

import numpy as np

from st_f2m_ros.data.synthetic import render
from st_f2m_ros.data.synthetic.expression import clip_components
from st_f2m_ros.data.synthetic.render import Geometry
from st_f2m_ros.taxonomy import COMPONENTS, NUM_COMPONENTS

_C = {name: i for i, name in enumerate(COMPONENTS)}


def _brow_height(g: Geometry, side: int) -> float:
    """Height of the brow's middle-to-outer part above the eye centre (inner end excluded)."""
    return float(g.eyes[side][1] - g.brows[side][2:, 1].mean())


def _inner_brow_gap(g: Geometry) -> float:
    return float(g.brows[0][0, 0] - g.brows[1][0, 0])


def _corner_height(g: Geometry, side: int) -> float:
    return float(g.mouth_center_y - g.mouth_corners[side][1])


def measure_components(g: Geometry, rest: Geometry) -> np.ndarray:
    """Table II component values [12] of geometry `g` against the resting geometry `rest`."""
    out = np.zeros(NUM_COMPONENTS)
    for side, brow, eye, corner in (
        (0, 'left_eyebrow', 'left_eye', 'left_mouth_corner'),
        (1, 'right_eyebrow', 'right_eye', 'right_mouth_corner'),
    ):
        out[_C[brow]] = (_brow_height(g, side) - _brow_height(rest, side)) / render.BROW_RAISE
        ratio = (g.eyes[side][3] / g.eyes[side][2]) / (rest.eyes[side][3] / rest.eyes[side][2])
        out[_C[eye]] = (ratio - 1.0) / render.EYE_OPEN_GAIN
        out[_C[corner]] = (_corner_height(g, side) - _corner_height(rest, side)) / (
            render.CORNER_RAISE
        )
    out[_C['brow_crest']] = (_inner_brow_gap(rest) - _inner_brow_gap(g)) / (2 * render.FROWN_PULL)
    nose_len, rest_len = g.nose_tip - g.nose_top, rest.nose_tip - rest.nose_top
    out[_C['nose']] = (rest_len - nose_len) / (rest_len * render.NOSE_SHORTEN)
    out[_C['nostril']] = (g.nostril_half_w / rest.nostril_half_w - 1.0) / render.NOSTRIL_GAIN
    out[_C['mouth']] = g.gap / render.MOUTH_OPEN
    out[_C['upper_lip']] = (g.upper_lip / rest.upper_lip - 1.0) / render.LIP_GAIN
    out[_C['lower_lip']] = (g.lower_lip / rest.lower_lip - 1.0) / render.LIP_GAIN
    return clip_components(out)
