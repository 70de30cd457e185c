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
"""Message passing over facial regions with a region adjacency matrix (paper eq. 4).

The backbone's last feature map is pooled to a g x g grid (g = `region_grid`, 3 by default).
On an aligned face crop (perception/crop.py centres the face with a fixed margin) a 3 x 3 grid
puts the brows and eyes in the top row (left eye region, brow crest / nose bridge, right eye
region), the cheeks and nose in the middle row and the mouth corners and lips in the bottom
row: the facial areas of Table II's components. These regions are the graph nodes.

The adjacency A links each region to its 8 spatial neighbours and itself (a face's regions
move together with their neighbours: a raised lip corner lifts the cheek beside it), and is
normalised symmetrically, A_hat = D^-1/2 (A + I) D^-1/2, as in Kipf & Welling's graph
convolution; the refined embedding is H' = LayerNorm(H + relu(A_hat H W)) at every time
step (the message-passing form of ref. [70]). A_hat is a fixed buffer, not learned: it
encodes facial geometry, which the data cannot change.
"""

from __future__ import annotations

import torch
from torch import nn


def grid_adjacency(grid: int) -> torch.Tensor:
    """Return the normalised 8-neighbour adjacency D^-1/2 (A + I) D^-1/2 of a grid x grid layout.

    Nodes are numbered row-major (top-left first), like the pooled feature map.
    """
    n = grid * grid
    a = torch.zeros(n, n)
    for i in range(n):
        ri, ci = divmod(i, grid)
        for j in range(n):
            rj, cj = divmod(j, grid)
            if max(abs(ri - rj), abs(ci - cj)) <= 1:
                a[i, j] = 1.0  # neighbours, and i == j (self loop)
    d = a.sum(dim=1).rsqrt()
    return d[:, None] * a * d[None, :]


class RegionMessagePassing(nn.Module):
    """[B, T, R, D] -> [B, T, R, D]: one graph-convolution step over the facial regions."""

    adjacency: torch.Tensor

    def __init__(self, dim: int, grid: int) -> None:
        super().__init__()
        self.register_buffer('adjacency', grid_adjacency(grid), persistent=False)
        self.weight = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mix every region with its neighbours, per time step (eq. 4)."""
        msg = torch.einsum('ij,btjd->btid', self.adjacency, self.weight(x))
        return self.norm(x + torch.relu(msg))
