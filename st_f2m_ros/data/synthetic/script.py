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
"""Scripted emotion sequences: segments of 0.5-4 s with smooth onsets, offsets and blends.

Temporal heterogeneity (paper V-A: emotions last for different times and the model must cut a
long video into views by its label sequence) is the point: segment lengths vary between
`min_segment` and `max_segment`, a new expression ramps in over an onset of 0.15-0.5 s (so the
first frames of a segment still look like the previous one), and some segments carry a weaker
second emotion (a blend) that does not change the label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from st_f2m_ros.data.synthetic.expression import CLASS_ACTIVATIONS
from st_f2m_ros.errors import ConfigError
from st_f2m_ros.taxonomy import EMOTIONS, INTENSITIES, NUM_CLASSES, basic_emotion_of


@dataclass(frozen=True)
class Segment:
    """One scripted state: class `class_id` over [start, end) seconds."""

    start: float
    end: float
    class_id: int
    onset: float = 0.3  # seconds to ramp in from the previous expression
    blend_class: int = -1  # second class mixed in (-1 = none); the label stays class_id
    blend_weight: float = 0.0

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class ScriptConfig:
    """How scripts are drawn."""

    min_segment: float = 0.5
    max_segment: float = 4.0
    neutral_prob: float = 0.25
    blend_prob: float = 0.15
    min_onset: float = 0.15
    max_onset: float = 0.5

    def validate(self) -> None:
        """Raise ConfigError on inconsistent settings."""
        if not 0.0 < self.min_segment <= self.max_segment:
            raise ConfigError(
                f'need 0 < min_segment <= max_segment, got {self.min_segment}, {self.max_segment}'
            )
        for name in ('neutral_prob', 'blend_prob'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f'{name} must be in [0, 1], got {getattr(self, name)}')
        if not 0.0 <= self.min_onset <= self.max_onset:
            raise ConfigError('need 0 <= min_onset <= max_onset')


@dataclass(frozen=True)
class Script:
    """A sequence of segments covering [0, duration)."""

    segments: tuple[Segment, ...]
    duration: float

    def segment_index(self, times: np.ndarray) -> np.ndarray:
        """Index of the segment holding each time (times past the end map to the last one)."""
        starts = np.array([s.start for s in self.segments])
        return np.clip(
            np.searchsorted(starts, np.asarray(times), side='right') - 1, 0, len(self.segments) - 1
        )

    def labels_at(self, times: np.ndarray) -> np.ndarray:
        """Class id [T] at each time: the class of the segment the time falls in."""
        ids = np.array([s.class_id for s in self.segments], dtype=np.int64)
        return ids[self.segment_index(times)]

    def activation_at(self, times: np.ndarray) -> np.ndarray:
        """Action-unit activations [T, n_AU]: segment targets with smoothstep onsets."""
        times = np.asarray(times, dtype=np.float64)
        targets = np.stack([_target(s) for s in self.segments])
        idx = self.segment_index(times)
        prev = targets[np.maximum(idx - 1, 0)]
        cur = targets[idx]
        start = np.array([s.start for s in self.segments])[idx]
        onset = np.array([max(s.onset, 1e-6) for s in self.segments])[idx]
        x = np.clip((times - start) / onset, 0.0, 1.0)
        w = (x * x * (3.0 - 2.0 * x))[:, None]
        w[idx == 0] = 1.0
        return prev * (1.0 - w) + cur * w


def _target(s: Segment) -> np.ndarray:
    act = CLASS_ACTIVATIONS[s.class_id].copy()
    if s.blend_class >= 0:
        act = np.maximum(act, s.blend_weight * CLASS_ACTIVATIONS[s.blend_class])
    return act


def _draw_class(rng: np.random.Generator, cfg: ScriptConfig, previous: int) -> int:
    while True:
        if rng.uniform() < cfg.neutral_prob:
            cid = 0
        else:
            cid = (
                1
                + int(rng.integers(len(EMOTIONS))) * len(INTENSITIES)
                + int(rng.integers(len(INTENSITIES)))
            )
        if cid != previous:
            return cid


def make_script(
    rng: np.random.Generator,
    duration: float,
    cfg: ScriptConfig | None = None,
    classes: tuple[int, ...] | None = None,
) -> Script:
    """Draw a script of `duration` seconds.

    Args:
        rng: random generator (the caller's seed decides everything).
        duration: length in seconds (> 0).
        cfg: segment statistics.
        classes: if given, cycle through these class ids in order instead of drawing them
            (used for contact sheets and for support clips of one class).

    """
    cfg = cfg or ScriptConfig()
    cfg.validate()
    if duration <= 0:
        raise ConfigError(f'duration must be > 0 s, got {duration}')
    if classes is not None and any(not 0 <= c < NUM_CLASSES for c in classes):
        raise ConfigError(f'class ids must be in 0..{NUM_CLASSES - 1}, got {classes}')
    segments: list[Segment] = []
    t, previous = 0.0, -1
    while t < duration - 1e-9:
        length = float(rng.uniform(cfg.min_segment, cfg.max_segment))
        if duration - (t + length) < cfg.min_segment:  # no sliver at the end
            length = duration - t
        if classes is not None:
            cid = classes[len(segments) % len(classes)]
        else:
            cid = _draw_class(rng, cfg, previous)
        blend, weight = -1, 0.0
        if cid != 0 and rng.uniform() < cfg.blend_prob:
            other = [
                c for c in range(1, NUM_CLASSES) if basic_emotion_of(c) != basic_emotion_of(cid)
            ]
            blend, weight = int(rng.choice(other)), float(rng.uniform(0.25, 0.45))
        onset = float(min(rng.uniform(cfg.min_onset, cfg.max_onset), 0.4 * length))
        segments.append(Segment(t, t + length, cid, onset, blend, weight))
        t += length
        previous = cid
    return Script(tuple(segments), float(duration))
