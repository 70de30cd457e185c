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
"""Differentiable membership functions (paper Figs. 2-3) with one "range" knob (eq. 5).

Every shape is written in terms of its half-width at half maximum w, so mu(c +- w) = 0.5 for
all of them and a single number means the same thing whatever the shape:

    triangular   mu = max(0, 1 - u / 2)            support |x - c| < 2w
    trapezoidal  mu = clip(1.5 - u, 0, 1)           core |x - c| <= w/2, support < 3w/2
    gaussian     mu = exp(-ln2 * u^2)
    bell         mu = 1 / (1 + u^(2b))              generalised bell (ANFIS), slope b

with u = |x - c| / w and w = range * spacing * exp(s). `spacing` is the distance from the term
to its nearest neighbour, so range = 0.5 makes neighbouring terms cross at 0.5; `range` is the
alpha (FCIS) or beta (FKIS) of eq. 5, held as a buffer that `set_range` changes without
rebuilding the module. Centres c and log-scales s are nn.Parameters when `learnable` (so the
meta-learner can move them; s = 0 keeps the tuned range) and buffers otherwise.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from st_f2m_ros.errors import ConfigError

SHAPES: tuple[str, ...] = ('triangular', 'trapezoidal', 'gaussian', 'bell')
_LN2 = math.log(2.0)


def membership(x: Tensor, centre: Tensor, hwhm: Tensor, shape: str, slope: float = 2.0) -> Tensor:
    """Evaluate one membership shape (broadcasting); `hwhm` is the half-width at half maximum."""
    d = (x - centre) / hwhm
    if shape == 'triangular':
        return torch.clamp(1.0 - d.abs() * 0.5, min=0.0)
    if shape == 'trapezoidal':
        return torch.clamp(1.5 - d.abs(), min=0.0, max=1.0)
    if shape == 'gaussian':
        return torch.exp(-_LN2 * d * d)
    if shape == 'bell':
        return 1.0 / (1.0 + (d * d).pow(slope))
    raise ConfigError(f'unknown membership shape {shape!r}; use one of {SHAPES}')


def nearest_spacing(centres: Tensor, mask: Tensor) -> Tensor:
    """Distance from each centre to its nearest unmasked neighbour in the last dimension."""
    diff = (centres.unsqueeze(-1) - centres.unsqueeze(-2)).abs()
    eye = torch.eye(centres.shape[-1], dtype=torch.bool, device=centres.device)
    invalid = eye | ~mask.unsqueeze(-1) | ~mask.unsqueeze(-2)
    diff = diff.masked_fill(invalid, math.inf)
    spacing = diff.amin(dim=-1)
    return torch.where(torch.isfinite(spacing), spacing, torch.ones_like(spacing))


class MembershipBank(nn.Module):
    """A bank of membership functions over groups of terms: centres [..., K] (padded + mask).

    `forward(x [B, *G])` returns [B, *G, K]: the membership of each input value of group g
    (e.g. component g) in each of that group's K terms; padded terms give 0.
    """

    def __init__(
        self,
        centres: Tensor,
        mask: Tensor | None = None,
        *,
        shape: str = 'gaussian',
        range_: float = 0.4,
        learnable: bool = True,
        slope: float = 2.0,
        spacing: Tensor | None = None,
    ) -> None:
        super().__init__()
        if shape not in SHAPES:
            raise ConfigError(f'unknown membership shape {shape!r}; use one of {SHAPES}')
        centres = centres.detach().to(torch.float32).clone()
        mask = torch.ones_like(centres, dtype=torch.bool) if mask is None else mask.bool()
        if spacing is None:
            spacing = nearest_spacing(centres, mask)
        self.shape = shape
        self.slope = float(slope)
        self.learnable = bool(learnable)
        self.register_buffer('mask', mask.clone(), persistent=False)
        # Derived from the rule base and the constructor's range: not part of a checkpoint, so
        # the model config (e.g. fuzzy_alpha) stays the one source of the ranges.
        self.register_buffer('spacing', spacing.detach().to(torch.float32).clone(), False)
        self.register_buffer('range_', torch.tensor(0.0), persistent=False)
        self.set_range(range_)
        log_scale = torch.zeros_like(centres)
        if learnable:
            self.centres = nn.Parameter(centres)
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer('centres', centres)
            self.register_buffer('log_scale', log_scale)

    def set_range(self, value: float) -> None:
        """Set the membership range (alpha or beta of eq. 5): the half-width in spacings."""
        value = float(value)
        if not (math.isfinite(value) and value > 0.0):
            raise ConfigError(f'membership range must be a positive number, got {value}')
        self.range_.fill_(value)

    @property
    def range_value(self) -> float:
        """The current range knob as a float."""
        return float(self.range_)

    def hwhm(self) -> Tensor:
        """Half-width at half maximum of every term: range x spacing x exp(log_scale)."""
        return self.range_ * self.spacing * torch.exp(self.log_scale.clamp(-6.0, 6.0))

    def forward(self, x: Tensor) -> Tensor:
        """Return the memberships [*x.shape, K] of `x` [B, *G] (G = the bank's group shape)."""
        mu = membership(x.unsqueeze(-1), self.centres, self.hwhm(), self.shape, self.slope)
        return mu * self.mask

    def extra_repr(self) -> str:
        return (
            f'shape={self.shape}, terms={tuple(self.centres.shape)}, '
            f'range={self.range_value:g}, learnable={self.learnable}'
        )
