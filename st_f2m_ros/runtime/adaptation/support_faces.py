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
"""Support frames through the live pipeline's face stage, and the neutral face they give.

Adaptation must see what inference sees: a support frame goes through the same
`perception.face_stage.FaceStage.observe` as a camera frame, built from the running
pipeline's `FaceConfig` (detector, crop box rule, quality limits), so its crop is cut from the
same box and its twelve components are measured by the same front end. The stage is a
separate instance (it is stateful and not thread-safe; the pipeline's own runs on the camera
thread) and each source starts as a new person. With the Haar fallback nothing is measured.

Neutral support clips are the person's neutral face: their frames' raw measures set a
`NeutralBaseline` (source 'support'), handed to the pipeline after a successful /adapt and
persisted with the adaptation (`NEUTRAL_KEY` in the store's metadata).
"""

from __future__ import annotations

from collections.abc import Callable
import math
from typing import Any, NamedTuple, Protocol

import numpy as np

from st_f2m_ros.errors import AdaptationError
from st_f2m_ros.perception.face import FaceConfig
from st_f2m_ros.taxonomy import NUM_COMPONENTS

# Key of the neutral baseline (NeutralBaseline.state()) in a stored adaptation's metadata.
NEUTRAL_KEY = 'neutral_baseline'
# Stamp step for support frames whose stamps do not increase (unstamped inline frames).
_STEP = 1.0 / 30.0


class FaceTarget(Protocol):
    """What the adaptation manager needs of the pipeline (runtime.pipeline.PerceptionPipeline)."""

    @property
    def face_config(self) -> Any:
        """The running face stage's perception.face.FaceConfig."""
        ...

    def set_neutral(self, subject: str, state: dict[str, Any] | None) -> None:
        """`subject`'s neutral baseline from support clips (None: none, learn it online)."""
        ...


class SupportFrame(NamedTuple):
    """One support frame's face: crop (None: no face) and, with the front end, its measures."""

    crop: np.ndarray | None
    raw: np.ndarray | None = None  # float64 [12] raw measures in IOD units
    components: np.ndarray | None = None  # float32 [12] vs the stage's neutral baseline
    reliable: np.ndarray | None = None  # bool [12]
    model_reliable: np.ndarray | None = None  # bool [12] FaceObservation.model_reliable


class SupportFaces:
    """The face stage applied to support frames: `begin()` per source, then one call a frame.

    Args:
        face: the running pipeline's face settings.
        size: the model's crop size.
    """

    def __init__(self, face: FaceConfig, size: int) -> None:
        from st_f2m_ros.perception.face_stage import FaceStage

        self.face, self.size = face, int(size)
        self.stage = FaceStage(face)
        self._last: float | None = None

    @property
    def measuring(self) -> bool:
        """True when the real-face front end runs (False: the Haar detector / fallback)."""
        return self.stage.frontend is not None

    def begin(self) -> None:
        """A new source: forget the followed face and the learnt neutral (a fresh person)."""
        self.stage.new_person()
        self._last = None

    def __call__(self, t: float, bgr: np.ndarray) -> SupportFrame:
        """The face of one decoded frame (which the caller then drops)."""
        t = float(t)
        if self._last is not None and not t > self._last:
            t = self._last + _STEP  # the tracker's smoothing needs increasing stamps
        self._last = t
        obs, crop = self.stage.observe(t, bgr, self.size)
        front = obs.frontend
        if front is None:
            return SupportFrame(crop)
        return SupportFrame(
            crop,
            np.asarray(front.raw, dtype=np.float64),
            np.asarray(front.components, dtype=np.float32),
            np.asarray(front.reliable, dtype=bool),
            np.asarray(front.model_reliable, dtype=bool),
        )

    def neutral_state(self, raws: np.ndarray, reliable: np.ndarray) -> dict[str, Any] | None:
        """The NeutralBaseline state of neutral frames' raw measures [N, 12] (None: no frame)."""
        from st_f2m_ros.perception.face_components import NeutralBaseline

        if not self.measuring or not len(raws):
            return None
        front = self.stage.frontend
        baseline = NeutralBaseline(front.cset, front.config.baseline)
        baseline.set_from_support(raws, reliable)
        return baseline.state()

    def relative(self, raws: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        """Components [N, 12] of raw measures against a neutral baseline state."""
        from st_f2m_ros.perception.face_components import to_components

        cset = self.stage.frontend.cset
        neutral = np.asarray(state['neutral'], dtype=np.float64)
        return np.stack([to_components(r, neutral, cset) for r in raws]).reshape(-1, 12)


class CropOnly:
    """A plain `bgr -> crop | None` cropper with SupportFaces' interface; measures nothing.

    For support clips that already are face crops (`support_clips_are_crops`, e.g. the
    generator's): the whole frame is the crop, with no face stage (it would cost a detector
    and mesh run per frame, 5-6 ms on a 96 px crop here, where there is nothing to find), so no
    measured components and no neutral face come from them.
    """

    measuring = False

    def __init__(self, crop_fn: Callable[[np.ndarray], np.ndarray | None]) -> None:
        self.crop_fn = crop_fn

    def begin(self) -> None:
        """Nothing to forget."""

    def __call__(self, t: float, bgr: np.ndarray) -> SupportFrame:
        return SupportFrame(self.crop_fn(bgr))


def whole_frame_crop(bgr: np.ndarray, size: int) -> np.ndarray:
    """The whole frame as the face crop (support clips that already are crops)."""
    from st_f2m_ros.perception.crop import crop_face

    h, w = bgr.shape[:2]
    return crop_face(bgr, (0.0, 0.0, float(w), float(h)), size, margin=0.0)


def check_neutral_state(state: Any) -> dict[str, Any] | None:
    """A stored neutral baseline state, validated (None when absent); AdaptationError if bad.

    Safe loading: only numbers and booleans of the expected length are taken.
    """
    if state is None:
        return None
    if not isinstance(state, dict):
        raise AdaptationError('stored neutral baseline is not a mapping')
    neutral, ready = state.get('neutral'), state.get('ready', [True] * NUM_COMPONENTS)
    if (
        not isinstance(neutral, list)
        or not isinstance(ready, list)
        or len(neutral) != NUM_COMPONENTS
        or len(ready) != NUM_COMPONENTS
        or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in neutral
        )
        or not all(isinstance(v, bool) for v in ready)
    ):
        raise AdaptationError(
            f'stored neutral baseline needs {NUM_COMPONENTS} finite "neutral" values and '
            f'{NUM_COMPONENTS} "ready" flags'
        )
    return {
        'neutral': [float(v) for v in neutral],
        'ready': list(ready),
        'source': 'support',
    }


def stored_neutral(meta: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """(the neutral baseline stored with an adaptation or None, a note when it is unusable)."""
    try:
        return check_neutral_state(meta.get(NEUTRAL_KEY)), ''
    except AdaptationError as err:
        return None, f'; neutral face not used: {err}'
