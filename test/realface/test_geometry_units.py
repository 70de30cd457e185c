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
"""Front-end maths without model files: anchors, decoding, NMS, ROI, pose, components, baseline."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.perception.blazeface import (
    VARIANTS,
    FaceDetection,
    decode_boxes,
    ssd_anchors,
    weighted_nms,
)
from st_f2m_ros.perception.face_components import (
    BaselineConfig,
    NeutralBaseline,
    load_component_specs,
    raw_measures,
    to_components,
)
from st_f2m_ros.perception.face_geometry import (
    _TEMPLATE,
    CANONICAL_RIGID,
    RIGID_INDICES,
    estimate_pose,
    frontalize,
)
from st_f2m_ros.perception.face_mesh import (
    RotatedRect,
    roi_from_detection,
    roi_from_landmarks,
)
from st_f2m_ros.resources import resource_path
from st_f2m_ros.taxonomy import COMPONENTS, UNIPOLAR_COMPONENTS


@pytest.mark.parametrize('variant', sorted(VARIANTS))
def test_anchor_grid_matches_the_model_outputs(variant: str) -> None:
    spec = VARIANTS[variant]
    a = ssd_anchors(spec.input_size, spec.strides, spec.interpolated_scale_aspect_ratio)
    assert a.shape == (spec.num_boxes, 2)
    assert a.min() > 0 and a.max() < 1
    if variant == 'full_range':  # 48 x 48 cells of stride 4, one anchor each, row-major
        np.testing.assert_allclose(a[:2], [[0.5 / 48, 0.5 / 48], [1.5 / 48, 0.5 / 48]])
    else:  # 16 x 16 x 2 then 8 x 8 x 6
        np.testing.assert_allclose(a[:3], [[1 / 32, 1 / 32]] * 2 + [[3 / 32, 1 / 32]])
        np.testing.assert_allclose(a[512:519], [[1 / 16, 1 / 16]] * 6 + [[3 / 16, 1 / 16]])


def test_decode_and_weighted_nms_merge_one_face() -> None:
    anchors = np.array([[0.5, 0.5], [0.52, 0.5], [0.1, 0.1]], np.float32)
    raw = np.zeros((3, 16), np.float32)
    raw[:, 2:4] = 40.0  # 40 px boxes on a 192 input
    raw[1, 0] = -3.84  # the second anchor's box sits on the first one's centre
    raw[:, 4:] = np.tile([-10.0, -5.0], 6)
    scores = np.array([3.0, 1.0, -5.0], np.float32)
    boxes, kps, sc = decode_boxes(raw, scores, anchors, 192.0, 0.5)
    assert len(sc) == 2  # the third is below the threshold
    np.testing.assert_allclose(boxes[0], [0.5 - 20 / 192, 0.5 - 20 / 192] + [0.5 + 20 / 192] * 2)
    np.testing.assert_allclose(kps[0, 0], [0.5 - 10 / 192, 0.5 - 5 / 192], rtol=1e-5)
    merged = weighted_nms(boxes, kps, sc, 0.3)
    assert len(merged) == 1
    assert merged[0][2] == pytest.approx(1 / (1 + math.exp(-3.0)))
    np.testing.assert_allclose(merged[0][0], boxes[0], atol=1e-6)


def test_rois_follow_the_eye_line() -> None:
    kp = np.array([[100, 100], [140, 140], [120, 130], [120, 150], [80, 100], [160, 140]])
    det = FaceDetection((90.0, 90.0, 60.0, 80.0), kp.astype(np.float32), 0.9)
    roi = roi_from_detection(det)
    assert (roi.cx, roi.cy, roi.size) == (120.0, 130.0, 120.0)
    assert roi.angle == pytest.approx(math.pi / 4)
    m = roi.crop_to_image(192)
    np.testing.assert_allclose(m @ [96, 96, 1], [120, 130])  # crop centre -> ROI centre
    np.testing.assert_allclose(m @ [192, 96, 1] - m @ [96, 96, 1], [60 / 2**0.5] * 2)
    pts = np.zeros((468, 3))
    pts[:, :2] = np.random.default_rng(0).uniform(-1, 1, (468, 2)) * [30, 40] + [200, 150]
    pts[33, :2], pts[263, :2] = [180, 140], [220, 140]
    r = roi_from_landmarks(pts)
    assert r.angle == pytest.approx(0.0) and r.size == pytest.approx(1.5 * 80, rel=0.02)
    assert (r.cx, r.cy) == pytest.approx((200, 150), abs=1.5)
    assert isinstance(r, RotatedRect)


def _posed(yaw: float, pitch: float, roll: float, scale: float = 5.0) -> np.ndarray:
    """Mesh-like landmarks: the rigid template turned by (yaw, pitch, roll) degrees."""
    y, p, r = (math.radians(v) for v in (yaw, pitch, roll))
    ry = np.array([[math.cos(y), 0, -math.sin(y)], [0, 1, 0], [math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    lm = np.zeros((468, 3))
    lm[RIGID_INDICES] = scale * _TEMPLATE @ (rz @ ry @ rx).T + [320, 240, 0]
    return lm


@pytest.mark.parametrize(('yaw', 'pitch', 'roll'), [(0, 0, 0), (20, 0, 0), (0, 15, 0), (0, 0, 30)])
def test_pose_recovers_known_rotations(yaw: float, pitch: float, roll: float) -> None:
    pose = estimate_pose(_posed(yaw, pitch, roll))
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((yaw, pitch, roll), abs=0.5)
    assert pose.scale == pytest.approx(5.0) and pose.residual < 1e-6
    front = frontalize(_posed(yaw, pitch, roll), pose)
    canon = np.array([CANONICAL_RIGID[int(i)] for i in RIGID_INDICES])
    np.testing.assert_allclose(front[RIGID_INDICES], canon, atol=1e-4)


def test_component_file_is_complete_and_documented() -> None:
    cset = load_component_specs()
    assert [s.name for s in cset.specs] == list(COMPONENTS)
    for s in cset.specs:
        assert len(s.rationale) > 20 and s.full_scale > 0
        assert s.unipolar == (s.name in UNIPOLAR_COMPONENTS)
    assert {'reference', 'nose', 'mouth'} <= set(cset.occlusion)


def test_every_full_scale_says_how_it_was_calibrated() -> None:
    """Each component carries its one-line calibration (slope and r on drawn faces)."""
    doc = yaml.safe_load(resource_path('face_components.yaml').read_text())
    for name, spec in doc['components'].items():
        line = str(spec.get('calibration', ''))
        assert 'slope' in line and ' r ' in line, name
        assert spec['full_scale'] > 0
        kept = line.startswith('kept')
        assert kept == (name in {'brow_crest', 'nose', 'nostril', 'upper_lip', 'lower_lip'}), name
    # The mouth corners are read against the nose base, which an open mouth does not move.
    for name in ('left_mouth_corner', 'right_mouth_corner'):
        assert doc['components'][name]['terms'][0]['ref'] == [1, 2]
        assert 'prior_note' in doc['components'][name]


@pytest.mark.parametrize(
    ('edit', 'message'),
    [
        (lambda d: d['components']['mouth']['terms'][0].update(points=[468]), 'mesh index'),
        (lambda d: d['components']['nose'].update(rationale=''), 'rationale'),
        (lambda d: d['components']['nose'].update(region='ears'), 'region'),
        (lambda d: d['components'].pop('nostril'), 'Table II names'),
        (lambda d: d['components']['nose']['terms'][0].update(kind='area'), 'kind'),
    ],
)
def test_malformed_component_file_names_the_problem(tmp_path: Path, edit, message) -> None:
    doc = yaml.safe_load(resource_path('face_components.yaml').read_text())
    edit(doc)
    path = tmp_path / 'c.yaml'
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ConfigError, match=message):
        load_component_specs(path)


def test_components_are_relative_to_neutral_and_clipped() -> None:
    cset = load_component_specs()
    neutral = cset.priors
    scale = np.array([s.full_scale for s in cset.specs])
    assert np.all(to_components(neutral, neutral, cset) == 0)
    up = to_components(neutral + 0.5 * scale, neutral, cset)
    np.testing.assert_allclose(up, 0.5, atol=1e-6)
    down = to_components(neutral - 3 * scale, neutral, cset)
    uni = np.array([s.unipolar for s in cset.specs])
    assert np.all(down[uni] == 0) and np.all(down[~uni] == -1)


def test_raw_measures_ignore_face_size_and_position() -> None:
    cset = load_component_specs()
    pts = np.random.default_rng(1).normal(size=(468, 2))
    a = raw_measures(pts, cset)
    np.testing.assert_allclose(raw_measures(pts * 3.7 + [50, -20], cset), a, rtol=1e-9)


def _frame(rng: np.random.Generator, jitter: float) -> np.ndarray:
    base = np.zeros((468, 2))
    base[[33, 133]], base[[263, 362]] = [-4.5, 2.6], [4.5, 2.6]
    return base + rng.normal(0, jitter, base.shape)


def test_neutral_baseline_learns_only_from_calm_reliable_frames() -> None:
    cset = load_component_specs()
    cfg = BaselineConfig(calm_frames=3, min_samples=5, max_samples=50)
    b = NeutralBaseline(cset, cfg)
    rng = np.random.default_rng(0)
    raw = cset.priors + 0.05
    reliable = np.ones(12, bool)
    reliable[7] = False  # mouth hidden: never learnt
    assert b.source == 'prior'
    for _ in range(20):  # big motion: never calm
        assert not b.update(raw, _frame(rng, 1.0), reliable)
    assert b.source == 'prior'
    calm = [b.update(raw, _frame(rng, 0.001), reliable) for _ in range(10)]
    assert calm[:3] == [False] * 3 and all(calm[4:])
    assert b.source == 'partial' and not b.ready_mask()[7] and b.ready_mask().sum() == 11
    np.testing.assert_allclose(b.neutral[reliable], raw[reliable])
    assert b.neutral[7] == pytest.approx(cset.priors[7])
    state = b.state()
    restored = NeutralBaseline.from_state(state, cset, cfg)
    np.testing.assert_allclose(restored.neutral, b.neutral)
    assert restored.source == 'support'


def test_neutral_from_support_clips_wins_over_online() -> None:
    cset = load_component_specs()
    b = NeutralBaseline(cset, BaselineConfig(calm_frames=1, min_samples=2))
    rng = np.random.default_rng(0)
    for _ in range(5):
        b.update(cset.priors + 0.2, _frame(rng, 0.0), np.ones(12, bool))
    support = np.tile(cset.priors - 0.1, (4, 1))
    mask = np.ones((4, 12), bool)
    mask[:, 0] = False
    b.set_from_support(support, mask)
    assert b.source == 'support'
    np.testing.assert_allclose(b.neutral[1:], cset.priors[1:] - 0.1)
    assert b.neutral[0] == pytest.approx(cset.priors[0] + 0.2)  # no support frame: online
    b.update(cset.priors + 0.5, _frame(rng, 0.0), np.ones(12, bool))
    np.testing.assert_allclose(b.neutral[1:], cset.priors[1:] - 0.1)
