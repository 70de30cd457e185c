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
"""Fast OpenCV drawing of a parametric face whose parts follow the 12 Table II components.

`face_geometry` turns a subject and component values into landmarks in *face units* (origin
at the face centre, x to the image right, y down, face half-width = 1; the person's left side is
the image's right, as in a mirror-free frontal camera). `draw_face` maps them through a head
pose and draws them with anti-aliased OpenCV primitives (`paint`): a frame costs about a
millisecond, which is what lets the benchmark run far faster than real time (issue 3: >= 10x
at 30 fps). The drawn face keeps the light/dark layout (dark eyes and brows over lighter
cheeks, a lighter nose bridge) that OpenCV's Haar frontal-face cascade looks for.

Proportions follow MediaPipe's canonical face (issue 9): mouth width ~0.78 inter-ocular
distances (IOD), brows from above the inner eye corner to past the outer one with the arch
lateral of the middle and the tail below the head, alar wings ~0.28 IOD from the midline;
with the cues real faces have (`cues`: shading, folds, wrinkles, cheek raise) the real-face
mesh lands on the drawn landmarks (`landmarks`) 45 % closer than on the first drawing (NME
0.072 -> 0.039 IOD) and the FER2013 net reads broad smiles as happiness (0 -> 89 % of high-
intensity smiles; benchmarks/frontend_on_synthetic.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from st_f2m_ros.data.synthetic import cues, paint
from st_f2m_ros.data.synthetic.subjects import Subject
from st_f2m_ros.taxonomy import COMPONENTS

_C = {name: i for i, name in enumerate(COMPONENTS)}
_MOUTH_POINTS = 9  # odd: the middle point is the midline

# Geometry gains: how far a component at full value moves its part, in face units.
BROW_RAISE = 0.13  # eyebrow centre height
FROWN_PULL = 0.06  # inner brow ends towards the midline
FROWN_DROP = 0.08  # inner brow ends downwards
EYE_OPEN_GAIN = 0.65  # relative change of the lid gap
NOSE_SHORTEN = 0.12  # relative shortening of the nose by a wrinkle
NOSTRIL_GAIN = 0.7  # relative widening of the nostrils
MOUTH_OPEN = 0.3  # lip gap at mouth = 1
LIP_GAIN = 0.55  # relative change of lip thickness
CORNER_RAISE = 0.12  # mouth-corner height
BROW_OUT = 0.03  # brow centre lateral of the eye centre (the brow tail passes the eye corner)
# Brow points from the head (-0.5) to the tail (+0.5) and their height above the head: the
# arch peaks a little lateral of the middle and the tail ends below the head, as on MediaPipe's
# canonical face (brow points 107/55, 105/52, 70/46 at 0.31, 0.35, 0.23 IOD above the eyes).
BROW_T = np.array([-0.5, -0.2, 0.1, 0.3, 0.5])
BROW_ARCH = np.where(
    BROW_T <= 0.1,
    0.03 * (1 - ((BROW_T - 0.1) / 0.6) ** 2),
    0.03 - 0.095 * ((BROW_T - 0.1) / 0.4) ** 2,
)
BROW_TAPER = np.array([1.15, 1.1, 1.0, 0.8, 0.55])  # thickness along the brow (head to tail)
SMILE_WIDEN = 0.05  # a raised corner is also pulled outwards (AU12 pulls up and back)


NOSTRIL_DX = 0.105  # nostril centre from the midline (canonical face: 0.15 IOD)
SOCKET_SHADE = 0.6  # eye-socket skin brightness factor


def brow_colour(s: Subject) -> tuple[int, ...]:
    """Brows: the hair colour, but never lighter than a shadow on this skin (detectability)."""
    return tuple(min(h, int(k * 0.45)) for h, k in zip(s.hair, s.skin))


def sclera_colour(s: Subject) -> tuple[int, ...]:
    """Eye whites, toned to the skin: bright white eyes on dark skin defeat the Haar cascade."""
    return tuple(int(0.45 * v + 80) for v in s.skin)


@dataclass
class Geometry:
    """Landmarks of one face in face units (see the module docstring)."""

    brows: tuple[np.ndarray, np.ndarray]  # (left, right) [5, 2], inner end first
    eyes: tuple[np.ndarray, np.ndarray]  # (left, right) (cx, cy, half_w, half_gap)
    frown: float  # length of the frown lines between the brows
    nose_top: float  # y of the nose bridge top
    nose_tip: float  # y of the nose tip
    wrinkle: float  # length of the nose-bridge wrinkle lines
    nostril_half_w: float
    nostril_dx: float
    alar_half_w: float  # nose half-width at the alar wings (follows the nostrils)
    mouth_corners: np.ndarray  # [2, 2] (left, right) corner points
    mouth_center_y: float
    smile: float  # 0..1 mean corner raise: drives the cheek raise and the folds (cues)
    droop: float  # 0..1 mean corner depression: the lines below the corners (cues)
    fold: float  # 0..1 depth of the nasolabial folds (smile, nose wrinkle)
    brow_lift: float  # 0..1 mean brow raise: forehead wrinkles
    gap: float  # inner lip gap at the centre
    upper_lip: float  # upper lip thickness at the centre
    lower_lip: float  # lower lip thickness at the centre


def face_geometry(s: Subject, comps: np.ndarray) -> Geometry:
    """Landmarks of subject `s` showing component values `comps` [12] (Table II scale)."""
    c = [float(v) for v in comps]
    frown = max(c[_C['brow_crest']], 0.0)
    brows = []
    eyes = []
    for side, brow_c, eye_c in (
        (1.0, c[_C['left_eyebrow']], c[_C['left_eye']]),
        (-1.0, c[_C['right_eyebrow']], c[_C['right_eye']]),
    ):
        cy = s.eye_y - s.brow_gap - BROW_RAISE * brow_c
        x = side * (s.eye_dx + BROW_OUT + BROW_T * s.brow_len)
        y = cy - BROW_ARCH
        inner = np.clip(1.0 - (BROW_T + 0.5) * 2.0, 0.0, 1.0)  # 1 at the inner end, 0 from mid
        x = x - side * FROWN_PULL * frown * inner
        y = y + FROWN_DROP * frown * inner
        brows.append(np.stack([x, y], axis=1))
        half_gap = 0.5 * s.eye_w * s.eye_open * (1.0 + EYE_OPEN_GAIN * eye_c)
        eyes.append(np.array([side * s.eye_dx, s.eye_y, 0.5 * s.eye_w, half_gap]))
    nose = c[_C['nose']]
    nose_top = s.eye_y
    nose_tip = s.eye_y + s.nose_len * (1.0 - NOSE_SHORTEN * nose)
    nostril_half_w = 0.5 * s.nostril_w * (1.0 + NOSTRIL_GAIN * c[_C['nostril']])
    gap = MOUTH_OPEN * c[_C['mouth']]
    half_mouth = 0.5 * s.mouth_w
    lc, rc = c[_C['left_mouth_corner']], c[_C['right_mouth_corner']]
    corners = np.array(
        [
            [half_mouth + SMILE_WIDEN * max(lc, 0.0), s.mouth_y - CORNER_RAISE * lc],
            [-half_mouth - SMILE_WIDEN * max(rc, 0.0), s.mouth_y - CORNER_RAISE * rc],
        ]
    )
    smile = float(np.clip((lc + rc) / 2, 0.0, 1.0))
    lift = float(np.clip((c[_C['left_eyebrow']] + c[_C['right_eyebrow']]) / 2, 0.0, 1.0))
    return Geometry(
        brows=(brows[0], brows[1]),
        eyes=(eyes[0], eyes[1]),
        frown=0.13 * frown,
        nose_top=nose_top,
        nose_tip=nose_tip,
        wrinkle=0.16 * nose,
        nostril_half_w=nostril_half_w,
        nostril_dx=NOSTRIL_DX,
        alar_half_w=cues.alar_half_width(NOSTRIL_DX, nostril_half_w),
        mouth_corners=corners,
        mouth_center_y=s.mouth_y,
        smile=smile,
        droop=float(np.clip(-(lc + rc) / 2, 0.0, 1.0)),
        fold=float(np.clip(smile + 0.6 * max(nose, 0.0), 0.0, 1.0)),
        brow_lift=lift,
        gap=gap,
        upper_lip=s.upper_lip * (1.0 + LIP_GAIN * c[_C['upper_lip']]),
        lower_lip=s.lower_lip * (1.0 + LIP_GAIN * c[_C['lower_lip']]),
    )


@dataclass(frozen=True)
class Pose:
    """Head placement in the image: centre (px), face half-width (px) and roll (radians)."""

    cx: float
    cy: float
    scale: float
    roll: float = 0.0

    def matrix(self) -> np.ndarray:
        """2x3 affine map from face units to pixels."""
        ca, sa = np.cos(self.roll) * self.scale, np.sin(self.roll) * self.scale
        return np.array([[ca, -sa, self.cx], [sa, ca, self.cy]])

    def box(self, aspect: float) -> tuple[float, float, float, float]:
        """Face box (x, y, w, h): the square a frontal-face detector reports (brows to chin)."""
        m = self.matrix()
        centre = m @ np.array([0.0, 0.0, 1.0])
        side = 2.5 * self.scale  # measured against the cascade on rendered faces
        return (float(centre[0] - side / 2), float(centre[1] - side / 2), side, side)


_scaled = paint.scaled
# Neck and shoulders, clothes: x in face units, y in units of the face's half-height where
# the flag is 1 (the outline follows the subject's aspect), else in face units.
_BODY = np.array([[-0.45, 0.8, 1], [0.45, 0.8, 1], [0.55, 1.35, 1], [1.9, 1.7, 1], [2.2, 3.5, 0],
                  [-2.2, 3.5, 0], [-1.9, 1.7, 1], [-0.55, 1.35, 1]])  # fmt: skip
_CLOTHES = np.array([[-0.6, 1.45, 1], [0.6, 1.45, 1], [1.9, 1.75, 1], [2.2, 3.5, 0],
                     [-2.2, 3.5, 0], [-1.9, 1.75, 1]])  # fmt: skip
_LID = np.array([-1.0, -0.5, 0.0, 0.5, 1.0]), np.array([0.0, 0.87, 1.0, 0.87, 0.0])


@lru_cache(maxsize=64)
def _outline(name: str, a: float) -> np.ndarray:
    """Body or clothes outline for face aspect `a` (cached: one per subject)."""
    t = _BODY if name == 'body' else _CLOTHES
    return paint.xy(t[:, 0], t[:, 1] * np.where(t[:, 2] > 0, a, 1.0))


def draw_face(img: np.ndarray, s: Subject, g: Geometry, pose: Pose) -> None:
    """Draw subject `s` with geometry `g` at `pose` into the BGR image `img` (in place).

    Shapes of one colour go to OpenCV in one call (per-call overhead is most of a frame's
    cost); the order is back to front.
    """
    m = pose.matrix()
    sc, roll = pose.scale, pose.roll
    a = s.aspect
    lw = max(1, round(sc * 0.02))
    skin = s.skin
    dark = _scaled(skin, 0.45)
    paint.fill(img, m, [_outline('body', a)], _scaled(skin, 0.85))
    paint.fill(img, m, [_outline('clothes', a)], _scaled(s.background, 0.5))
    if s.hair_style == 1:
        paint.ellipse(img, m, sc, roll, (0.0, 0.1 * a), (1.22, 1.15 * a), s.hair)
    # Shading layer, softened: the lit oval, cheeks, nose bridge and the darker eye sockets
    # (the light/dark layout the Haar cascade keys on).
    cues.shade_face(img, m, sc, roll, skin, a)
    cues.draw_cheeks(img, m, sc, roll, skin, g.eyes, g.smile)
    paint.ellipse(img, m, sc, roll, (0.0, s.eye_y + 0.12), (0.11, 0.3), _scaled(skin, 1.1))
    socket = _scaled(skin, SOCKET_SHADE)
    for ex, ey, hw, _ in g.eyes:
        paint.ellipse(img, m, sc, roll, (ex, ey - 0.03), (hw * 1.3, 0.17), socket)
    paint.soften(img, m, (1.05, 1.05 * a), sc)
    if s.hair_style != 2:
        paint.ellipse(img, m, sc, roll, (0.0, -0.85 * a), (1.02, 0.28 * a), s.hair)
    cues.draw_crows_feet(img, m, skin, g.eyes, g.smile, lw)
    # Eyes: white, iris, pupil, outline, upper lid line.
    sclera = sclera_colour(s)
    lids = []
    for ex, ey, hw, hg in g.eyes:
        hg = max(hg, 0.012)
        r = min(hw * 0.45, 0.075)
        paint.ellipse(img, m, sc, roll, (ex, ey), (hw, hg), sclera)
        paint.ellipse(img, m, sc, roll, (ex, ey), (r, min(r, hg)), s.iris)
        paint.ellipse(img, m, sc, roll, (ex, ey), (r * 0.45, min(r * 0.45, hg)), (15, 15, 15))
        paint.ellipse(img, m, sc, roll, (ex, ey), (hw, hg), dark, lw)
        lids.append(paint.xy(ex + hw * _LID[0], ey - hg * _LID[1]))
    paint.lines(img, m, lids, (20, 20, 20), 2 * lw)
    brow_top = min(float(b[:, 1].min()) for b in g.brows) - 0.5 * s.brow_thick
    cues.draw_forehead(img, m, skin, brow_top, g.brow_lift, lw)
    # Brows: hair colour, but never lighter than a shadow on this skin; filled, thick at the
    # head and tapering to the tail.
    half = 0.5 * s.brow_thick * BROW_TAPER[:, None] * np.array([0.0, 1.0])
    paint.fill(img, m, [np.concatenate([b - half, (b + half)[::-1]]) for b in g.brows],
               brow_colour(s))  # fmt: skip
    cues.draw_frown(img, m, skin, g.brows, g.frown, lw)
    # Nose: side line, wrinkles on the bridge, alar wings, folds, nostrils.
    nose = np.array(
        [[0.05, g.nose_top + 0.08], [0.09, g.nose_tip - 0.06], [0.05, g.nose_tip + 0.02]]
    )
    paint.lines(img, m, [nose], _scaled(skin, 0.7), lw)
    if g.wrinkle > 0.005:
        w = g.wrinkle / 2
        paint.lines(
            img, m, [np.array([[-w, y], [w, y]]) for y in g.nose_top + _WRINKLE_Y], dark, lw
        )
    cues.draw_alae(img, m, skin, g.alar_half_w, g.nose_tip, lw)
    cues.draw_folds(img, m, skin, g.alar_half_w, g.nose_tip, g.mouth_corners, g.fold, lw)
    nostril = _scaled(skin, 0.35)
    for side in (1.0, -1.0):
        paint.ellipse(img, m, sc, roll, (side * g.nostril_dx, g.nose_tip),
                      (g.nostril_half_w, 0.035), nostril)  # fmt: skip
    # Mouth: lips as curves through the corners and the centre.
    draw_mouth(img, m, s, g, lw)
    cues.draw_depressor(img, m, skin, g.mouth_corners, g.droop, lw)


_WRINKLE_Y = np.array([0.06, 0.12, 0.18])
_MOUTH_T = np.linspace(0.0, 1.0, _MOUTH_POINTS)
_BULGE = 1.0 - (2.0 * _MOUTH_T - 1.0) ** 2  # 0 at the corners, 1 at the centre


def mouth_curves(g: Geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(upper outer, upper inner, lower inner, lower outer) lip curves [P, 2], right to left.

    Parabolas through the corners: an elliptic lip profile and a Cupid's bow were tried and
    moved the mesh's lip midpoints further from the drawn ones (benchmarks/
    frontend_on_synthetic.py), so the plain shape stays.
    """
    (lx, ly), (rx, ry) = g.mouth_corners
    x = rx + (lx - rx) * _MOUTH_T
    corner_y = ry + (ly - ry) * _MOUTH_T
    y0 = g.mouth_center_y
    mids = np.array([[y0 - g.gap / 2 - g.upper_lip], [y0 - g.gap / 2], [y0 + g.gap / 2],
                     [y0 + g.gap / 2 + g.lower_lip]])  # fmt: skip
    out = np.empty((4, len(x), 2))
    out[:, :, 0] = x
    out[:, :, 1] = corner_y + (mids - corner_y) * _BULGE
    return out[0], out[1], out[2], out[3]


