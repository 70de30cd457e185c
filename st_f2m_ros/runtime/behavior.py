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
"""Behaviour rules of the example control node: emotion sequence -> command, speed, alert.

Pure logic with time passed in, so that it is tested without ROS and replays deterministically.
Rules come from `config/behavior.yaml` (a ROS parameter file: nested keys flatten to dotted
parameter names, `rules.<name>.emotions` etc., because ROS parameters hold no lists of maps).

Safety choices: a state that abstains (unknown, low confidence, no face, stale) or a sequence
older than `stale_timeout` never triggers a rule; the robot then runs the cautious
`uncertain_behavior`. The caregiver alert fires once per episode of sustained high-intensity
negative emotion and is re-armed only after the episode ends and `alert_cooldown` has passed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.taxonomy import EMOTIONS, INTENSITIES, NEUTRAL, decode_class

INTENSITY_RANK = {'none': 0, **{k: i + 1 for i, k in enumerate(INTENSITIES)}}


@dataclass(frozen=True)
class BehaviorRule:
    """When the current state's emotion is in `emotions` at `min_intensity` or more: act."""

    name: str
    emotions: tuple[str, ...]
    min_intensity: str = 'low'
    behavior: str = 'continue'
    speed_scale: float = 1.0


@dataclass(frozen=True)
class BehaviorConfig:
    """Parameters of the behaviour engine (defaults = config/behavior.yaml)."""

    min_confidence: float = 0.5
    stale_timeout: float = 1.5
    default_behavior: str = 'continue'
    default_speed_scale: float = 1.0
    uncertain_behavior: str = 'observe'
    uncertain_speed_scale: float = 0.5
    alert_emotions: tuple[str, ...] = ('anger', 'sadness', 'disgust', 'fear')
    alert_min_intensity: str = 'high'
    alert_sustain: float = 3.0
    alert_cooldown: float = 30.0
    rules: tuple[BehaviorRule, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        validate_behavior_config(self)


@dataclass(frozen=True)
class BehaviorDecision:
    """What the node publishes; `stamp` is that of the sequence it came from."""

    stamp: float
    behavior: str
    speed_scale: float
    reason: str
    alert: str | None = None


def _check_emotions(names: Sequence[str], where: str) -> None:
    bad = [e for e in names if e not in EMOTIONS and e != NEUTRAL]
    if bad:
        raise ConfigError(f'{where}: unknown emotion(s) {bad}; use {(NEUTRAL, *EMOTIONS)}')


def validate_behavior_config(cfg: BehaviorConfig) -> None:
    """Raise ConfigError naming the first bad field of a behaviour configuration."""
    if not 0.0 <= cfg.min_confidence <= 1.0:
        raise ConfigError(f'min_confidence must be in [0, 1], got {cfg.min_confidence}')
    for name in ('stale_timeout', 'alert_sustain', 'alert_cooldown'):
        if getattr(cfg, name) < 0.0:
            raise ConfigError(f'{name} must be >= 0 seconds, got {getattr(cfg, name)}')
    for name in ('default_speed_scale', 'uncertain_speed_scale'):
        if not 0.0 <= getattr(cfg, name) <= 1.0:
            raise ConfigError(f'{name} must be in [0, 1], got {getattr(cfg, name)}')
    _check_emotions(cfg.alert_emotions, 'alert_emotions')
    if cfg.alert_min_intensity not in INTENSITIES:
        raise ConfigError(f'alert_min_intensity must be one of {INTENSITIES}')
    for rule in cfg.rules:
        where = f'rules.{rule.name}'
        _check_emotions(rule.emotions, where)
        if not rule.emotions:
            raise ConfigError(f'{where}.emotions is empty; list at least one emotion')
        if rule.min_intensity not in INTENSITY_RANK:
            raise ConfigError(f'{where}.min_intensity must be one of {tuple(INTENSITY_RANK)}')
        if not 0.0 <= rule.speed_scale <= 1.0:
            raise ConfigError(f'{where}.speed_scale must be in [0, 1], got {rule.speed_scale}')
        if not rule.behavior:
            raise ConfigError(f'{where}.behavior is empty')


SCALAR_FIELDS: tuple[str, ...] = (
    'min_confidence',
    'stale_timeout',
    'default_behavior',
    'default_speed_scale',
    'uncertain_behavior',
    'uncertain_speed_scale',
    'alert_min_intensity',
    'alert_sustain',
    'alert_cooldown',
)
RULE_FIELDS: tuple[str, ...] = ('emotions', 'min_intensity', 'behavior', 'speed_scale')


def config_from_params(params: Mapping[str, Any]) -> BehaviorConfig:
    """Build a config from flat ROS parameter names (`rule_names`, `rules.<name>.<field>`)."""
    known = set(SCALAR_FIELDS) | {'alert_emotions', 'rule_names'}
    kwargs: dict[str, Any] = {k: params[k] for k in SCALAR_FIELDS if k in params}
    for k in ('min_confidence', 'stale_timeout', 'default_speed_scale', 'uncertain_speed_scale',
              'alert_sustain', 'alert_cooldown'):  # fmt: skip
        if k in kwargs:
            kwargs[k] = float(kwargs[k])
    if 'alert_emotions' in params:
        kwargs['alert_emotions'] = tuple(params['alert_emotions'])
    rules = []
    for name in params.get('rule_names', ()):
        prefix = f'rules.{name}.'
        if f'{prefix}emotions' not in params:
            raise ConfigError(f'rule {name!r} is listed in rule_names but has no {prefix}emotions')
        rules.append(
            BehaviorRule(
                name=name,
                emotions=tuple(params[f'{prefix}emotions']),
                min_intensity=str(params.get(f'{prefix}min_intensity', 'low')),
                behavior=str(params.get(f'{prefix}behavior', 'continue')),
                speed_scale=float(params.get(f'{prefix}speed_scale', 1.0)),
            )
        )
        known |= {prefix + f for f in RULE_FIELDS}
    unknown = sorted(k for k in params if k not in known and not k.startswith('use_sim_time'))
    if unknown:
        raise ConfigError(f'unknown behaviour parameter(s) {unknown}; check config/behavior.yaml')
    return BehaviorConfig(**kwargs, rules=tuple(rules))


def flatten(tree: Mapping[str, Any], prefix: str = '') -> dict[str, Any]:
    """Flatten nested YAML maps into dotted ROS parameter names."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        if isinstance(v, Mapping):
            out.update(flatten(v, f'{prefix}{k}.'))
        else:
            out[f'{prefix}{k}'] = v
    return out


def load_ros_params(path: str | Path, node_name: str = '/**') -> dict[str, Any]:
    """Read a ROS 2 parameter file's `<node>: ros__parameters:` section as flat names."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding='utf-8'))
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f'cannot read parameter file {path}: {err}') from err
    try:
        section = doc[node_name]['ros__parameters']
    except (KeyError, TypeError):
        raise ConfigError(f'{path} has no "{node_name}: ros__parameters:" section') from None
    return flatten(section)


