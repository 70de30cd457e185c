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
"""What the real-face front end measured, per frame and per window.

Each cached frame keeps the front end's twelve measured components, their `reliable` mask and
whether the frame is low quality (face too small, head turned too far, mouth or nose covered).
A window whose frames are mostly low quality is abstained instead of classified: the pixel
model would answer confidently on a face it cannot see. Otherwise the window reports the
median of each component over the frames where it was reliable, and says which components most
frames could not measure, rather than guessing them. With the Haar detector there is nothing
measured: the state keeps the model's FCIS estimate.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from st_f2m_ros.perception.face_stage import low_quality
from st_f2m_ros.taxonomy import NUM_COMPONENTS


@dataclass(frozen=True)
class FrameFace:
    """The front end's measurement of one frame (None on records without a front end)."""

    components: np.ndarray  # float32 [12], Table II scale, relative to the neutral face
    reliable: np.ndarray  # bool [12]
    low_quality: str | None  # the reason, None when the frame is usable
    # bool [12] the model reads (FaceObservation.model_reliable: reliable and measured
    # against the person's own neutral); None: `reliable`
    model_reliable: np.ndarray | None = None

    @property
    def model_ok(self) -> np.ndarray:
        """The reliable flags a component_input model is given."""
        return self.reliable if self.model_reliable is None else self.model_reliable


@dataclass(frozen=True)
class WindowFace:
    """A window's front-end summary: abstain (with the reason) or the measured components."""

    abstain: str | None = None
    components: np.ndarray | None = None  # float32 [12]; 0 where not reliable
    reliable: np.ndarray | None = None  # bool [12]


def frame_face(observation: object, config: object) -> FrameFace | None:
    """The FrameFace of a face.FaceObservation (None without the front end or a face)."""
    front = getattr(observation, 'frontend', None)
    if front is None:
        return None
    return FrameFace(
        np.asarray(front.components, dtype=np.float32).reshape(NUM_COMPONENTS),
        np.asarray(front.reliable, dtype=bool).reshape(NUM_COMPONENTS),
        low_quality(front, config),
        np.asarray(front.model_reliable, dtype=bool).reshape(NUM_COMPONENTS),
    )


def window_face(faces: list[FrameFace | None], max_low_quality: float) -> WindowFace:
    """Summarise the distinct frames of a window (see the module docstring).

    Abstains when more than `max_low_quality` of the measured frames are low quality; the
    reason is the most common one ('face_small', 'yaw', 'pitch', 'occluded', ...).
    """
    measured = [f for f in faces if f is not None]
    if not measured:
        return WindowFace()
    bad = [f.low_quality for f in measured if f.low_quality is not None]
    if len(bad) > max_low_quality * len(measured):
        return WindowFace(abstain=Counter(bad).most_common(1)[0][0])
    comps = np.stack([f.components for f in measured])
    ok = np.stack([f.reliable for f in measured])
    reliable = ok.mean(axis=0) >= 0.5  # most frames saw it: one lucky frame is no evidence
    out = np.zeros(NUM_COMPONENTS, dtype=np.float32)
    for k in np.flatnonzero(reliable):
        out[k] = float(np.median(comps[ok[:, k], k]))
    return WindowFace(components=out, reliable=reliable)