def draw_mouth(img: np.ndarray, m: np.ndarray, s: Subject, g: Geometry, lw: int) -> None:
    """Draw lips and the mouth opening (dark, with the upper teeth)."""
    uo, ui, li, lo = mouth_curves(g)
    paint.fill(img, m, [np.concatenate([uo, ui[::-1]]), np.concatenate([li, lo[::-1]])], s.lips)
    if g.gap > 0.01:
        paint.fill(img, m, [np.concatenate([ui, li[::-1]])], (30, 25, 45))
        teeth = np.concatenate([ui, ui[::-1] + np.array([0.0, min(0.05, g.gap * 0.4)])])
        paint.fill(img, m, [teeth], (215, 225, 230))
    paint.lines(img, m, [ui], _scaled(s.lips, 0.5), lw)


def make_background(s: Subject, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A room-like background: a vertical gradient with a few soft furniture blocks."""
    base = np.array(s.background, dtype=np.float32)
    ramp = np.linspace(1.1, 0.75, height, dtype=np.float32)[:, None, None]
    img = np.clip(base[None, None, :] * ramp, 0, 255).astype(np.uint8)
    img = np.ascontiguousarray(np.broadcast_to(img, (height, width, 3)))
    for _ in range(int(rng.integers(2, 5))):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = (
            int(rng.integers(width // 10, width // 3)),
            int(rng.integers(height // 8, height // 2)),
        )
        colour = tuple(int(v) for v in np.clip(base * rng.uniform(0.6, 1.3, 3), 0, 255))
        cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h), colour, -1)
    return cv2.GaussianBlur(img, (0, 0), 3)
