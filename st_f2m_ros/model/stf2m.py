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
"""The assembled ST-F2M model x -> E -> F -> C (paper section V-B1).

E, the spatio-temporal encoder, is split at the point where caching pays: `encode_frames` runs
the CNN backbone once per face crop and pools its last feature map to R facial regions of
width D (the cacheable per-frame feature, [N, R, D]; with the frozen real-face backbone
`fer_mini_xception` the last 7 of the D channels are its expression probabilities, and with
`component_input` 24 channels carry the front end's measured Table II components and their
reliable flags, see `STF2MConfig`);
`forward` / `classify` then run on a window of T cached frames: gated temporal convolution
(eq. 3), region message passing (eq. 4), a second gated temporal convolution (the STGCN
sandwich), pooling over time, and fusion with the window's sentence embedding. F (section
IV, V-B3) maps the representation h to the 12 Table II components and the 18 fuzzy
memberships and appends that fuzzy semantic information to h; C is a linear head over
neutral + the 18 fine-grained classes.

Per section VI-A1 the representation feeds two channels: one into the fuzzy systems and one,
concatenated with F's output, into the classifier. A missing modality (no face, no speech) is
zeroed with `torch.where` (so NaN in a masked input cannot leak) and flagged to the fusion
layer, which learned what to do without it; nothing crashes.

`classify(..., params=...)` evaluates the model with some parameters replaced (an adapted head
from meta/adapt.py) through `torch.func.functional_call`; the module itself is never mutated,
so a runtime can swap adapted heads with a single reference assignment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call
import torch.nn.functional as F

from st_f2m_ros.errors import ModelError
from st_f2m_ros.model.config import FROZEN_BACKBONES, STF2MConfig
from st_f2m_ros.model.fer_backbone import FERBackbone, region_features
from st_f2m_ros.model.resnet import build_backbone
from st_f2m_ros.model.spatial import RegionMessagePassing
from st_f2m_ros.model.temporal import GatedTemporalConv
from st_f2m_ros.taxonomy import MODALITY_TEXT, MODALITY_VISION, NUM_COMPONENTS

# Parameter-name prefixes of the parts of the model (for inner-loop scopes and freezing).
BACKBONE_PREFIXES: tuple[str, ...] = ('backbone.', 'region_proj.')
FUZZY_PREFIX = 'fuzzy.'
HEAD_PREFIX = 'head.'
NUM_FINE = 18
COMPONENT_CLIP = 4.0  # measured components are clipped to +-this (IOD-relative units)


def in_scope(name: str, scope: str) -> bool:
    """Whether parameter `name` adapts in the inner loop of `scope` ('head', 'head+fuzzy', 'all').

    The per-frame encoder (backbone + region projection) never adapts: its features are cached
    and the paper keeps the pre-trained backbone fixed (VI-A1).
    """
    if name.startswith(BACKBONE_PREFIXES) or name.startswith('inner_lr.'):
        return False
    if scope == 'all':
        return True
    if scope == 'head+fuzzy':
        return name.startswith((HEAD_PREFIX, FUZZY_PREFIX))
    return name.startswith(HEAD_PREFIX)


def lr_key(name: str) -> str:
    """Key of a parameter's learned inner learning rate in `model.inner_lr` (Meta-SGD)."""
    return name.replace('.', '__')


@dataclass
class WindowOutput:
    """What the model says about a batch of windows.

    Attributes:
        logits: [B, C] class scores (C = len(config.class_labels), 19 by default).
        probs: [B, C] softmax of the logits.
        components: [B, 12] Table II component values from FCIS (zeros without F).
        memberships: [B, 18] FKIS fine-grained memberships (zeros without F).
        intensity: [B] defuzzified intensity in [0, 1] (zeros without F).
        modalities: [B] int bitmask of the modalities used (taxonomy.MODALITY_*).

    """

    logits: torch.Tensor
    probs: torch.Tensor
    components: torch.Tensor
    memberships: torch.Tensor
    intensity: torch.Tensor
    modalities: torch.Tensor


