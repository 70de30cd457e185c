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
"""Converters between the core's plain dataclasses and ROS 2 messages.

The converters never import a ROS module: they receive the message classes in a `MessageKit`,
built either from rclpy's generated classes (`st_f2m_ros.ros.kit`) or from a rosbags type
store (`MessageKit.from_typestore`), so the same code fills live messages and bag records and
is tested against the real definitions through CDR round trips. Field names are those of
`msg/*.msg`, `srv/*.srv`, std_msgs, sensor_msgs, diagnostic_msgs and hri_msgs. Every output
carries the stamp of the input it came from (STYLE.md, "for this package" 2). Inputs (images,
transcripts) are read by `runtime.message_inputs`.

The two message runtimes disagree on array types: rosbags wants numpy arrays, rclpy wants
`array.array` for `float32[]` and numpy only for fixed arrays; `MessageKit.float_seq` hides it.
"""

from __future__ import annotations

import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from st_f2m_ros.errors import PerceptionError
from st_f2m_ros.runtime.pipeline.results import EmotionSequenceResult, EmotionStateResult
from st_f2m_ros.stamps import (  # noqa: F401 (re-exported)
    INT32_MAX,
    NS_PER_S,
    seconds_to_stamp,
    stamp_to_ns,
    stamp_to_seconds,
)
from st_f2m_ros.taxonomy import (
    CLASS_LABELS,
    NUM_COMPONENTS,
    UNKNOWN_EMOTION_ID,
    decode_class,
)

STATUS_OK = 0  # EmotionState.STATUS_OK


# --------------------------------------------------------------------------- stamps
# One implementation (st_f2m_ros/stamps.py), re-exported: `convert.stamp_to_seconds` etc.

# --------------------------------------------------------------------------- message kit


def _numpy_f32(values: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(values, dtype=np.float32).reshape(-1))


def _numpy_u8(values: Any) -> np.ndarray:
    if isinstance(values, (bytes, bytearray, memoryview)):
        return np.frombuffer(bytes(values), dtype=np.uint8).copy()
    return np.ascontiguousarray(np.asarray(values, dtype=np.uint8).reshape(-1))


def rclpy_float_seq(values: Any) -> array.array:
    """`float32[]` for rclpy's generated classes (they accept array.array, not numpy)."""
    return array.array('f', _numpy_f32(values).tobytes())


def _numpy_bool(values: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(values, dtype=bool).reshape(-1))


def rclpy_bool_fixed(values: Any) -> list[bool]:
    """`bool[N]` for rclpy's generated classes (a list of Python bools, not numpy)."""
    return [bool(v) for v in np.asarray(values, dtype=bool).reshape(-1)]


def rclpy_bytes_seq(values: Any) -> array.array:
    """`uint8[]` for rclpy's generated classes (an array.array('B') skips per-item checks)."""
    out = array.array('B')
    out.frombytes(_numpy_u8(values).tobytes())
    return out


@dataclass(frozen=True)
class MessageKit:
    """The message classes (and array adapters) the converters fill.

    Attributes left as None are optional (e.g. `Expression` when hri_msgs is absent);
    a converter that needs one raises PerceptionError naming it.
    """

    Time: Any
    Header: Any
    EmotionState: Any
    EmotionSequence: Any
    AdaptResponse: Any = None
    ResetResponse: Any = None
    DiagnosticArray: Any = None
    DiagnosticStatus: Any = None
    KeyValue: Any = None
    Image: Any = None
    Expression: Any = None
    float_seq: Callable[[Any], Any] = _numpy_f32
    float_fixed: Callable[[Any], Any] = _numpy_f32
    bytes_seq: Callable[[Any], Any] = _numpy_u8
    bool_fixed: Callable[[Any], Any] = _numpy_bool

    @classmethod
    def from_typestore(cls, store: Any) -> MessageKit:
        """Build a kit from a rosbags Typestore (e.g. `interfaces.typestore('jazzy')`)."""
        t = store.types

        def get(name: str) -> Any:
            return t.get(name)

        return cls(
            Time=t['builtin_interfaces/msg/Time'],
            Header=t['std_msgs/msg/Header'],
            EmotionState=t['st_f2m_ros/msg/EmotionState'],
            EmotionSequence=t['st_f2m_ros/msg/EmotionSequence'],
            AdaptResponse=get('st_f2m_ros/srv/Adapt_Response'),
            ResetResponse=get('st_f2m_ros/srv/ResetAdaptation_Response'),
            DiagnosticArray=get('diagnostic_msgs/msg/DiagnosticArray'),
            DiagnosticStatus=get('diagnostic_msgs/msg/DiagnosticStatus'),
            KeyValue=get('diagnostic_msgs/msg/KeyValue'),
            Image=get('sensor_msgs/msg/Image'),
            Expression=get('hri_msgs/msg/Expression'),
        )

    def need(self, name: str) -> Any:
        """Return the class `name` or raise PerceptionError saying which package is missing."""
        value = getattr(self, name)
        if value is None:
            raise PerceptionError(f'message class {name} is not available in this MessageKit')
        return value

    def time(self, t: float) -> Any:
        """A builtin_interfaces/Time for float seconds."""
        sec, nanosec = seconds_to_stamp(t)
        return self.Time(sec=sec, nanosec=nanosec)

    def header(self, t: float, frame_id: str = '') -> Any:
        """A std_msgs/Header stamped `t` seconds."""
        return self.Header(stamp=self.time(t), frame_id=frame_id)


