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
"""FCIS, the fuzzy component inference system (paper section IV, Table II, Fig. 2; V-B3).

Maps a representation h to the 12 Table II facial components, in the Table II scale (bipolar
[-1, 1], unipolar [0, 1], so the synthetic ground truth can supervise them directly), then to
the membership degree of each component's linguistic terms. The projection is deliberately
small (one linear layer, optionally one hidden layer): the encoder does the heavy lifting, and
the components must stay an interpretable bottleneck that the robot can report.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from st_f2m_ros.fuzzy.membership import MembershipBank
from st_f2m_ros.fuzzy.rules import RuleBase


def term_table(rule_base: RuleBase) -> tuple[Tensor, Tensor]:
    """Return the term centres [12, K] and their validity mask [12, K] (K = most terms)."""
    k = max(len(c.terms) for c in rule_base.components)
    centres = torch.zeros(len(rule_base.components), k)
    mask = torch.zeros(len(rule_base.components), k, dtype=torch.bool)
    for i, comp in enumerate(rule_base.components):
        for j, term in enumerate(comp.terms):
            centres[i, j] = float(term.value)
            mask[i, j] = True
    return centres, mask


class ComponentTerms(nn.Module):
    """The membership functions of every component's terms (Fig. 2), range alpha."""

    def __init__(
        self,
        rule_base: RuleBase,
        alpha: float | None = None,
        *,
        shape: str | None = None,
        learnable: bool = True,
    ) -> None:
        super().__init__()
        centres, mask = term_table(rule_base)
        self.bank = MembershipBank(
            centres,
            mask,
            shape=shape or rule_base.fcis_shape,
            range_=rule_base.alpha if alpha is None else alpha,
            learnable=learnable,
            slope=rule_base.bell_slope,
        )

    def forward(self, components: Tensor) -> Tensor:
        """Return term memberships [B, 12, K] of component values [B, 12]."""
        return self.bank(components)


class FCIS(nn.Module):
    """Representation h [B, in_dim] -> components [B, 12] and term memberships [B, 12, K]."""

    def __init__(
        self,
        in_dim: int,
        rule_base: RuleBase,
        alpha: float | None = None,
        *,
        hidden: int = 0,
        shape: str | None = None,
        learnable: bool = True,
    ) -> None:
        super().__init__()
        n = len(rule_base.components)
        if hidden > 0:
            self.proj: nn.Module = nn.Sequential(
                nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, n)
            )
        else:
            self.proj = nn.Linear(in_dim, n)
        low = torch.tensor([c.low for c in rule_base.components])
        high = torch.tensor([c.high for c in rule_base.components])
        self.register_buffer('low', low, persistent=False)
        self.register_buffer('width', high - low, persistent=False)
        self.terms = ComponentTerms(rule_base, alpha, shape=shape, learnable=learnable)

    def components(self, h: Tensor) -> Tensor:
        """Bounded projection: low + (high - low) * sigmoid(z), i.e. tanh(z/2) on [-1, 1]."""
        return self.low + self.width * torch.sigmoid(self.proj(h))

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """Return (components [B, 12], term memberships [B, 12, K])."""
        comps = self.components(h)
        return comps, self.terms(comps)
