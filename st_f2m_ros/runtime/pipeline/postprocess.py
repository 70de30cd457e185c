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
"""Temporal post-processing of window decisions into a flicker-free emotion sequence.

Windows arrive every hop (0.25 s by default) and a raw argmax over them flickers between
neighbouring fine-grained classes (e.g. anger_medium / anger_high). A robot must not react to
that, so, as in segment-level recognition (paper V-A: a video is a sequence of emotion
segments of varying length):

1. class probabilities are smoothed across consecutive windows (exponential moving average);
2. the decision is the best class if its smoothed probability reaches `confidence_threshold`,
   else an explicit abstain (STATUS_LOW_CONFIDENCE, emotion UNKNOWN): never a confident guess;
   neutral is a class like the others, so a face that expresses nothing yields neutral;
3. hysteresis: the current class is kept while it stays above the threshold minus
   `hysteresis` and no other class beats it by `switch_margin`;
4. a new decision replaces the current one only after it persisted for `min_segment`
   seconds; the new segment is then back-dated to when it first appeared, so segment timing
   stays accurate; consecutive windows with the same decision are merged into one state;
5. missing faces (STATUS_NO_FACE), silent input (STATUS_STALE) and windows abstained for
   face quality (STATUS_LOW_CONFIDENCE with a reason: face too small, turned away, covered)
   take effect at once: the last emotion is never repeated for a person who is no longer
   seen, or no longer seen well enough.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.runtime.pipeline.results import (
    STATUS_LOW_CONFIDENCE,
    STATUS_NO_FACE,
    STATUS_OK,
    STATUS_STALE,
    EmotionStateResult,
)
from st_f2m_ros.taxonomy import NUM_COMPONENTS

_IMMEDIATE = (STATUS_NO_FACE, STATUS_STALE)


@dataclass(frozen=True)
class PostprocessConfig:
    """Smoothing, thresholds and segment rules (see the module docstring)."""

    smoothing: float = 0.5  # weight of the newest window in the moving average (1 = none)
    confidence_threshold: float = 0.45  # the node's min_confidence default
    hysteresis: float = 0.05
    switch_margin: float = 0.1
    min_segment: float = 0.5
    history: float = 10.0  # seconds of past states kept in each EmotionSequence
    max_states: int = 32

    def validate(self) -> None:
        """Raise ConfigError naming the field when a value is out of range."""
        if not 0 < self.smoothing <= 1:
            raise ConfigError(f'smoothing must be in (0, 1], got {self.smoothing}')
        if not 0 <= self.confidence_threshold <= 1:
            raise ConfigError(
                f'confidence_threshold must be in [0, 1], got {self.confidence_threshold}'
            )
        if self.hysteresis < 0 or self.switch_margin < 0 or self.min_segment < 0:
            raise ConfigError('hysteresis, switch_margin and min_segment must be >= 0')
        if not self.history > 0 or self.max_states < 1:
            raise ConfigError('history must be > 0 s and max_states >= 1')


@dataclass(frozen=True)
class WindowDecisionInput:
    """One classified window: smoothed later; `probs` None means no face in the window.

    `abstain` names a face-quality reason: the window is LOW_CONFIDENCE at once, unclassified.
    `reliable` / `measured`: the component mask and source (EmotionStateResult).
    """

    start: float
    end: float
    probs: np.ndarray | None
    components: np.ndarray | None = None
    intensity: float = 0.0
    modalities: int = 0
    reliable: np.ndarray | None = None
    measured: bool = False
    abstain: str | None = None


Key = tuple[int, int]  # (status, class id); class id -1 for undecided states


class TemporalPostprocessor:
    """Turns a stream of window outputs into merged, hysteresis-filtered EmotionStates."""

    def __init__(self, config: PostprocessConfig | None = None, num_classes: int = 19) -> None:
        self.config = config or PostprocessConfig()
        self.config.validate()
        self.num_classes = num_classes
        self.reset()

    def reset(self) -> None:
        """Forget history and smoothing (new subject, restart)."""
        self._ema: np.ndarray | None = None
        self._closed: deque[EmotionStateResult] = deque()
        self._current: EmotionStateResult | None = None
        self._key: Key | None = None
        self._pending: Key | None = None
        self._pending_since = 0.0
        self._last_end: float | None = None

    @property
    def current(self) -> EmotionStateResult | None:
        """The open (newest) state."""
        return self._current

    def _candidate(self, ema: np.ndarray) -> Key:
        c = self.config
        best = int(ema.argmax())
        key = self._key
        if key is not None and key[0] == STATUS_OK:
            cur = key[1]
            keep = ema[cur] >= c.confidence_threshold - c.hysteresis
            if keep and ema[best] < ema[cur] + c.switch_margin:
                return key
        if ema[best] >= c.confidence_threshold:
            return (STATUS_OK, best)
        return (STATUS_LOW_CONFIDENCE, -1)

    def update(self, window: WindowDecisionInput) -> list[EmotionStateResult]:
        """Add a window; return the sequence of states (oldest first) ending with the current."""
        c = self.config
        if window.abstain is not None:
            self._ema = None
            state = EmotionStateResult.undecided(
                window.start, window.end, STATUS_LOW_CONFIDENCE, self.num_classes, window.abstain
            )
            return self._advance((STATUS_LOW_CONFIDENCE, -1), state, window.end, immediate=True)
        if window.probs is None:
            self._ema = None
            key: Key = (STATUS_NO_FACE, -1)
            state = EmotionStateResult.undecided(
                window.start, window.end, STATUS_NO_FACE, self.num_classes
            )
        else:
            p = np.asarray(window.probs, dtype=np.float64)
            p = np.where(np.isfinite(p), p, 0.0)
            s = p.sum()
            p = p / s if s > 0 else np.full_like(p, 1.0 / len(p))
            ema = p if self._ema is None else (1 - c.smoothing) * self._ema + c.smoothing * p
            self._ema = ema
            key = self._candidate(ema)
            best = int(ema.argmax()) if key[1] < 0 else key[1]
            comps = window.components
            comps = np.zeros(NUM_COMPONENTS) if comps is None else comps
            state = EmotionStateResult.decided(
                window.start, window.end, best, ema.astype(np.float32), comps,
                window.intensity, window.modalities, status=key[0],
                reliable=window.reliable, measured=window.measured,
            )  # fmt: skip
        return self._advance(key, state, window.end)

    def interrupt(self, at: float) -> None:
        """The input stopped at `at` (a camera gap): end the current state there.

        The next window opens a new state, so no state ever spans an outage.
        """
        if self._current is not None:
            self._close(max(at, self._current.end))
        self._current, self._key, self._pending, self._ema = None, None, None, None
        self._last_end = None

    def stale(self, start: float, now: float) -> list[EmotionStateResult]:
        """Input has been silent since `start`: report STALE over [start, now] at once."""
        self._ema = None
        state = EmotionStateResult.undecided(start, now, STATUS_STALE, self.num_classes)
        return self._advance((STATUS_STALE, -1), state, now)

    def _advance(
        self, key: Key, state: EmotionStateResult, end: float, immediate: bool = False
    ) -> list[EmotionStateResult]:
        c = self.config
        last_end = self._last_end if self._last_end is not None else state.start
        self._last_end = end
        if self._current is None or self._key is None:
            self._open(key, state, state.start)
        elif key == self._key:
            self._extend(state)
            self._pending = None
        else:
            if key != self._pending:
                self._pending, self._pending_since = key, min(last_end, end)
            now = immediate or key[0] in _IMMEDIATE
            if now or end - self._pending_since >= c.min_segment:
                since = self._pending_since if not now else state.start
                since = max(since, self._current.start)
                self._close(since)
                self._open(key, state, since)
            else:
                self._refresh(state)
        return self.states(end)

    def _open(self, key: Key, state: EmotionStateResult, start: float) -> None:
        state.start = start
        self._current, self._key, self._pending = state, key, None

    def _extend(self, state: EmotionStateResult) -> None:
        cur = self._current
        if cur is None:
            return
        state.start = cur.start
        self._current = state

    def _refresh(self, state: EmotionStateResult) -> None:
        """A pending change is not confirmed: extend the current state in time only."""
        if self._current is not None:
            self._current.end = state.end

    def _close(self, at: float) -> None:
        cur = self._current
        if cur is None:
            return
        cur.end = max(cur.start, at)
        if cur.end > cur.start:
            self._closed.append(cur)

    def states(self, now: float) -> list[EmotionStateResult]:
        """Closed states within the history horizon plus the current one."""
        c = self.config
        while self._closed and (
            now - self._closed[0].end > c.history or len(self._closed) >= c.max_states
        ):
            self._closed.popleft()
        out = list(self._closed)
        if self._current is not None:
            out.append(self._current)
        return out