# --------------------------------------------------------------------------- emotion states


# The core's result classes are the message records (one class each, runtime/pipeline/results);
# the old names stay for callers that build states by hand.
EmotionStateRecord = EmotionStateResult
EmotionSequenceRecord = EmotionSequenceResult


def _decision(state: Any) -> tuple[int, int, str, str, str]:
    """Return (emotion, intensity, emotion_label, class_label, ...) honouring abstention.

    A state whose status is not OK is never reported as a confident emotion: its emotion is
    UNKNOWN with INTENSITY_NONE (msg/EmotionState.msg, "Never a confident guess").
    """
    cid = int(state.class_id)
    fine = decode_class(cid)
    status = int(getattr(state, 'status', STATUS_OK))
    if status != STATUS_OK:
        return UNKNOWN_EMOTION_ID, 0, 'unknown', fine.label, 'unknown'
    emotion = getattr(state, 'emotion', None)
    intensity = getattr(state, 'intensity', None)
    return (
        fine.emotion_id if emotion is None else int(emotion),
        fine.intensity_id if intensity is None else int(intensity),
        fine.emotion,
        fine.label,
        fine.intensity,
    )


def state_to_msg(kit: MessageKit, state: Any) -> Any:
    """Fill an EmotionState message from a state record (times copied from the input)."""
    emotion, intensity, emotion_label, class_label, _ = _decision(state)
    comps = np.asarray(state.components, dtype=np.float32).reshape(-1)
    if comps.shape[0] != NUM_COMPONENTS:
        raise PerceptionError(f'a state needs {NUM_COMPONENTS} component values, got {comps.size}')
    reliable = getattr(state, 'component_reliable', None)
    reliable = np.ones(NUM_COMPONENTS, bool) if reliable is None else np.asarray(reliable, bool)
    if reliable.size != NUM_COMPONENTS:
        raise PerceptionError(f'need {NUM_COMPONENTS} reliable flags, got {reliable.size}')
    return kit.EmotionState(
        start=kit.time(float(state.start)),
        end=kit.time(float(state.end)),
        emotion=emotion,
        emotion_label=emotion_label,
        intensity=intensity,
        intensity_value=float(state.intensity_value),
        class_id=int(state.class_id),
        class_label=class_label,
        confidence=float(state.confidence),
        class_probabilities=kit.float_seq(state.class_probabilities),
        components=kit.float_fixed(comps),
        component_reliable=kit.bool_fixed(reliable.reshape(-1)),
        components_measured=bool(getattr(state, 'components_measured', False)),
        modalities=int(state.modalities),
        status=int(getattr(state, 'status', STATUS_OK)),
    )


def sequence_to_msg(kit: MessageKit, seq: Any) -> Any:
    """Fill an EmotionSequence message; header.stamp is the newest input stamp (`seq.stamp`)."""
    return kit.EmotionSequence(
        header=kit.header(float(seq.stamp), str(getattr(seq, 'frame_id', ''))),
        subject_id=str(seq.subject_id),
        model_id=str(seq.model_id),
        class_labels=[str(c) for c in getattr(seq, 'class_labels', CLASS_LABELS)],
        states=[state_to_msg(kit, s) for s in seq.states],
        window_size=float(getattr(seq, 'window_size', 0.0)),
        window_hop=float(getattr(seq, 'window_hop', 0.0)),
        processing_latency=float(getattr(seq, 'processing_latency', 0.0)),
    )


def state_from_msg(msg: Any) -> EmotionStateResult:
    """Read an EmotionState message (either runtime) into a record."""
    return EmotionStateResult(
        start=stamp_to_seconds(msg.start),
        end=stamp_to_seconds(msg.end),
        class_id=int(msg.class_id),
        confidence=float(msg.confidence),
        class_probabilities=np.asarray(msg.class_probabilities, dtype=np.float32).copy(),
        components=np.asarray(msg.components, dtype=np.float32).copy(),
        intensity_value=float(msg.intensity_value),
        modalities=int(msg.modalities),
        status=int(msg.status),
        emotion=int(msg.emotion),
        intensity=int(msg.intensity),
        component_reliable=np.asarray(msg.component_reliable, dtype=bool).copy(),
        components_measured=bool(msg.components_measured),
    )


