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
pose and draws them with anti-aliased OpenCV primitives: a frame costs about a millisecond,
which is what lets the benchmark run far faster than real time (issue 3: >= 10x at 30 fps).
The drawn face keeps the light/dark layout (dark eyes and brows over lighter cheeks, a lighter
nose bridge) that OpenCV's Haar frontal-face cascade looks for.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from st_f2m_ros.data.synthetic.subjects import Subject
from st_f2m_ros.taxonomy import COMPONENTS

_C = {name: i for i, name in enumerate(COMPONENTS)}
_SHIFT = 4  # sub-pixel bits for cv2 drawing
_ONE = float(1 << _SHIFT)
_MOUTH_POINTS = 9

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
    mouth_corners: np.ndarray  # [2, 2] (left, right) corner points
    mouth_center_y: float
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
        t = np.linspace(-0.5, 0.5, 5)  # inner (-0.5) to outer (+0.5)
        x = side * (s.eye_dx + t * s.brow_len)
        y = cy - 0.045 * (1.0 - (2 * t) ** 2)  # gentle arch
        inner = np.clip(1.0 - (t + 0.5) * 2.0, 0.0, 1.0)  # 1 at the inner end, 0 from mid
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
    corners = np.array(
        [
            [half_mouth, s.mouth_y - CORNER_RAISE * c[_C['left_mouth_corner']]],
            [-half_mouth, s.mouth_y - CORNER_RAISE * c[_C['right_mouth_corner']]],
        ]
    )
    return Geometry(
        brows=(brows[0], brows[1]),
        eyes=(eyes[0], eyes[1]),
        frown=0.13 * frown,
        nose_top=nose_top,
        nose_tip=nose_tip,
        wrinkle=0.16 * nose,
        nostril_half_w=nostril_half_w,
        nostril_dx=0.09,
        mouth_corners=corners,
        mouth_center_y=s.mouth_y,
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


def _pts(m: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Face-unit points [N, 2] -> fixed-point int32 pixels for cv2 with `_SHIFT` bits."""
    p = xy @ m[:, :2].T + m[:, 2]
    return np.round(p * _ONE).astype(np.int32)


def _ellipse(
    img: np.ndarray,
    m: np.ndarray,
    pose: Pose,
    centre: tuple[float, float],
    axes: tuple[float, float],
    colour: tuple[int, ...],
    thickness: int = -1,
    angle: float = 0.0,
) -> None:
    c = _pts(m, np.array([centre]))[0]
    ax = (max(int(axes[0] * pose.scale * _ONE), 1), max(int(axes[1] * pose.scale * _ONE), 1))
    cv2.ellipse(
        img,
        (int(c[0]), int(c[1])),
        ax,
        np.degrees(pose.roll) + angle,
        0,
        360,
        colour,
        thickness,
        cv2.LINE_AA,
        _SHIFT,
    )


def _scaled(colour: tuple[int, ...], k: float) -> tuple[int, ...]:
    return tuple(int(min(255, v * k)) for v in colour)


def draw_face(img: np.ndarray, s: Subject, g: Geometry, pose: Pose) -> None:
    """Draw subject `s` with geometry `g` at `pose` into the BGR image `img` (in place)."""
    m = pose.matrix()
    a = s.aspect
    lw = max(1, round(pose.scale * 0.02))
    dark = _scaled(s.skin, 0.45)
    # Neck and shoulders, hair behind the head, the face, hair on top.
    body = np.array(
        [
            [-0.45, 0.8 * a],
            [0.45, 0.8 * a],
            [0.55, 1.35 * a],
            [1.9, 1.7 * a],
            [2.2, 3.5],
            [-2.2, 3.5],
            [-1.9, 1.7 * a],
            [-0.55, 1.35 * a],
        ]
    )
    cv2.fillPoly(img, [_pts(m, body)], _scaled(s.skin, 0.85), cv2.LINE_AA, _SHIFT)
    clothes = np.array(
        [
            [-0.6, 1.45 * a],
            [0.6, 1.45 * a],
            [1.9, 1.75 * a],
            [2.2, 3.5],
            [-2.2, 3.5],
            [-1.9, 1.75 * a],
        ]
    )
    cv2.fillPoly(img, [_pts(m, clothes)], _scaled(s.background, 0.5), cv2.LINE_AA, _SHIFT)
    if s.hair_style == 1:
        _ellipse(img, m, pose, (0.0, 0.1 * a), (1.22, 1.15 * a), s.hair)
    _ellipse(img, m, pose, (0.0, 0.0), (1.0, a), s.skin)
    if s.hair_style != 2:
        _ellipse(img, m, pose, (0.0, -0.85 * a), (1.02, 0.28 * a), s.hair)
    # Lit nose bridge and cheeks, darker eye sockets: the light/dark layout the Haar cascade
    # keys on.
    _ellipse(img, m, pose, (0.0, s.eye_y + 0.12), (0.11, 0.3), _scaled(s.skin, 1.1))
    socket = _scaled(s.skin, SOCKET_SHADE)
    for ex, ey, hw, _ in g.eyes:
        _ellipse(img, m, pose, (ex, ey - 0.03), (hw * 1.3, 0.17), socket)
    # Eyes: white, iris, pupil, upper lid line.
    sclera = sclera_colour(s)
    for ex, ey, hw, hg in g.eyes:
        _ellipse(img, m, pose, (ex, ey), (hw, max(hg, 0.012)), sclera)
        r = min(hw * 0.45, 0.075)
        _ellipse(img, m, pose, (ex, ey), (r, min(r, max(hg, 0.012))), s.iris)
        _ellipse(img, m, pose, (ex, ey), (r * 0.45, min(r * 0.45, max(hg, 0.012))), (15, 15, 15))
        _ellipse(img, m, pose, (ex, ey), (hw, max(hg, 0.012)), dark, lw)
        lid = np.array(
            [
                [ex - hw, ey],
                [ex - 0.5 * hw, ey - 0.87 * hg],
                [ex, ey - hg],
                [ex + 0.5 * hw, ey - 0.87 * hg],
                [ex + hw, ey],
            ]
        )
        cv2.polylines(img, [_pts(m, lid)], False, (20, 20, 20), 2 * lw, cv2.LINE_AA, _SHIFT)
    # Brows: hair colour, but never lighter than a shadow on this skin.
    bt = max(1, round(pose.scale * s.brow_thick))
    for brow in g.brows:
        cv2.polylines(img, [_pts(m, brow)], False, brow_colour(s), bt, cv2.LINE_AA, _SHIFT)
    if g.frown > 0.005:
        top = g.brows[0][0, 1] - 0.02
        lines = [np.array([[x, top], [x * 0.8, top + g.frown]]) for x in (-0.05, 0.05)]
        cv2.polylines(img, [_pts(m, ln) for ln in lines], False, dark, lw, cv2.LINE_AA, _SHIFT)
    # Nose: side line, wrinkles on the bridge, nostrils.
    nose = np.array(
        [[0.05, g.nose_top + 0.08], [0.09, g.nose_tip - 0.06], [0.05, g.nose_tip + 0.02]]
    )
    cv2.polylines(img, [_pts(m, nose)], False, _scaled(s.skin, 0.7), lw, cv2.LINE_AA, _SHIFT)
    if g.wrinkle > 0.005:
        ys = g.nose_top + np.array([0.06, 0.12, 0.18])
        lines = [np.array([[-g.wrinkle / 2, y], [g.wrinkle / 2, y]]) for y in ys]
        cv2.polylines(img, [_pts(m, ln) for ln in lines], False, dark, lw, cv2.LINE_AA, _SHIFT)
    for side in (1.0, -1.0):
        _ellipse(
            img,
            m,
            pose,
            (side * g.nostril_dx, g.nose_tip),
            (g.nostril_half_w, 0.035),
            _scaled(s.skin, 0.35),
        )
    # Mouth: lips as curves through the corners and the centre.
    draw_mouth(img, m, s, g, lw)


def mouth_curves(g: Geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(upper outer, upper inner, lower inner, lower outer) lip curves [P, 2], right to left."""
    (lx, ly), (rx, ry) = g.mouth_corners
    t = np.linspace(0.0, 1.0, _MOUTH_POINTS)
    x = rx + (lx - rx) * t
    corner_y = ry + (ly - ry) * t
    bulge = 1.0 - (2.0 * t - 1.0) ** 2  # 0 at the corners, 1 at the centre

    def curve(mid: float) -> np.ndarray:
        return np.stack([x, corner_y + (mid - corner_y) * bulge], axis=1)

    y0 = g.mouth_center_y
    return (
        curve(y0 - g.gap / 2 - g.upper_lip),
        curve(y0 - g.gap / 2),
        curve(y0 + g.gap / 2),
        curve(y0 + g.gap / 2 + g.lower_lip),
    )


def draw_mouth(img: np.ndarray, m: np.ndarray, s: Subject, g: Geometry, lw: int) -> None:
    """Draw lips and the mouth opening."""
    uo, ui, li, lo = mouth_curves(g)
    cv2.fillPoly(img, [_pts(m, np.concatenate([uo, ui[::-1]]))], s.lips, cv2.LINE_AA, _SHIFT)
    cv2.fillPoly(img, [_pts(m, np.concatenate([li, lo[::-1]]))], s.lips, cv2.LINE_AA, _SHIFT)
    if g.gap > 0.01:
        cv2.fillPoly(
            img, [_pts(m, np.concatenate([ui, li[::-1]]))], (30, 25, 45), cv2.LINE_AA, _SHIFT
        )
        teeth = np.concatenate([ui, ui[::-1] + np.array([0.0, min(0.05, g.gap * 0.4)])])
        cv2.fillPoly(img, [_pts(m, teeth)], (215, 225, 230), cv2.LINE_AA, _SHIFT)
    cv2.polylines(img, [_pts(m, ui)], False, _scaled(s.lips, 0.5), lw, cv2.LINE_AA, _SHIFT)


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
