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
"""Training configuration (config/train.yaml), loaded with yaml.safe_load into dataclasses.

One file reproduces a checkpoint: the model architecture (`model:` -> STF2MConfig), the data
(synthetic generator settings or a dataset folder, and how many subjects are held out), and the
three stages of the recipe in meta/trainer.py: `frames` (conventional pre-training of the
per-frame encoder with component supervision), `windows` (conventional training of E's window
part, F and C on cached features) and `meta` (bi-level meta-training, eqs. 6-7).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.model.config import INNER_SCOPES, STF2MConfig


@dataclass
class DataConfig:
    """Where clips come from: the synthetic generator, a dataset folder or a named data set."""

    root: str | None = None  # dataset folder written by `st-f2m make-dataset`; None: generate
    # A named real data set instead, `name:PATH` (e.g. "ckplus:/data/CK+"; named_datasets.py).
    dataset: str | None = None
    # Fraction of training frames whose label is replaced by another class (seeded; the
    # paper's Table V uses 0.3). Validation subjects keep their labels (data/label_noise.py).
    frame_label_noise: float = 0.0
    n_subjects: int = 20
    clips_per_subject: int = 3
    duration: float = 20.0
    seed: int = 0
    val_subjects: int = 5
    idiosyncrasy: float = 1.0
    # > 0: train on only the first that many of the training subjects. The held-out split is
    # still drawn over all n_subjects, so a reduced-budget run validates on the same people
    # as the full recipe (and its checkpoint can be compared with the full one on them).
    train_subjects: int = 0
    # Synthetic only: every rendered frame goes through the runtime face stage (the real-face
    # front end with the node's FaceConfig defaults): crops cut from its box, Clip.measured from
    # its components, the neutral baseline learnt online, as on the robot.
    front_end: bool = False
    workers: int = 1  # processes rendering the synthetic clips (same clips for any number)


@dataclass
class StageConfig:
    """A conventional (non-meta) training stage."""

    epochs: int = 1
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    component_weight: float = 1.0
    frame_stride: int = 1  # frames stage: use every n-th frame
    repeats: int = 1  # windows stage: windows drawn per group per epoch (random placement)
    hflip: bool = False  # frames stage: mirror half the crops (components swapped to match)
    jitter: float = 0.0  # frames stage: photometric jitter strength (gain +-j, offset +-40j)
    # windows stage: fraction of windows whose region-projection channels are replaced by
    # their batch mean, so the layers also learn to read the frozen backbone's probabilities
    # (meta/windows.drop_projected; off in the shipped recipe)
    proj_dropout: float = 0.0


@dataclass
class MetaStageConfig:
    """The bi-level meta-training stage (eqs. 6-7)."""

    epochs: int = 1
    iterations: int = 50
    tasks_per_batch: int = 4
    n_way: int = 5
    k_shot: int = 1
    q_query: int = 2
    per_subject: bool = True
    steps: int = 5
    inner_lr: float = 0.05
    first_order: bool = False
    scope: str = 'head'
    lr: float = 3e-4
    weight_decay: float = 1e-4


@dataclass
class TrainConfig:
    """Everything `st-f2m train` needs."""

    seed: int = 0
    threads: int = 2
    out_dir: str = 'runs/default'
    export: str | None = None  # also write the final model here (fp16 when export_half)
    export_half: bool = True
    drop_text: float = 0.3
    drop_vision: float = 0.1
    # fraction of training windows (windows and meta stages) whose measured components are 0,
    # as when the front end's online neutral absorbed a held expression (component_input
    # models only; meta/windows.absorb_components)
    absorb_components: float = 0.0
    eval_k_shot: int = 2  # support windows per class when measuring adaptation on val subjects
    model: STF2MConfig = field(default_factory=STF2MConfig)
    data: DataConfig = field(default_factory=DataConfig)
    frames: StageConfig = field(default_factory=lambda: StageConfig(epochs=2, frame_stride=2))
    windows: StageConfig = field(default_factory=lambda: StageConfig(epochs=6))
    meta: MetaStageConfig = field(default_factory=MetaStageConfig)

    def validate(self) -> None:
        """Raise ConfigError for values no stage can use."""
        if self.meta.scope not in INNER_SCOPES:
            raise ConfigError(f'meta.scope must be one of {INNER_SCOPES}, got {self.meta.scope!r}')
        for name in ('frames', 'windows'):
            st = getattr(self, name)
            if (
                st.epochs < 0
                or st.batch_size < 1
                or st.lr <= 0
                or min(st.frame_stride, st.repeats) < 1
            ):
                raise ConfigError(
                    f'{name}: epochs >= 0, batch_size >= 1, lr > 0, frame_stride >= 1 and '
                    'repeats >= 1 required'
                )
        if not 0 <= self.windows.proj_dropout < 1 or self.frames.proj_dropout != 0:
            raise ConfigError('windows.proj_dropout must be in [0, 1) (frames: 0)')
        if self.windows.proj_dropout and not self.model.fixed_channels:
            raise ConfigError(
                'windows.proj_dropout needs channels the projection does not make (a frozen '
                f"backbone's probabilities); {self.model.backbone} has none"
            )
        if not 0 <= self.absorb_components < 1:
            raise ConfigError(f'absorb_components must be in [0, 1), got {self.absorb_components}')
        if self.absorb_components and not self.model.component_input:
            raise ConfigError('absorb_components needs model.component_input: true')
        if self.meta.epochs < 0 or self.meta.iterations < 1 or self.meta.tasks_per_batch < 1:
            raise ConfigError('meta: epochs >= 0, iterations >= 1, tasks_per_batch >= 1 required')
        if self.data.val_subjects < 1:
            raise ConfigError(
                'data.val_subjects must be >= 1 (validation is on held-out subjects)'
            )
        if self.data.train_subjects < 0:
            raise ConfigError('data.train_subjects must be >= 0 (0: all training subjects)')
        if self.data.workers < 1:
            raise ConfigError(f'data.workers must be >= 1, got {self.data.workers}')
        if not 0 <= self.data.frame_label_noise < 1:
            raise ConfigError(
                f'data.frame_label_noise must be in [0, 1), got {self.data.frame_label_noise}'
            )
        if self.data.dataset is not None:
            if self.data.root:
                raise ConfigError('set data.dataset or data.root, not both')
            from st_f2m_ros.named_datasets import parse_spec

            parse_spec(self.data.dataset)  # ConfigError naming the known data sets
        if not 0 <= self.drop_text < 1 or not 0 <= self.drop_vision < 1:
            raise ConfigError('drop_text and drop_vision must be in [0, 1)')

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, YAML/JSON-serialisable."""
        d = asdict(self)
        d['model'] = self.model.to_dict()
        return d


