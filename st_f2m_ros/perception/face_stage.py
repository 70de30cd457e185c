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
"""The pipeline's face stage: the real-face front end, or the Haar tracker as its fallback.

One object behind `PerceptionPipeline.tracker` whatever `FaceConfig.detector` says, so the
pipeline has one call per frame (`update`) and one observation type
(`face.FaceObservation`). With a BlazeFace variant the front end (detection + tracked
468-point mesh, pose, components, quality) finds the face; its landmark box is turned into a
Haar-like square (`crop_box`), because the shipped checkpoint was trained on crops cut by
`crop.crop_face` from such boxes and must keep working unchanged. When the model files are not
installed the stage falls back to Haar with one warning that names `st-f2m models install`:
a robot without them still sees faces, and the log says how to get the better detector.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np

from st_f2m_ros.errors import ModelFileError
from st_f2m_ros.perception.crop import crop_face
from st_f2m_ros.perception.face import BLAZEFACE, FaceConfig, FaceObservation, FaceTracker

_log = logging.getLogger(__name__)

# Quality reasons (face_quality.assess_quality) that make a whole frame low quality.
FRAME_REASONS = ('face_small', 'no_face', 'yaw', 'pitch', 'mesh_fit')
OCCLUSION_REASONS = ('mouth_occluded', 'nose_occluded')


def crop_box(box: tuple[float, float, float, float], cfg: FaceConfig) -> tuple[float, ...]:
    """The landmark box as the square face box the pixel checkpoint expects (see FaceConfig)."""
    x, y, w, h = box
    side = cfg.box_scale * max(w, h)
    cx, cy = x + w / 2.0, y + h / 2.0 + cfg.box_shift * side
    return (cx - side / 2.0, cy - side / 2.0, side, side)


def low_quality(front: Any, cfg: FaceConfig) -> str | None:
    """Why this front-end frame is low quality (abstention), or None when it is usable."""
    for reason in front.quality.reasons:
        if reason in FRAME_REASONS:
            return reason
    if cfg.occluded_face == 'abstain':
        for reason in front.quality.reasons:
            if reason in OCCLUSION_REASONS:
                return 'occluded'
    return None


def _quality_config(base: Any, cfg: FaceConfig) -> Any:
    return dataclasses.replace(
        base, min_face_px=cfg.min_face_px, max_yaw=cfg.max_abs_yaw, max_pitch=cfg.max_abs_pitch
    )


class FaceStage:
    """`update(stamp, bgr, defer_detection)` -> FaceObservation, by the configured detector.

    Attributes:
        active: the detector in use ('blazeface_full', 'blazeface_short' or 'haar').
        fallback: why the front end is not used although asked for ('' otherwise).
    """

    def __init__(self, config: FaceConfig | None = None) -> None:
        self._config = cfg = config or FaceConfig()
        cfg.validate()
        self.frontend: Any = None
        self.fallback = ''
        self.active = cfg.detector
        if cfg.frontend:
            self.frontend = self._build_frontend(cfg)
        self.haar = None
        if self.frontend is None:
            haar_cfg = cfg if cfg.detector in ('haar', 'yunet') else dataclasses.replace(
                cfg, detector='haar'
            )
            self.haar = FaceTracker(haar_cfg)

    def _build_frontend(self, cfg: FaceConfig) -> Any:
        from st_f2m_ros.perception.blazeface import DetectorConfig
        from st_f2m_ros.perception.face_frontend import FaceFrontEnd, FrontEndConfig
        from st_f2m_ros.perception.face_quality import QualityConfig

        fe_cfg = FrontEndConfig(
            detector=DetectorConfig(
                variant=BLAZEFACE[cfg.detector], min_score=cfg.detect_min_score or None
            ),
            redetect_every=cfg.redetect_every,
            quality=_quality_config(QualityConfig(), cfg),
            models_dir=cfg.models_dir or None,
        )
        try:
            return FaceFrontEnd(fe_cfg)
        except (ModelFileError, ImportError) as err:
            self.fallback = str(err)
            self.active = 'haar'
            _log.warning(
                'face_detector %s: the real-face model files are not usable (%s); falling back '
                'to the Haar detector. Run `st-f2m models install` to install them.',
                cfg.detector, err,
            )  # fmt: skip
            return None

    @property
    def config(self) -> FaceConfig:
        """The face settings (detect_every / target apply to the Haar tracker only)."""
        return self._config

    @config.setter
    def config(self, new: FaceConfig) -> None:
        """Swap in validated live settings (the detector itself is fixed at start-up)."""
        new.validate()
        if new.detector != self._config.detector:
            new = dataclasses.replace(new, detector=self._config.detector)
        self._config = new
        if self.haar is not None:
            self.haar.config = dataclasses.replace(
                new, detector='haar' if new.frontend else new.detector
            )
        if self.frontend is not None:
            fe_cfg = self.frontend.config
            quality = _quality_config(fe_cfg.quality, new)
            self.frontend.config = dataclasses.replace(fe_cfg, quality=quality)

    @property
    def detections_run(self) -> int:
        """Detector runs so far (Haar only; the front end reports them per frame)."""
        return self.haar.detections_run if self.haar is not None else 0

    def reset(self) -> None:
        """Forget the followed face (a gap in the stream); the neutral baseline is kept."""
        if self.haar is not None:
            self.haar.reset()
        if self.frontend is not None:
            self.frontend.reset(keep_baseline=True)

    def new_person(self) -> None:
        """A different person: also forget the front end's learnt neutral face."""
        self.reset()
        if self.frontend is not None:
            self.frontend.reset(keep_baseline=False)

    @property
    def neutral_source(self) -> str:
        """The front end's baseline_source ('prior', 'partial', 'online', 'support'); '' (Haar)."""
        return self.frontend.baseline.source if self.frontend is not None else ''

    def set_neutral(self, state: dict[str, Any] | None) -> None:
        """Take the person's neutral face from neutral support clips, or drop one taken so.

        `state` is a `NeutralBaseline.state()` (baseline_source 'support' from then on); None
        forgets a support baseline, so the front end learns the neutral online again (an
        online estimate is kept). Nothing to do with the Haar detector.
        """
        fe = self.frontend
        if fe is None:
            return
        if state is None:
            if fe.baseline.source == 'support':
                fe.baseline.reset()
            return
        from st_f2m_ros.perception.face_components import NeutralBaseline

        fe.baseline = NeutralBaseline.from_state(state, fe.cset, fe.config.baseline)

    def update(
        self, stamp: float, bgr: np.ndarray, defer_detection: bool = False
    ) -> FaceObservation:
        """The face in one frame (box None when there is none)."""
        if self.haar is not None:
            return self.haar.update(stamp, bgr, defer_detection=defer_detection)
        front = self.frontend.process(bgr, track=True, learn=True)
        if front is None:
            return FaceObservation(stamp, None, True, 0, 0.0)
        box = crop_box(front.box, self._config)
        score = front.detection_score if front.detection_score is not None else front.presence
        return FaceObservation(
            stamp, box, not front.tracked, 1, float(score), frontend=front
        )  # type: ignore[arg-type]

    def observe(
        self, stamp: float, bgr: np.ndarray, crop_size: int, defer_detection: bool = False
    ) -> tuple[FaceObservation, np.ndarray | None]:
        """`update`, then the model's crop cut from the face box (None when there is no face).

        The one per-frame step of the runtime pipeline, shared with training-data generation
        (`SyntheticSession.to_clip(front_end=...)`) so that both crop the same way.
        """
        obs = self.update(stamp, bgr, defer_detection=defer_detection)
        crop = crop_face(bgr, obs.box, crop_size) if obs.box is not None else None
        return obs, crop
