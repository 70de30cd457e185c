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
"""Plain result dataclasses of the perception pipeline (mirror msg/EmotionState, EmotionSequence).

The field names are those of the .msg files, with times as float seconds in the clock of the
input messages, so `runtime.messages.sequence_to_msg` fills a message from them directly and
`sequence_from_msg` reads one back into them (one record class per message: the converters'
old `EmotionStateRecord` / `EmotionSequenceRecord` are these). `FrameOutcome` is what one
camera frame produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from st_f2m_ros.taxonomy import CLASS_LABELS, NUM_COMPONENTS, decode_class

# EmotionState.STATUS_* (msg/EmotionState.msg).
STATUS_OK = 0
STATUS_LOW_CONFIDENCE = 1
STATUS_STALE = 2
STATUS_NO_FACE = 3
STATUS_NAMES = {
    STATUS_OK: 'ok',
    STATUS_LOW_CONFIDENCE: 'low_confidence',
    STATUS_STALE: 'stale',
    STATUS_NO_FACE: 'no_face',
}
UNKNOWN = 255  # EmotionState.UNKNOWN


@dataclass
class EmotionStateResult:
    """One state over [start, end] (seconds). Non-OK states carry emotion UNKNOWN.

    `component_reliable` is False for components that could not be measured (their value is
    0); `components_measured` says whether `components` come from the real-face front end's
    landmarks (True) or are the model's FCIS estimate (False); `reason` says why a
    LOW_CONFIDENCE / NO_FACE state abstained ('' = low probability or no face; else a face
    quality reason such as 'face_small', 'yaw', 'occluded').
    """

    start: float
    end: float
    class_id: int
    confidence: float
    class_probabilities: np.ndarray
    components: np.ndarray
    intensity_value: float = 0.0
    modalities: int = 0
    status: int = STATUS_OK
    emotion: int | None = None  # None: derived from class_id when converted to a message
    intensity: int | None = None
    emotion_label: str = 'neutral'
    class_label: str = 'neutral'
    component_reliable: np.ndarray | None = None  # None: all reliable (bool [12])
    components_measured: bool = False
    reason: str = ''

    def __post_init__(self) -> None:
        if self.component_reliable is None:
            self.component_reliable = np.ones(NUM_COMPONENTS, dtype=bool)

    @classmethod
    def decided(
        cls,
        start: float,
        end: float,
        class_id: int,
        probs: np.ndarray,
        components: np.ndarray,
        intensity_value: float,
        modalities: int,
        status: int = STATUS_OK,
        reliable: np.ndarray | None = None,
        measured: bool = False,
    ) -> EmotionStateResult:
        """Build a state for `class_id`; labels and ids from the taxonomy, UNKNOWN unless OK."""
        fine = decode_class(int(class_id))
        ok = status == STATUS_OK
        return cls(
            start=float(start),
            end=float(end),
            class_id=int(class_id),
            confidence=float(probs[class_id]) if len(probs) else 0.0,
            class_probabilities=np.asarray(probs, dtype=np.float32),
            components=np.asarray(components, dtype=np.float32).reshape(NUM_COMPONENTS),
            intensity_value=float(intensity_value),
            modalities=int(modalities),
            status=int(status),
            emotion=fine.emotion_id if ok else UNKNOWN,
            intensity=fine.intensity_id if ok else 0,
            emotion_label=fine.emotion if ok else 'unknown',
            class_label=fine.label,
            component_reliable=None if reliable is None else np.asarray(reliable, dtype=bool),
            components_measured=bool(measured),
        )

    @classmethod
    def undecided(
        cls, start: float, end: float, status: int, num_classes: int = len(CLASS_LABELS),
        reason: str = '',
    ) -> EmotionStateResult:  # fmt: skip
        """A state without a decision (stale input, no face): zero probabilities.

        Nothing was measured for it, so every component is marked unreliable.
        """
        return cls(
            start=float(start),
            end=float(end),
            class_id=0,
            confidence=0.0,
            class_probabilities=np.zeros(num_classes, dtype=np.float32),
            components=np.zeros(NUM_COMPONENTS, dtype=np.float32),
            status=int(status),
            emotion=UNKNOWN,
            emotion_label='unknown',
            class_label=CLASS_LABELS[0],
            component_reliable=np.zeros(NUM_COMPONENTS, dtype=bool),
            reason=reason,
        )


@dataclass
class EmotionSequenceResult:
    """What the pipeline publishes: states in time order, stamped with the newest input."""

    stamp: float
    subject_id: str
    model_id: str
    states: list[EmotionStateResult]
    class_labels: tuple[str, ...] = CLASS_LABELS
    frame_id: str = ''
    window_size: float = 0.0
    window_hop: float = 0.0
    processing_latency: float = 0.0

    @property
    def current(self) -> EmotionStateResult | None:
        """The newest state (what a control node acts on)."""
        return self.states[-1] if self.states else None


@dataclass
class FrameOutcome:
    """What one camera frame produced: the node publishes from it without asking again.

    `result` is set when the frame completed a window (ids already set by the pipeline);
    `observation` is the face tracker's report (None when the frame was skipped); `image` is
    the decoded BGR frame when asked for (`keep_image`, the debug image: decoded once);
    `skipped` names the cause when the frame was refused.
    """

    stamp: float
    frame_id: str = ''
    result: EmotionSequenceResult | None = None
    observation: Any = None
    image: np.ndarray | None = None
    skipped: str | None = None
