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
"""FKIS, the fuzzy knowledge inference system (paper section IV, Table II, Fig. 3; V-B3).

Fires every rule of the rule base on FCIS's term memberships and defuzzifies:

* rule strength: t-norm over the 12 components of the membership of the coded term (product
  by default, or min). Softened conjunction: each membership is lifted to
  floor + (1 - floor) * mu first, so one noisy component scales a rule by `floor` rather
  than zeroing it and a rule with k mismatching components fires near floor^k.
* class membership: the maximum over the class's rules (s-norm); 18 fine-grained classes plus
  neutral (class 0, the all-Normal coding).
* intensity: Larsen (product) inference with sum aggregation over the Fig. 3 intensity sets
  (range beta), then the centroid on a grid over [0, 1].
* semantic value (V-B3, "we weight the emotional intensity encoding based on the membership
  value"): sum over classes of normalised membership x (valence x intensity centre), one
  number per sample: the sign says pleasant/unpleasant, the size how intense.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from st_f2m_ros import taxonomy
from st_f2m_ros.errors import ConfigError
from st_f2m_ros.fuzzy.membership import MembershipBank, nearest_spacing
from st_f2m_ros.fuzzy.rules import RuleBase

_EPS = 1e-12


def rule_term_index(rule_base: RuleBase, num_terms: int) -> tuple[Tensor, Tensor]:
    """Return (flat gather index [R * 12] into [12 * K] term memberships, class id per rule)."""
    codings = rule_base.coding_matrix()
    index = torch.empty(codings.shape, dtype=torch.long)
    for j, comp in enumerate(rule_base.components):
        for r in range(codings.shape[0]):
            index[r, j] = j * num_terms + comp.term_index(int(codings[r, j]))
    return index.reshape(-1), torch.from_numpy(rule_base.coding_classes())


class FKIS(nn.Module):
    """Term memberships [B, 12, K] -> class strengths [B, 19], intensity [B], semantic [B, 1]."""

    def __init__(
        self,
        rule_base: RuleBase,
        num_terms: int,
        beta: float | None = None,
        *,
        shape: str | None = None,
        learnable: bool = True,
        tnorm: str | None = None,
        floor: float | None = None,
        grid: int = 101,
    ) -> None:
        super().__init__()
        self.tnorm = tnorm or rule_base.tnorm
        if self.tnorm not in ('product', 'min'):
            raise ConfigError(f'unknown t-norm {self.tnorm!r}; use "product" or "min"')
        self.floor = rule_base.floor if floor is None else float(floor)
        if not 0.0 <= self.floor < 1.0:
            raise ConfigError(f'floor must be in [0, 1), got {self.floor}')
        index, classes = rule_term_index(rule_base, num_terms)
        self.num_rules = int(classes.numel())
        self.num_components = len(rule_base.components)
        self.register_buffer('index', index, persistent=False)
        # [19, R] one-hot of which rules belong to which class; single-rule classes skip it.
        member = torch.zeros(taxonomy.NUM_CLASSES, self.num_rules)
        member[classes, torch.arange(self.num_rules)] = 1.0
        self.one_rule_per_class = self.num_rules == taxonomy.NUM_CLASSES and bool(
            torch.equal(classes, torch.arange(taxonomy.NUM_CLASSES))
        )
        self.register_buffer('member', member, persistent=False)
        # Fig. 3 intensity sets: neutral centre, then 6 emotions x (low, medium, high).
        fine = torch.from_numpy(rule_base.intensity_centres()).reshape(len(taxonomy.EMOTIONS), 3)
        spacing = nearest_spacing(fine, torch.ones_like(fine, dtype=torch.bool)).reshape(-1)
        neutral_gap = (fine[:, 0] - rule_base.neutral_centre).abs().min().clamp(min=1e-3)
        centres = torch.cat([torch.tensor([rule_base.neutral_centre]), fine.reshape(-1)])
        self.intensity_sets = MembershipBank(
            centres,
            shape=shape or rule_base.fkis_shape,
            range_=rule_base.beta if beta is None else beta,
            learnable=learnable,
            slope=rule_base.bell_slope,
            spacing=torch.cat([neutral_gap.reshape(1), spacing]),
        )
        self.register_buffer('grid', torch.linspace(0.0, 1.0, grid), persistent=False)
        codes = torch.from_numpy(rule_base.valences() * rule_base.intensity_centres())
        self.register_buffer('codes', torch.cat([torch.zeros(1), codes]), persistent=False)

    def fire(self, terms: Tensor) -> Tensor:
        """Rule strengths [B, R] from term memberships [B, 12, K] (softened t-norm)."""
        b = terms.shape[0]
        mu = terms.reshape(b, -1).index_select(1, self.index).reshape(b, -1, self.num_components)
        if self.floor > 0.0:
            mu = self.floor + (1.0 - self.floor) * mu
        if self.tnorm == 'product':
            return mu.prod(dim=-1)
        return mu.amin(dim=-1)

    def classes(self, strengths: Tensor) -> Tensor:
        """Class memberships [B, 19] from rule strengths [B, R] (max over a class's rules)."""
        if self.one_rule_per_class:
            return strengths
        return (strengths.unsqueeze(1) * self.member).amax(dim=-1)

    def intensity(self, classes: Tensor) -> Tensor:
        """Centroid defuzzification [B] of the Fig. 3 sets scaled by class memberships [B, 19]."""
        sets = self.intensity_sets(self.grid)  # [G, 19]
        aggregate = classes @ sets.transpose(0, 1)  # [B, G]
        return (aggregate @ self.grid) / (aggregate.sum(dim=-1) + _EPS)

    def emotion_intensity(self, classes: Tensor) -> Tensor:
        """Per-emotion centroid [B, 6] over that emotion's low/medium/high sets only."""
        sets = self.intensity_sets(self.grid)[:, 1:]  # [G, 18]
        b, n = classes.shape[0], len(taxonomy.EMOTIONS)
        weights = classes[:, 1:].reshape(b, n, 3, 1)
        aggregate = (weights * sets.transpose(0, 1).reshape(1, n, 3, -1)).sum(dim=2)  # [B, 6, G]
        return (aggregate @ self.grid) / (aggregate.sum(dim=-1) + _EPS)

    def semantic(self, classes: Tensor) -> Tensor:
        """The one-dimensional fuzzy semantic value [B, 1] of V-B3."""
        weights = classes / (classes.sum(dim=-1, keepdim=True) + _EPS)
        return (weights @ self.codes).unsqueeze(-1)

    def forward(self, terms: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Return (class memberships [B, 19], intensity [B], semantic [B, 1])."""
        classes = self.classes(self.fire(terms))
        return classes, self.intensity(classes), self.semantic(classes)
