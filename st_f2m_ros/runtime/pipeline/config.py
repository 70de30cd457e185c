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
"""The perception loop's settings (ROS parameters and `st-f2m run` options map onto them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.perception.face import FaceConfig
from st_f2m_ros.perception.image_convert import DEFAULT_LIMITS, ImageLimits
from st_f2m_ros.runtime.pipeline.postprocess import PostprocessConfig
from st_f2m_ros.runtime.pipeline.timeline import StampConfig
from st_f2m_ros.runtime.pipeline.transcripts import TranscriptConfig


@dataclass
class PipelineConfig:
    """Everything the perception loop needs besides the model.

    Attributes:
        subject_id, frame_id: copied into every result (a message's own frame_id wins).
        window_length: seconds per window; None = the model's T / feature_rate.
        window_hop: seconds between windows.
        max_gap: a camera gap longer than this restarts windows and tracking.
        min_face_fraction: share of a window's T frames that need a face, else NO_FACE.
        use_text: feed the transcript modality (when the installed encoder matches the model).
        stale_timeout: seconds of camera silence after which a tick reports STALE.
        cache_capacity: frames kept in the feature cache.
        max_transcript_rate: transcripts per second (by stamp) beyond which they are skipped
            as a flood (each costs a sentence-encoder run).
        stamps: which frame stamps are believed (runtime/pipeline/timeline.py).
        max_low_quality_fraction: with the real-face front end, a window where more than this
            share of the frames with a face are low quality (face.FaceConfig: too small,
            turned away, covered) abstains (LOW_CONFIDENCE with the reason).
        face: detector (`face_detector`), tracking and face-quality settings.

    """

    subject_id: str = ''
    frame_id: str = ''
    window_length: float | None = None
    window_hop: float = 0.25
    max_gap: float = 0.5
    min_face_fraction: float = 0.5
    use_text: bool = True
    stale_timeout: float = 1.0
    cache_capacity: int = 512
    max_transcript_rate: float = 10.0
    max_low_quality_fraction: float = 0.5
    face: FaceConfig = field(default_factory=FaceConfig)
    transcripts: TranscriptConfig = field(default_factory=TranscriptConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)
    limits: ImageLimits = DEFAULT_LIMITS
    stamps: StampConfig = field(default_factory=StampConfig)

    def validate(self) -> None:
        """Raise ConfigError naming the bad field."""
        if self.window_length is not None and not self.window_length > 0:
            raise ConfigError(f'window_length must be > 0 s, got {self.window_length}')
        if not 0 <= self.min_face_fraction <= 1:
            raise ConfigError(f'min_face_fraction must be in [0, 1], got {self.min_face_fraction}')
        if not 0 <= self.max_low_quality_fraction <= 1:
            raise ConfigError(
                f'max_low_quality_fraction must be in [0, 1], got {self.max_low_quality_fraction}'
            )
        if not self.stale_timeout > 0:
            raise ConfigError(f'stale_timeout must be > 0 s, got {self.stale_timeout}')
        if not self.max_transcript_rate > 0:
            raise ConfigError(f'max_transcript_rate must be > 0, got {self.max_transcript_rate}')
        self.face.validate()
        self.transcripts.validate()
        self.postprocess.validate()
        self.stamps.validate()
