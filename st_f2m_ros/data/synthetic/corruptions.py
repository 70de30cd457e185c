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
"""The paper's robustness corruptions (section VI-D1), each at a level in [0, 1].

* ``fog``: blend towards a bright, slightly uneven haze; the level is the fog density.
* ``mask``: a surgical-mask region over the lower face; the level is the fraction of the face
  box it covers (0.5 covers nose to chin).
* ``occlusion``: random patches (bandages, hands) on a 4x4 grid over the face box; the level is
  the covered fraction. Patches are nested across levels, so more level never uncovers pixels.
* ``distortion``: barrel lens distortion; the level is the fraction of frames affected (the
  paper's definition), chosen by a fixed per-session draw so that affected sets are nested.
* ``text``: each transcript word is replaced by ``[MASK]`` with probability = level.

The paper evaluates 10 %, 30 % and 50 %; any level in [0, 1] is accepted. A spec string such as
``"fog:0.3,mask:0.5"`` is parsed by `parse_corruptions`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from st_f2m_ros.errors import ConfigError

KINDS: tuple[str, ...] = ('fog', 'mask', 'occlusion', 'distortion', 'text')
PAPER_LEVELS: tuple[float, ...] = (0.1, 0.3, 0.5)
MASK_TOKEN = '[MASK]'
DISTORTION_K = 0.35  # radial coefficient of the barrel distortion
_GRID = 4


@dataclass(frozen=True)
class Corruption:
    """One corruption kind at a level in [0, 1]."""

    kind: str
    level: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f'unknown corruption {self.kind!r}; expected one of {KINDS}')
        if not 0.0 <= self.level <= 1.0:
            raise ConfigError(
                f'corruption level must be in [0, 1] (e.g. {self.kind}:0.3), got {self.level}'
            )

    def __str__(self) -> str:
        return f'{self.kind}:{self.level:g}'


def parse_corruptions(spec: str | None) -> tuple[Corruption, ...]:
    """Parse ``"fog:0.3,mask:0.1"`` (also ``"fog:30%"``); empty or None gives ()."""
    if not spec or not spec.strip():
        return ()
    out: list[Corruption] = []
    for part in spec.split(','):
        part = part.strip()
        kind, sep, value = part.partition(':')
        if not sep or not kind:
            raise ConfigError(f'corruption {part!r} must look like KIND:LEVEL, e.g. fog:0.3')
        value = value.strip()
        try:
            level = float(value[:-1]) / 100.0 if value.endswith('%') else float(value)
        except ValueError:
            raise ConfigError(f'corruption level {value!r} in {part!r} is not a number') from None
        if kind.strip() in {c.kind for c in out}:
            raise ConfigError(f'corruption {kind.strip()!r} given twice in {spec!r}')
        out.append(Corruption(kind.strip(), level))
    return tuple(out)


def format_corruptions(corruptions: tuple[Corruption, ...]) -> str:
    """Inverse of `parse_corruptions`."""
    return ','.join(str(c) for c in corruptions)


def mask_text(text: str, level: float, rng: np.random.Generator) -> str:
    """Replace each word with ``[MASK]`` with probability `level`."""
    if level <= 0.0:
        return text
    words = text.split()
    keep = rng.uniform(size=len(words)) >= level
    return ' '.join(w if k else MASK_TOKEN for w, k in zip(words, keep))


def _undistort_radius(r_src: np.ndarray, k: float) -> np.ndarray:
    """Solve r (1 + k r^2) = r_src for r (Newton): where a source point lands after distortion."""
    r = r_src.copy()
    for _ in range(8):
        r = r - (r * (1 + k * r * r) - r_src) / (1 + 3 * k * r * r)
    return r


class FrameCorrupter:
    """Applies image corruptions to frames of one session (state fixed at construction)."""

    def __init__(
        self,
        corruptions: tuple[Corruption, ...],
        width: int,
        height: int,
        rng: np.random.Generator,
        n_frames: int,
    ) -> None:
        self.levels = {c.kind: c.level for c in corruptions}
        self.width, self.height = width, height
        # Draws are made whatever the levels, so that levels change nothing else.
        haze = rng.uniform(205, 240, size=(max(height // 32, 2), max(width // 32, 2), 1))
        self._fog = cv2.resize(
            haze.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC
        )
        self._fog = np.repeat(self._fog[:, :, None], 3, axis=2).astype(np.uint8)
        self._cells = rng.permutation(_GRID * _GRID)
        self._cell_colours = rng.uniform(150, 235, size=(_GRID * _GRID, 3))
        self._frame_draw = rng.uniform(size=n_frames)
        self._maps: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def image_kinds(self) -> list[str]:
        return [k for k in ('distortion', 'fog', 'mask', 'occlusion') if self.levels.get(k, 0) > 0]

    def apply(
        self, image: np.ndarray, box: tuple[float, float, float, float], index: int
    ) -> tuple[np.ndarray, tuple[float, float, float, float]]:
        """Corrupt frame `index` in place where possible; return (image, face box)."""
        lv = self.levels
        if lv.get('mask', 0) > 0:
            self._mask(image, box, lv['mask'])
        if lv.get('occlusion', 0) > 0:
            self._occlude(image, box, lv['occlusion'])
        if (
            lv.get('distortion', 0) > 0
            and self._frame_draw[index % len(self._frame_draw)] < (lv['distortion'])
        ):
            image, box = self._distort(image, box)
        if lv.get('fog', 0) > 0:
            a = min(lv['fog'], 1.0) * 0.9
            image = cv2.addWeighted(image, 1.0 - a, self._fog, a, 0.0)
        return image, box

    def _mask(
        self, image: np.ndarray, box: tuple[float, float, float, float], level: float
    ) -> None:
        x, y, w, h = box
        top = y + h * (1.0 - level)
        pts = np.array(
            [
                [x, top + 0.04 * h],
                [x + w / 2, top],
                [x + w, top + 0.04 * h],
                [x + w, y + h],
                [x, y + h],
            ]
        )
        cv2.fillPoly(image, [np.round(pts).astype(np.int32)], (225, 205, 170), cv2.LINE_AA)
        for k in (1, 2, 3):  # pleats
            yy = round(top + (y + h - top) * k / 4)
            cv2.line(image, (int(x), yy), (int(x + w), yy), (200, 180, 150), 1, cv2.LINE_AA)

    def _occlude(
        self, image: np.ndarray, box: tuple[float, float, float, float], level: float
    ) -> None:
        x, y, w, h = box
        n = round(level * _GRID * _GRID)
        cw, ch = w / _GRID, h / _GRID
        for cell in self._cells[:n]:
            r, c = divmod(int(cell), _GRID)
            p0 = (round(x + c * cw), round(y + r * ch))
            p1 = (round(x + (c + 1) * cw), round(y + (r + 1) * ch))
            colour = tuple(int(v) for v in self._cell_colours[cell])
            cv2.rectangle(image, p0, p1, colour, -1)

    def _distort(
        self, image: np.ndarray, box: tuple[float, float, float, float]
    ) -> tuple[np.ndarray, tuple[float, ...]]:
        cx, cy, f = self.width / 2.0, self.height / 2.0, max(self.width, self.height) / 2.0
        if self._maps is None:
            xs, ys = np.meshgrid(
                np.arange(self.width, dtype=np.float32), np.arange(self.height, dtype=np.float32)
            )
            u, v = (xs - cx) / f, (ys - cy) / f
            s = 1.0 + DISTORTION_K * (u * u + v * v)
            self._maps = cv2.convertMaps(u * s * f + cx, v * s * f + cy, cv2.CV_16SC2)
        out = cv2.remap(
            image, self._maps[0], self._maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        x, y, w, h = box
        t = np.linspace(0.0, 1.0, 9)
        edge = np.concatenate(
            [
                np.stack([x + w * t, np.full_like(t, y)], 1),
                np.stack([x + w * t, np.full_like(t, y + h)], 1),
                np.stack([np.full_like(t, x), y + h * t], 1),
                np.stack([np.full_like(t, x + w), y + h * t], 1),
            ]
        )
        p = (edge - [cx, cy]) / f
        r = np.hypot(p[:, 0], p[:, 1])
        scale = np.where(r > 1e-9, _undistort_radius(r, DISTORTION_K) / np.maximum(r, 1e-9), 1.0)
        q = p * scale[:, None] * f + [cx, cy]
        x0, y0 = q.min(axis=0)
        x1, y1 = q.max(axis=0)
        return out, (float(x0), float(y0), float(x1 - x0), float(y1 - y0))
