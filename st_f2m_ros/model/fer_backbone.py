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
"""A frozen real-face backbone: the FER2013 mini-Xception as E's per-frame feature extractor.

Why: the ResNet backbone learns its pixels from drawn faces only, so everything above it reads
features of how the synthetic renderer draws, and real camera faces are out of distribution.
This backbone is trained on real faces (FER2013; perception/expression_net.py) and is never
trained here: the synthetic benchmark can only fit what sits on top of it (the region
projection, temporal, spatial, fuzzy and head layers).

Frozen means three things, each tested: no gradients (its tensors are constants, not
Parameters), eval mode always (its BatchNorm running statistics are never updated, even under
`model.train()`), and not part of the state dict (the weights come from the registry,
`st-f2m models install`, checked by sha256; the checkpoint records that sha256 in
`STF2MConfig.backbone_sha256`). To keep the net out of `parameters()`, `state_dict()` and
`train()` it is held outside the module tree; `_apply` still moves it with `.to(device)`.

Preprocessing is fer's own, written in torch so that it exports to ONNX with the rest of
`encode_frames`: BGR -> grey with OpenCV's BGR2GRAY weights, bilinear resize to 64 x 64
(align_corners=False, the half-pixel convention of cv2.INTER_LINEAR), x / 255, (x - 0.5) * 2.
Each step is rounded to whole grey levels as OpenCV's uint8 pipeline is; what remains is
OpenCV's fixed-point coefficients: at most one grey level, 0.0006 mean on the [-1, 1] scale.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
import torch.nn.functional as F

from st_f2m_ros.errors import ModelError

NAME = 'fer_mini_xception'
NUM_PROBS = 7  # basic-expression probabilities appended to every region (taxonomy order)
# cv2.COLOR_BGR2GRAY: Y = 0.299 R + 0.587 G + 0.114 B, channels in BGR order.
GREY_WEIGHTS_BGR = (0.114, 0.587, 0.299)


def _load_net(expected_sha256: str, models_dir: str | None = None) -> Any:
    """The installed ExpressionNet; ModelFileError (names `st-f2m models install`) if absent.

    `models_dir` is searched first (the node's `models_dir` parameter), then the registry path.
    """
    from st_f2m_ros.perception.expression_net import ExpressionNet

    net = ExpressionNet.load(models_dir=models_dir or None)
    if expected_sha256 and net.source_sha256 != expected_sha256:
        raise ModelError(
            f'this model was trained on the expression-net weights with sha256 '
            f'{expected_sha256[:12]}..., the installed ones have {net.source_sha256[:12]}...: '
            'install the matching file (st-f2m models install --force) or retrain'
        )
    return net


class FERBackbone(nn.Module):
    """uint8 BGR crops [N, S, S, 3] -> (feature map [N, 128, 4, 4], probs [N, 7]).

    Has no parameters and no state; `out_channels` (128) is the feature map's width.
    """

    def __init__(
        self, expected_sha256: str = '', equalize: bool = False, models_dir: str | None = None
    ) -> None:
        super().__init__()
        # Dim cameras: histogram-equalise the 64 x 64 grey face (expression_net.equalize_hist).
        # Not in the checkpoint: the node sets it (expression_equalize) before any export.
        self.equalize = bool(equalize)
        net = _load_net(expected_sha256, models_dir)
        self.source_sha256: str = net.source_sha256
        self.input_size: int = net.input_size
        self.out_channels: int = net.embedding_dim
        self.grid: tuple[int, int] = net.grid
        from st_f2m_ros.perception.expression_net import FER_LABELS, FER_TO_TAXONOMY, LABELS

        fer_of = {t: f for f, t in FER_TO_TAXONOMY.items()}
        perm = torch.tensor([FER_LABELS.index(fer_of[e]) for e in LABELS])
        graph = net.graph
        graph.eval()
        graph.requires_grad_(False)
        # Held outside the module tree on purpose (see the module docstring).
        self.__dict__['_frozen'] = graph
        self.__dict__['_perm'] = perm
        grey = torch.tensor(GREY_WEIGHTS_BGR).view(1, 3, 1, 1)
        self.register_buffer('grey_weights', grey, persistent=False)

    @property
    def frozen(self) -> nn.Module:
        """The FER graph (a KerasGraph): read-only, always in eval mode."""
        return self.__dict__['_frozen']

    def _apply(self, fn: Any, recurse: bool = True) -> FERBackbone:
        # .to(device) / .double() must move the hidden net too; it stays out of everything else.
        super()._apply(fn, recurse)
        self.frozen._apply(fn)
        self.__dict__['_perm'] = fn(self.__dict__['_perm'])
        return self

    def train(self, mode: bool = True) -> FERBackbone:
        """Set this wrapper's flag only: the frozen net stays in eval mode (BN stats fixed)."""
        super().train(mode)
        self.frozen.eval()
        return self

    def preprocess(self, crops: torch.Tensor) -> torch.Tensor:
        """uint8 BGR [N, S, S, 3] -> float [N, 1, 64, 64] in [-1, 1], as fer feeds its net."""
        x = crops.permute(0, 3, 1, 2).to(self.grey_weights.dtype)
        # Rounded to whole grey levels after each step, as OpenCV's uint8 pipeline does: a
        # quarter of the mean difference to fer's own preprocessing without it (measured).
        grey = torch.round((x * self.grey_weights).sum(dim=1, keepdim=True))
        s = self.input_size
        if grey.shape[-2:] != (s, s):
            grey = F.interpolate(grey, size=(s, s), mode='bilinear', align_corners=False)
            grey = torch.round(grey)
        if self.equalize:
            from st_f2m_ros.perception.expression_net import equalize_hist

            grey = equalize_hist(grey)
        return (grey / 255.0 - 0.5) * 2.0

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(feature map [N, 128, 4, 4] of Keras layer add_4, probs [N, 7] in taxonomy order)."""
        with torch.no_grad():
            x = self.preprocess(crops)
            if not torch.jit.is_tracing() and x.device.type == 'cpu':
                # NHWC: 1.5x faster for the depthwise convs (perception/expression_net.py).
                x = x.contiguous(memory_format=torch.channels_last)
            probs, fmap = self.frozen(x)
        perm = self.__dict__['_perm'].to(probs.device)
        return fmap.contiguous(), probs[:, perm]


def region_features(
    fmap: torch.Tensor,
    probs: torch.Tensor,
    grid: int,
    proj: nn.Module,
    extra: torch.Tensor | None = None,
) -> torch.Tensor:
    """[N, R, D]: the map pooled to grid x grid regions, projected, + the 7 probabilities.

    `proj` maps 128 -> D - 7 per region (shared weights, as the ResNet path's projection);
    the probabilities are broadcast to every region, so the cached feature keeps the net's
    real-face decision next to its spatial features. `extra` ([N, E], e.g. the measured
    components of `STF2MConfig.component_input`) goes between the two, in every region.
    """
    regions = F.adaptive_avg_pool2d(fmap, grid).flatten(2).transpose(1, 2)  # [N, R, 128]
    projected = proj(regions)
    r = regions.shape[1]
    parts = [projected]
    if extra is not None:
        parts.append(extra[:, None, :].expand(-1, r, -1).to(projected.dtype))
    parts.append(probs[:, None, :].expand(-1, r, -1).to(projected.dtype))
    return torch.cat(parts, -1)
