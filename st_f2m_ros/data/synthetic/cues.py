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
"""Appearance cues real faces have and the first renderer lacked (issue 9, item 3).

The real-face front end (MediaPipe's mesh) and the FER2013 expression net read a drawn face
only as well as it shows what they learnt on photographs. Measured with
benchmarks/frontend_on_synthetic.py, each cue here is there because its absence made one of
them fail: the alar wings give the mesh a nose width to lock on (the nostril component), and
so on for each function's docstring. Every cue is a function of the geometry, which is a
function of the twelve components, so the components stay the only expression state and the
ground truth (`measure`) is unchanged.
"""

from __future__ import annotations

import numpy as np

from st_f2m_ros.data.synthetic import paint

ALAR_SPREAD = 2.4  # alar half-width beyond the nostril centre, in nostril half-widths
_ALA = paint.arc(0.0, 0.0, 1.0, 1.0, -100, 100)  # unit arc, bulging outwards (+x)
_FOLD_T = np.linspace(0.0, 1.0, 6)[:, None]
_WRINKLE_X = np.linspace(-1.0, 1.0, 7)


def alar_half_width(nostril_dx: float, nostril_half_w: float) -> float:
    """Half-width of the nose at the alar wings (the mesh's 129/102 - 358/331), face units."""
    return nostril_dx + ALAR_SPREAD * nostril_half_w


def draw_alae(
    img: np.ndarray, m: np.ndarray, skin: tuple[int, ...], alar: float, tip_y: float, lw: int
) -> None:
    """Alar wings: the crease around each nostril that marks the nose's width.

    Without them the drawn nose is a bridge and two dots and the mesh guesses the alar width;
    adding them took the nostril component from r = 0.30 to 0.64 against the truth (the
    smile folds added later pull it back down: the mesh widens the alae in every smile).
    """
    crease = paint.scaled(skin, 0.68)
    left = _ALA * np.array([0.06, 0.075]) + np.array([alar - 0.06, tip_y - 0.01])
    paint.lines(img, m, [left, left * np.array([-1.0, 1.0])], crease, lw)


def shade_face(
    img: np.ndarray, m: np.ndarray, scale: float, roll: float, skin: tuple[int, ...], a: float
) -> None:
    """The face oval lit from the front: darker towards the rim and the jaw (then softened).

    A flat disc has none of the shading a photographed face has (the cheeks turning away,
    the jaw's shadow), which the mesh and the FER net were trained on.
    """
    for k, dy, shade in ((1.0, 0.0, 0.8), (0.92, -0.04, 0.88), (0.8, -0.08, 0.95)):
        paint.ellipse(img, m, scale, roll, (0.0, dy * a), (k, k * a), paint.scaled(skin, shade))
    paint.ellipse(img, m, scale, roll, (0.0, -0.12 * a), (0.66, 0.66 * a), skin)


def draw_folds(
    img: np.ndarray,
    m: np.ndarray,
    skin: tuple[int, ...],
    alar: float,
    tip_y: float,
    corners: np.ndarray,
    depth: float,
    lw: int,
) -> None:
    """Nasolabial folds, from above the alar wings to beside the mouth corners.

    A smile (the cheeks pushed up and out) or a nose wrinkle deepens them, the most visible
    sign of AU12 / AU9 on a real face apart from the mouth itself. The shape was chosen with
    the FER net: ending below the corners, they turned smiles into sadness.
    """
    if depth < 0.15:  # at rest none: faint folds read as a sad, older face to the FER net
        return
    curves = []
    for side, (cx, cy) in ((1.0, corners[0]), (-1.0, corners[1])):
        x0, y0 = side * (alar + 0.1), tip_y - 0.04  # lateral of the wing: the ala stays clear
        # Ends beside the corner, not below it (lines below the corners read as sadness), and
        # bows outwards as the cheek bulges.
        x1, y1 = cx + side * (0.04 + 0.03 * depth), cy - 0.06 * depth
        t = _FOLD_T
        mid = np.array([side * (0.03 + 0.11 * depth), 0.0])
        curves.append((1 - t) * [x0, y0] + t * [x1, y1] + 4 * t * (1 - t) * mid)
    paint.lines(img, m, curves, paint.scaled(skin, 0.92 - 0.3 * depth), lw + (depth > 0.5))


