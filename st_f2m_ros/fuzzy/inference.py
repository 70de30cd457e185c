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
"""Generalized fuzzy inference F = FKIS(FCIS(h)) (paper section V-B3) and rule-based labelling.

`FuzzyInference` is the module the model puts between the encoder and the classifier: it
returns the 12 components, the 18 fine-grained memberships (+ neutral), the defuzzified
intensity and the one-dimensional fuzzy semantic value, and `FuzzyOutput.features()` is what
gets appended to the representation. The paper appends only the semantic value; by default we
append the whole interpretable bottleneck (components, memberships, intensity, semantic:
32 numbers), and `features='semantic'` gives the paper's single number.

`label_from_components` uses the same rule base without any learned part to label data from
component values alone (the paper's DISFA-FER / WFLW-FER construction, section IV).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from st_f2m_ros import taxonomy
from st_f2m_ros.errors import ConfigError, DataError
from st_f2m_ros.fuzzy.fcis import FCIS, ComponentTerms
from st_f2m_ros.fuzzy.fkis import FKIS
from st_f2m_ros.fuzzy.rules import RuleBase, load_rule_base

FEATURE_SETS: dict[str, int] = {
    'full': taxonomy.NUM_COMPONENTS + (taxonomy.NUM_CLASSES - 1) + 1 + 1,  # 32
    'semantic': 1,  # the paper's one-dimensional fuzzy semantic information
    'memberships': (taxonomy.NUM_CLASSES - 1) + 1 + 1,  # 20: memberships, intensity, semantic
}


@dataclass
class FuzzyOutput:
    """What F yields for a batch of B representations.

    components [B, 12] in the Table II scale; memberships [B, 18] (fine-grained classes 1..18,
    fuzzy, not normalised); intensity [B] in [0, 1]; semantic [B, 1]; neutral [B] (firing of
    the all-Normal rule); terms [B, 12, K] (membership of each component's terms).
    """

    components: Tensor
    memberships: Tensor
    intensity: Tensor
    semantic: Tensor
    neutral: Tensor
    terms: Tensor
    feature_set: str = 'full'

    def class_strengths(self) -> Tensor:
        """Memberships of all 19 classes [B, 19], neutral first (taxonomy.CLASS_LABELS order)."""
        return torch.cat([self.neutral.unsqueeze(-1), self.memberships], dim=-1)

    def features(self) -> Tensor:
        """The fuzzy semantic information appended to the representation [B, out_dim].

        'full' (32): [components 12 | memberships 18 | intensity 1 | semantic 1];
        'memberships' (20): the same without the components; 'semantic' (1): the paper's.
        """
        if self.feature_set == 'semantic':
            return self.semantic
        parts = [self.memberships, self.intensity.unsqueeze(-1), self.semantic]
        if self.feature_set == 'full':
            parts.insert(0, self.components)
        return torch.cat(parts, dim=-1)


class FuzzyInference(nn.Module):
    """F: h [B, in_dim] -> FuzzyOutput (FCIS then FKIS), with ranges alpha / beta of eq. 5.

    `learnable` makes the membership centres and widths nn.Parameters (the ranges stay knobs
    set by `set_ranges`); `features` picks what `FuzzyOutput.features()` returns (`out_dim`).
    """

    def __init__(
        self,
        in_dim: int,
        rule_base: RuleBase | None = None,
        alpha: float = 0.4,
        beta: float = 0.4,
        *,
        features: str = 'full',
        learnable: bool = True,
        hidden: int = 0,
        fcis_shape: str | None = None,
        fkis_shape: str | None = None,
        tnorm: str | None = None,
        floor: float | None = None,
    ) -> None:
        super().__init__()
        if features not in FEATURE_SETS:
            raise ConfigError(f'unknown fuzzy feature set {features!r}; use {list(FEATURE_SETS)}')
        if in_dim <= 0:
            raise ConfigError(f'in_dim must be positive, got {in_dim}')
        self.rule_base = rule_base if rule_base is not None else load_rule_base()
        self.in_dim = int(in_dim)
        self.feature_set = features
        self.out_dim = FEATURE_SETS[features]
        self.fcis = FCIS(
            in_dim, self.rule_base, alpha, hidden=hidden, shape=fcis_shape, learnable=learnable
        )
        num_terms = self.fcis.terms.bank.centres.shape[-1]
        self.fkis = FKIS(
            self.rule_base,
            num_terms,
            beta,
            shape=fkis_shape,
            learnable=learnable,
            tnorm=tnorm,
            floor=floor,
        )

    @property
    def alpha(self) -> float:
        """Current FCIS membership range."""
        return self.fcis.terms.bank.range_value

    @property
    def beta(self) -> float:
        """Current FKIS membership range."""
        return self.fkis.intensity_sets.range_value

    def set_ranges(self, alpha: float | None = None, beta: float | None = None) -> None:
        """Change the membership ranges in place (the eq. 5 search does this per grid cell)."""
        if alpha is not None:
            self.fcis.terms.bank.set_range(alpha)
        if beta is not None:
            self.fkis.intensity_sets.set_range(beta)

    def infer(self, components: Tensor) -> FuzzyOutput:
        """Run the rule base on given component values [B, 12] (bypasses the projection)."""
        return self._from_components(components, self.fcis.terms(components))

    def forward(self, h: Tensor) -> FuzzyOutput:
        """Return the fuzzy output of representations h [B, in_dim]."""
        components, terms = self.fcis(h)
        return self._from_components(components, terms)

    def _from_components(self, components: Tensor, terms: Tensor) -> FuzzyOutput:
        classes, intensity, semantic = self.fkis(terms)
        return FuzzyOutput(
            components=components,
            memberships=classes[:, 1:],
            intensity=intensity,
            semantic=semantic,
            neutral=classes[:, 0],
            terms=terms,
            feature_set=self.feature_set,
        )


class RuleEvaluator(nn.Module):
    """The rule base alone (no projection, nothing learned): components -> class strengths."""

    def __init__(
        self,
        rule_base: RuleBase | None = None,
        alpha: float | None = None,
        beta: float | None = None,
    ) -> None:
        super().__init__()
        self.rule_base = rule_base if rule_base is not None else load_rule_base()
        self.terms = ComponentTerms(self.rule_base, alpha, learnable=False)
        num_terms = self.terms.bank.centres.shape[-1]
        self.fkis = FKIS(self.rule_base, num_terms, beta, learnable=False)
        low = [c.low for c in self.rule_base.components]
        high = [c.high for c in self.rule_base.components]
        self.register_buffer('low', torch.tensor(low), persistent=False)
        self.register_buffer('high', torch.tensor(high), persistent=False)

    def forward(self, components: Tensor, clip: bool = False) -> tuple[Tensor, Tensor]:
        """Return (class strengths [N, 19], intensity [N]) of components [N, 12].

        With `clip`, values are first clipped to each component's range, as FCIS outputs are.
        Without it (the default) they are taken as given, so data that uses the paper's
        off-scale values (-1 for brow crest or mouth) can match the rules that print them.
        """
        if clip:
            components = torch.maximum(torch.minimum(components, self.high), self.low)
        classes, intensity, _ = self.fkis(self.terms(components))
        return classes, intensity


def _as_components(components: np.ndarray) -> Tensor:
    arr = np.asarray(components, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] != taxonomy.NUM_COMPONENTS:
        raise DataError(
            f'components must be an array [N, {taxonomy.NUM_COMPONENTS}] in Table II order '
            f'({", ".join(taxonomy.COMPONENTS)}); got shape {arr.shape}'
        )
    if not np.all(np.isfinite(arr)):
        raise DataError('components contain NaN or inf; drop or impute those rows first')
    return torch.from_numpy(np.ascontiguousarray(arr))


def fire_components(
    components: np.ndarray,
    rule_base: RuleBase | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    clip: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Class strengths float32 [N, 19] and intensity [N] of component values [N, 12].

    `clip` clips values to each component's range first (see `RuleEvaluator.forward`).
    """
    evaluator = RuleEvaluator(rule_base, alpha, beta)
    with torch.no_grad():
        classes, intensity = evaluator(_as_components(components), clip=clip)
    return classes.numpy(), intensity.numpy()


def label_from_components(
    components: np.ndarray,
    rule_base: RuleBase | None = None,
    threshold: float | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    clip: bool = False,
) -> np.ndarray:
    """Fine-grained class ids int64 [N] from component values [N, 12] (section IV, goal ii).

    The class whose rules fire strongest wins; a sample is neutral (0) when the neutral rule
    wins or when no emotion rule fires above `threshold` (default: the rule base's
    `inference.label_threshold`). Values are taken as given unless `clip` (see
    `RuleEvaluator.forward`); NaN/inf or a wrong shape raises DataError.
    """
    rb = rule_base if rule_base is not None else load_rule_base()
    strengths, _ = fire_components(components, rb, alpha, beta, clip)
    limit = rb.label_threshold if threshold is None else float(threshold)
    labels = strengths.argmax(axis=1).astype(np.int64)
    labels[strengths[:, 1:].max(axis=1, initial=0.0) <= limit] = 0
    return labels