def sequence_from_msg(msg: Any) -> EmotionSequenceResult:
    """Read an EmotionSequence message (either runtime) into a record."""
    return EmotionSequenceResult(
        stamp=stamp_to_seconds(msg.header.stamp),
        frame_id=str(msg.header.frame_id),
        subject_id=str(msg.subject_id),
        model_id=str(msg.model_id),
        class_labels=tuple(str(c) for c in msg.class_labels),
        states=[state_from_msg(s) for s in msg.states],
        window_size=float(msg.window_size),
        window_hop=float(msg.window_hop),
        processing_latency=float(msg.processing_latency),
    )


# --------------------------------------------------------------------------- images


def bgr_to_image_msg(kit: MessageKit, bgr: np.ndarray, stamp: float, frame_id: str = '') -> Any:
    """A bgr8 sensor_msgs/Image of a uint8 [H, W, 3] array (the debug image)."""
    image_cls = kit.need('Image')
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise PerceptionError(f'expected a uint8 [H, W, 3] BGR image, got {bgr.dtype} {bgr.shape}')
    h, w = bgr.shape[:2]
    return image_cls(
        header=kit.header(stamp, frame_id),
        height=h,
        width=w,
        encoding='bgr8',
        is_bigendian=0,
        step=w * 3,
        data=kit.bytes_seq(np.ascontiguousarray(bgr).reshape(-1)),
    )


# --------------------------------------------------------------------------- services


def adapt_response(kit: MessageKit, outcome: Any) -> Any:
    """Fill an Adapt response from an adaptation outcome (`runtime.adaptation.AdaptOutcome`)."""
    return kit.need('AdaptResponse')(
        success=bool(outcome.success),
        message=str(outcome.message),
        model_id=str(outcome.model_id),
        clips_used=int(outcome.clips_used),
        support_accuracy_before=float(outcome.support_accuracy_before),
        support_accuracy_after=float(outcome.support_accuracy_after),
        duration=float(outcome.duration),
    )


def reset_response(kit: MessageKit, success: bool, message: str, model_id: str) -> Any:
    """Fill a ResetAdaptation response."""
    return kit.need('ResetResponse')(success=success, message=message, model_id=model_id)


# --------------------------------------------------------------------------- diagnostics

LEVEL_NAMES: tuple[str, ...] = ('OK', 'WARN', 'ERROR', 'STALE')


@dataclass
class DiagnosticReport:
    """One diagnostic_msgs/DiagnosticStatus: level is one of LEVEL_NAMES."""

    name: str
    level: str = 'OK'
    message: str = ''
    hardware_id: str = ''
    values: Mapping[str, Any] = field(default_factory=dict)


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f'{value:.4g}'
    return str(value)


def diagnostics_to_msg(kit: MessageKit, stamp: float, reports: Iterable[DiagnosticReport]) -> Any:
    """Fill a DiagnosticArray; levels come from the class constants.

    DiagnosticStatus.level is `byte`: rclpy holds it as bytes (b'\\x00'), rosbags as int, so
    the value is always taken from the class's own OK/WARN/ERROR/STALE constant.
    """
    status_cls = kit.need('DiagnosticStatus')
    kv_cls = kit.need('KeyValue')
    statuses = []
    for r in reports:
        if r.level not in LEVEL_NAMES:
            raise PerceptionError(f'diagnostic level must be one of {LEVEL_NAMES}, got {r.level}')
        statuses.append(
            status_cls(
                level=getattr(status_cls, r.level),
                name=r.name,
                message=r.message,
                hardware_id=r.hardware_id,
                values=[kv_cls(key=str(k), value=_format_value(v)) for k, v in r.values.items()],
            )
        )
    return kit.need('DiagnosticArray')(header=kit.header(stamp), status=statuses)


# --------------------------------------------------------------------------- ROS4HRI


def expression_to_msg(kit: MessageKit, stamp: float, expression: Any, frame_id: str = '') -> Any:
    """Fill an hri_msgs/Expression from `runtime.hri_expressions.HriExpression`."""
    return kit.need('Expression')(
        header=kit.header(stamp, frame_id),
        expression=str(expression.expression),
        valence=float(expression.valence),
        arousal=float(expression.arousal),
        confidence=float(expression.confidence),
    )
