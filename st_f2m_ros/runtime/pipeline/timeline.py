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
"""Which frame stamps the pipeline believes, and what time it is in the stamps' clock.

Stamp rules (docs/ARCHITECTURE.md, "Stamps"): time comes only from input stamps, and one
wild stamp must not stop perception. `StampGate` accepts a frame that moves the timeline
forward by a plausible step; a zero, negative, non-finite, repeated, backwards or far-future
stamp is skipped under a named cause. A real timeline change (camera restart with a reset
clock, a bag looped or started after the node) is accepted once `confirm` consecutive frames
agree with each other, so a single outlier never moves the timeline.

`InputClock` maps the node's clock onto the stamps' clock (newest accepted stamp + node time
elapsed since it arrived), so a bag replayed without `--clock` is not declared STALE, silence
still is, and std_msgs/String transcripts get a stamp in the frames' clock.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

from st_f2m_ros.errors import ConfigError

MAX_STAMP = float(2**31 - 1)  # builtin_interfaces/Time holds int32 seconds

# Named causes of a refused stamp (counted as skipped_<cause> in /diagnostics).
STAMP_CAUSES = (
    'stamp_nonfinite',
    'stamp_zero',
    'stamp_negative',
    'stamp_out_of_range',
    'stamp_repeated',
    'stamp_backwards',
    'stamp_jump',
    'frame_burst',
)


@dataclass(frozen=True)
class StampConfig:
    """How far a stamp may move and how many agreeing frames establish a new timeline.

    Attributes:
        max_jump: a forward step larger than this plus the arrival time elapsed since the
            previous frame (when arrival times are known) is an outlier.
        confirm: consecutive frames that agree with each other (and not with the current
            timeline) before the pipeline switches to their timeline.
        agree: seconds between two of those frames for them to count as agreeing.
        min_interval: frames closer than this to the previous one are a burst (above
            1 / min_interval fps the windows gain nothing; the detector would only fall behind).

    """

    max_jump: float = 10.0
    confirm: int = 3
    agree: float = 1.0
    min_interval: float = 0.008

    def validate(self) -> None:
        """Raise ConfigError naming the field."""
        if not self.max_jump > 0 or self.confirm < 1 or not self.agree > 0:
            raise ConfigError('stamps: max_jump > 0 s, confirm >= 1 and agree > 0 s')
        if not 0 <= self.min_interval < 1:
            raise ConfigError('stamps: min_interval must be in [0, 1) s')


ACCEPT, RESTART, SKIP = 'accept', 'restart', 'skip'


class StampGate:
    """Frame by frame: accept the stamp, restart on a confirmed new timeline, or skip it."""

    def __init__(self, config: StampConfig | None = None) -> None:
        self.config = config or StampConfig()
        self.config.validate()
        self.last: float | None = None
        self._last_arrival: float | None = None
        self._candidates: list[float] = []

    def reset(self) -> None:
        """Forget the timeline (the next valid stamp starts one)."""
        self.last = self._last_arrival = None
        self._candidates.clear()

    def check(self, stamp: float, arrival: float | None = None) -> tuple[str, str | None]:
        """Return (ACCEPT | RESTART | SKIP, cause); ACCEPT and RESTART move the timeline."""
        bad = invalid_stamp(stamp)
        if bad is not None:
            return SKIP, bad
        last = self.last
        if last is None:
            self._take(stamp, arrival)
            return RESTART, None
        if stamp == last:
            return SKIP, 'stamp_repeated'
        allowed = self.config.max_jump
        if arrival is not None and self._last_arrival is not None:
            allowed += max(0.0, arrival - self._last_arrival)
        if 0 < stamp - last < self.config.min_interval:
            return SKIP, 'frame_burst'
        if 0 < stamp - last <= allowed:
            self._take(stamp, arrival)
            return ACCEPT, None
        cause = 'stamp_backwards' if stamp < last else 'stamp_jump'
        cands = self._candidates
        if cands and 0 < stamp - cands[-1] <= self.config.agree:
            cands.append(stamp)
        else:
            cands[:] = [stamp]
        if len(cands) >= self.config.confirm:
            self._take(stamp, arrival)
            return RESTART, None
        return SKIP, cause

    def _take(self, stamp: float, arrival: float | None) -> None:
        self.last, self._last_arrival = stamp, arrival
        self._candidates.clear()


def invalid_stamp(stamp: float) -> str | None:
    """The cause why `stamp` can never be a message time, or None when it can."""
    if not math.isfinite(stamp):
        return 'stamp_nonfinite'
    if stamp == 0:
        return 'stamp_zero'
    if stamp < 0:
        return 'stamp_negative'
    if stamp > MAX_STAMP:
        return 'stamp_out_of_range'
    return None


class InputClock:
    """Current time in the clock of the input stamps, for staleness and String transcripts.

    Live, stamps and the node clock agree and the node clock is used. A bag replayed without
    `--clock` carries old stamps: once stamps and node clock differ by more than `max_skew`
    seconds, time is the newest stamp plus the node time elapsed since it arrived, so that
    replayed data is not declared stale (and silence still is). Before any input the node
    clock is all there is.
    """

    def __init__(self, max_skew: float = 5.0) -> None:
        self.max_skew = float(max_skew)
        self._stamp: float | None = None
        self._arrival = 0.0

    @property
    def anchored(self) -> bool:
        """Whether an input stamp has been seen (else `now` is the node clock)."""
        return self._stamp is not None

    def observe(self, stamp: float, arrival: float, restart: bool = False) -> None:
        """Record the stamp of an input and its arrival on the node clock.

        An older stamp does not move the clock back unless `restart` says that the input
        timeline itself changed (StampGate RESTART: a looped bag, a camera restart).
        """
        if self._stamp is None or stamp >= self._stamp or restart:
            self._stamp, self._arrival = float(stamp), float(arrival)

    def now(self, node_now: float) -> float:
        """The current time in the input clock."""
        if self._stamp is None or abs(self._arrival - self._stamp) <= self.max_skew:
            return float(node_now)
        return self._stamp + (float(node_now) - self._arrival)
