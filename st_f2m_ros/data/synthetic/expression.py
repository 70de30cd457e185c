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
"""Expression model: FACS action-unit prototypes -> Table II component targets.

The prototypes are the EMFACS-style predictions for the six basic emotions of Ekman, Friesen &
Hager, *Facial Action Coding System: Investigator's Guide* (2002), as summarised in Matsumoto &
Ekman, "Facial expression analysis", Scholarpedia 3(5):4237 (2008), table 1:

* happiness AU6 + AU12
* sadness   AU1 + AU4 + AU15
* surprise  AU1 + AU2 + AU5 + AU26
* fear      AU1 + AU2 + AU4 + AU5 + AU7 + AU20 + AU26
* anger     AU4 + AU5 + AU7 + AU23 (+ AU38 nostril dilator, weak: "nostrils may flare")
* disgust   AU9 + AU15 + AU16

Each AU moves the Table II components it acts on, following the FACS manual's appearance
descriptions (e.g. AU4 lowers the brows and draws them together, AU12 pulls the lip corners up).
Intensity low / medium / high is the AU intensity (FACS B / C-D / E). This module deliberately
knows nothing of the fuzzy rule base (`resources/fuzzy_rules.yaml`): the fuzzy module has to
*learn* how these faces relate to classes, so its benefit is measured, not built in.
"""

from __future__ import annotations

import numpy as np

from st_f2m_ros.taxonomy import (
    COMPONENTS,
    EMOTIONS,
    INTENSITIES,
    NUM_COMPONENTS,
    UNIPOLAR_COMPONENTS,
    decode_class,
)

# Action units used, in a fixed order (the AU-activation vector's index).
ACTION_UNITS: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 12, 15, 16, 20, 23, 26, 38)
AU_INDEX: dict[int, int] = {au: i for i, au in enumerate(ACTION_UNITS)}

# Prototype AUs per basic emotion with a relative weight (1 = the AU at the emotion's intensity).
PROTOTYPES: dict[str, dict[int, float]] = {
    'happiness': {6: 1.0, 12: 1.0},
    'sadness': {1: 1.0, 4: 0.6, 15: 1.0},
    'surprise': {1: 1.0, 2: 1.0, 5: 1.0, 26: 1.0},
    'fear': {1: 1.0, 2: 0.8, 4: 0.6, 5: 1.0, 7: 0.5, 20: 1.0, 26: 0.6},
    'anger': {4: 1.0, 5: 0.7, 7: 1.0, 23: 1.0, 38: 0.6},
    'disgust': {9: 1.0, 15: 0.8, 16: 1.0},
}

# FACS intensity of an AU at each intensity level (B ~ slight, C/D ~ marked, E ~ maximum).
INTENSITY_LEVEL: dict[str, float] = {'low': 0.35, 'medium': 0.65, 'high': 1.0}

_C = {name: i for i, name in enumerate(COMPONENTS)}


def _effects() -> np.ndarray:
    """Matrix [n_AU, 12]: component change of one AU at full (E) intensity.

    Rows follow the FACS manual's description of each action's appearance changes.
    """
    m = np.zeros((len(ACTION_UNITS), NUM_COMPONENTS), dtype=np.float64)

    def put(au: int, **changes: float) -> None:
        for comp, value in changes.items():
            m[AU_INDEX[au], _C[comp]] = value

    put(1, left_eyebrow=0.55, right_eyebrow=0.55)  # inner brow raiser
    put(2, left_eyebrow=0.5, right_eyebrow=0.5)  # outer brow raiser
    put(4, left_eyebrow=-0.6, right_eyebrow=-0.6, brow_crest=1.0)  # brow lowerer
    put(5, left_eye=0.9, right_eye=0.9)  # upper lid raiser
    put(6, left_eye=-0.45, right_eye=-0.45)  # cheek raiser narrows the eye
    put(7, left_eye=-0.6, right_eye=-0.6)  # lid tightener
    put(
        9, nose=1.0, nostril=0.35, left_eyebrow=-0.25, right_eyebrow=-0.25, upper_lip=0.2
    )  # nose wrinkler
    put(
        12,
        left_mouth_corner=1.0,
        right_mouth_corner=1.0,
        upper_lip=-0.25,
        lower_lip=-0.15,
        mouth=0.15,
    )  # lip corner puller
    put(15, left_mouth_corner=-1.0, right_mouth_corner=-1.0)  # lip corner depressor
    put(16, lower_lip=0.7, mouth=0.3)  # lower lip depressor
    put(
        20,
        upper_lip=-0.45,
        lower_lip=-0.45,
        left_mouth_corner=-0.3,
        right_mouth_corner=-0.3,
        mouth=0.1,
    )  # lip stretcher
    put(23, upper_lip=-0.85, lower_lip=-0.85)  # lip tightener
    put(26, mouth=1.0)  # jaw drop
    put(38, nostril=1.0)  # nostril dilator
    return m


AU_EFFECTS: np.ndarray = _effects()

_LOWER = np.array([0.0 if c in UNIPOLAR_COMPONENTS else -1.0 for c in COMPONENTS])
_UPPER = np.ones(NUM_COMPONENTS)


def clip_components(values: np.ndarray) -> np.ndarray:
    """Clip component values to the Table II scale (bipolar [-1, 1], unipolar [0, 1])."""
    return np.clip(values, _LOWER, _UPPER)


def au_activation(emotion: str, intensity: str) -> np.ndarray:
    """AU intensity vector [n_AU] in [0, 1] of a basic emotion at an intensity level."""
    if emotion not in EMOTIONS:
        raise ValueError(f'unknown emotion {emotion!r}; expected one of {EMOTIONS}')
    if intensity not in INTENSITIES:
        raise ValueError(f'unknown intensity {intensity!r}; expected one of {INTENSITIES}')
    act = np.zeros(len(ACTION_UNITS))
    level = INTENSITY_LEVEL[intensity]
    for au, weight in PROTOTYPES[emotion].items():
        act[AU_INDEX[au]] = min(1.0, weight * level)
    return act


def class_activation(cid: int) -> np.ndarray:
    """AU activation of a fine-grained class id (all zeros for neutral)."""
    fc = decode_class(cid)
    if fc.class_id == 0:
        return np.zeros(len(ACTION_UNITS))
    return au_activation(fc.emotion, fc.intensity)


# Activations of all 19 classes, [19, n_AU]; index by class id.
CLASS_ACTIVATIONS: np.ndarray = np.stack([class_activation(c) for c in range(19)])


def components_from_aus(activation: np.ndarray) -> np.ndarray:
    """Component targets [..., 12] of AU activations [..., n_AU] (before subject idiosyncrasy).

    AU effects add; opposing actions (AU5 raises the lid, AU7 tightens it) partly cancel, as
    their appearance changes do on a real face.
    """
    return activation @ AU_EFFECTS
