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
"""The perception node's parameters: one table of specs, and their validation as pure code.

The table gives each parameter its default (the same as config/perception.yaml), a
description and a range; the node turns it into ParameterDescriptors (with
FloatingPointRange / IntegerRange) and checks every change with `validate_changes` in its
on-set-parameters callback. A parameter is either applied live (runtime.session.LIVE_SESSION,
or the node's own: subject_id, publish_debug_image, hri_face_id) or `read_only`: read at
start-up and refused at run time with the reason "read-only at run time: restart the node".
The refusal is ours, not the descriptor's read_only flag, whose rclpy reason does not say
what to do. Nothing here imports rclpy at module level, so the validation is tested without
ROS 2 (rclpy is imported lazily by `descriptor`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import re
from typing import Any

from st_f2m_ros.runtime.subjects import subject_id_problem

BACKENDS = ('torch', 'onnx', 'tensorrt')
TRANSCRIPT_TYPES = ('string', 'transcript', 'live_speech', 'none')
FACE_TARGETS = ('largest', 'tracked')
FACE_DETECTORS = ('blazeface_full', 'blazeface_short', 'haar')
OCCLUDED_FACE = ('abstain', 'mark')
DEVICE_RE = re.compile(r'^(cpu|cuda(:\d+)?)$')
# Parameters rclpy declares on every node itself (Jazzy and later add the second one).
RCLPY_PARAMS = frozenset({'use_sim_time', 'start_type_description_service'})
READ_ONLY_REASON = 'read-only at run time: restart the node to change it'


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter."""

    name: str
    default: Any
    description: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    read_only: bool = False  # needs a restart (model, store, subscriptions)

    @property
    def kind(self) -> str:
        """'bool', 'int', 'double', 'string' or 'string_array' (rclpy ParameterType names)."""
        d = self.default
        if isinstance(d, bool):
            return 'bool'
        if isinstance(d, int):
            return 'int'
        if isinstance(d, float):
            return 'double'
        if isinstance(d, str):
            return 'string'
        return 'string_array'


