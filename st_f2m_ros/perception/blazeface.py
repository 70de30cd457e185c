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
"""BlazeFace face detection (MediaPipe's full-range and short-range models) on LiteRT.

Pre- and post-processing follow MediaPipe's graph configs (modules/face_detection/
face_detection.pbtxt with the _full_range / _short_range options): the image is letterboxed
into the square input (aspect kept, black border) as RGB in [-1, 1]; SSD anchors of fixed
size 1 sit at cell centres of each stride's feature map (layers with the same stride share
cells; `interpolated_scale_aspect_ratio > 0` adds one more anchor per layer); each anchor
regresses a box (x, y, w, h) and six keypoints relative to its centre in input pixels; scores
are sigmoid(clip(logit, +-100)); overlapping boxes are merged by score-weighted NMS (IoU 0.3).
Keypoints, in the person's terms: right eye, left eye, nose tip, mouth centre, right ear
tragion, left ear tragion (the right eye is on the image's left in an unmirrored camera).
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import cv2
import numpy as np

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.perception.litert_model import LiteRTModel

KEYPOINT_NAMES = ('right_eye', 'left_eye', 'nose_tip', 'mouth', 'right_ear', 'left_ear')


@dataclass(frozen=True)
class BlazeFaceSpec:
    """A BlazeFace variant's graph options (MediaPipe FaceDetectionOptions)."""

    model: str  # registry name of the .tflite file
    input_size: int
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    num_boxes: int
    min_score: float


VARIANTS: dict[str, BlazeFaceSpec] = {
    # face_detection_full_range.pbtxt: one 48x48 layer, sparse weights, faces up to ~5 m.
    'full_range': BlazeFaceSpec('face_detection_full_range', 192, (4,), 0.0, 2304, 0.6),
    # face_detection_short_range.pbtxt: 16x16 x2 + 8x8 x6 anchors, faces within ~2 m.
    'short_range': BlazeFaceSpec(
        'face_detection_short_range', 128, (8, 16, 16, 16), 1.0, 896, 0.5
    ),
}


@dataclass(frozen=True)
class DetectorConfig:
    """Detector settings.

    Attributes:
        variant: 'full_range' (default: far and small faces, robust to roll and profile) or
            'short_range' (faster, faces within about 2 m).
        min_score: detection threshold (None: the variant's MediaPipe default, 0.6 / 0.5).
        nms_iou: boxes overlapping more than this are merged (MediaPipe: 0.3).
        max_faces: at most this many detections are returned, best first.
        num_threads: LiteRT threads.
    """

    variant: str = 'full_range'
    min_score: float | None = None
    nms_iou: float = 0.3
    max_faces: int = 8
    num_threads: int = 1

    def spec(self) -> BlazeFaceSpec:
        """The variant's graph options; an unknown variant raises ConfigError."""
        try:
            return VARIANTS[self.variant]
        except KeyError:
            raise ConfigError(
                f'unknown face detector variant {self.variant!r}; expected one of '
                f'{", ".join(VARIANTS)}'
            ) from None


@dataclass(frozen=True)
class FaceDetection:
    """One detected face in image pixels.

    Attributes:
        box: (x, y, w, h) of the face box.
        keypoints: float32 [6, 2] (x, y), in `KEYPOINT_NAMES` order.
        score: detection confidence in [0, 1].
    """

    box: tuple[float, float, float, float]
    keypoints: np.ndarray
    score: float


def ssd_anchors(input_size: int, strides: tuple[int, ...], interpolated: float) -> np.ndarray:
    """Anchor centres [N, 2] (x, y) in [0, 1], in output order (SsdAnchorsCalculator)."""
    out: list[np.ndarray] = []
    layer = 0
    while layer < len(strides):
        per_cell = 0
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            per_cell += 1 + (1 if interpolated > 0.0 else 0)  # aspect ratio 1.0 (+ interp.)
            last += 1
        fm = math.ceil(input_size / strides[layer])
        c = (np.arange(fm, dtype=np.float32) + 0.5) / fm
        yy, xx = np.meshgrid(c, c, indexing='ij')
        cells = np.stack([xx.ravel(), yy.ravel()], axis=1)
        out.append(np.repeat(cells, per_cell, axis=0))
        layer = last
    return np.concatenate(out, axis=0)


