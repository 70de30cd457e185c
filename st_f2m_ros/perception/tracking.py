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
"""Box tracking maths between face detections: One-Euro smoothing, IoU, template following.

Pure functions and small classes with time passed in as an argument (seconds from message
stamps), so that bag replay is deterministic and the maths is testable without a camera.
The One-Euro filter is Casiez, Roussel and Vogel (CHI 2012): a first-order low-pass filter
whose cutoff rises with the signal's speed, so that a still face box does not jitter and a
moving one does not lag.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import cv2
import numpy as np

Box = tuple[float, float, float, float]  # (x, y, w, h) in pixels


@dataclass(frozen=True)
class OneEuroConfig:
    """One-Euro parameters: `min_cutoff` (Hz) sets jitter at rest, `beta` the speed response."""

    min_cutoff: float = 1.0
    beta: float = 0.02
    d_cutoff: float = 1.0


def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro low-pass filter of a vector signal; `__call__(t, x)` returns the filtered value."""

    def __init__(self, config: OneEuroConfig | None = None) -> None:
        self.config = config or OneEuroConfig()
        self._t: float | None = None
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the history; the next sample passes through unchanged."""
        self._t = self._x = self._dx = None

    def __call__(self, t: float, x: np.ndarray | float) -> np.ndarray:
        """Filter sample `x` taken at time `t` (seconds). A non-increasing time restarts."""
        x = np.asarray(x, dtype=np.float64)
        if self._t is None or self._x is None or self._dx is None or t <= self._t:
            self._t, self._x, self._dx = t, x.copy(), np.zeros_like(x)
            return x.copy()
        c = self.config
        dt = t - self._t
        dx = (x - self._x) / dt
        dx_hat = self._dx + _alpha(c.d_cutoff, dt) * (dx - self._dx)
        cutoff = c.min_cutoff + c.beta * np.abs(dx_hat)
        a = 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff * dt))
        x_hat = self._x + a * (x - self._x)
        self._t, self._x, self._dx = t, x_hat, dx_hat
        return x_hat.copy()


class BoxSmoother:
    """One-Euro smoothing of a face box, in centre/size form so that scale and motion separate."""

    def __init__(self, config: OneEuroConfig | None = None) -> None:
        self._filter = OneEuroFilter(config)

    def reset(self) -> None:
        """Forget the history (a new target)."""
        self._filter.reset()

    def __call__(self, t: float, box: Box) -> Box:
        """Return the smoothed box for a raw box observed at time `t`."""
        x, y, w, h = box
        cx, cy, sw, sh = self._filter(t, np.array([x + w / 2, y + h / 2, w, h]))
        return (float(cx - sw / 2), float(cy - sh / 2), float(sw), float(sh))


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes; 0 when either is empty."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def select_target(boxes: list[Box], mode: str, previous: Box | None = None) -> int | None:
    """Pick the index of the face to follow.

    `mode='largest'` takes the largest box. `mode='tracked'` keeps the box that overlaps the
    previous target best (falls back to the largest when nothing overlaps), so that a second
    person walking by does not steal the robot's attention.
    """
    if not boxes:
        return None
    largest = max(range(len(boxes)), key=lambda i: boxes[i][2] * boxes[i][3])
    if mode == 'tracked' and previous is not None:
        best = max(range(len(boxes)), key=lambda i: iou(boxes[i], previous))
        if iou(boxes[best], previous) > 0.0:
            return best
    return largest


class TemplateFollower:
    """Follows a face between detections by normalised cross-correlation of its grey patch.

    The template is cut at each detection; between detections the patch is searched for in a
    neighbourhood of the last box. A low correlation means the track is lost and the detector
    must run again. Works on the downscaled grey image to stay well under a millisecond.
    """

    def __init__(
        self, search_margin: float = 0.5, min_score: float = 0.6, upper: float = 0.6
    ) -> None:
        self.search_margin = search_margin
        self.min_score = min_score
        self.upper = upper  # template = top share of the box: brows, eyes, nose bridge
        self._template: np.ndarray | None = None
        self._offset = (0.0, 0.0)  # template origin relative to the box origin
        self._size = (0.0, 0.0)  # box (w, h) at the last detection

    @property
    def active(self) -> bool:
        """Whether a template is held."""
        return self._template is not None

    def reset(self) -> None:
        """Drop the template (track lost)."""
        self._template = None

    def start(self, grey: np.ndarray, box: Box) -> None:
        """Take the template from the upper part of `box` in `grey` (uint8 [H, W]).

        The mouth is left out: it changes with every expression and disappears under a
        surgical mask, while brows, eyes and nose bridge stay recognisable.
        """
        x, y, w, h = box
        x0, y0, x1, y1 = _clip((x, y, w, h * self.upper), grey.shape)
        ok = x1 - x0 >= 4 and y1 - y0 >= 4
        self._template = grey[y0:y1, x0:x1].copy() if ok else None
        self._offset = (x0 - x, y0 - y)
        self._size = (w, h)

    def follow(self, grey: np.ndarray, box: Box) -> tuple[Box, float] | None:
        """Search near `box`; return (new box, score) or None when the face was not found."""
        tpl = self._template
        if tpl is None:
            return None
        x, y, w, h = box
        mx, my = self.search_margin * w, self.search_margin * h
        sx0, sy0, sx1, sy1 = _clip((x - mx, y - my, w + 2 * mx, h + 2 * my), grey.shape)
        region = grey[sy0:sy1, sx0:sx1]
        th, tw = tpl.shape
        if region.shape[0] < th or region.shape[1] < tw:
            return None
        scores = cv2.matchTemplate(region, tpl, cv2.TM_CCOEFF_NORMED)
        _, best, _, loc = cv2.minMaxLoc(scores)
        if not np.isfinite(best) or best < self.min_score:
            return None
        ox, oy = self._offset
        w, h = self._size
        return (float(sx0 + loc[0] - ox), float(sy0 + loc[1] - oy), w, h), float(best)


def _clip(box: Box, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    x, y, w, h = box
    x0, y0 = max(0, math.floor(x + 0.5)), max(0, math.floor(y + 0.5))
    x1, y1 = min(shape[1], math.floor(x + w + 0.5)), min(shape[0], math.floor(y + h + 0.5))
    return x0, y0, max(x0, x1), max(y0, y1)