PERCEPTION_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec(
        'subject_id',
        'default',
        'Person the node recognises and adapts to when no REP 155 person id is known '
        '(1-64 letters, digits, _ - ., not starting with . or -, no ..). Follows /adapt '
        'and the tracked ROS4HRI person.',
    ),
    ParamSpec(
        'checkpoint',
        '',
        'Model checkpoint (.safetensors); empty = the packaged default.',
        read_only=True,
    ),
    ParamSpec(
        'backend',
        'torch',
        'Inference backend: torch, onnx or tensorrt.',
        choices=BACKENDS,
        read_only=True,
    ),
    ParamSpec(
        'export_dir',
        '',
        'ONNX export folder for the onnx/tensorrt backends (exported there when missing; '
        'empty = a temporary folder).',
        read_only=True,
    ),
    ParamSpec('device', 'cpu', 'Torch device: cpu or cuda[:N].', read_only=True),
    ParamSpec('num_threads', 2, 'CPU threads for inference.', 1, 64, read_only=True),
    ParamSpec(
        'use_compressed',
        False,
        'Subscribe to sensor_msgs/CompressedImage on '
        'image/compressed instead of sensor_msgs/Image.',
        read_only=True,
    ),
    ParamSpec(
        'transcript_type',
        'string',
        'Speech input type: string (std_msgs/String), '
        'transcript (st_f2m_ros/Transcript), live_speech (hri_msgs/LiveSpeech) or none.',
        choices=TRANSCRIPT_TYPES,
        read_only=True,
    ),
    ParamSpec(
        'window_hop', 0.25, 'Seconds between two classified windows.', 0.02, 5.0, read_only=True
    ),
    ParamSpec(
        'min_confidence',
        0.45,
        'Below this class probability a state abstains (emotion UNKNOWN).',
        0.0,
        1.0,
    ),
    ParamSpec(
        'min_segment',
        0.5,
        'Minimum duration in seconds before the output switches '
        'class (hysteresis against flicker).',
        0.0,
        10.0,
    ),
    ParamSpec(
        'history', 10.0, 'Seconds of merged states kept in each EmotionSequence.', 0.5, 120.0
    ),
    ParamSpec(
        'stale_timeout',
        1.0,
        'Camera silent this long (s): the state is reported '
        'STALE instead of repeating the last emotion.',
        0.1,
        60.0,
    ),
    ParamSpec(
        'face_detector',
        'blazeface_full',
        'Face stage: blazeface_full (real-face front end: BlazeFace full-range + tracked '
        '468-point mesh, measured components and face quality), blazeface_short (short-range '
        'BlazeFace, faces within about 2 m) or haar (OpenCV). BlazeFace falls back to haar '
        'with one warning when its model files are missing (st-f2m models install).',
        choices=FACE_DETECTORS,
        read_only=True,
    ),
    ParamSpec(
        'face_min_score',
        0.0,
        'BlazeFace detection threshold; 0 = the MediaPipe default of the variant (0.6 full-range, '
        '0.5 short-range). Lower finds dim or partly hidden faces, and more false ones.',
        0.0,
        0.99,
        read_only=True,
    ),
    ParamSpec(
        'face_redetect_every',
        0,
        'BlazeFace: also run the detector every N frames while the mesh follows a face, to pick '
        'up a closer person (0 = only when the face is lost; each run costs a detection).',
        0,
        3000,
        read_only=True,
    ),
    ParamSpec(
        'models_dir',
        '',
        "Folder searched first for the real-face model files: the front end's and a "
        "fer_mini_xception model's expression net (empty = where st-f2m models install puts "
        'them).',
        read_only=True,
    ),
    ParamSpec(
        'face_detect_every',
        5,
        'Haar only: run the face detector at least every N frames (tracking in between).',
        1,
        120,
    ),
    ParamSpec(
        'face_target',
        'tracked',
        'Haar only: which face to follow, largest or tracked (BlazeFace follows the largest '
        'face found when it detects).',
        choices=FACE_TARGETS,
    ),
    ParamSpec(
        'min_face_px',
        64.0,
        'BlazeFace: a face smaller than this (longer side of its landmarks, pixels) is low '
        'quality.',
        0.0,
        2048.0,
    ),
    ParamSpec(
        'max_abs_yaw',
        45.0,
        'BlazeFace: a head turned further than this (degrees, left or right) is low quality.',
        1.0,
        90.0,
    ),
    ParamSpec(
        'max_abs_pitch',
        35.0,
        'BlazeFace: a head tilted further than this (degrees, up or down) is low quality.',
        1.0,
        90.0,
    ),
    ParamSpec(
        'occluded_face',
        'abstain',
        'BlazeFace: a frame with mouth or nose covered (mask, hand) is low quality (abstain) '
        'or is decided with the covered components marked unreliable (mark).',
        choices=OCCLUDED_FACE,
    ),
    ParamSpec(
        'max_low_quality_fraction',
        0.5,
        'BlazeFace: a window with more than this share of low-quality face frames abstains '
        '(LOW_CONFIDENCE; reason in /diagnostics abstained_<reason>).',
        0.0,
        1.0,
    ),
    ParamSpec(
        'expression_equalize',
        False,
        'FER expression net (fer_mini_xception models): histogram-equalise the 64x64 grey face '
        'before the net, for dim cameras (the astronaut darkened to 10 % reads happiness 0.23 '
        'without, 0.999 with). Changes the features: the model id gets +equalize (its own ONNX '
        'export and adaptations). Refused at start-up for a pixel (ResNet) model.',
        read_only=True,
    ),
    ParamSpec(
        'adaptation_store',
        '~/.ros/st_f2m_ros/adaptations',
        'Folder of persisted per-subject adaptations.',
        read_only=True,
    ),
    ParamSpec(
        'clip_roots',
        ['/data'],
        'Folders /adapt may read clip files from (symlinks resolved; nothing outside).',
        read_only=True,
    ),
    ParamSpec(
        'max_clip_bytes',
        536870912,
        'Largest clip file (or bag folder) /adapt accepts, in bytes.',
        1024,
        2**40,
    ),
    ParamSpec('max_clips', 64, 'Most support clips in one /adapt request.', 1, 1024),
    ParamSpec('max_clips_per_class', 16, 'Most support clips of one class.', 1, 1024),
    ParamSpec('default_inner_steps', 10, 'Inner-loop steps when a request gives 0.', 1, 200),
    ParamSpec('keep_versions', 3, 'Persisted adaptation versions kept per subject.', 1, 100),
    ParamSpec(
        'support_clips_are_crops',
        False,
        'Support clip frames already are face crops (skip face detection on them).',
    ),
    ParamSpec(
        'diagnostics_period',
        1.0,
        'Seconds between /diagnostics messages.',
        0.1,
        60.0,
        read_only=True,
    ),
    ParamSpec(
        'publish_debug_image',
        False,
        'Publish the annotated image on '
        '/emotion/debug_image (face box, emotion, confidence, adaptation).',
    ),
    ParamSpec(
        'hri_enabled',
        True,
        'Publish hri_msgs/Expression on /humans/faces/<id>/expression when hri_msgs is installed.',
        read_only=True,
    ),
    ParamSpec('hri_face_id', '', 'REP 155 face id for the expression topic; empty = subject_id.'),
)

