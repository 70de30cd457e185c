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
"""Synthetic people: identity (how the face looks) and idiosyncrasy (how it moves).

Identity changes the face's shape, colours, size and feature placement, so a model must
generalise across people. Idiosyncrasy is what makes few-shot adaptation (paper V-A, eq. 6)
pay off: each subject shows emotions with their own expressiveness gain, their own per-AU
gains, and resting offsets (e.g. mouth corners that sit low at rest, which a population model
reads as sadness).
"""

from __future__ import annotations

from dataclasses import dataclass
import zlib

import numpy as np

from st_f2m_ros.data.synthetic.expression import ACTION_UNITS, clip_components
from st_f2m_ros.taxonomy import COMPONENTS, NUM_COMPONENTS

# Skin tones (BGR), from light to dark; each subject perturbs one.
SKIN_TONES: tuple[tuple[int, int, int], ...] = (
    (189, 208, 235),
    (160, 190, 225),
    (130, 170, 205),
    (110, 145, 190),
    (85, 115, 160),
    (72, 100, 142),
    (62, 88, 128),
)
HAIR_COLOURS: tuple[tuple[int, int, int], ...] = (
    (20, 20, 25),
    (30, 45, 70),
    (40, 70, 110),
    (90, 140, 180),
    (150, 150, 150),
    (60, 60, 60),
)


@dataclass(frozen=True)
class Subject:
    """One synthetic person. Lengths are in face units (face half-width = 1)."""

    subject_id: str
    # Placement and size in a 640x480 frame (scaled to other resolutions).
    center: tuple[float, float]  # face centre as a fraction of (width, height)
    half_width: float  # face half-width in pixels at 640x480
    aspect: float  # face half-height / half-width
    # Colours (BGR).
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    lips: tuple[int, int, int]
    iris: tuple[int, int, int]
    background: tuple[int, int, int]
    hair_style: int  # 0 short, 1 long, 2 bald-ish
    # Feature placement.
    eye_dx: float
    eye_y: float
    eye_w: float
    eye_open: float  # neutral lid gap / eye width
    brow_gap: float
    brow_thick: float
    brow_len: float
    nose_len: float
    nostril_w: float
    mouth_y: float
    mouth_w: float
    upper_lip: float
    lower_lip: float
    # Idiosyncrasy.
    gain: float  # overall expressiveness
    au_gain: tuple[float, ...]  # per action unit (expression.ACTION_UNITS order)
    offsets: tuple[float, ...]  # resting component offsets (Table II order)

    def expression_components(self, activation: np.ndarray) -> np.ndarray:
        """This person's component values [..., 12] for AU activations [..., n_AU]."""
        from st_f2m_ros.data.synthetic.expression import components_from_aus

        act = np.asarray(activation) * np.asarray(self.au_gain) * self.gain
        return clip_components(components_from_aus(act) + np.asarray(self.offsets))


def _rng(subject_id: str, seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(subject_id.encode())]))


def make_subject(subject_id: str, seed: int = 0, idiosyncrasy: float = 1.0) -> Subject:
    """Draw a person deterministically from (`subject_id`, `seed`).

    Args:
        subject_id: the person's id (part of the seed, so ids are stable across runs).
        seed: dataset seed.
        idiosyncrasy: scale of the per-person gains and offsets (0 = everyone moves alike).

    """
    r = _rng(subject_id, seed)
    u = r.uniform

    def jitter(c: tuple[int, int, int], s: float) -> tuple[int, int, int]:
        return tuple(int(np.clip(v + r.normal(0, s), 0, 255)) for v in c)  # type: ignore[return-value]

    skin = jitter(SKIN_TONES[r.integers(len(SKIN_TONES))], 8)
    lips = tuple(
        int(np.clip(v, 0, 255)) for v in (skin[0] * 0.6, skin[1] * 0.55, skin[2] * 0.85 + 25)
    )
    bg_level = u(40, 215)
    background = jitter(
        (int(bg_level), int(bg_level * u(0.8, 1.2)), int(bg_level * u(0.8, 1.2))), 10
    )

    offsets = r.normal(0.0, 0.08, NUM_COMPONENTS)
    if r.uniform() < 0.6:  # one marked resting trait, e.g. low mouth corners or raised brows
        trait = r.choice(['corners', 'brows', 'eyes', 'lips'])
        amount = r.choice([-1.0, 1.0]) * u(0.25, 0.4)
        pairs = {
            'corners': ('left_mouth_corner', 'right_mouth_corner'),
            'brows': ('left_eyebrow', 'right_eyebrow'),
            'eyes': ('left_eye', 'right_eye'),
            'lips': ('upper_lip', 'lower_lip'),
        }[trait]
        for name in pairs:
            offsets[COMPONENTS.index(name)] += amount
    offsets = clip_components(offsets * idiosyncrasy)
    au_gain = np.exp(r.normal(0.0, 0.25 * idiosyncrasy, len(ACTION_UNITS)))
    gain = float(np.exp(r.normal(0.0, 0.22 * idiosyncrasy)))

    return Subject(
        subject_id=subject_id,
        center=(float(u(0.38, 0.62)), float(u(0.45, 0.56))),
        half_width=float(u(58, 82)),
        aspect=float(u(1.2, 1.38)),
        skin=skin,
        hair=HAIR_COLOURS[r.integers(len(HAIR_COLOURS))],
        lips=lips,  # type: ignore[arg-type]
        iris=jitter((60, 80, 90), 30),
        background=background,
        hair_style=int(r.integers(3)),
        eye_dx=float(u(0.36, 0.43)),
        eye_y=float(u(-0.26, -0.18)),
        eye_w=float(u(0.3, 0.35)),
        eye_open=float(u(0.36, 0.46)),
        brow_gap=float(u(0.2, 0.26)),
        brow_thick=float(u(0.07, 0.1)),
        brow_len=float(u(0.46, 0.56)),
        nose_len=float(u(0.42, 0.5)),
        nostril_w=float(u(0.09, 0.12)),
        mouth_y=float(u(0.6, 0.7)),
        mouth_w=float(u(0.54, 0.66)),
        upper_lip=float(u(0.06, 0.085)),
        lower_lip=float(u(0.09, 0.115)),
        gain=gain,
        au_gain=tuple(float(g) for g in au_gain),
        offsets=tuple(float(o) for o in offsets),
    )


def make_subjects(
    n: int, seed: int = 0, prefix: str = 's', idiosyncrasy: float = 1.0
) -> list[Subject]:
    """Draw `n` people with ids `<prefix>000`, `<prefix>001`, ..."""
    return [make_subject(f'{prefix}{i:03d}', seed, idiosyncrasy) for i in range(n)]
