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
"""Map the 6 x 3 fine-grained output onto ROS4HRI's expression vocabulary (REP 155).

`hri_msgs/Expression` names categorical expressions ("annoyed", "angry", "furious", ...) and a
valence/arousal pair in [-1, 1]. Its vocabulary is graded for some emotions (annoyed < angry <
furious, surprised < amazed, scared < horrified, disappointed < sad < despaired, happy <
excited) and not for others (disgust has one term); where it is not graded the intensity is
carried by the arousal value. Valence/arousal anchors are the usual positions of the basic
emotions on Russell's circumplex, scaled by the FKIS defuzzified intensity (paper V-B3).
An abstaining state (unknown, stale, no face, low confidence) maps to no expression at all:
downstream HRI nodes must not receive a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from st_f2m_ros.runtime.subjects import subject_id_problem
from st_f2m_ros.taxonomy import EMOTIONS, INTENSITIES, NEUTRAL, decode_class

# hri_msgs/Expression constants used here (their string values).
HRI_VOCABULARY: frozenset[str] = frozenset(
    {
        'neutral',
        'angry',
        'sad',
        'happy',
        'surprised',
        'disgusted',
        'scared',
        'pleading',
        'vulnerable',
        'despaired',
        'guilty',
        'disappointed',
        'embarrassed',
        'horrified',
        'skeptical',
        'annoyed',
        'furious',
        'suspicious',
        'rejected',
        'bored',
        'tired',
        'asleep',
        'confused',
        'amazed',
        'excited',
    }
)

# (emotion, intensity) -> expression; intensities low / medium / high.
EXPRESSION_TABLE: dict[str, tuple[str, str, str]] = {
    'happiness': ('happy', 'happy', 'excited'),
    'anger': ('annoyed', 'angry', 'furious'),
    'sadness': ('disappointed', 'sad', 'despaired'),
    'disgust': ('disgusted', 'disgusted', 'disgusted'),
    'fear': ('scared', 'scared', 'horrified'),
    'surprise': ('surprised', 'surprised', 'amazed'),
}

# Circumplex anchors (valence, arousal) of each basic emotion at full intensity.
VALENCE_AROUSAL: dict[str, tuple[float, float]] = {
    NEUTRAL: (0.0, 0.0),
    'happiness': (0.8, 0.5),
    'anger': (-0.6, 0.8),
    'sadness': (-0.7, -0.4),
    'disgust': (-0.6, 0.3),
    'fear': (-0.7, 0.8),
    'surprise': (0.2, 0.9),
}

# Fraction of the anchor reached at zero defuzzified intensity (low expressions still count).
MIN_SCALE = 0.4


@dataclass(frozen=True)
class HriExpression:
    """The fields of an hri_msgs/Expression (without the header)."""

    expression: str
    valence: float
    arousal: float
    confidence: float


def _clip(v: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, v))


def expression_for(
    class_id: int, intensity_value: float, confidence: float, status: int = 0
) -> HriExpression | None:
    """Return the REP 155 expression of one EmotionState, or None when it abstains.

    Args:
        class_id: fine-grained class (taxonomy.CLASS_LABELS index).
        intensity_value: FKIS defuzzified intensity in [0, 1].
        confidence: probability of the class in [0, 1].
        status: EmotionState.status; anything but STATUS_OK (0) abstains.

    """
    if status != 0:
        return None
    fine = decode_class(int(class_id))
    scale = MIN_SCALE + (1.0 - MIN_SCALE) * _clip(float(intensity_value), 0.0, 1.0)
    valence, arousal = VALENCE_AROUSAL[fine.emotion]
    if fine.emotion == NEUTRAL:
        name = 'neutral'
    else:
        name = EXPRESSION_TABLE[fine.emotion][INTENSITIES.index(fine.intensity)]
    return HriExpression(
        expression=name,
        valence=_clip(valence * scale, -1.0, 1.0),
        arousal=_clip(arousal * scale, -1.0, 1.0),
        confidence=_clip(float(confidence), 0.0, 1.0),
    )


def table_is_complete() -> bool:
    """True when every emotion has three terms, all in the REP 155 vocabulary."""
    return set(EXPRESSION_TABLE) == set(EMOTIONS) and all(
        len(terms) == len(INTENSITIES) and set(terms) <= HRI_VOCABULARY
        for terms in EXPRESSION_TABLE.values()
    )


def subject_from_tracked(person_ids: Sequence[str], fallback: str) -> str:
    """The subject to recognise and adapt for, given REP 155 tracked person ids.

    Exactly one valid tracked person: that person's id (adaptations are keyed by it). None or
    several (whose face the camera crop shows is then ambiguous): the configured subject.
    """
    valid = sorted({p for p in person_ids if p and subject_id_problem(p) is None})
    return valid[0] if len(valid) == 1 else fallback
