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
"""How big an experiment run is: people, seconds, shots, epochs (config/experiments.yaml).

One budget is shared by every experiment of a run so that their numbers compare: the same
test people, support sets and training budget. `tiny` keeps every command alive in CI,
`reduced` is what this 2-core machine reports, `full` the shipped recipe's data size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from st_f2m_ros.errors import ConfigError

DEFAULT_CONFIG = Path(__file__).resolve().parents[3] / 'config' / 'experiments.yaml'

# The paper's settings that are not a matter of budget (section VI-C/D/E).
TABLE5_DATA_FRACTION = 0.2  # few-shot: 20 % of the training data
TABLE5_LABEL_NOISE = 0.3  # 30 % of training frame labels shuffled
ABLATION_CORRUPTION = 'fog:0.3,mask:0.3,distortion:0.3'  # group B: 30 % interference
CORRUPTION_KINDS = ('fog', 'mask', 'distortion')  # Table IV columns


@dataclass(frozen=True)
class Budget:
    """Sizes of one experiment run (see config/experiments.yaml for the three presets)."""

    name: str = 'tiny'
    train_people: int = 4
    train_seconds: float = 12.0
    meta_people: int = 2
    test_people: int = 2
    session_seconds: float = 10.0
    shots: int = 1  # support clips per class per test person
    windows_epochs: int = 1
    meta_epochs: int = 1
    meta_iterations: int = 3
    protonet_iterations: int = 5
    repeats: int = 1  # training seeds 0..repeats-1
    levels: tuple[float, ...] = (0.0, 0.5)  # Table IV corruption levels
    alpha_beta: tuple[float, ...] = (0.4,)  # Fig. 10 grid values (alpha x beta)
    speed_range: tuple[float, float] = (0.5, 2.0)  # ablation group C playback speeds
    workers: int = 1  # processes rendering synthetic clips

    def __post_init__(self) -> None:
        object.__setattr__(self, 'levels', tuple(float(v) for v in self.levels))
        object.__setattr__(self, 'alpha_beta', tuple(float(v) for v in self.alpha_beta))
        object.__setattr__(self, 'speed_range', tuple(float(v) for v in self.speed_range))
        self.validate()

    def validate(self) -> None:
        """ConfigError naming the first bad field."""
        for name in (
            'train_people', 'meta_people', 'test_people', 'shots', 'windows_epochs',
            'meta_iterations', 'protonet_iterations', 'repeats', 'workers',
        ):  # fmt: skip
            if getattr(self, name) < 1:
                raise ConfigError(f'budget {self.name}: {name} must be >= 1')
        if self.meta_epochs < 0:
            raise ConfigError(f'budget {self.name}: meta_epochs must be >= 0')
        if self.train_people < 2:
            raise ConfigError(f'budget {self.name}: train_people must be >= 2 (1 validates)')
        if min(self.train_seconds, self.session_seconds) < 4.0:
            raise ConfigError(f'budget {self.name}: train/session seconds must be >= 4')
        if not self.levels or any(not 0 <= v <= 1 for v in self.levels):
            raise ConfigError(f'budget {self.name}: levels must be in [0, 1]')
        if not self.alpha_beta or any(not 0 < v < 1 for v in self.alpha_beta):
            raise ConfigError(f'budget {self.name}: alpha_beta values must be in (0, 1)')
        lo, hi = self.speed_range
        if not 0 < lo <= hi:
            raise ConfigError(f'budget {self.name}: speed_range must be 0 < min <= max')

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the result JSON."""
        d = asdict(self)
        for k in ('levels', 'alpha_beta', 'speed_range'):
            d[k] = list(d[k])
        return d


def load_budget(name: str, path: str | Path | None = None) -> Budget:
    """The budget `name` of a budgets YAML file (config/experiments.yaml by default)."""
    path = Path(path) if path else DEFAULT_CONFIG
    if not path.is_file():
        raise ConfigError(f'experiment budgets file {path} not found')
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f'{path} is not valid YAML: {err}') from err
    budgets = data.get('budgets') if isinstance(data, dict) else None
    if not isinstance(budgets, dict) or name not in budgets:
        known = sorted(budgets) if isinstance(budgets, dict) else []
        raise ConfigError(f'no budget {name!r} in {path}; known: {known}')
    entry = budgets[name]
    known_keys = {f.name for f in fields(Budget)} - {'name'}
    unknown = sorted(set(entry) - known_keys)
    if unknown:
        raise ConfigError(f'budget {name}: unknown keys {unknown}; known: {sorted(known_keys)}')
    try:
        return Budget(name=name, **entry)
    except TypeError as err:
        raise ConfigError(f'budget {name}: {err}') from err
