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
"""Sliding-window scheduling driven by message stamps, never by a wall clock.

A window of `length` seconds ends at a camera frame's stamp every `hop` seconds; its T feature
frames are sampled on a regular grid inside it (T = the model's `window`, paper section V-A:
the temporal convolution of eq. 3 expects evenly spaced frames). Because time comes from the
stamps, replaying a bag at any speed gives the same windows. Out-of-order frames are refused, a
gap longer than `max_gap` restarts the window (no window straddles a camera outage) and a burst
after a stall emits only the newest window instead of a backlog.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
import math

import numpy as np

from st_f2m_ros.errors import ConfigError


@dataclass(frozen=True)
class WindowConfig:
    """Window length and hop in seconds, T feature frames, and the gap that restarts a window."""

    length: float = 1.0
    hop: float = 0.25
    frames: int = 8
    max_gap: float = 0.5

    def validate(self) -> None:
        """Raise ConfigError naming the field when a value is out of range."""
        if not (self.length > 0 and math.isfinite(self.length)):
            raise ConfigError(f'window length must be > 0 s, got {self.length}')
        if not 0 < self.hop <= self.length:
            raise ConfigError(f'window hop must be in (0, length], got {self.hop}')
        if self.frames < 1:
            raise ConfigError(f'window frames must be >= 1, got {self.frames}')
        if not self.max_gap > 0:
            raise ConfigError(f'max_gap must be > 0 s, got {self.max_gap}')

    @property
    def spacing(self) -> float:
        """Seconds between two sampled feature frames."""
        return self.length / self.frames


@dataclass(frozen=True)
class Window:
    """A window and the T target times its frames are sampled at.

    `start` is the first target time (so a window never claims time before its first frame);
    `end` is the stamp of the frame that completed it.
    """

    start: float
    end: float
    targets: np.ndarray


class WindowScheduler:
    """Decides, frame by frame, when a window is complete.

    Feature frames are sampled on a grid of `spacing` seconds anchored at the first frame, so
    consecutive windows share their sampled frames exactly and the runtime can encode a frame
    as soon as it is known to be a grid frame (`grid_points`), before any window needs it.
    `push(stamp)` returns a Window ending at `stamp` when one is due, else None. `skipped`
    counts refused frames and dropped windows by cause ('out_of_order', 'gap', 'behind').
    """

    def __init__(self, config: WindowConfig | None = None) -> None:
        self.config = config or WindowConfig()
        self.config.validate()
        self.skipped: Counter[str] = Counter()
        self.reset()

    def reset(self) -> None:
        """Start over: the next frame begins a new window."""
        self._last: float | None = None
        self._next_end: float | None = None
        self._anchor: float | None = None

    @property
    def last_stamp(self) -> float | None:
        """Stamp of the newest accepted frame."""
        return self._last

    def accepts(self, stamp: float) -> bool:
        """Whether `stamp` is finite and after the newest accepted frame."""
        return math.isfinite(stamp) and (self._last is None or stamp > self._last)

    def due(self, stamp: float) -> bool:
        """Whether a frame at `stamp` would complete a window (without registering it)."""
        if not self.accepts(stamp) or self._next_end is None or self._last is None:
            return False
        return stamp - self._last <= self.config.max_gap and stamp + 1e-6 >= self._next_end

    def push(self, stamp: float) -> Window | None:
        """Register a frame at `stamp`; return the window that ends at it, if one is due."""
        c = self.config
        if not self.accepts(stamp):
            self.skipped['out_of_order'] += 1
            return None
        if self._last is not None and stamp - self._last > c.max_gap:
            self.skipped['gap'] += 1
            self._next_end = None
        self._last = stamp
        if self._next_end is None:
            # The first window needs a full window of frames: its first target lies at stamp.
            self._anchor = stamp
            self._next_end = stamp + c.length - c.spacing
            return None
        # A microsecond of slack: float stamps of a 30 Hz camera land on the grid.
        if stamp + 1e-6 < self._next_end:
            return None
        behind = int((stamp - self._next_end) // c.hop)
        if behind > 0:
            self.skipped['behind'] += behind
            self._anchor = stamp  # restart the grid at the burst: no backlog
            self._next_end = stamp + c.hop
        else:
            # Keep the hop grid (no drift under jitter) but never two windows within hop / 2.
            self._next_end = max(self._next_end + c.hop, stamp + c.hop / 2)
        return self.window_at(stamp)

    def _index(self, t: float) -> int:
        """Index of the last grid point at or before `t`."""
        anchor = self._anchor if self._anchor is not None else t
        return math.floor((t - anchor) / self.config.spacing + 1e-6)

    def grid_points(self, after: float, upto: float) -> list[float]:
        """Sampling grid times in (after, upto]: the frames nearest to them will be used."""
        if self._anchor is None or upto <= after:
            return []
        sp = self.config.spacing
        first, last = self._index(after) + 1, self._index(upto)
        return [self._anchor + k * sp for k in range(first, last + 1)]

    def window_at(self, end: float) -> Window:
        """The window that ends at `end`: its T grid times, the last one at or before `end`."""
        c = self.config
        anchor = self._anchor if self._anchor is not None else end
        k = np.arange(self._index(end) - c.frames + 1, self._index(end) + 1, dtype=np.float64)
        targets = anchor + c.spacing * k
        return Window(start=float(targets[0]), end=end, targets=targets)
