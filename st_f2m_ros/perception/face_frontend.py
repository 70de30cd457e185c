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
"""The real-face front end: detect, follow the mesh, measure pose, crop and components.

One call per camera frame, `FaceFrontEnd.process(bgr)`, returns a `FaceObservation` (or None
when no face is in view). As in MediaPipe's face-mesh graph, the detector only runs when there
is no face being followed: the mesh's own landmarks give the next frame's region, and the
face is looked for again when the mesh's face-presence score drops (in the same frame, so a
lost track costs no frame). The person's neutral face is learnt online from calm stretches
(`NeutralBaseline`) or set from neutral support clips, and every observation says which
components were unreliable in that frame. Not thread-safe: one instance per camera stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import time

import numpy as np

from st_f2m_ros.errors import PerceptionError
from st_f2m_ros.perception.blazeface import BlazeFaceDetector, DetectorConfig, FaceDetection
from st_f2m_ros.perception.face_components import (
    BaselineConfig,
    NeutralBaseline,
    load_component_specs,
    raw_measures,
    to_components,
)
from st_f2m_ros.perception.face_geometry import (
    AlignConfig,
    HeadPose,
    aligned_crop,
    estimate_pose,
    frontalize,
)
from st_f2m_ros.perception.face_mesh import (
    FaceMesh,
    RotatedRect,
    roi_from_detection,
    roi_from_landmarks,
)
from st_f2m_ros.perception.face_quality import FaceQuality, QualityConfig, assess_quality
from st_f2m_ros.taxonomy import COMPONENTS


@dataclass(frozen=True)
class FrontEndConfig:
    """Front end settings (every stage's own config nested).

    Attributes:
        detector: BlazeFace variant and thresholds.
        min_presence: the mesh's face-presence score below which the track is dropped and
            the detector runs again (MediaPipe: 0.5).
        redetect_every: also run the detector every this many tracked frames, to pick up a
            closer person (0: only when the track is lost).
        align, quality, baseline: aligned crop, quality checks, neutral estimation.
        num_threads: LiteRT threads for each model.
        models_dir: folder searched first for the model files.
        components_file: component YAML (None: the packaged face_components.yaml).
    """

    detector: DetectorConfig = field(default_factory=DetectorConfig)
    min_presence: float = 0.5
    redetect_every: int = 0
    align: AlignConfig = field(default_factory=AlignConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    num_threads: int = 1
    models_dir: str | None = None
    components_file: str | None = None


@dataclass(frozen=True)
class FaceObservation:
    """Everything the front end measured on one face in one frame.

    Attributes:
        box: (x, y, w, h) pixel bounds of the landmarks (the `crop.crop_face` box contract).
        landmarks: float32 [468, 3] mesh in image pixels (z: relative depth, pixels).
        frontal: float32 [468, 3] the same in pose-free canonical face units.
        presence: mesh face-presence probability.
        detection_score: the detector's score when it ran this frame, else None (tracked).
        roi: the rotated region the mesh ran on.
        pose: head pose (yaw, pitch, roll in degrees; `iod_px` the pose-free face scale).
        crop: uint8 [S, S, 3] BGR aligned face (eyes level, fixed inter-ocular distance).
        raw: float64 [12] component measures in IOD units (Table II order).
        components: float32 [12] Table II values vs the neutral baseline.
        reliable: bool [12]; False where this frame cannot support the value.
        quality: the checks behind `reliable` (face size, pose, occlusion scores, reasons).
        baseline_source: 'prior', 'partial', 'online' or 'support'.
        neutral_known: bool [12]; True where the neutral the value is measured against is the
            person's own (online or support), False where it is still the population prior.
        calm: this frame counted as calm for the online neutral estimate.
        timings_ms: stage -> milliseconds ('detect', 'mesh', 'measure').
    """

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    frontal: np.ndarray
    presence: float
    detection_score: float | None
    roi: RotatedRect
    pose: HeadPose
    crop: np.ndarray
    raw: np.ndarray
    components: np.ndarray
    reliable: np.ndarray
    quality: FaceQuality
    baseline_source: str
    calm: bool
    timings_ms: dict[str, float]
    neutral_known: np.ndarray

    @property
    def model_reliable(self) -> np.ndarray:
        """bool [12]: what a `component_input` model may read: reliable in this frame AND
        measured against the person's own neutral. Against the population prior a value says
        more about the person's resting face than about an expression (a calm real face is
        read as raised or lowered parts), so it is not an input until the neutral is known."""
        return np.asarray(self.reliable, dtype=bool) & np.asarray(self.neutral_known, bool)

    @property
    def tracked(self) -> bool:
        """True when the mesh followed the previous frame (no detector run this frame)."""
        return self.detection_score is None

    @property
    def unreliable_components(self) -> list[str]:
        """Names of the components not to be trusted in this frame."""
        return [n for n, ok in zip(COMPONENTS, self.reliable) if not ok]


def _largest(dets: list[FaceDetection]) -> FaceDetection:
    """The closest person: the largest box (the patient in front of the robot)."""
    return max(dets, key=lambda d: d.box[2] * d.box[3])


class FaceFrontEnd:
    """Detector + tracked 468-point mesh + pose + aligned crop + components + quality.

    Raises ModelFileError at construction when a model file is not installed (the message
    names `st-f2m models install`); nothing is downloaded.
    """

    def __init__(self, config: FrontEndConfig | None = None) -> None:
        self.config = cfg = config or FrontEndConfig()
        det_cfg = cfg.detector
        if det_cfg.num_threads != cfg.num_threads:
            det_cfg = replace(det_cfg, num_threads=cfg.num_threads)
        self.detector = BlazeFaceDetector(det_cfg, models_dir=cfg.models_dir)
        self.mesh = FaceMesh(cfg.num_threads, models_dir=cfg.models_dir)
        self.cset = load_component_specs(cfg.components_file)
        self.baseline = NeutralBaseline(self.cset, cfg.baseline)
        self._roi: RotatedRect | None = None
        self._since_detect = 0

    def reset(self, keep_baseline: bool = False) -> None:
        """Drop the track (and the neutral baseline unless `keep_baseline`): a new person."""
        self._roi = None
        self._since_detect = 0
        if not keep_baseline:
            self.baseline.reset()

    def _detect(self, bgr: np.ndarray) -> tuple[RotatedRect | None, float | None]:
        dets = self.detector.detect(bgr)
        if not dets:
            return None, None
        best = _largest(dets)
        return roi_from_detection(best), best.score

    def process(
        self, bgr: np.ndarray, track: bool = True, learn: bool = True
    ) -> FaceObservation | None:
        """Measure the face in one uint8 [H, W, 3] BGR frame; None when no face is found.

        Args:
            bgr: the camera frame.
            track: follow the previous frame's mesh (False: detect afresh, for still images
                and unrelated frames such as a dataset's).
            learn: feed the online neutral estimate with this frame.
        """
        if not (isinstance(bgr, np.ndarray) and bgr.dtype == np.uint8 and bgr.ndim == 3):
            raise PerceptionError('the face front end needs a uint8 [H, W, 3] BGR image')
        if bgr.shape[2] != 3 or min(bgr.shape[:2]) < 16:
            raise PerceptionError(f'the face front end needs [H, W, 3] BGR, got {bgr.shape}')
        t0 = time.perf_counter()
        timings = {'detect': 0.0, 'mesh': 0.0, 'measure': 0.0}
        score: float | None = None
        cfg = self.config
        roi = self._roi if track else None
        if roi is not None and cfg.redetect_every and self._since_detect >= cfg.redetect_every:
            roi = None
        for attempt in range(2):
            if roi is None:
                td = time.perf_counter()
                roi, score = self._detect(bgr)
                timings['detect'] += (time.perf_counter() - td) * 1e3
                self._since_detect = 0
                if roi is None:
                    self._roi = None
                    return None
            tm = time.perf_counter()
            mesh = self.mesh.run(bgr, roi)
            timings['mesh'] += (time.perf_counter() - tm) * 1e3
            if mesh.presence >= cfg.min_presence:
                break
            if score is not None or attempt == 1:  # fresh detection and still no face
                self._roi = None
                return None
            roi = None  # the followed face is gone: look for it in this same frame
        self._since_detect += 1
        tq = time.perf_counter()
        lm = mesh.landmarks
        self._roi = roi_from_landmarks(lm)
        pose = estimate_pose(lm)
        frontal = frontalize(lm, pose)
        raw = raw_measures(frontal, self.cset)
        quality = assess_quality(bgr, lm, pose, mesh.presence, self.cset, cfg.quality)
        calm = self.baseline.update(raw, frontal, quality.reliable) if learn else False
        comps = to_components(raw, self.baseline.neutral, self.cset)
        crop = aligned_crop(bgr, lm, pose, cfg.align)
        timings['measure'] = (time.perf_counter() - tq) * 1e3
        timings['total'] = (time.perf_counter() - t0) * 1e3
        x0, y0 = float(lm[:, 0].min()), float(lm[:, 1].min())
        box = (x0, y0, float(lm[:, 0].max()) - x0, float(lm[:, 1].max()) - y0)
        return FaceObservation(
            box=box,
            landmarks=lm,
            frontal=frontal,
            presence=mesh.presence,
            detection_score=score,
            roi=mesh.roi,
            pose=pose,
            crop=crop,
            raw=raw,
            components=comps,
            reliable=quality.reliable,
            quality=quality,
            baseline_source=self.baseline.source,
            calm=calm,
            timings_ms=timings,
            neutral_known=self.baseline.ready_mask(),
        )
