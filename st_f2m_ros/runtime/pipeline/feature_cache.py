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
"""Per-frame store of face crops and their encoded features, keyed by message stamp.

Windows overlap (a 1 s window with a 0.25 s hop shares 75 % of its frames with the previous
one), so the runtime encodes each frame's crop at most once through the backend's per-frame part
of E (`encode_frames`, paper section V-B1) and gathers cached features for every window. Frames
are encoded lazily, only when a window selects them: at 30 Hz camera rate and 8 feature frames
per second most frames are tracked but never encoded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from st_f2m_ros.errors import PerceptionError
from st_f2m_ros.taxonomy import NUM_COMPONENTS


@dataclass
class FrameRecord:
    """One camera frame reduced to its face crop (None without a face) and cached feature.

    `measured` is the real-face front end's FrameFace (runtime/pipeline/face_window.py), None
    with the Haar detector.
    """

    stamp: float
    crop: np.ndarray | None
    feature: np.ndarray | None = None
    measured: Any = None

    @property
    def face(self) -> bool:
        """Whether a face was found in this frame."""
        return self.crop is not None or self.feature is not None


class FeatureCache:
    """Ring buffer of FrameRecords in stamp order, bounded by count and by age (seconds)."""

    def __init__(self, capacity: int = 512, horizon: float = 10.0) -> None:
        if capacity < 1 or not horizon > 0:
            raise PerceptionError('feature cache needs capacity >= 1 and horizon > 0 s')
        self.capacity = capacity
        self.horizon = horizon
        self._frames: deque[FrameRecord] = deque()
        self._stamps: deque[float] = deque()
        self.encoded = 0  # frames encoded so far (each at most once)

    def __len__(self) -> int:
        return len(self._frames)

    def clear(self) -> None:
        """Drop every frame (after a gap or a reset)."""
        self._frames.clear()
        self._stamps.clear()

    def add(self, stamp: float, crop: np.ndarray | None, measured: Any = None) -> None:
        """Append a frame; stamps must increase (the pipeline drops out-of-order ones first)."""
        if self._stamps and stamp <= self._stamps[-1]:
            raise PerceptionError(
                f'frame stamp {stamp} is not after the last one {self._stamps[-1]}'
            )
        self._frames.append(FrameRecord(stamp, crop, None, measured))
        self._stamps.append(stamp)
        while len(self._frames) > self.capacity or stamp - self._stamps[0] > self.horizon:
            self._frames.popleft()
            self._stamps.popleft()

    def latest(self, back: int = 0) -> FrameRecord | None:
        """The newest frame (`back=0`) or the one `back` frames before it."""
        return self._frames[-1 - back] if back < len(self._frames) else None

    def nearest(self, times: np.ndarray, tolerance: float) -> list[FrameRecord | None]:
        """For each target time, the frame with a face nearest to it within `tolerance` s."""
        faces = [f for f in self._frames if f.face]
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        if not faces:
            return [None] * len(times)
        stamps = np.fromiter((f.stamp for f in faces), dtype=np.float64, count=len(faces))
        dist = np.abs(stamps[None, :] - times[:, None])  # [T, N], N <= capacity
        best = dist.argmin(axis=1)
        return [faces[j] if dist[i, j] <= tolerance else None for i, j in enumerate(best.tolist())]

    def features(
        self, records: list[FrameRecord], encode: Callable[..., np.ndarray]
    ) -> np.ndarray:
        """Stack the features of `records`, encoding the missing ones in one batch.

        `encode(crops)`, or `encode(crops, components, reliable)` when the front end measured
        some of the frames (a frame without measurements: all components unreliable).
        """
        pending: list[FrameRecord] = []
        seen: set[int] = set()
        for r in records:
            if r.feature is None and id(r) not in seen:
                seen.add(id(r))
                pending.append(r)
        if pending:
            crops = np.stack([r.crop for r in pending if r.crop is not None])
            measured = [r.measured for r in pending if r.crop is not None]
            if any(m is not None for m in measured):  # the front end's components too
                comps = np.zeros((len(crops), NUM_COMPONENTS), dtype=np.float32)
                ok = np.zeros((len(crops), NUM_COMPONENTS), dtype=bool)
                for i, m in enumerate(measured):
                    if m is not None:
                        comps[i], ok[i] = m.components, m.model_ok
                feats = np.asarray(encode(crops, comps, ok))
            else:
                feats = np.asarray(encode(crops))
            if feats.shape[0] != len(pending):
                raise PerceptionError(
                    f'backend returned {feats.shape[0]} features for {len(pending)} crops'
                )
            for r, f in zip(pending, feats):
                r.feature = f
                r.crop = None  # the feature replaces the crop: memory stays small
            self.encoded += len(pending)
        return np.stack([r.feature for r in records])  # type: ignore[misc]
