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
"""Face detection on a real photograph and on synthetic faces; tracking between detections."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.perception.crop import crop_face
from st_f2m_ros.perception.face import FaceConfig, FaceDetector, FaceTracker
from st_f2m_ros.perception.tracking import iou


@pytest.fixture(scope='module')
def astronaut() -> np.ndarray:
    skimage_data = pytest.importorskip('skimage.data')
    return cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)


# Eileen Collins' face in skimage's astronaut (512 x 512), located by hand.
ASTRONAUT_FACE = (175.0, 60.0, 100.0, 110.0)


def _synthetic(cid: int = 0, seed: int = 0, cx: float = 320, cy: float = 230, scale: float = 70):
    """A frame from the data engineer's renderer, with its ground-truth face box."""
    sub = pytest.importorskip('st_f2m_ros.data.synthetic.subjects')
    render = pytest.importorskip('st_f2m_ros.data.synthetic.render')
    expr = pytest.importorskip('st_f2m_ros.data.synthetic.expression')
    s = sub.make_subject(f'p{seed}', seed)
    img = render.make_background(s, 640, 480, np.random.default_rng(seed))
    comps = s.expression_components(expr.class_activation(cid))
    pose = render.Pose(cx, cy, scale)
    render.draw_face(img, s, render.face_geometry(s, comps), pose)
    return img, pose.box(getattr(s, 'aspect', 1.0))


def test_detects_the_astronaut(astronaut):
    dets = FaceDetector().detect(astronaut)
    assert len(dets) == 1
    assert iou(dets[0].box, ASTRONAUT_FACE) > 0.5


def test_detection_is_scale_invariant_through_downscaling(astronaut):
    big = cv2.resize(astronaut, (1024, 1024))
    dets = FaceDetector().detect(big)
    assert len(dets) == 1
    assert iou(dets[0].box, tuple(2 * v for v in ASTRONAUT_FACE)) > 0.5


def test_no_face_in_a_blank_image():
    assert FaceDetector().detect(np.full((480, 640, 3), 90, np.uint8)) == []


@pytest.mark.parametrize('cid', [0, 3, 9, 18])
def test_detects_synthetic_faces(cid):
    img, truth = _synthetic(cid)
    dets = FaceDetector().detect(img)
    assert len(dets) >= 1
    assert max(iou(d.box, truth) for d in dets) > 0.4


def test_two_faces_largest_and_tracked_target(astronaut):
    # Two copies of the astronaut side by side, the right one larger.
    small = cv2.resize(astronaut, (320, 320))
    canvas = np.full((512, 900, 3), 128, np.uint8)
    canvas[96:416, 0:320] = small
    canvas[0:512, 380:892] = astronaut
    dets = FaceDetector().detect(canvas)
    assert len(dets) == 2
    tracker = FaceTracker(FaceConfig(target='largest'))
    obs = tracker.update(0.0, canvas)
    assert obs.num_faces == 2 and obs.box[0] > 380
    # A tracker locked on the small face keeps it when the large one appears.
    only_small = canvas.copy()
    only_small[:, 360:] = 128
    tracked = FaceTracker(FaceConfig(target='tracked', detect_every=1))
    first = tracked.update(0.0, only_small)
    assert first.box[0] < 320
    second = tracked.update(0.033, canvas)
    assert second.num_faces == 2 and second.box[0] < 320


def test_tracker_detects_every_k_frames_and_follows_motion():
    cfg = FaceConfig(detect_every=5)
    tracker = FaceTracker(cfg)
    boxes = []
    for i in range(20):
        img, truth = _synthetic(0, cx=260 + 4 * i)
        obs = tracker.update(i / 30, img)
        assert obs.found
        boxes.append((obs.box, truth))
    assert tracker.detections_run == 4  # frames 0, 5, 10, 15
    # The tracked box follows the moving face (One-Euro lag stays small).
    assert all(iou(b, t) > 0.4 for b, t in boxes)


def test_tracker_redetects_when_the_face_leaves():
    tracker = FaceTracker(FaceConfig(detect_every=10))
    img, _ = _synthetic(0)
    assert tracker.update(0.0, img).found
    blank = np.full_like(img, 100)
    obs = tracker.update(1 / 30, blank)
    assert not obs.found and obs.detected  # template lost -> detector ran -> nothing
    assert tracker.detections_run == 2


def test_crop_of_a_tracked_face_has_the_model_size():
    img, _ = _synthetic(0)
    obs = FaceTracker().update(0.0, img)
    crop = crop_face(img, obs.box, 96)
    assert crop.shape == (96, 96, 3) and crop.dtype == np.uint8
    assert crop.std() > 10  # a face, not padding


def test_bad_config_is_rejected():
    with pytest.raises(ConfigError, match='target'):
        FaceDetector(FaceConfig(target='nearest'))
    with pytest.raises(ConfigError, match='YuNet'):
        FaceDetector(FaceConfig(detector='yunet', yunet_model='/nonexistent/yunet.onnx'))


def test_empty_scene_detects_only_every_few_frames():
    tracker = FaceTracker(FaceConfig(idle_detect_every=3))
    blank = np.full((480, 640, 3), 100, np.uint8)
    for i in range(9):
        assert not tracker.update(i / 30, blank).found
    assert tracker.detections_run == 3
    img, _ = _synthetic(0)
    tracker.reset()  # e.g. after a gap: look at once
    assert tracker.update(1.0, img).found
