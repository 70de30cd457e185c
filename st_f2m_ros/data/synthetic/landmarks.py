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
"""The drawn face's own landmarks and which MediaPipe mesh points correspond to them.

The generator knows exactly where it drew each eye corner, brow point, lip midpoint and
nostril (`render.Geometry`), so a real-face landmark mesh run on a synthetic frame can be
scored against that truth (benchmarks/frontend_on_synthetic.py, test/realface). The
correspondence is data: `MESH_CORRESPONDENCE` names, per drawn landmark, the mesh vertex ids
whose mean sits on the same anatomical point (checked by drawing the ids on scikit-image's
astronaut). Brow points are drawn as the centre line of a thick stroke, so they correspond to
the mean of the mesh's upper- and lower-edge brow vertices.
"""

from __future__ import annotations

import numpy as np

from st_f2m_ros.data.synthetic.render import Geometry, Pose, mouth_curves

# Drawn landmark -> MediaPipe 468-mesh vertex ids (mean), one-line rationale each. The
# person's left is the image's right (unmirrored camera), as in the renderer and the mesh.
MESH_CORRESPONDENCE: dict[str, tuple[int, ...]] = {
    'right_eye_outer': (33,),  # lateral canthus, person's right
    'right_eye_inner': (133,),  # medial canthus
    'left_eye_inner': (362,),
    'left_eye_outer': (263,),
    'right_upper_lid': (159,),  # upper lid margin above the pupil
    'right_lower_lid': (145,),  # lower lid margin below the pupil
    'left_upper_lid': (386,),
    'left_lower_lid': (374,),
    'right_brow_inner': (107, 55),  # brow head: upper and lower edge
    'right_brow_mid': (105, 52),
    'right_brow_outer': (70, 46),  # brow tail
    'left_brow_inner': (336, 285),
    'left_brow_mid': (334, 282),
    'left_brow_outer': (300, 276),
    'nose_tip': (1,),  # pronasale: seen from the front, level with the nostril openings
    'right_ala': (129, 102),  # alar wing, its widest point
    'left_ala': (358, 331),
    'right_nostril': (79,),  # nostril opening
    'left_nostril': (309,),
    'right_mouth_corner': (61,),  # outer lip commissure
    'left_mouth_corner': (291,),
    'upper_lip_top': (0,),  # upper lip outer edge at the midline
    'upper_lip_inner': (13,),  # upper lip inner edge at the midline
    'lower_lip_inner': (14,),
    'lower_lip_bottom': (17,),  # lower lip outer edge at the midline
}
LANDMARK_NAMES: tuple[str, ...] = tuple(MESH_CORRESPONDENCE)
# Landmarks whose drawn position is a convention more than an anatomical point (a brow tail's
# end, a nostril's centre): reported separately so they do not hide the mesh's real errors.
CONVENTIONAL: frozenset[str] = frozenset(
    {'right_brow_outer', 'left_brow_outer', 'nose_tip', 'right_nostril', 'left_nostril'}
)


def drawn_landmarks(g: Geometry) -> np.ndarray:
    """Landmarks [L, 2] of geometry `g` in face units, in `LANDMARK_NAMES` order."""
    pts: dict[str, tuple[float, float]] = {}
    for name, (ex, ey, hw, hg) in (('left', g.eyes[0]), ('right', g.eyes[1])):
        outer = ex + hw if name == 'left' else ex - hw  # outer corners face away from x = 0
        inner = ex - hw if name == 'left' else ex + hw
        pts[f'{name}_eye_outer'] = (outer, ey)
        pts[f'{name}_eye_inner'] = (inner, ey)
        pts[f'{name}_upper_lid'] = (ex, ey - hg)
        pts[f'{name}_lower_lid'] = (ex, ey + hg)
    for name, brow in (('left', g.brows[0]), ('right', g.brows[1])):
        pts[f'{name}_brow_inner'] = tuple(brow[0])
        pts[f'{name}_brow_mid'] = tuple(brow[2])
        pts[f'{name}_brow_outer'] = tuple(brow[4])
    pts['nose_tip'] = (0.0, g.nose_tip)
    pts['left_ala'] = (g.alar_half_w, g.nose_tip)
    pts['right_ala'] = (-g.alar_half_w, g.nose_tip)
    pts['left_nostril'] = (g.nostril_dx, g.nose_tip)
    pts['right_nostril'] = (-g.nostril_dx, g.nose_tip)
    pts['left_mouth_corner'] = tuple(g.mouth_corners[0])
    pts['right_mouth_corner'] = tuple(g.mouth_corners[1])
    uo, ui, li, lo = mouth_curves(g)
    mid = uo.shape[0] // 2
    pts['upper_lip_top'] = tuple(uo[mid])
    pts['upper_lip_inner'] = tuple(ui[mid])
    pts['lower_lip_inner'] = tuple(li[mid])
    pts['lower_lip_bottom'] = tuple(lo[mid])
    return np.array([pts[n] for n in LANDMARK_NAMES], dtype=np.float64)


def to_pixels(face_units: np.ndarray, pose: Pose) -> np.ndarray:
    """Face-unit points [N, 2] -> image pixels [N, 2] at `pose` (the renderer's own map)."""
    m = pose.matrix()
    return np.asarray(face_units, dtype=np.float64) @ m[:, :2].T + m[:, 2]


def mesh_landmarks(mesh: np.ndarray) -> np.ndarray:
    """The mesh's counterparts [L, 2] of the drawn landmarks, from mesh points [468, >=2]."""
    p = np.asarray(mesh, dtype=np.float64)[:, :2]
    return np.array([p[list(ids)].mean(0) for ids in MESH_CORRESPONDENCE.values()])


def interocular(points: np.ndarray) -> float:
    """Distance between the eye-corner midpoints of landmarks [L, 2] (the front end's IOD)."""
    i = {n: k for k, n in enumerate(LANDMARK_NAMES)}
    right = (points[i['right_eye_outer']] + points[i['right_eye_inner']]) / 2
    left = (points[i['left_eye_outer']] + points[i['left_eye_inner']]) / 2
    return float(np.linalg.norm(left - right))
