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
"""Training objectives of the recipe (meta/trainer.py) and the frame augmentations.

Each stage's loss is an `nn.Module` whose forward returns (loss, accuracy), so that the trainer
can wrap it in DistributedDataParallel unchanged: DDP then all-reduces the gradients of exactly
the parameters the stage trains, including those reached through `torch.func.functional_call`
inside the meta objective (they are the module's own Parameter tensors).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from st_f2m_ros.meta.maml import MetaLearner, WindowBatch
from st_f2m_ros.model.stf2m import STF2MModel
from st_f2m_ros.taxonomy import NUM_COMPONENTS

# Table II components that swap under a horizontal mirror (left <-> right).
_MIRROR = [1, 0, 2, 4, 3, 5, 6, 7, 8, 9, 11, 10]


def hflip_half(
    crops: np.ndarray, comps: torch.Tensor, rng: np.random.Generator, *also: torch.Tensor
) -> tuple[Any, ...]:
    """Mirror a random half of the crops, swapping the left/right components to match.

    An expression's class does not change in a mirror; its left eyebrow becomes the right one.
    `also`: further [n, 12] per-component tensors (measured components, reliable flags) mirrored
    the same way; returns (crops, comps, *also).
    """
    flip = rng.random(len(crops)) < 0.5
    crops = crops.copy()
    crops[flip] = crops[flip][:, :, ::-1]
    idx = torch.from_numpy(flip)
    out = []
    for t in (comps, *also):
        t = t.clone()
        t[idx] = t[idx][:, _MIRROR]
        out.append(t)
    return (crops, *out)


def photometric_jitter(crops: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Random gain per crop and offset per channel: lighting and skin tone must not decide."""
    n = len(crops)
    gain = 1.0 + rng.uniform(-strength, strength, (n, 1, 1, 1))
    offset = rng.uniform(-40 * strength, 40 * strength, (n, 1, 1, 3))
    return np.clip(crops * gain + offset, 0, 255).astype(np.uint8)


def _masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    ok = ~torch.isnan(target)
    if not bool(ok.any()):
        return pred.sum() * 0.0
    return F.mse_loss(pred[ok], target[ok])


class FrameObjective(nn.Module):
    """Stage 1 loss: per-frame classification + component regression through a readout."""

    def __init__(self, model: STF2MModel, component_weight: float) -> None:
        super().__init__()
        self.model = model
        r, d = model.feature_shape
        self.classify = nn.Linear(r * d, model.config.num_classes)
        self.components = nn.Linear(r * d, NUM_COMPONENTS)
        self.w = component_weight

    def forward(
        self,
        crops: torch.Tensor,
        labels: torch.Tensor,
        comps: torch.Tensor,
        measured: torch.Tensor | None = None,
        reliable: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        f = F.gelu(self.model.encode_frames(crops, measured, reliable).flatten(1))
        logits = self.classify(f)
        loss = F.cross_entropy(logits, labels) + self.w * _masked_mse(self.components(f), comps)
        return loss, (logits.argmax(-1) == labels).float().mean()


class WindowObjective(nn.Module):
    """Stage 3 loss: window classification + supervision of F's components."""

    def __init__(self, model: STF2MModel, component_weight: float) -> None:
        super().__init__()
        self.model, self.w = model, component_weight

    def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats, text, vm, tm, labels, comps = tensors
        logits, comp, _, _ = self.model(feats, text, vm, tm)
        loss = F.cross_entropy(logits, labels)
        if self.model.fuzzy is not None and self.w > 0:
            loss = loss + self.w * _masked_mse(comp, comps)
        return loss, (logits.argmax(-1) == labels).float().mean()


class MetaObjective(nn.Module):
    """Stage 4 loss: eq. 7's query loss after the inner loop of eq. 6."""

    def __init__(self, model: STF2MModel, learner: MetaLearner) -> None:
        super().__init__()
        self.model, self.learner = model, learner

    def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.learner.outer_loss(WindowBatch(*tensors[:5]), WindowBatch(*tensors[5:]))
