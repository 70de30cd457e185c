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
"""ResNet-18 (He et al., CVPR 2016, table 1) written out, since torchvision cannot be imported.

The paper uses ResNet-18 as the visual backbone (section VI-A1). This is the published network:
a 7x7/2 convolution stem with batch norm, ReLU and a 3x3/2 max pool, then four stages of two
BasicBlocks (3x3 conv - BN - ReLU - 3x3 conv - BN, identity shortcut, or 1x1/2 conv + BN
projection where the shape changes, option B), widths 64-128-256-512, stride 2 at the start of
stages 2-4. The classification pooling and fully connected layer are left out: `forward`
returns the last spatial feature map [B, C, H/32, W/32], because the spatial module (eq. 4)
needs facial regions, not a global vector.

Lighter options keep the depth and layout and scale every width by 1/2 or 1/4 (a quarter of
the FLOPs per halving), which is what a CPU-only robot can afford at 30 frames/s.
"""

from __future__ import annotations

import torch
from torch import nn

WIDTH_MULTIPLIERS: dict[str, float] = {
    'resnet18': 1.0,
    'resnet18_half': 0.5,
    'resnet18_quarter': 0.25,
}


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut (He et al. 2016, fig. 2 left)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual block: relu(F(x) + shortcut(x))."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet-18 feature extractor: [B, 3, S, S] -> [B, C, ceil(S/32), ceil(S/32)]."""

    layers_per_stage: tuple[int, ...] = (2, 2, 2, 2)

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        widths = [max(8, round(w * width)) for w in (64, 128, 256, 512)]
        self.out_channels = widths[-1]
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages = []
        in_ch = widths[0]
        for i, (w, n) in enumerate(zip(widths, self.layers_per_stage)):
            blocks = [BasicBlock(in_ch, w, 1 if i == 0 else 2)]
            blocks += [BasicBlock(w, w) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            in_ch = w
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self._init_weights()

    def _init_weights(self) -> None:
        # He initialisation as in the paper's reference implementation; the last BN of each
        # block starts at zero so every block begins as identity (Goyal et al. 2017).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the last stage's feature map (no global pooling, no classifier)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def build_backbone(name: str) -> ResNet18:
    """Return the backbone called `name` (a key of WIDTH_MULTIPLIERS)."""
    from st_f2m_ros.errors import ModelError

    if name not in WIDTH_MULTIPLIERS:
        raise ModelError(f'unknown backbone {name!r}; choose one of {sorted(WIDTH_MULTIPLIERS)}')
    return ResNet18(WIDTH_MULTIPLIERS[name])