@dataclass(frozen=True)
class ObservedState:
    """The part of the newest EmotionState the rules look at."""

    class_id: int
    confidence: float
    status: int
    start: float
    end: float


class BehaviorEngine:
    """Stateful rule evaluation: feed sequences with `update`, poll staleness with `tick`."""

    def __init__(self, config: BehaviorConfig) -> None:
        self.config = config
        self._last_stamp: float | None = None
        self._episode_start: float | None = None
        self._alerted = False
        self._last_alert: float | None = None

    def _uncertain(self, stamp: float, reason: str) -> BehaviorDecision:
        self._episode_start = None
        self._alerted = False
        c = self.config
        return BehaviorDecision(stamp, c.uncertain_behavior, c.uncertain_speed_scale, reason)

    def tick(self, now: float) -> BehaviorDecision | None:
        """Return a cautious decision when no sequence arrived for `stale_timeout` seconds."""
        if self._last_stamp is None or now - self._last_stamp > self.config.stale_timeout:
            return self._uncertain(now, 'stale: no current emotion sequence')
        return None

    def update(self, state: ObservedState | None, stamp: float, now: float) -> BehaviorDecision:
        """Decide on the newest state of a sequence stamped `stamp`, at time `now`."""
        c = self.config
        if self._last_stamp is not None and stamp < self._last_stamp:
            return self._uncertain(stamp, 'out-of-order sequence ignored')
        self._last_stamp = stamp
        if now - stamp > c.stale_timeout:
            return self._uncertain(stamp, f'stale: sequence is {now - stamp:.2f} s old')
        if state is None:
            return self._uncertain(stamp, 'empty sequence')
        if state.status != 0:
            return self._uncertain(stamp, f'abstaining state (status {state.status})')
        if state.confidence < c.min_confidence:
            return self._uncertain(stamp, f'confidence {state.confidence:.2f} below threshold')
        fine = decode_class(state.class_id)
        alert = self._alert(fine.emotion, fine.intensity, state, stamp)
        rank = INTENSITY_RANK[fine.intensity]
        for rule in c.rules:
            if fine.emotion in rule.emotions and rank >= INTENSITY_RANK[rule.min_intensity]:
                return BehaviorDecision(
                    stamp, rule.behavior, rule.speed_scale, f'rule {rule.name}', alert
                )
        return BehaviorDecision(stamp, c.default_behavior, c.default_speed_scale, 'default', alert)

    def _alert(
        self, emotion: str, intensity: str, state: ObservedState, stamp: float
    ) -> str | None:
        c = self.config
        hit = emotion in c.alert_emotions and (
            INTENSITY_RANK[intensity] >= INTENSITY_RANK[c.alert_min_intensity]
        )
        if not hit:
            self._episode_start = None
            self._alerted = False
            return None
        # A merged state already spans its own duration; count from its start when earlier.
        start = min(state.start, stamp)
        if self._episode_start is None or start < self._episode_start:
            self._episode_start = start
        sustained = stamp - self._episode_start
        cooled = self._last_alert is None or stamp - self._last_alert >= c.alert_cooldown
        if sustained >= c.alert_sustain and not self._alerted and cooled:
            self._alerted = True
            self._last_alert = stamp
            return f'sustained {emotion} ({intensity}) for {sustained:.1f} s'
        return None