def _build(cls: type, data: Any, where: str) -> Any:
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise ConfigError(f'{where} must be a mapping, got {type(data).__name__}')
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f'unknown keys in {where}: {unknown}; known: {sorted(known)}')
    try:
        return cls(**data)
    except TypeError as err:
        raise ConfigError(f'{where}: {err}') from err


def train_config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Build a TrainConfig from a parsed YAML mapping (unknown keys are errors)."""
    if not isinstance(data, dict):
        raise ConfigError('the training config must be a YAML mapping')
    data = dict(data)
    parts = {
        'model': STF2MConfig.from_dict(data.pop('model', None) or {}),
        'data': _build(DataConfig, data.pop('data', None), 'data'),
        'frames': _build(StageConfig, data.pop('frames', None), 'frames'),
        'windows': _build(StageConfig, data.pop('windows', None), 'windows'),
        'meta': _build(MetaStageConfig, data.pop('meta', None), 'meta'),
    }
    cfg = _build(TrainConfig, data, 'the training config')
    for k, v in parts.items():
        setattr(cfg, k, v)
    cfg.validate()
    return cfg


def load_train_config(path: str | Path) -> TrainConfig:
    """Read a training YAML file (yaml.safe_load)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f'training config {path} not found; see config/train.yaml for one')
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f'{path} is not valid YAML: {err}') from err
    return train_config_from_dict(data)
