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
"""Behaviour rules of the example control node (runtime.behavior), time passed in."""

from __future__ import annotations

from pathlib import Path

import pytest

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.runtime.behavior import (
    BehaviorEngine,
    ObservedState,
    config_from_params,
    load_ros_params,
)
from st_f2m_ros.taxonomy import class_id

CONFIG = Path(__file__).resolve().parents[2] / 'config' / 'behavior.yaml'


@pytest.fixture
def engine() -> BehaviorEngine:
    return BehaviorEngine(config_from_params(load_ros_params(CONFIG)))


def state(
    emotion: str, intensity: str | None, t: float, conf: float = 0.9, status: int = 0
) -> ObservedState:
    return ObservedState(class_id(emotion, intensity), conf, status, t - 0.25, t)


def test_shipped_config_loads_with_its_rules(engine: BehaviorEngine) -> None:
    names = [r.name for r in engine.config.rules]
    assert names == ['distress', 'agitation', 'surprise', 'joy']


@pytest.mark.parametrize(
    ('emotion', 'intensity', 'behavior', 'speed'),
    [
        ('fear', 'high', 'pause_and_reassure', 0.3),  # distress wins over surprise (order)
        ('fear', 'low', 'slow_down_and_explain', 0.6),  # below distress's medium: next rule
        ('sadness', 'medium', 'pause_and_reassure', 0.3),
        ('sadness', 'low', 'continue', 1.0),  # no rule: default
        ('anger', 'low', 'slow_down_and_keep_distance', 0.5),
        ('happiness', 'high', 'continue_and_engage', 1.0),
        ('neutral', None, 'continue', 1.0),
    ],
)
def test_rules(
    engine: BehaviorEngine, emotion: str, intensity: str | None, behavior: str, speed: float
) -> None:
    d = engine.update(state(emotion, intensity, 10.0), 10.0, 10.1)
    assert (d.behavior, d.speed_scale) == (behavior, speed)
    assert d.stamp == 10.0 and d.alert is None


@pytest.mark.parametrize(
    ('st', 'now', 'reason'),
    [
        (ObservedState(class_id('anger', 'high'), 0.2, 0, 9.0, 10.0), 10.1, 'confidence'),
        (ObservedState(class_id('anger', 'high'), 0.9, 1, 9.0, 10.0), 10.1, 'abstaining'),
        (ObservedState(class_id('anger', 'high'), 0.9, 2, 9.0, 10.0), 10.1, 'abstaining'),
        (ObservedState(class_id('anger', 'high'), 0.9, 0, 9.0, 10.0), 15.0, 'stale'),
        (None, 10.1, 'empty'),
    ],
)
def test_uncertain_never_confident(engine: BehaviorEngine, st, now: float, reason: str) -> None:
    d = engine.update(st, 10.0, now)
    assert (d.behavior, d.speed_scale) == ('observe', 0.5)
    assert reason in d.reason and d.alert is None


def test_silence_goes_cautious(engine: BehaviorEngine) -> None:
    assert engine.tick(0.0) is not None  # nothing ever received
    engine.update(state('happiness', 'low', 10.0), 10.0, 10.0)
    assert engine.tick(11.0) is None
    d = engine.tick(12.0)
    assert d is not None and d.behavior == 'observe' and 'stale' in d.reason


def test_out_of_order_sequence_is_ignored(engine: BehaviorEngine) -> None:
    engine.update(state('happiness', 'low', 10.0), 10.0, 10.0)
    d = engine.update(state('anger', 'high', 9.0), 9.0, 10.0)
    assert d.behavior == 'observe' and 'out-of-order' in d.reason


def test_alert_after_sustained_high_negative_once_per_episode(engine: BehaviorEngine) -> None:
    alerts = []
    for i in range(40):  # 10 s of anger_high at 4 Hz
        t = 100.0 + 0.25 * i
        d = engine.update(ObservedState(class_id('anger', 'high'), 0.9, 0, t - 0.25, t), t, t)
        alerts.append((t, d.alert))
    fired = [(t, a) for t, a in alerts if a]
    assert len(fired) == 1
    assert fired[0][0] == pytest.approx(103.0, abs=0.3)
    assert 'anger' in fired[0][1]


def test_alert_needs_continuity_and_cooldown(engine: BehaviorEngine) -> None:
    def feed(emotion, intensity, t0, n):
        out = []
        for i in range(n):
            t = t0 + 0.25 * i
            out.append(
                engine.update(
                    ObservedState(class_id(emotion, intensity), 0.9, 0, t, t), t, t
                ).alert
            )
        return [a for a in out if a]

    # interrupted by an abstaining/unknown state: no alert
    assert feed('fear', 'high', 0.0, 8) == []
    engine.update(ObservedState(class_id('fear', 'high'), 0.9, 1, 2.0, 2.0), 2.0, 2.0)
    assert feed('fear', 'high', 2.25, 8) == []
    # medium intensity never alerts
    assert feed('sadness', 'medium', 10.0, 40) == []
    # first episode alerts, a second one within the cooldown does not
    assert len(feed('sadness', 'high', 30.0, 16)) == 1
    engine.update(state('happiness', 'low', 35.0), 35.0, 35.0)
    assert feed('sadness', 'high', 35.25, 16) == []
    engine.update(state('happiness', 'low', 70.0), 70.0, 70.0)
    assert len(feed('sadness', 'high', 70.25, 16)) == 1


@pytest.mark.parametrize(
    ('params', 'match'),
    [
        ({'min_confidence': 1.5}, 'min_confidence'),
        ({'alert_emotions': ['grumpy']}, 'unknown emotion'),
        ({'rule_names': ['x']}, 'no rules.x.emotions'),
        (
            {'rule_names': ['x'], 'rules.x.emotions': ['fear'], 'rules.x.speed_scale': 2.0},
            'speed_scale',
        ),
        (
            {'rule_names': ['x'], 'rules.x.emotions': ['fear'], 'rules.x.min_intensity': 'huge'},
            'min_intensity',
        ),
        ({'typo_param': 1}, 'unknown behaviour parameter'),
        ({'alert_min_intensity': 'none'}, 'alert_min_intensity'),
    ],
)
def test_bad_config(params: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        config_from_params(params)


def test_missing_section(tmp_path: Path) -> None:
    f = tmp_path / 'x.yaml'
    f.write_text('node: {a: 1}\n')
    with pytest.raises(ConfigError, match='ros__parameters'):
        load_ros_params(f)
