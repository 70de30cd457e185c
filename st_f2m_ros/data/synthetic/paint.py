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
"""Drawing primitives in face units: the renderer's shapes mapped through the head pose.

Every shape is given in face units (see `render`) and drawn with anti-aliased OpenCV calls in
fixed point (`SHIFT` sub-pixel bits), so that a part that moves by a fraction of a pixel
still changes the picture (components must stay measurable on small faces) and a frame costs
about a millisecond.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

SHIFT = 4  # sub-pixel bits for cv2 drawing
ONE = float(1 << SHIFT)


def pts(m: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Face-unit points [N, 2] -> fixed-point int32 pixels for cv2 with `SHIFT` bits."""
    return np.rint((xy @ m[:, :2].T + m[:, 2]) * ONE).astype(np.int32)


def _many(m: np.ndarray, shapes: list[np.ndarray]) -> list[np.ndarray]:
    """`pts` of several shapes in one transform: per-call numpy overhead is most of the cost."""
    if len(shapes) == 1:
        return [pts(m, shapes[0])]
    p = pts(m, np.concatenate(shapes))
    out, i = [], 0
    for sh in shapes:
        out.append(p[i : i + len(sh)])
        i += len(sh)
    return out


def xy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Points [N, 2] from coordinate arrays (np.stack costs ten times more on tiny arrays)."""
    out = np.empty((len(x), 2))
    out[:, 0] = x
    out[:, 1] = y
    return out


def scaled(colour: tuple[int, ...], k: float) -> tuple[int, ...]:
    """A colour `k` times as bright (clipped to 255): shadows and highlights of the skin."""
    return tuple(int(min(255, v * k)) for v in colour)


def mix(a: tuple[int, ...], b: tuple[int, ...], w: float) -> tuple[int, ...]:
    """`a` blended towards `b` by `w` in [0, 1] (a tinted shadow, a lip-coloured blush)."""
    return tuple(round(x + (y - x) * w) for x, y in zip(a, b))


def ellipse(
    img: np.ndarray,
    m: np.ndarray,
    scale: float,
    roll: float,
    centre: tuple[float, float],
    axes: tuple[float, float],
    colour: tuple[int, ...],
    thickness: int = -1,
    angle: float = 0.0,
) -> None:
    """A filled (or outlined) ellipse in face units; `angle` in degrees, in the face frame."""
    (a, b, c), (d, e, f) = m.tolist()  # plain floats: this runs ~20 times per frame
    x, y = centre
    cv2.ellipse(
        img,
        (round((a * x + b * y + c) * ONE), round((d * x + e * y + f) * ONE)),
        (max(int(axes[0] * scale * ONE), 1), max(int(axes[1] * scale * ONE), 1)),
        math.degrees(roll) + angle,
        0,
        360,
        colour,
        thickness,
        cv2.LINE_AA,
        SHIFT,
    )


def lines(
    img: np.ndarray, m: np.ndarray, curves: list[np.ndarray], colour: tuple[int, ...], width: int
) -> None:
    """Open polylines (face-unit point arrays) of `width` pixels, in one call."""
    if curves:
        cv2.polylines(img, _many(m, curves), False, colour, width, cv2.LINE_AA, SHIFT)


def fill(img: np.ndarray, m: np.ndarray, polys: list[np.ndarray], colour: tuple[int, ...]) -> None:
    """Filled polygons (face-unit point arrays), in one call."""
    cv2.fillPoly(img, _many(m, polys), colour, cv2.LINE_AA, SHIFT)


def arc(
    cx: float, cy: float, ax: float, ay: float, a0: float, a1: float, n: int = 7
) -> np.ndarray:
    """Points [n, 2] on the ellipse (cx, cy, ax, ay) from angle a0 to a1 (degrees, y down)."""
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + ax * np.cos(t), cy + ay * np.sin(t)], axis=1)


def soften(img: np.ndarray, m: np.ndarray, half: tuple[float, float], scale: float) -> None:
    """Blur the face-unit box (-half, +half) in place: smooth shading from flat fills.

    A bilinear shrink-and-grow costs under a tenth of a millisecond where a Gaussian of the same
    width costs three to five times that (and an area shrink three times), and the shading it
    smooths has no fine detail to alias.
    """
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * np.asarray(half)
    p = corners @ m[:, :2].T + m[:, 2]
    h, w = img.shape[:2]
    x0, y0 = (max(int(v), 0) for v in p.min(0))
    x1, y1 = min(int(p[:, 0].max()) + 1, w), min(int(p[:, 1].max()) + 1, h)
    k = max(2, round(scale * 0.05))
    if x1 - x0 < 4 * k or y1 - y0 < 4 * k:
        return
    roi = img[y0:y1, x0:x1]
    small = cv2.resize(roi, ((x1 - x0) // k, (y1 - y0) // k), interpolation=cv2.INTER_LINEAR)
    roi[...] = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
