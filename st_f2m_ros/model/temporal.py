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
"""Gated temporal convolution over a window of per-frame region features (paper eq. 3).

Following STGCN (Yu et al. 2018, the paper's ref. [69]), a 1-D convolution along time with
kernel Kt maps the input X to 2D channels split into P and Q, and the output is the gated
linear unit (P + X) * sigmoid(Q): the gate decides, per region and time step, how much of the
temporal pattern passes, which is what lets one window hold an emotion change (temporal
heterogeneity, section V-B2). The convolution is shared over the facial regions, as STGCN
shares it over graph nodes. Unlike STGCN we pad in time ('same' length) so a window shorter
than the kernel still works; the window is pooled over time afterwards anyway.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class GatedTemporalConv(nn.Module):
    """[B, T, R, D] -> [B, T, R, D]: GLU-gated 1-D convolution over T (eq. 3)."""

    def __init__(self, dim: int, kernel: int = 3) -> None:
        super().__init__()
        self.kernel = kernel
        self.conv = nn.Conv1d(dim, 2 * dim, kernel)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the gated convolution to every region's time series."""
        b, t, r, d = x.shape
        seq = x.permute(0, 2, 3, 1).reshape(b * r, d, t)
        pad = self.kernel // 2
        # Replicate padding: the edges of a window repeat the nearest frame, not black frames.
        y = self.conv(F.pad(seq, (pad, pad), mode='replicate') if pad else seq)
        p, q = y.chunk(2, dim=1)
        out = (p + seq) * torch.sigmoid(q)
        out = out.reshape(b, r, d, t).permute(0, 3, 1, 2)
        return self.norm(out)
