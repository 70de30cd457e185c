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
"""The shared vocabulary: emotions, intensity levels, fine-grained classes, facial components.

One place for the ids that appear in `msg/EmotionState.msg` (its constants must agree with this
module; a test checks it), in datasets, in the fuzzy rule base and in the model head.

The fine-grained label space follows the paper (section VI-B): six basic emotions x three
intensity levels (low / medium / high) = 18 classes, plus neutral as class 0. The facial
components are the twelve of Table II, in the table's order.
"""

from __future__ import annotations

from dataclasses import dataclass

# Basic emotions, in the order the paper lists them (section VI-B). Id 0 is neutral.
NEUTRAL = 'neutral'
EMOTIONS: tuple[str, ...] = ('happiness', 'anger', 'sadness', 'disgust', 'fear', 'surprise')
EMOTION_IDS: dict[str, int] = {NEUTRAL: 0, **{e: i + 1 for i, e in enumerate(EMOTIONS)}}
UNKNOWN_EMOTION_ID = 255  # EmotionState.UNKNOWN: abstain / stale / no face

# Intensity levels (EmotionState.INTENSITY_*). Neutral carries INTENSITY_NONE.
INTENSITIES: tuple[str, ...] = ('low', 'medium', 'high')
INTENSITY_IDS: dict[str, int] = {'none': 0, **{k: i + 1 for i, k in enumerate(INTENSITIES)}}

# Fine-grained classes: 'neutral', then '<emotion>_<intensity>' emotion-major.
CLASS_LABELS: tuple[str, ...] = (
    NEUTRAL,
    *(f'{e}_{k}' for e in EMOTIONS for k in INTENSITIES),
)
NUM_CLASSES = len(CLASS_LABELS)  # 19

# Table II facial components, in the table's order (EmotionState.components index).
COMPONENTS: tuple[str, ...] = (
    'left_eyebrow',        # Low-Normal-Raised, -1/0/1
    'right_eyebrow',       # Low-Normal-Raised, -1/0/1
    'brow_crest',          # Normal-Frowning, 0/1
    'left_eye',            # Narrow-Normal-Wide, -1/0/1
    'right_eye',           # Narrow-Normal-Wide, -1/0/1
    'nose',                # Normal-Wrinkled, 0/1
    'nostril',             # Normal-Dilated, 0/1
    'mouth',               # Normal-Open, 0/1
    'upper_lip',           # Thin-Normal-Thick, -1/0/1
    'lower_lip',           # Thin-Normal-Thick, -1/0/1
    'left_mouth_corner',   # Low-Normal-Raised, -1/0/1
    'right_mouth_corner',  # Low-Normal-Raised, -1/0/1
)
NUM_COMPONENTS = len(COMPONENTS)  # 12

# Value range of each component: bipolar components live in [-1, 1], unipolar in [0, 1].
UNIPOLAR_COMPONENTS = frozenset({'brow_crest', 'nose', 'nostril', 'mouth'})

# Modalities bitmask (EmotionState.MODALITY_*).
MODALITY_NONE = 0
MODALITY_VISION = 1
MODALITY_TEXT = 2


@dataclass(frozen=True)
class FineClass:
    """A fine-grained class decoded into its parts."""

    class_id: int
    label: str
    emotion: str
    emotion_id: int
    intensity: str
    intensity_id: int


def class_id(emotion: str, intensity: str | None = None) -> int:
    """Return the fine-grained class id of an emotion and intensity ('neutral' needs none)."""
    if emotion == NEUTRAL:
        return 0
    if emotion not in EMOTIONS:
        raise ValueError(f'unknown emotion {emotion!r}; expected one of {(NEUTRAL, *EMOTIONS)}')
    if intensity not in INTENSITIES:
        raise ValueError(f'unknown intensity {intensity!r}; expected one of {INTENSITIES}')
    return 1 + EMOTIONS.index(emotion) * len(INTENSITIES) + INTENSITIES.index(intensity)


def decode_class(cid: int) -> FineClass:
    """Split a class id into emotion and intensity (ids as in EmotionState.msg)."""
    if not 0 <= cid < NUM_CLASSES:
        raise ValueError(f'class id {cid} out of range 0..{NUM_CLASSES - 1}')
    if cid == 0:
        return FineClass(0, NEUTRAL, NEUTRAL, 0, 'none', 0)
    e, k = divmod(cid - 1, len(INTENSITIES))
    return FineClass(cid, CLASS_LABELS[cid], EMOTIONS[e], e + 1, INTENSITIES[k], k + 1)


def class_id_from_label(label: str) -> int:
    """Return the id of a class label such as 'anger_high'; raise ValueError naming the choices."""
    try:
        return CLASS_LABELS.index(label)
    except ValueError:
        raise ValueError(
            f'unknown class label {label!r}; expected one of {", ".join(CLASS_LABELS)}'
        ) from None


def basic_emotion_of(cid: int) -> int:
    """Map a fine-grained class id to its basic-emotion id (0 = neutral, 1..6)."""
    return decode_class(cid).emotion_id