def decode_boxes(
    raw_boxes: np.ndarray,
    raw_scores: np.ndarray,
    anchors: np.ndarray,
    scale: float,
    min_score: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode raw regressors into (boxes [M,4] x0,y0,x1,y1, keypoints [M,6,2], scores [M]).

    Coordinates are in [0, 1] of the model input; only anchors scoring >= min_score are kept.
    """
    logits = np.clip(raw_scores.reshape(-1).astype(np.float64), -100.0, 100.0)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = np.nonzero(scores >= min_score)[0]
    raw = raw_boxes.reshape(len(anchors), -1)[keep] / scale
    a = anchors[keep]
    cx, cy = raw[:, 0] + a[:, 0], raw[:, 1] + a[:, 1]
    w, h = raw[:, 2], raw[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kps = raw[:, 4:16].reshape(-1, 6, 2) + a[:, None, :]
    return boxes, kps, scores[keep]


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


def weighted_nms(
    boxes: np.ndarray, kps: np.ndarray, scores: np.ndarray, iou: float
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's WEIGHTED non-max suppression: each cluster becomes its score-weighted mean."""
    order = np.argsort(-scores)
    out = []
    while order.size:
        top = order[0]
        sim = _iou(boxes[top], boxes[order])
        members = order[sim > iou]
        members = members if members.size else order[:1]
        w = scores[members][:, None]
        box = (boxes[members] * w).sum(0) / w.sum()
        kp = (kps[members] * w[:, :, None]).sum(0) / w.sum()
        out.append((box, kp, float(scores[top])))
        order = order[sim <= iou]
        order = order[order != top]
    return out


def letterbox(bgr: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float]:
    """Resize into a black size x size square keeping the aspect ratio.

    Returns the RGB float32 [1, size, size, 3] tensor in [-1, 1], the scale and the x / y
    padding (in input pixels) that map input coordinates back to the image.
    """
    h, w = bgr.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    small = cv2.resize(bgr, (nw, nh), interpolation=interp)
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas = np.zeros((size, size, 3), np.uint8)
    canvas[py : py + nh, px : px + nw] = small
    x = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).astype(np.float32) * (2.0 / 255.0) - 1.0
    return x[None], scale, float(px), float(py)


class BlazeFaceDetector:
    """Detect faces in a BGR image with a BlazeFace .tflite model.

    Args:
        config: detector settings.
        model_path: the .tflite file; None looks it up with `st_f2m_ros.models.model_path`
            (raises ModelFileError naming `st-f2m models install` when missing).
        models_dir: folder searched first for the model file.
    """

    def __init__(
        self,
        config: DetectorConfig | None = None,
        model_path: str | None = None,
        models_dir: str | None = None,
    ) -> None:
        self.config = config or DetectorConfig()
        self.spec = self.config.spec()
        if model_path is None:
            from st_f2m_ros.models import model_path as find_model

            model_path = str(find_model(self.spec.model, models_dir))
        self.model = LiteRTModel(model_path, self.config.num_threads)
        s = self.spec.input_size
        if self.model.input_shape != (1, s, s, 3):
            raise ConfigError(f'{model_path}: input {self.model.input_shape}, expected {s}x{s}')
        self.anchors = ssd_anchors(s, self.spec.strides, self.spec.interpolated_scale_aspect_ratio)
        if len(self.anchors) != self.spec.num_boxes:
            raise ConfigError(f'{len(self.anchors)} anchors, expected {self.spec.num_boxes}')

    def detect(self, bgr: np.ndarray) -> list[FaceDetection]:
        """Faces in a uint8 [H, W, 3] BGR image, best score first (at most `max_faces`)."""
        s = self.spec.input_size
        x, scale, px, py = letterbox(bgr, s)
        outs = self.model.run(x)
        n = self.spec.num_boxes
        raw_boxes = self.model.output_by_size(outs, n * 16)
        raw_scores = self.model.output_by_size(outs, n)
        min_score = self.spec.min_score if self.config.min_score is None else self.config.min_score
        boxes, kps, scores = decode_boxes(raw_boxes, raw_scores, self.anchors, s, min_score)
        dets = []
        for box, kp, score in weighted_nms(boxes, kps, scores, self.config.nms_iou):
            b = (box * s - [px, py, px, py]) / scale
            k = ((kp * s - [px, py]) / scale).astype(np.float32)
            dets.append(
                FaceDetection(
                    (float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])), k, score
                )
            )
            if len(dets) >= self.config.max_faces:
                break
        return dets