def draw_cheeks(
    img: np.ndarray,
    m: np.ndarray,
    scale: float,
    roll: float,
    skin: tuple[int, ...],
    eyes: tuple[np.ndarray, np.ndarray],
    smile: float,
) -> None:
    """Cheeks pushed up by a smile (AU6 goes with AU12): lit apples under the eyes.

    Drawn from the smile's strength because the components carry no separate cheek value;
    part of the shading layer, so softened with it.
    """
    if smile < 0.08:
        return
    lit = paint.mix(skin, paint.scaled(skin, 1.12), min(smile, 1.0))
    for ex, ey, _, _ in eyes:
        side = 1.0 if ex > 0 else -1.0
        paint.ellipse(img, m, scale, roll, (ex + side * 0.04, ey + 0.28), (0.17, 0.1), lit)


def draw_crows_feet(
    img: np.ndarray,
    m: np.ndarray,
    skin: tuple[int, ...],
    eyes: tuple[np.ndarray, np.ndarray],
    smile: float,
    lw: int,
) -> None:
    """Crow's feet at the outer eye corners of a broad smile (AU6)."""
    if smile < 0.3:
        return
    feet = []
    for ex, ey, hw, _ in eyes:
        side = 1.0 if ex > 0 else -1.0
        x0 = ex + side * (hw + 0.03)
        for dy in (-0.04, 0.0, 0.05):
            feet.append(np.array([[x0, ey + dy * 0.5], [x0 + side * 0.07, ey + dy]]))
    paint.lines(img, m, feet, paint.scaled(skin, 0.88 - 0.18 * smile), lw)


def draw_forehead(
    img: np.ndarray,
    m: np.ndarray,
    skin: tuple[int, ...],
    brow_top: float,
    lift: float,
    lw: int,
) -> None:
    """Horizontal forehead wrinkles when the brows rise (AU1 + AU2: surprise, fear)."""
    if lift < 0.15:
        return
    curves = []
    for k, dy in enumerate((0.07, 0.13, 0.19)):
        half = 0.34 - 0.04 * k
        x = half * _WRINKLE_X
        curves.append(paint.xy(x, brow_top - dy - 0.025 * (1 - _WRINKLE_X**2)))
    paint.lines(img, m, curves, paint.scaled(skin, 0.92 - 0.2 * min(lift, 1.0)), lw)


def draw_frown(
    img: np.ndarray,
    m: np.ndarray,
    skin: tuple[int, ...],
    brows: tuple[np.ndarray, np.ndarray],
    frown: float,
    lw: int,
) -> None:
    """Vertical furrows between the brows when they are drawn together (AU4).

    `frown` is the furrow length in face units (0: none). They start above the inner brow
    heads and run down to the nose root, as the glabellar lines of a real frown.
    """
    if frown < 0.005:
        return
    top = min(float(brows[0][0, 1]), float(brows[1][0, 1])) - 0.05
    k = min(frown / 0.13, 1.0)
    lines = [np.array([[x, top], [x * 0.7, top + 0.4 * frown], [x * 0.6, top + frown + 0.03]])
             for x in (-0.04, 0.04)]  # fmt: skip
    paint.lines(img, m, lines, paint.scaled(skin, 0.8 - 0.25 * k), lw)


def draw_depressor(
    img: np.ndarray,
    m: np.ndarray,
    skin: tuple[int, ...],
    corners: np.ndarray,
    droop: float,
    lw: int,
) -> None:
    """Short creases running down and out from lowered mouth corners (AU15).

    The lip-corner depressor bunches the skin below the corners; the FER net reads lines
    there as sadness (found when the first nasolabial folds ended below the corners).
    """
    if droop < 0.15:
        return
    curves = []
    for side, (cx, cy) in ((1.0, corners[0]), (-1.0, corners[1])):
        end = (cx + side * (0.04 + 0.02 * droop), cy + 0.05 + 0.1 * droop)
        curves.append(np.array([[cx + side * 0.015, cy + 0.015], end]))
    paint.lines(img, m, curves, paint.scaled(skin, 0.9 - 0.25 * droop), lw)
