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
"""Perception node parameters: the YAML defaults match the declarations; validation is pure."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
import pytest

from st_f2m_ros.ros import params as P
from st_f2m_ros.runtime.behavior import load_ros_params

CONFIG = Path(__file__).resolve().parents[2] / 'config'


def test_yaml_defaults_equal_declared_defaults() -> None:
    assert load_ros_params(CONFIG / 'perception.yaml') == P.defaults()


def test_defaults_are_valid_at_start() -> None:
    values = P.defaults()
    assert P.validate_changes(values, values, started=False) is None


def test_every_spec_is_described_and_ranged() -> None:
    for spec in P.PERCEPTION_PARAMS:
        assert spec.description.endswith('.'), spec.name
        if spec.kind in ('int', 'double'):
            assert spec.lo is not None and spec.lo <= spec.default <= spec.hi, spec.name
        assert spec.kind != 'string_array' or spec.default, 'empty arrays have no ROS type'


@pytest.mark.parametrize(
    ('changes', 'match'),
    [
        ({'min_confidence': 1.5}, r'min_confidence must be in \[0.0, 1.0\]'),
        ({'window_hop': 'fast'}, 'must be a number'),
        ({'face_detect_every': 0}, 'face_detect_every must be in'),
        ({'face_detect_every': 2.5}, 'must be an integer'),
        ({'face_target': 'nearest'}, 'must be one of largest, tracked'),
        ({'subject_id': '../etc'}, 'invalid subject id'),
        ({'subject_id': 'a..b'}, 'invalid subject id'),
        ({'publish_debug_image': 1}, 'true or false'),
        ({'backend': 'onnx'}, 'backend is read-only at run time: restart the node'),
        ({'clip_roots': ['/tmp']}, 'read-only at run time: restart the node'),
        ({'default_inner_steps': 201}, r'default_inner_steps must be in \[1, 200\]'),
        ({'no_such_param': 1}, 'unknown parameter'),
        ({'hri_face_id': 'a/b'}, 'REP 155'),
    ],
)
def test_refused_changes(changes: dict, match: str) -> None:
    import re

    reason = P.validate_changes(changes, P.defaults())
    assert reason is not None and re.search(match, reason), reason


def test_accepted_changes() -> None:
    ok = {
        'min_confidence': 0.6,
        'stale_timeout': 2.0,
        'subject_id': 'p08',
        'publish_debug_image': True,
        'backend': 'torch',
        'use_sim_time': True,
        'start_type_description_service': True,  # rclpy declares it on Jazzy and later
    }
    assert P.validate_changes(ok, P.defaults()) is None
    assert (
        P.validate_changes({'backend': 'onnx', 'device': 'cuda:0'}, P.defaults(), started=False)
        is None
    )


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_min_confidence_property(v: float) -> None:
    reason = P.validate_changes({'min_confidence': v}, P.defaults())
    assert (reason is None) == (0.0 <= v <= 1.0)


def test_every_parameter_is_live_or_read_only() -> None:
    """A parameter accepted at run time must do something: applied live or refused."""
    from st_f2m_ros.runtime.session import LIVE_SESSION

    node_live = {'subject_id', 'publish_debug_image', 'hri_face_id'}
    for spec in P.PERCEPTION_PARAMS:
        live = spec.name in LIVE_SESSION or spec.name in node_live
        assert live != spec.read_only, spec.name
        if spec.read_only:
            assert 'Read-only at run time' in P.description(spec), spec.name
