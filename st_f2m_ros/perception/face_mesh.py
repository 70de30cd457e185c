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
"""MediaPipe's 468-point face mesh on a rotated region of interest, and the ROI rules.

As in MediaPipe's face_landmark graphs: the ROI is a square around the face, rotated so the
eyes are level (from the detector's two eye keypoints, or from the mesh's outer eye corners
33 and 263 when following the previous frame), enlarged 1.5x; the crop is 192x192 RGB in
[0, 1] with the border replicated; the model returns 468 (x, y, z) points in crop pixels and a
face-presence logit (sigmoid; MediaPipe re-detects below 0.5). z is depth relative to the
face centre in the same pixel scale as x (negative: towards the camera).
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import cv2
import numpy as np

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.perception.blazeface import FaceDetection
from st_f2m_ros.perception.litert_model import LiteRTModel

NUM_LANDMARKS = 468
MESH_INPUT = 192
ROI_SCALE = 1.5
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263  # person's right / left outer eye corners


@dataclass(frozen=True)
class RotatedRect:
    """A square region: centre (cx, cy) and side `size` in image pixels, `angle` in radians.

    `angle` is the direction of the region's x axis in the image (atan2(dy, dx), y down): the
    roll of the eye line, which the crop removes.
    """

    cx: float
    cy: float
    size: float
    angle: float

    def crop_to_image(self, out_size: int) -> np.ndarray:
        """Affine [2, 3] taking crop pixel coordinates to image pixel coordinates."""
        k = self.size / out_size
        c, s = math.cos(self.angle), math.sin(self.angle)
        a = np.array([[c * k, -s * k], [s * k, c * k]])
        b = np.array([self.cx, self.cy]) - a @ np.array([out_size / 2.0, out_size / 2.0])
        return np.concatenate([a, b[:, None]], axis=1)


def roi_from_detection(det: FaceDetection, scale: float = ROI_SCALE) -> RotatedRect:
    """The mesh ROI of a detection: box centre, eye-line roll, longer side x `scale`."""
    x, y, w, h = det.box
    (rx, ry), (lx, ly) = det.keypoints[0], det.keypoints[1]
    angle = math.atan2(float(ly - ry), float(lx - rx))
    return RotatedRect(x + w / 2.0, y + h / 2.0, max(w, h) * scale, angle)


def roi_from_landmarks(landmarks: np.ndarray, scale: float = ROI_SCALE) -> RotatedRect:
    """The next frame's ROI from this frame's mesh: extent in the eye-line frame x `scale`."""
    p = np.asarray(landmarks, dtype=np.float64)[:, :2]
    d = p[LEFT_EYE_OUTER] - p[RIGHT_EYE_OUTER]
    angle = math.atan2(d[1], d[0])
    c, s = math.cos(angle), math.sin(angle)
    u = p @ np.array([c, s])
    v = p @ np.array([-s, c])
    mu, mv = (u.min() + u.max()) / 2.0, (v.min() + v.max()) / 2.0
    side = max(u.max() - u.min(), v.max() - v.min()) * scale
    return RotatedRect(mu * c - mv * s, mu * s + mv * c, side, angle)


def warp_roi(bgr: np.ndarray, roi: RotatedRect, out_size: int) -> np.ndarray:
    """Cut the rotated square `roi` out of `bgr` as an out_size x out_size image."""
    m = roi.crop_to_image(out_size)
    return cv2.warpAffine(
        bgr,
        m,
        (out_size, out_size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


@dataclass(frozen=True)
class MeshResult:
    """Mesh output in image coordinates.

    Attributes:
        landmarks: float32 [468, 3]: x, y in image pixels, z relative depth in pixels.
        presence: face-presence probability in [0, 1].
        roi: the region the mesh was run on.
    """

    landmarks: np.ndarray
    presence: float
    roi: RotatedRect


class FaceMesh:
    """The 468-point mesh model (face_landmark.tflite) on LiteRT.

    Args:
        num_threads: LiteRT threads.
        model_path: the .tflite file; None looks up 'face_landmark' with `models.model_path`.
        models_dir: folder searched first for the model file.
    """

    def __init__(
        self, num_threads: int = 1, model_path: str | None = None, models_dir: str | None = None
    ) -> None:
        if model_path is None:
            from st_f2m_ros.models import model_path as find_model

            model_path = str(find_model('face_landmark', models_dir))
        self.model = LiteRTModel(model_path, num_threads)
        if self.model.input_shape != (1, MESH_INPUT, MESH_INPUT, 3):
            raise ConfigError(f'{model_path}: input {self.model.input_shape}, expected 192x192')

    def run(self, bgr: np.ndarray, roi: RotatedRect) -> MeshResult:
        """Landmarks and presence of the face inside `roi` of a uint8 BGR image."""
        crop = warp_roi(bgr, roi, MESH_INPUT)
        x = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) * (1.0 / 255.0)
        outs = self.model.run(x[None])
        pts = self.model.output_by_size(outs, NUM_LANDMARKS * 3).reshape(NUM_LANDMARKS, 3)
        logit = float(self.model.output_by_size(outs, 1).reshape(()))
        m = roi.crop_to_image(MESH_INPUT)
        out = np.empty((NUM_LANDMARKS, 3), np.float32)
        out[:, :2] = pts[:, :2] @ m[:, :2].T + m[:, 2]
        out[:, 2] = pts[:, 2] * (roi.size / MESH_INPUT)
        presence = 1.0 / (1.0 + math.exp(-max(min(logit, 60.0), -60.0)))
        return MeshResult(out, presence, roi)
