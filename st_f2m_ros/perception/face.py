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
"""Face detection (OpenCV, offline), a detect-then-track loop for live frames, the face settings.

The default detector is OpenCV's bundled Haar cascade (`cv2.data.haarcascades`): it ships with
opencv-python, needs no download and finds both real frontal faces and the synthetic ones.
OpenCV's YuNet CNN (`cv2.FaceDetectorYN`) is used instead when a model file is configured;
opencv-python does not bundle one. Detection runs on a downscaled grey image and only every
`detect_every` frames or when the template follower loses the face (`tracking.py`), which is
what keeps the perception loop well above the camera rate on two CPU cores. The real-face
front end (BlazeFace + tracked 468-point mesh, `face_frontend.py`) is selected by the same
`FaceConfig.detector` and wired in by `face_stage.FaceStage`; Haar stays its fallback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.perception.tracking import (
    Box,
    BoxSmoother,
    OneEuroConfig,
    TemplateFollower,
    select_target,
)

TARGET_MODES = ('largest', 'tracked')
BLAZEFACE = {'blazeface_full': 'full_range', 'blazeface_short': 'short_range'}
DETECTORS = (*BLAZEFACE, 'haar', 'yunet')
OCCLUDED_FACE = ('abstain', 'mark')


@dataclass(frozen=True)
class FaceConfig:
    """Detector and tracker settings (defaults suit a 640x480 robot camera at 30 Hz).

    Attributes:
        detector: 'blazeface_full' / 'blazeface_short' (the real-face front end: BlazeFace
            + tracked 468-point mesh; Haar when its model files are missing), 'haar'
            (bundled with OpenCV) or 'yunet' (needs `yunet_model`).
        cascade: Haar cascade file name inside cv2.data.haarcascades, or a path.
        yunet_model: path to a YuNet .onnx file (used when detector == 'yunet').
        detect_width: images wider than this are downscaled before detection and tracking.
        min_face_frac: smallest face side as a fraction of the downscaled image height.
        scale_factor, min_neighbors: Haar multi-scale step and vote threshold.
        min_relative_votes: Haar detections with fewer votes than this share of the best
            one's are dropped as false positives.
        detect_every: run the detector at least every this many frames (1 = every frame).
        idle_detect_every: with no face in view, look for one only every this many frames
            (an empty room must not cost a detector run per frame).
        max_coast: seconds a track may live on template following alone.
        target: 'largest' face, or keep the 'tracked' one while it is visible.
        track_min_score: normalised cross-correlation below which the track is lost.
        smoothing: One-Euro parameters for the output box.
        models_dir: folder searched first for the front end's model files ('' = the
            `st-f2m models install` locations).
        min_face_px, max_abs_yaw, max_abs_pitch: front end quality: a smaller face (longer
            side of the landmark box, pixels) or a larger head turn (degrees) is low quality.
        occluded_face: 'abstain' (a frame with mouth or nose covered is low quality) or
            'mark' (decide anyway; the covered components are reported unreliable).
        detect_min_score: BlazeFace detection threshold (0: the variant's MediaPipe default,
            0.6 full-range / 0.5 short-range); lower finds dim or partly hidden faces.
        redetect_every: BlazeFace: also run the detector every this many tracked frames, to
            pick up a closer person (0: only when the mesh loses the face).
        box_scale, box_shift: the front end's landmark box made Haar-like (what the pixel
            checkpoint was trained on): square side = box_scale x the longer side, centre
            moved down by box_shift x that side (negative: up). Measured on synthetic frames
            against the generator's face boxes (README, Reliability).

    """

    detector: str = 'blazeface_full'
    cascade: str = 'haarcascade_frontalface_default.xml'
    yunet_model: str = ''
    detect_width: int = 320
    min_face_frac: float = 0.12
    scale_factor: float = 1.1
    min_neighbors: int = 3
    min_relative_votes: float = 0.25
    detect_every: int = 5
    idle_detect_every: int = 3
    max_coast: float = 1.0
    target: str = 'tracked'
    track_min_score: float = 0.6
    smoothing: OneEuroConfig = field(default_factory=OneEuroConfig)
    models_dir: str = ''
    min_face_px: float = 64.0
    max_abs_yaw: float = 45.0
    max_abs_pitch: float = 35.0
    occluded_face: str = 'abstain'
    detect_min_score: float = 0.0
    redetect_every: int = 0
    box_scale: float = 1.25
    box_shift: float = -0.075

    @property
    def frontend(self) -> bool:
        """Whether the real-face front end (a BlazeFace variant) is asked for."""
        return self.detector in BLAZEFACE

    def validate(self) -> None:
        """Raise ConfigError naming the bad field."""
        if self.detector not in DETECTORS:
            raise ConfigError(
                f'face detector must be one of {", ".join(DETECTORS)}, got {self.detector!r}'
            )
        if self.occluded_face not in OCCLUDED_FACE:
            raise ConfigError(f'occluded_face must be abstain or mark, got {self.occluded_face!r}')
        if not (
            self.min_face_px >= 0
            and 0 < self.max_abs_yaw <= 90
            and 0 < self.max_abs_pitch <= 90
            and 0.5 <= self.box_scale <= 3
            and abs(self.box_shift) <= 1
            and 0 <= self.detect_min_score < 1
            and self.redetect_every >= 0
        ):
            raise ConfigError(
                'face config: min_face_px >= 0, 0 < max_abs_yaw, max_abs_pitch <= 90, '
                '0.5 <= box_scale <= 3, |box_shift| <= 1, 0 <= detect_min_score < 1 and '
                'redetect_every >= 0'
            )
        if self.target not in TARGET_MODES:
            raise ConfigError(f'face target must be one of {TARGET_MODES}, got {self.target!r}')
        if (
            min(self.detect_every, self.idle_detect_every) < 1
            or self.detect_width < 32
            or not 0 < self.min_face_frac < 1
        ):
            raise ConfigError(
                'face config: detect_every and idle_detect_every >= 1, detect_width >= 32 and '
                '0 < min_face_frac < 1'
            )


@dataclass(frozen=True)
class Detection:
    """One detected face: box (x, y, w, h) in full-image pixels and a detector score."""

    box: Box
    score: float


class FaceDetector:
    """Runs the configured OpenCV detector on a BGR image; returns boxes in image pixels."""

    def __init__(self, config: FaceConfig | None = None) -> None:
        self.config = config or FaceConfig()
        self.config.validate()
        self._yunet = None
        self._cascade = None
        if self.config.detector == 'yunet':
            path = Path(self.config.yunet_model)
            if not path.is_file():
                raise ConfigError(
                    f'YuNet model {str(path)!r} not found; opencv-python does not bundle one. '
                    'Set detector to "haar" or point yunet_model at face_detection_yunet.onnx'
                )
            self._yunet = cv2.FaceDetectorYN.create(str(path), '', (320, 320), 0.7, 0.3, 50)
        else:
            path = Path(self.config.cascade)
            if not path.is_file():
                path = Path(cv2.data.haarcascades) / self.config.cascade
            cascade = cv2.CascadeClassifier(str(path))
            if cascade.empty():
                raise ConfigError(f'cannot load the Haar cascade {str(path)!r}')
            self._cascade = cascade

    def downscale(self, bgr: np.ndarray) -> tuple[np.ndarray, float]:
        """Return the equalised grey image used for detection and its scale to the input."""
        h, w = bgr.shape[:2]
        scale = min(1.0, self.config.detect_width / float(w))
        small = bgr
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            small = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        return small, scale

    def detect_small(self, small: np.ndarray, grey: np.ndarray) -> list[Detection]:
        """Detect on the already downscaled BGR / grey pair; boxes in downscaled pixels."""
        c = self.config
        side = max(12, int(c.min_face_frac * small.shape[0]))
        if self._yunet is not None:
            self._yunet.setInputSize((small.shape[1], small.shape[0]))
            _, faces = self._yunet.detect(small)
            if faces is None:
                return []
            return [
                Detection((float(f[0]), float(f[1]), float(f[2]), float(f[3])), float(f[-1]))
                for f in faces
                if min(f[2], f[3]) >= side
            ]
        if self._cascade is None:
            return []
        boxes, votes = self._cascade.detectMultiScale2(
            grey, scaleFactor=c.scale_factor, minNeighbors=c.min_neighbors, minSize=(side, side)
        )
        dets = [
            Detection(tuple(float(v) for v in b), float(n))  # type: ignore[arg-type]
            for b, n in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(votes).reshape(-1))
        ]
        # Haar false positives gather few neighbour votes next to a real face's many.
        top = max((d.score for d in dets), default=0.0)
        return [d for d in dets if d.score >= c.min_relative_votes * top]

    def detect(self, bgr: np.ndarray) -> list[Detection]:
        """Detect faces in a BGR image; boxes are returned in full-resolution pixels."""
        small, scale = self.downscale(bgr)
        grey = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
        return [
            Detection(tuple(v / scale for v in d.box), d.score)  # type: ignore[arg-type]
            for d in self.detect_small(small, grey)
        ]


@dataclass(frozen=True)
class FaceObservation:
    """What the tracker reports for one frame.

    `box` is the smoothed target box in image pixels (None when no face); `detected` says whether
    the detector ran on this frame; `num_faces` counts faces at the last detection. With the
    real-face front end, `box` is its Haar-like crop box and `frontend` its
    `face_frontend.FaceObservation` (mesh, pose, components, reliable mask, quality, timings).
    """

    stamp: float
    box: Box | None
    detected: bool
    num_faces: int
    score: float
    frontend: Any = None

    @property
    def found(self) -> bool:
        """Whether a face box is available for this frame."""
        return self.box is not None


class FaceTracker:
    """Detect every k frames or when lost; follow the target by template matching in between.

    `update(stamp, bgr)` is called once per frame with the frame's stamp (seconds); the tracker
    never reads a clock, so replaying a bag gives the same boxes every time.
    """

    def __init__(self, config: FaceConfig | None = None) -> None:
        self.config = config or FaceConfig()
        self.detector = FaceDetector(self.config)
        self._smoother = BoxSmoother(self.config.smoothing)
        self._follower = TemplateFollower(min_score=self.config.track_min_score)
        self._raw: Box | None = None  # last raw target box, downscaled pixels
        self._frames_since_detect = 0
        self._idle_frames = 0
        self._last_detect_t = -np.inf
        self._num_faces = 0
        self.detections_run = 0

    def reset(self) -> None:
        """Forget the target (e.g. after a long gap in the stream)."""
        self._raw = None
        self._follower.reset()
        self._smoother.reset()
        self._frames_since_detect = 0
        self._idle_frames = 0

    def update(
        self, stamp: float, bgr: np.ndarray, defer_detection: bool = False
    ) -> FaceObservation:
        """Process one frame; return the target face box for it.

        `defer_detection` postpones a periodic detection to the next frame while the face is
        still followed (the pipeline sets it on frames that complete a window, to keep window
        latency low); a lost face is always detected at once.
        """
        c = self.config
        if self._raw is None and 0 < self._idle_frames < c.idle_detect_every:
            self._idle_frames += 1  # nobody in view at the last look: skip this frame
            return FaceObservation(stamp, None, False, 0, 0.0)
        small, scale = self.detector.downscale(bgr)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        box: Box | None = None
        score = 0.0
        detected = False
        forced = (
            self._raw is None
            or stamp - self._last_detect_t > c.max_coast
            or stamp < self._last_detect_t
        )
        periodic = self._frames_since_detect + 1 >= c.detect_every
        due = forced or (periodic and not defer_detection)
        tried = False
        if not due and self._raw is not None:
            tried = True
            followed = self._follower.follow(grey, self._raw)
            if followed is None:
                due = True
            else:
                box, score = followed
                self._frames_since_detect += 1
        if due:
            detected = True
            self.detections_run += 1
            dets = self.detector.detect_small(small, cv2.equalizeHist(grey))
            self._num_faces = len(dets)
            idx = select_target([d.box for d in dets], c.target, self._raw)
            self._frames_since_detect = 0
            if idx is None:
                # A missed detection (slight head turn, blur) does not drop a face that the
                # follower still sees, until max_coast after the last real detection.
                kept = None
                if not tried and not forced and self._raw is not None:
                    kept = self._follower.follow(grey, self._raw)
                if kept is None:
                    self.reset()
                    self._idle_frames = 1
                    self._last_detect_t = stamp
                    return FaceObservation(stamp, None, True, 0, 0.0)
                box, score = kept
            else:
                self._last_detect_t = stamp
                self._idle_frames = 0
                box, score = dets[idx].box, dets[idx].score
                if self._raw is not None and c.target == 'largest' and _moved(box, self._raw):
                    self._smoother.reset()  # a different person: do not glide the box across
                self._follower.start(grey, box)
        if box is None:  # unreachable: one branch above set it
            return FaceObservation(stamp, None, detected, self._num_faces, 0.0)
        self._raw = box
        smooth = self._smoother(stamp, tuple(v / scale for v in box))  # type: ignore[arg-type]
        return FaceObservation(stamp, smooth, detected, self._num_faces, score)


def _moved(a: Box, b: Box) -> bool:
    """Whether box `a` is far from `b` (centres more than a box size apart)."""
    return (
        abs(a[0] + a[2] / 2 - b[0] - b[2] / 2) > b[2]
        or abs(a[1] + a[3] / 2 - b[1] - b[3] / 2) > b[3]
    )
