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
"""Assemble model, recognizer, pipeline and adaptation manager from flat node parameters.

The perception node and `st-f2m adapt` share this, so that the service and the command do the
same thing with the same settings. Parameter names and defaults are those of
`ros.params.PERCEPTION_PARAMS` (config/perception.yaml); this module stays ROS-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from st_f2m_ros.runtime.adaptation.clip_sources import ClipLimits
from st_f2m_ros.runtime.adaptation.manager import AdaptationManager, AdaptationSettings
from st_f2m_ros.runtime.adaptation.store import AdaptationStore


def adaptation_settings(
    values: Mapping[str, Any], checkpoint_id: str, crop_size: int, frame_rate: float = 0.0
) -> AdaptationSettings:
    """AdaptationSettings from node parameters."""
    limits = ClipLimits(
        roots=tuple(Path(r).expanduser() for r in values.get('clip_roots', ()) if r),
        max_file_bytes=int(values.get('max_clip_bytes', 512 * 1024 * 1024)),
    )
    return AdaptationSettings(
        checkpoint_id=checkpoint_id,
        crop_size=int(crop_size),
        limits=limits,
        max_clips=int(values.get('max_clips', 64)),
        max_clips_per_class=int(values.get('max_clips_per_class', 16)),
        default_inner_steps=int(values.get('default_inner_steps', 10)),
        clips_are_crops=bool(values.get('support_clips_are_crops', False)),
        # The model's feature rate: windows sample frames on that grid.
        frame_rate=float(frame_rate),
    )


# The node's face_detector default (ros/params.py, config/perception.yaml).
DEFAULT_FACE_DETECTOR = 'blazeface_full'


def pipeline_config(values: Mapping[str, Any], subject: str, frame_id: str = '') -> Any:
    """runtime.pipeline.PipelineConfig from node parameters."""
    from st_f2m_ros.perception.face import FaceConfig
    from st_f2m_ros.runtime.pipeline.pipeline import PipelineConfig
    from st_f2m_ros.runtime.pipeline.postprocess import PostprocessConfig

    return PipelineConfig(
        subject_id=subject,
        frame_id=frame_id,
        window_hop=float(values.get('window_hop', 0.25)),
        stale_timeout=float(values.get('stale_timeout', 1.0)),
        max_low_quality_fraction=float(values.get('max_low_quality_fraction', 0.5)),
        face=FaceConfig(
            detector=str(values.get('face_detector', DEFAULT_FACE_DETECTOR)),
            models_dir=str(values.get('models_dir', '') or ''),
            detect_every=int(values.get('face_detect_every', 5)),
            target=str(values.get('face_target', 'tracked')),
            min_face_px=float(values.get('min_face_px', 64.0)),
            max_abs_yaw=float(values.get('max_abs_yaw', 45.0)),
            max_abs_pitch=float(values.get('max_abs_pitch', 35.0)),
            occluded_face=str(values.get('occluded_face', 'abstain')),
            detect_min_score=float(values.get('face_min_score', 0.0)),
            redetect_every=int(values.get('face_redetect_every', 0)),
        ),
        postprocess=PostprocessConfig(
            confidence_threshold=float(values.get('min_confidence', 0.45)),
            min_segment=float(values.get('min_segment', 0.5)),
            history=float(values.get('history', 10.0)),
        ),
    )


# Node parameters applied to the running session, by the part that applies them. Every other
# parameter of ros.params is read at start-up only (checked by test/ros/test_params.py).
LIVE_POSTPROCESS = {
    'min_confidence': 'confidence_threshold',
    'min_segment': 'min_segment',
    'history': 'history',
}
LIVE_PIPELINE = ('stale_timeout', 'max_low_quality_fraction')
LIVE_FACE = {
    'face_detect_every': 'detect_every',
    'face_target': 'target',
    'min_face_px': 'min_face_px',
    'max_abs_yaw': 'max_abs_yaw',
    'max_abs_pitch': 'max_abs_pitch',
    'occluded_face': 'occluded_face',
}
LIVE_ADAPTATION = (
    'max_clip_bytes',
    'max_clips',
    'max_clips_per_class',
    'default_inner_steps',
    'keep_versions',
    'support_clips_are_crops',
)
LIVE_SESSION = (*LIVE_POSTPROCESS, *LIVE_PIPELINE, *LIVE_FACE, *LIVE_ADAPTATION)


def apply_live_params(session: Session, changes: Mapping[str, Any]) -> list[str]:
    """Apply run-time parameter changes to a running session; return the names applied.

    Each part validates before it changes anything and raises a StF2MError subclass (the
    reason) when it refuses; the adaptation settings are checked first because they cannot
    be half-applied. Names outside LIVE_SESSION are left to the caller (subject, debug image).
    The post-processing config is frozen, so a new one is swapped in with one reference
    assignment (a window being post-processed sees the old or the new thresholds).
    """
    import dataclasses

    pipeline = session.pipeline
    adaptation = {k: v for k, v in changes.items() if k in LIVE_ADAPTATION}
    post = {LIVE_POSTPROCESS[k]: float(v) for k, v in changes.items() if k in LIVE_POSTPROCESS}
    face = {LIVE_FACE[k]: v for k, v in changes.items() if k in LIVE_FACE}
    new_post = None
    if post:
        new_post = dataclasses.replace(pipeline.post.config, **post)
        new_post.validate()
    if adaptation:
        session.manager.update_settings(**adaptation)
    if face:
        pipeline.update_face(**face)
    if new_post is not None:
        pipeline.post.config = new_post
    if 'stale_timeout' in changes:
        pipeline.config.stale_timeout = float(changes['stale_timeout'])
    if 'max_low_quality_fraction' in changes:
        pipeline.config.max_low_quality_fraction = float(changes['max_low_quality_fraction'])
    return [k for k in changes if k in LIVE_SESSION]


def equalize_expression(model: Any) -> None:
    """Histogram-equalise faces before the FER expression net (node: expression_equalize).

    The features change, so the model id gets '+equalize': its ONNX export and its persisted
    adaptations are kept apart from the plain model's. A pixel (ResNet) model has no expression
    net: ConfigError, naming the parameter.
    """
    from st_f2m_ros.errors import ConfigError

    if not getattr(model, 'frozen_backbone', False):
        raise ConfigError(
            f'expression_equalize needs a model with the fer_mini_xception backbone; this one '
            f'uses {model.config.backbone}: set expression_equalize false'
        )
    model.backbone.equalize = True
    model.model_id = f'{model.model_id}+equalize'


@dataclass
class Session:
    """What the node runs: the torch model (for adaptation), recognizer, pipeline, manager."""

    model: Any
    recognizer: Any
    pipeline: Any
    manager: AdaptationManager

    def close(self, timeout: float = 5.0) -> None:
        """Stop the adaptation worker within `timeout` s (a running adaptation is cancelled)."""
        self.manager.close(timeout)


def build_session(values: Mapping[str, Any], subject: str, with_pipeline: bool = True) -> Session:
    """Load the checkpoint and backend named by the parameters and wire everything.

    The torch model is loaded for every backend: the inner loop (meta.adapt) needs autograd,
    and its head parameters are what the backend's `classify(params=...)` takes.
    """
    from st_f2m_ros.meta.adapt import adapt
    from st_f2m_ros.model.checkpoint import load_checkpoint
    from st_f2m_ros.runtime.inference.factory import build_recognizer

    checkpoint = str(values.get('checkpoint', '') or '') or None
    # A frozen FER backbone loads its registry file: the node's models_dir is searched first.
    model = load_checkpoint(checkpoint, models_dir=str(values.get('models_dir', '') or '') or None)
    if bool(values.get('expression_equalize', False)):
        equalize_expression(model)
    recognizer = build_recognizer(
        str(values.get('backend', 'torch')),
        model=model,
        onnx_dir=str(values.get('export_dir', '') or '') or None,  # exported there if needed
        device=str(values.get('device', 'cpu')),
        num_threads=int(values.get('num_threads', 2)),
    )
    backend = recognizer.backend
    pipeline = None
    if with_pipeline:
        from st_f2m_ros.runtime.pipeline.pipeline import PerceptionPipeline

        pipeline = PerceptionPipeline(recognizer, pipeline_config(values, subject))
    settings = adaptation_settings(
        values, backend.model_id, backend.crop_size, backend.feature_rate
    )
    store_dir = str(values.get('adaptation_store', '') or '')
    store = (
        AdaptationStore(store_dir, keep=int(values.get('keep_versions', 3))) if store_dir else None
    )

    def adapt_fn(clips: list[Any], steps: int, should_stop: Any = None) -> Any:
        # should_stop: the manager's cancel flag, polled before each inner step (bounded close)
        return adapt(model, clips, steps=steps, should_stop=should_stop)

    # Support frames go through the pipeline's face stage settings; without a pipeline (the
    # `st-f2m adapt` command) through the ones the node would use.
    face = None if pipeline is not None else pipeline_config(values, subject).face
    manager = AdaptationManager(
        recognizer, adapt_fn, settings, store, faces=pipeline, face_config=face
    )
    return Session(model, recognizer, pipeline, manager)