SPECS: dict[str, ParamSpec] = {s.name: s for s in PERCEPTION_PARAMS}


def defaults() -> dict[str, Any]:
    """Parameter name -> default value."""
    return {s.name: s.default for s in PERCEPTION_PARAMS}


def check_value(spec: ParamSpec, value: Any) -> str | None:
    """Return why `value` is invalid for `spec`, or None when it is fine."""
    kind = spec.kind
    if kind == 'bool' and not isinstance(value, bool):
        return f'{spec.name} must be true or false'
    if kind == 'int' and (isinstance(value, bool) or not isinstance(value, int)):
        return f'{spec.name} must be an integer'
    if kind == 'double' and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f'{spec.name} must be a number'
    if kind == 'string' and not isinstance(value, str):
        return f'{spec.name} must be a string'
    if kind == 'string_array' and (
        not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value)
    ):
        return f'{spec.name} must be a list of strings'
    if spec.lo is not None and spec.hi is not None and not spec.lo <= value <= spec.hi:
        return f'{spec.name} must be in [{spec.lo}, {spec.hi}], got {value}'
    if spec.choices and value not in spec.choices:
        return f'{spec.name} must be one of {", ".join(spec.choices)}, got {value!r}'
    if spec.name == 'subject_id' and subject_id_problem(value):
        return f'subject_id: {subject_id_problem(value)}'
    if spec.name == 'device' and not DEVICE_RE.match(value):
        return f'device must be cpu or cuda[:N], got {value!r}'
    if spec.name == 'hri_face_id' and value and subject_id_problem(value):
        return f'hri_face_id (a REP 155 id): {subject_id_problem(value)}'
    return None


def validate_changes(
    changes: Mapping[str, Any],
    current: Mapping[str, Any],
    started: bool = True,
    rclpy_params: frozenset[str] | set[str] = RCLPY_PARAMS,
) -> str | None:
    """Return the reason to refuse a batch of parameter changes, or None to accept it.

    Read-only parameters may be set at start-up (from the YAML file) but not while running;
    the parameters rclpy declares itself (`rclpy_params`) are rclpy's business; other unknown
    names are refused so that a typo in a `ros2 param set` is not silently ignored.
    """
    for name, value in changes.items():
        spec = SPECS.get(name)
        if spec is None:
            if name in rclpy_params or name in RCLPY_PARAMS:
                continue
            return f'unknown parameter {name!r}'
        reason = check_value(spec, value)
        if reason:
            return reason
        if started and spec.read_only and value != current.get(name):
            return f'{name} is {READ_ONLY_REASON}'
    return None


def description(spec: ParamSpec) -> str:
    """The text `ros2 param describe` shows: description, choices, when it can change."""
    text = spec.description
    if spec.choices:
        text += f' One of: {", ".join(spec.choices)}.'
    if spec.read_only:
        text += ' Read-only at run time (restart the node).'
    return text


def descriptor(spec: ParamSpec) -> Any:
    """Build the rclpy ParameterDescriptor of a spec (imports rclpy: only call in nodes)."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

    desc = ParameterDescriptor(description=description(spec))
    if spec.kind == 'double' and spec.lo is not None:
        desc.floating_point_range = [
            FloatingPointRange(from_value=float(spec.lo), to_value=float(spec.hi), step=0.0)
        ]
    elif spec.kind == 'int' and spec.lo is not None:
        desc.integer_range = [IntegerRange(from_value=int(spec.lo), to_value=int(spec.hi), step=1)]
    return desc