def _build_fuzzy(cfg: STF2MConfig) -> nn.Module:
    try:
        from st_f2m_ros.fuzzy import FuzzyInference
        from st_f2m_ros.fuzzy.rules import load_rule_base
    except ImportError as err:
        raise ModelError(
            f'the fuzzy module F is not available ({err}); build the model with fuzzy: false'
        ) from err
    return FuzzyInference(cfg.hidden, load_rule_base(), alpha=cfg.fuzzy_alpha, beta=cfg.fuzzy_beta)


class ZeroProjection(nn.Module):
    """The region projection of `STF2MConfig.region_projection: false`: zeros of the width
    the projection would have (no parameters; keeps the per-frame feature layout)."""

    def __init__(self, out_features: int) -> None:
        super().__init__()
        self.out_features = out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x[..., :1]).expand(*x.shape[:-1], self.out_features)


class STF2MModel(nn.Module):
    """ST-F2M: per-frame encoder, window encoder E, fuzzy inference F, classifier C."""

    def __init__(self, config: STF2MConfig | None = None, models_dir: str | None = None) -> None:
        """`models_dir`: searched first for a frozen backbone's registry file (else the path)."""
        super().__init__()
        cfg = config or STF2MConfig()
        self.config = cfg
        self.model_id = 'untrained'
        d, h = cfg.feat_dim, cfg.hidden
        self.frozen_backbone = cfg.backbone in FROZEN_BACKBONES
        if self.frozen_backbone:
            self.backbone: nn.Module = FERBackbone(cfg.backbone_sha256, models_dir=models_dir)
        else:
            self.backbone = build_backbone(cfg.backbone)
        self.region_proj: nn.Module = (
            nn.Linear(self.backbone.out_channels, cfg.projected_channels)
            if cfg.region_projection
            else ZeroProjection(cfg.projected_channels)
        )
        self.temporal1 = GatedTemporalConv(d, cfg.temporal_kernel)
        self.spatial = RegionMessagePassing(d, cfg.region_grid)
        self.temporal2 = GatedTemporalConv(d, cfg.temporal_kernel)
        self.vision_proj = nn.Linear(cfg.num_regions * d, h)
        self.text_proj = nn.Linear(cfg.text_dim, h)
        self.fuse = nn.Sequential(nn.Linear(2 * h + 2, h), nn.GELU(), nn.LayerNorm(h))
        self.fuzzy: nn.Module | None = _build_fuzzy(cfg) if cfg.fuzzy else None
        fuzzy_dim = int(self.fuzzy.out_dim) if self.fuzzy is not None else 0
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(h + fuzzy_dim, cfg.num_classes)
        mean = torch.tensor(cfg.mean).view(1, 3, 1, 1)
        std = torch.tensor(cfg.std).view(1, 3, 1, 1)
        self.register_buffer('pixel_mean', mean, persistent=False)
        self.register_buffer('pixel_std', std, persistent=False)
        self._text_encoder: Any = None
        # Meta-SGD (Li et al. 2017): one learned inner learning rate per adapted weight, saved
        # with the checkpoint so that /adapt uses what meta-training learned.
        self.inner_lr: nn.ParameterDict | None = None
        if cfg.inner.meta_sgd:
            self.inner_lr = nn.ParameterDict(
                {
                    lr_key(n): nn.Parameter(torch.full_like(p, cfg.inner.lr))
                    for n, p in self.named_parameters()
                    if in_scope(n, cfg.inner.scope)
                }
            )

    # -- per-frame part of E (cacheable) ---------------------------------------------------
    @property
    def feature_shape(self) -> tuple[int, int]:
        """Shape of one cached frame feature: (R regions, D)."""
        return self.config.num_regions, self.config.feat_dim

    def _check_crops(self, crops: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(crops)
        s = self.config.crop_size
        if x.ndim != 4 or tuple(x.shape[1:]) != (s, s, 3):
            raise ModelError(
                f"crops must be [N, {s}, {s}, 3] BGR (this model's crop_size is {s}); got "
                f'{tuple(x.shape)}: cut them with perception.crop.crop_face(image, box, {s})'
            )
        if x.dtype != torch.uint8:
            raise ModelError(f'crops must be uint8, got {x.dtype}')
        return x.to(self.pixel_mean.device)

    def preprocess(self, crops: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 [N, S, S, 3] BGR -> normalised float [N, 3, S, S] RGB (the ResNet's input)."""
        x = self._check_crops(crops).flip(-1).permute(0, 3, 1, 2).float().div_(255.0)
        return (x - self.pixel_mean) / self.pixel_std

    def encode_frames(
        self,
        crops: np.ndarray | torch.Tensor,
        components: np.ndarray | torch.Tensor | None = None,
        reliable: np.ndarray | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Per-frame region features [N, R, D] of uint8 BGR crops [N, S, S, 3].

        Each frame is encoded once; windows gather these. Call under `torch.inference_mode()`
        (and `model.eval()`) at run time; gradients flow when training the backbone.
        `components` [N, 12] / `reliable` [N, 12] bool: the front end's measured Table II
        components (`Clip.measured` / `measured_ok`, `FaceObservation.components` /
        `.reliable`), used when `config.component_input` (ignored otherwise). Missing ones
        count as unreliable: None, NaN or reliable False -> value 0, flag 0.
        """
        if len(crops) == 0:
            return torch.zeros(0, *self.feature_shape, device=self.pixel_mean.device)
        g = self.config.region_grid
        extra = None
        if self.config.component_input:
            extra = self.component_channels(len(crops), components, reliable)
        if self.frozen_backbone:
            fmap, probs = self.backbone(self._check_crops(crops))
            return region_features(fmap, probs, g, self.region_proj, extra)
        fmap = self.backbone(self.preprocess(crops))
        regions = F.adaptive_avg_pool2d(fmap, g).flatten(2).transpose(1, 2)  # [N, R, C]
        feats = self.region_proj(regions)
        if extra is None:
            return feats
        return torch.cat([feats, extra[:, None, :].expand(-1, g * g, -1).to(feats.dtype)], -1)

    def component_channels(
        self,
        n: int,
        components: np.ndarray | torch.Tensor | None,
        reliable: np.ndarray | torch.Tensor | None,
    ) -> torch.Tensor:
        """[n, 24]: the 12 measured components (0 where unreliable) then the 12 flags (1/0)."""
        dev = self.pixel_mean.device
        if components is None:
            return torch.zeros(n, 2 * NUM_COMPONENTS, device=dev)
        c = torch.as_tensor(components).to(device=dev, dtype=torch.float32)
        if reliable is None:
            ok = torch.ones(c.shape, dtype=torch.bool, device=dev)
        else:
            ok = torch.as_tensor(reliable).to(device=dev).bool()
        if c.shape != (n, NUM_COMPONENTS) or ok.shape != (n, NUM_COMPONENTS):
            raise ModelError(
                f'components and reliable must be [{n}, {NUM_COMPONENTS}] (one row per crop), '
                f'got {tuple(c.shape)} and {tuple(ok.shape)}'
            )
        ok = ok & torch.isfinite(c)
        c = torch.where(ok, c, torch.zeros_like(c)).clamp(-COMPONENT_CLIP, COMPONENT_CLIP)
        return torch.cat([c, ok.float()], dim=1)

    # -- window part of E, F and C ---------------------------------------------------------
    def represent(
        self,
        frame_feats: torch.Tensor,
        text_emb: torch.Tensor,
        vision_mask: torch.Tensor,
        text_mask: torch.Tensor,
    ) -> torch.Tensor:
        """Window representation h [B, hidden] (E after the backbone, with fusion)."""
        vm = vision_mask.to(frame_feats.dtype).reshape(-1, 1)
        tm = text_mask.to(frame_feats.dtype).reshape(-1, 1)
        x = torch.where(vm[:, :, None, None] > 0, frame_feats, torch.zeros_like(frame_feats))
        x = self.temporal2(self.spatial(self.temporal1(x)))
        vis = F.gelu(self.vision_proj(x.mean(dim=1).flatten(1)))
        t = torch.where(tm > 0, text_emb, torch.zeros_like(text_emb))
        txt = F.gelu(self.text_proj(t))
        return self.fuse(torch.cat([vis * vm, txt * tm, vm, tm], dim=1))

    def fuzzify(self, h: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """F: (z = [h, fuzzy features], components, memberships, intensity)."""
        b = h.shape[0]
        if self.fuzzy is None:
            zeros = h.new_zeros
            return h, zeros(b, NUM_COMPONENTS), zeros(b, NUM_FINE), zeros(b)
        fo = self.fuzzy(h)
        z = torch.cat([h, fo.features()], dim=1)
        return z, fo.components, fo.memberships, fo.intensity

    def forward(
        self,
        frame_feats: torch.Tensor,
        text_emb: torch.Tensor,
        vision_mask: torch.Tensor,
        text_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits, components, memberships, intensity): a pytree, so torch.func can map it."""
        h = self.represent(frame_feats, text_emb, vision_mask, text_mask)
        z, comp, memb, inten = self.fuzzify(h)
        return self.head(self.dropout(z)), comp, memb, inten

    def classify(
        self,
        frame_feats: torch.Tensor,
        text_emb: torch.Tensor,
        vision_mask: torch.Tensor,
        text_mask: torch.Tensor,
        params: dict[str, torch.Tensor] | None = None,
    ) -> WindowOutput:
        """Classify windows of cached frame features [B, T, R, D] and text embeddings [B, Dt].

        `vision_mask` / `text_mask` ([B], bool or 0/1) say which modality is present; a masked
        input may hold anything (zeros, NaN). `params` replaces the named parameters (e.g. an
        adapted head from `meta.adapt.adapt`) for this call only.
        """
        r, d = self.feature_shape
        if frame_feats.ndim != 4 or tuple(frame_feats.shape[2:]) != (r, d):
            raise ModelError(
                f'frame_feats must be [B, T, {r}, {d}], got {tuple(frame_feats.shape)}'
            )
        b = frame_feats.shape[0]
        if tuple(text_emb.shape) != (b, self.config.text_dim):
            raise ModelError(
                f'text_emb must be [{b}, {self.config.text_dim}], got {tuple(text_emb.shape)}'
            )
        if vision_mask.shape != (b,) or text_mask.shape != (b,):
            raise ModelError(f'vision_mask and text_mask must have shape ({b},)')
        args = (frame_feats, text_emb.to(frame_feats.dtype), vision_mask, text_mask)
        if params:
            logits, comp, memb, inten = functional_call(self, params, args, strict=False)
        else:
            logits, comp, memb, inten = self(*args)
        mods = vision_mask.long().clamp(0, 1) * MODALITY_VISION
        mods = mods + text_mask.long().clamp(0, 1) * MODALITY_TEXT
        return WindowOutput(logits, logits.softmax(dim=-1), comp, memb, inten, mods)

    # -- helpers ----------------------------------------------------------------------------
    @property
    def text_encoder(self) -> Any:
        """The sentence encoder named by the config (hashing fallback if not installed)."""
        if self._text_encoder is None:
            from st_f2m_ros.model.text import make_text_encoder

            self._text_encoder = make_text_encoder(self.config.text_encoder)
        return self._text_encoder

    @property
    def text_usable(self) -> bool:
        """False when the installed text encoder differs from the one the model was trained with.

        The runtime should then pass text_mask = 0 rather than feed foreign embeddings.
        """
        return self.text_encoder.name == self.config.text_encoder

    def head_params(self) -> dict[str, torch.Tensor]:
        """The classifier's parameters (what /adapt adapts by default), detached copies."""
        named = self.named_parameters()
        return {k: v.detach().clone() for k, v in named if k.startswith(HEAD_PREFIX)}

    def freeze_backbone(self, frozen: bool = True) -> None:
        """Fix the per-frame encoder (the paper pre-trains it and keeps it fixed, VI-A1)."""
        for name, p in self.named_parameters():
            if name.startswith(BACKBONE_PREFIXES):
                p.requires_grad_(not frozen)
