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
"""Example control node closing the loop: EmotionSequence -> behaviour, speed scale, alert.

A thin shell over `runtime.behavior.BehaviorEngine`; rules come from config/behavior.yaml.
Subscribes `emotion/sequence`; publishes `behavior/command` (std_msgs/String),
`behavior/speed_scale` (std_msgs/Float32) and `caregiver/alert` (std_msgs/String), plus an
ERROR entry on /diagnostics when an alert fires. A timer re-evaluates staleness, so that a
silent perception node makes the robot cautious instead of repeating the last command.
"""

from __future__ import annotations

from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import Float32, String

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.msg import EmotionSequence
from st_f2m_ros.ros.kit import rclpy_kit
from st_f2m_ros.ros.process import run_node, start_or_destroy
from st_f2m_ros.ros.qos import RELIABLE
from st_f2m_ros.runtime.behavior import (
    RULE_FIELDS,
    SCALAR_FIELDS,
    BehaviorConfig,
    BehaviorDecision,
    BehaviorEngine,
    ObservedState,
    config_from_params,
)
from st_f2m_ros.runtime.messages import convert as conv
from st_f2m_ros.runtime.pipeline.stats import InputClock

DESCRIPTIONS = {
    'min_confidence': 'States below this confidence never trigger a rule.',
    'stale_timeout': 'Seconds without a current sequence before the robot turns cautious.',
    'default_behavior': 'Command when no rule matches a confident state.',
    'default_speed_scale': 'Speed scale when no rule matches (0..1).',
    'uncertain_behavior': 'Command when the emotion is unknown, abstaining or stale.',
    'uncertain_speed_scale': 'Speed scale when uncertain (0..1).',
    'alert_emotions': 'Emotions that raise the caregiver alert when sustained.',
    'alert_min_intensity': 'Minimum intensity (low/medium/high) for the alert.',
    'alert_sustain': 'Seconds the emotion must last before the alert.',
    'alert_cooldown': 'Minimum seconds between two alerts.',
    'rule_names': 'Rules in priority order; each has rules.<name>.{emotions, min_intensity, '
    'behavior, speed_scale}.',
}
DEFAULTS = BehaviorConfig()


class EmotionBehaviorNode(Node):
    """Maps the newest confident emotional state to a behaviour command and a speed scale."""

    def __init__(self) -> None:
        super().__init__('st_f2m_behavior')
        start_or_destroy(self, self._start)

    def _start(self) -> None:
        """Declare the rules' parameters, build the engine, create topics and the timer."""
        # rclpy declares some parameters itself (use_sim_time; start_type_description_service
        # on Jazzy and later): they are not behaviour rules and must not be refused as such.
        self._rclpy_params = frozenset(self.get_parameters_by_prefix(''))
        for name in SCALAR_FIELDS:
            self.declare_parameter(
                name, getattr(DEFAULTS, name), ParameterDescriptor(description=DESCRIPTIONS[name])
            )
        self.declare_parameter(
            'alert_emotions',
            list(DEFAULTS.alert_emotions),
            ParameterDescriptor(description=DESCRIPTIONS['alert_emotions']),
        )
        self.declare_parameter(
            'rule_names', [''], ParameterDescriptor(description=DESCRIPTIONS['rule_names'])
        )
        names = [n for n in self.get_parameter('rule_names').value if n]
        defaults = {
            'emotions': [''],
            'min_intensity': 'low',
            'behavior': 'continue',
            'speed_scale': 1.0,
        }
        for n in names:
            for field in RULE_FIELDS:
                self.declare_parameter(
                    f'rules.{n}.{field}',
                    defaults[field],
                    ParameterDescriptor(description=f'Rule {n}: {field}.'),
                )
        self.engine = BehaviorEngine(config_from_params(self._values()))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.clock = InputClock()
        self.kit = rclpy_kit()
        self.cmd_pub = self.create_publisher(String, 'behavior/command', RELIABLE)
        self.speed_pub = self.create_publisher(Float32, 'behavior/speed_scale', RELIABLE)
        self.alert_pub = self.create_publisher(String, 'caregiver/alert', RELIABLE)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', RELIABLE)
        self.create_subscription(EmotionSequence, 'emotion/sequence', self._on_sequence, RELIABLE)
        self.create_timer(0.5, self._on_timer)
        self.get_logger().info(f'{len(self.engine.config.rules)} behaviour rules loaded')

    def _values(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        params = self.get_parameters_by_prefix('')
        values = {n: p.value for n, p in params.items() if n not in self._rclpy_params}
        values.update({k: v for k, v in (overrides or {}).items() if k not in self._rclpy_params})
        values['rule_names'] = [n for n in values.get('rule_names', []) if n]
        return values

    def _on_set_parameters(self, params: list[Any]) -> SetParametersResult:
        try:
            config = config_from_params(self._values({p.name: p.value for p in params}))
        except ConfigError as err:
            return SetParametersResult(successful=False, reason=str(err))
        self.engine.config = config
        return SetParametersResult(successful=True)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_sequence(self, msg: Any) -> None:
        stamp = conv.stamp_to_seconds(msg.header.stamp)
        now = self._now()
        self.clock.observe(stamp, now)
        last = msg.states[-1] if msg.states else None
        state = None
        if last is not None:
            state = ObservedState(
                int(last.class_id),
                float(last.confidence),
                int(last.status),
                conv.stamp_to_seconds(last.start),
                conv.stamp_to_seconds(last.end),
            )
        self._emit(self.engine.update(state, stamp, self.clock.now(now)))

    def _on_timer(self) -> None:
        decision = self.engine.tick(self.clock.now(self._now()))
        if decision is not None:
            self._emit(decision)

    def _emit(self, d: BehaviorDecision) -> None:
        self.cmd_pub.publish(String(data=d.behavior))
        self.speed_pub.publish(Float32(data=float(d.speed_scale)))
        if d.alert:
            self.get_logger().warning(f'caregiver alert: {d.alert}')
            self.alert_pub.publish(String(data=d.alert))
            report = conv.DiagnosticReport('st_f2m_ros: caregiver alert', 'ERROR', d.alert)
            self.diag_pub.publish(conv.diagnostics_to_msg(self.kit, d.stamp, [report]))


def main(args: list[str] | None = None) -> int:
    """Entry point of `ros2 run st_f2m_ros emotion_behavior_node`; exits 0 on SIGINT/SIGTERM."""
    return run_node('emotion_behavior_node', EmotionBehaviorNode, SingleThreadedExecutor, args)
