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
"""The rule base's data types and Table II's coding notation (no validation, no I/O).

`RuleBase` is what `fuzzy.rules.load_rule_base` returns and what FCIS/FKIS read; codings are
12-tuples of term values, written like the paper prints them ("0010010(-1)(-1)(-1)(-1)(-1)").
"""

from __future__ import annotations

from dataclasses import dataclass
import re

import numpy as np

from st_f2m_ros import taxonomy

SHAPES: tuple[str, ...] = ('triangular', 'trapezoidal', 'gaussian', 'bell')
TNORMS: tuple[str, ...] = ('product', 'min')
SOURCES: tuple[str, ...] = ('paper', 'ours')
# Source of an `alternatives:` coding: a FACS-derived one names its action units
# ('FACS/EMFACS: AU6+AU12 (Ekman, Friesen & Hager 2002)'); 'ours' needs a note like any other.
FACS_SOURCE = re.compile(r'^(FACS|EMFACS)\b.*\bAU\d+')

# One Table II element: a digit, or a negative digit in parentheses as the paper prints it.
_CODING_TOKEN = re.compile(r'\(\s*([+-]?\d+)\s*\)|([0-9])')


@dataclass(frozen=True)
class Term:
    """A linguistic term of a component (e.g. Raised = 1); `off_scale` terms lie outside range."""

    name: str
    value: int
    off_scale: bool = False


@dataclass(frozen=True)
class Component:
    """One Table II facial component: value range and linguistic terms."""

    name: str
    low: float
    high: float
    terms: tuple[Term, ...]

    def term_index(self, value: int) -> int:
        """Return the index of the term whose value is `value` (KeyError if none)."""
        for i, term in enumerate(self.terms):
            if term.value == value:
                return i
        raise KeyError(value)


@dataclass(frozen=True)
class Rule:
    """The FKIS rule(s) of one fine-grained class: one or more 12-value codings.

    `source` / `note` are the class entry's (its first codings); `sources` / `notes` hold one
    per coding, alternatives included (e.g. 'paper' for Table II, 'FACS/EMFACS: AU6+AU12 ...').
    """

    label: str
    class_id: int
    codings: tuple[tuple[int, ...], ...]
    source: str
    note: str
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EmotionIntensity:
    """Fig. 3 intensity sets of one emotion: centres of low/medium/high and the valence sign."""

    valence: float
    centres: tuple[float, float, float]


@dataclass(frozen=True)
class RuleBase:
    """A validated rule base. `rules` is indexed by class id (0 = neutral, then 18 classes)."""

    components: tuple[Component, ...]
    rules: tuple[Rule, ...]
    fcis_shape: str
    alpha: float
    fkis_shape: str
    beta: float
    bell_slope: float
    tnorm: str
    floor: float
    label_threshold: float
    neutral_centre: float
    intensity: dict[str, EmotionIntensity]
    path: str = ''

    def coding_matrix(self) -> np.ndarray:
        """Return int8 [R, 12] with every coding, and its class ids via `coding_classes()`."""
        return np.array([c for r in self.rules for c in r.codings], dtype=np.int8)

    def coding_classes(self) -> np.ndarray:
        """Return int64 [R]: the class id of each row of `coding_matrix()`."""
        return np.array([r.class_id for r in self.rules for _ in r.codings], dtype=np.int64)

    def intensity_centres(self) -> np.ndarray:
        """Return float32 [18]: the intensity centre of each fine-grained class (ids 1..18)."""
        return np.array(
            [self.intensity[e].centres[k] for e in taxonomy.EMOTIONS for k in range(3)],
            dtype=np.float32,
        )

    def valences(self) -> np.ndarray:
        """Return float32 [18]: the valence sign of each fine-grained class (ids 1..18)."""
        return np.array(
            [self.intensity[e].valence for e in taxonomy.EMOTIONS for _ in range(3)],
            dtype=np.float32,
        )


def parse_coding(text: str) -> tuple[int, ...]:
    """Parse a Table II coding such as '0010010(-1)(-1)(-1)(-1)(-1)' into integers.

    Single digits stand alone; any other integer is written in parentheses, as in the paper.
    Raises ValueError on any other character.
    """
    values: list[int] = []
    pos = 0
    compact = ''.join(text.split())
    while pos < len(compact):
        match = _CODING_TOKEN.match(compact, pos)
        if match is None:
            raise ValueError(
                f'cannot read {compact[pos:]!r} in coding {text!r}: write single digits, '
                'and negative values in parentheses, e.g. "0010010(-1)(-1)(-1)(-1)(-1)"'
            )
        values.append(int(match.group(1) if match.group(1) is not None else match.group(2)))
        pos = match.end()
    return tuple(values)


def format_coding(coding: tuple[int, ...] | list[int]) -> str:
    """Write a coding the way Table II prints it (inverse of `parse_coding`)."""
    return ''.join(str(v) if 0 <= v <= 9 else f'({v})' for v in coding)
