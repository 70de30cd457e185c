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
"""The ROS-free perception loop: frames and transcripts in, EmotionSequence results out.

    image -> face detect/track -> crop_face -> feature cache -> window scheduler (stamps)
    transcript -> transcript buffer (by time)  --------------^
    window -> recognizer (backend + live head) -> temporal post-processing -> result

The rclpy node and `st-f2m run` are thin shells around `PerceptionPipeline`: they pass message
stamps as time and convert results to messages. Every result carries the stamp of the input it
came from. Bad input never raises out of the `on_*` methods: it is counted by cause in
`stats` and logged once per cause (never with frame or transcript content).
"""

from __future__ import annotations

from collections import Counter, deque
import copy
import dataclasses
from dataclasses import dataclass, field
import logging
import math
import threading
import time
from typing import Any

import numpy as np

from st_f2m_ros.errors import ConfigError, PerceptionError, StF2MError
from st_f2m_ros.perception.crop import crop_face
from st_f2m_ros.perception.face import FaceConfig, FaceObservation, FaceTracker
from st_f2m_ros.perception.image_convert import (
    DEFAULT_LIMITS,
    ImageError,
    ImageLimits,
    compressed_to_bgr,
    image_to_bgr,
    validate_bgr,
)
from st_f2m_ros.runtime.inference.recognizer import Recognizer
from st_f2m_ros.runtime.pipeline.feature_cache import FeatureCache
from st_f2m_ros.runtime.pipeline.postprocess import (
    PostprocessConfig,
    TemporalPostprocessor,
    WindowDecisionInput,
)
from st_f2m_ros.runtime.pipeline.results import EmotionSequenceResult, EmotionStateResult
from st_f2m_ros.runtime.pipeline.transcripts import TranscriptBuffer, TranscriptConfig
from st_f2m_ros.runtime.pipeline.windows import Window, WindowConfig, WindowScheduler
from st_f2m_ros.taxonomy import MODALITY_TEXT, MODALITY_VISION

_log = logging.getLogger(__name__)


@dataclass
class PipelineConfig:
    """Everything the perception loop needs besides the model (ROS parameters map onto it).

    Attributes:
        subject_id, frame_id: copied into every result.
        window_length: seconds per window; None = the model's T / feature_rate.
        window_hop: seconds between windows.
        max_gap: a camera gap longer than this restarts windows and tracking.
        min_face_fraction: share of a window's T frames that need a face, else NO_FACE.
        use_text: feed the transcript modality (when the installed encoder matches the model).
        stale_timeout: seconds of camera silence after which `on_tick` reports STALE.
        cache_capacity: frames kept in the feature cache.

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
    face: FaceConfig = field(default_factory=FaceConfig)
    transcripts: TranscriptConfig = field(default_factory=TranscriptConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)
    limits: ImageLimits = DEFAULT_LIMITS

    def validate(self) -> None:
        """Raise ConfigError naming the bad field."""
        if self.window_length is not None and not self.window_length > 0:
            raise ConfigError(f'window_length must be > 0 s, got {self.window_length}')
        if not 0 <= self.min_face_fraction <= 1:
            raise ConfigError(f'min_face_fraction must be in [0, 1], got {self.min_face_fraction}')
        if not self.stale_timeout > 0:
            raise ConfigError(f'stale_timeout must be > 0 s, got {self.stale_timeout}')
        self.face.validate()
        self.transcripts.validate()
        self.postprocess.validate()


def _percentile(values: deque[float], q: float) -> float:
    return float(np.percentile(np.fromiter(values, float), q)) if values else 0.0


@dataclass
class PipelineStats:
    """Diagnostics counters (what the node publishes on /diagnostics)."""

    frames: int = 0  # camera frames received
    processed: int = 0  # frames that reached the tracker
    faces: int = 0  # processed frames with a face
    windows: int = 0  # windows classified (or reported NO_FACE)
    transcripts: int = 0
    encoded: int = 0  # frames run through the per-frame encoder
    skipped: Counter[str] = field(default_factory=Counter)
    frame_latency: deque[float] = field(default_factory=lambda: deque(maxlen=2000))
    window_latency: deque[float] = field(default_factory=lambda: deque(maxlen=2000))

    @property
    def dropped(self) -> int:
        """Frames received but not processed."""
        return self.frames - self.processed

    @property
    def face_rate(self) -> float:
        """Share of processed frames in which a face was found."""
        return self.faces / self.processed if self.processed else 0.0

    def snapshot(self) -> dict[str, Any]:
        """Plain dict for diagnostics and summaries (latencies in milliseconds)."""
        return {
            'frames': self.frames,
            'processed': self.processed,
            'dropped': self.dropped,
            'face_rate': self.face_rate,
            'windows': self.windows,
            'transcripts': self.transcripts,
            'encoded': self.encoded,
            'skipped': dict(self.skipped),
            'frame_latency_p50_ms': 1e3 * _percentile(self.frame_latency, 50),
            'frame_latency_p95_ms': 1e3 * _percentile(self.frame_latency, 95),
            'window_latency_p50_ms': 1e3 * _percentile(self.window_latency, 50),
            'window_latency_p95_ms': 1e3 * _percentile(self.window_latency, 95),
        }


class PerceptionPipeline:
    """Frames and transcripts in, EmotionSequenceResults out; time only from the stamps."""

    def __init__(self, recognizer: Recognizer, config: PipelineConfig | None = None) -> None:
        self.config = config or PipelineConfig()
        self.config.validate()
        self.recognizer = recognizer
        b = recognizer.backend
        c = self.config
        length = c.window_length or b.window / b.feature_rate
        self.windows = WindowConfig(
            length=length, hop=min(c.window_hop, length), frames=b.window, max_gap=c.max_gap
        )
        self.scheduler = WindowScheduler(self.windows)
        self.tracker = FaceTracker(c.face)
        self.cache = FeatureCache(c.cache_capacity, horizon=max(4 * length, 2.0))
        self.transcripts = TranscriptBuffer(c.transcripts)
        self.post = TemporalPostprocessor(c.postprocess, len(b.class_labels))
        self.stats = PipelineStats()
        self.last_observation: FaceObservation | None = None
        self.last_result: EmotionSequenceResult | None = None
        self.last_error = ''
        self._lock = threading.Lock()
        self._logged: set[str] = set()
        self._last_input: float | None = None
        self._first_tick: float | None = None
        self._stale_reported_at: float | None = None

    def warm_up(self) -> float:
        """Run every model part once on dummy input; return the seconds it took.

        Loads lazily initialised pieces (the sentence encoder, ONNX Runtime and oneDNN
        kernels) before the first real frame, so that the first window is not seconds late.
        Call it after construction (the node: on configure). Touches no pipeline state.
        """
        t0 = time.perf_counter()
        b = self.recognizer.backend
        crops = np.zeros((b.window, b.crop_size, b.crop_size, 3), dtype=np.uint8)
        feats = self.recognizer.encode_frames(crops)[None]
        text = np.zeros((1, b.text_dim), dtype=np.float32)
        if self.config.use_text and b.text_usable:
            text = self.recognizer.encode_text(['hello'])
        ones = np.ones(1, dtype=np.float32)
        self.recognizer.classify(feats, text, ones, ones)
        return time.perf_counter() - t0

    def set_subject(self, subject: str) -> None:
        """Results carry `subject` from the next one on (thread-safe: the node switches it)."""
        with self._lock:
            self.config.subject_id = str(subject)

    def update_face(self, detect_every: int | None = None, target: str | None = None) -> None:
        """Apply live face-tracker settings; raises ConfigError (nothing changed) when invalid."""
        changes: dict[str, Any] = {}
        if detect_every is not None:
            changes['detect_every'] = int(detect_every)
        if target is not None:
            changes['target'] = str(target)
        if not changes:
            return
        with self._lock:
            new = dataclasses.replace(self.tracker.config, **changes)
            new.validate()
            self.tracker.config = new
            self.config.face = new

    # -- input ------------------------------------------------------------------------------
    def on_image(self, stamp: float, bgr: np.ndarray) -> EmotionSequenceResult | None:
        """Process one camera frame; return a result when a window completed at it."""
        t0 = time.perf_counter()
        with self._lock:
            self.stats.frames += 1
            try:
                return self._on_image(float(stamp), bgr, t0)
            except ImageError as err:
                self._skip(f'image_{err.cause}', err)
            except StF2MError as err:
                self._skip('error', err)
            except Exception as err:  # never let a frame kill the node; counted and logged
                self._skip('internal_error', err)
            return None

    def on_image_fields(
        self, stamp: float, encoding: str, height: int, width: int, step: int,
        is_bigendian: bool | int, data: Any,
    ) -> EmotionSequenceResult | None:  # fmt: skip
        """Convert `sensor_msgs/Image` fields (any encoding) and process the frame."""
        bgr = self._decode(
            image_to_bgr, encoding, height, width, step, is_bigendian, data, self.config.limits
        )
        return None if bgr is None else self.on_image(stamp, bgr)

    def on_compressed(self, stamp: float, fmt: str, data: Any) -> EmotionSequenceResult | None:
        """Decode a `sensor_msgs/CompressedImage` and process the frame."""
        bgr = self._decode(compressed_to_bgr, fmt, data, self.config.limits)
        return None if bgr is None else self.on_image(stamp, bgr)

    def _decode(self, convert: Any, *args: Any) -> np.ndarray | None:
        """Run an image converter; a bad image is counted as a skipped frame, by cause."""
        try:
            return convert(*args)
        except ImageError as err:
            with self._lock:
                self.stats.frames += 1
                self._skip(f'image_{err.cause}', err)
            return None

    def on_transcript(
        self, stamp: float, text: str, start: float | None = None, end: float | None = None
    ) -> EmotionSequenceResult | None:
        """Buffer a final transcript; returns a STALE result if the camera went silent."""
        with self._lock:
            try:
                self.transcripts.add(float(stamp), text, start, end)
                self.stats.transcripts += 1
                backend = self.recognizer.backend
                if self.config.use_text and backend.text_usable:
                    # Embed now, between frames, rather than inside the next window's latency.
                    self.transcripts.encode_pending(self.recognizer.encode_text, backend.text_dim)
            except PerceptionError as err:
                self._skip('transcript_invalid', err)
            except Exception as err:
                self._skip('internal_error', err)
            return self._check_stale(float(stamp))

    def on_tick(self, now: float) -> EmotionSequenceResult | None:
        """Call periodically with the current time: reports STALE after camera silence."""
        with self._lock:
            return self._check_stale(float(now))

    # -- internals --------------------------------------------------------------------------
    def _skip(self, cause: str, err: BaseException) -> None:
        self.stats.skipped[cause] += 1
        self.last_error = f'{cause}: {err}'
        if cause not in self._logged:  # once per cause: the node must not flood its log
            self._logged.add(cause)
            _log.warning('perception input skipped (%s): %s', cause, err)

    def _on_image(self, stamp: float, bgr: np.ndarray, t0: float) -> EmotionSequenceResult | None:
        if not math.isfinite(stamp):
            self._skip('bad_stamp', PerceptionError('non-finite image stamp'))
            return None
        bgr = validate_bgr(bgr)
        if not self.scheduler.accepts(stamp):
            self.stats.skipped['out_of_order'] += 1
            return None
        stale_at = self._stale_reported_at
        if stale_at is not None and stamp <= stale_at:
            # STALE has been reported up to stale_at: a frame from before cannot be taken back.
            self.stats.skipped['late_after_stale'] += 1
            return None
        last = self.scheduler.last_stamp
        if last is not None and (stamp - last > self.windows.max_gap or stale_at is not None):
            self.cache.clear()
            self.tracker.reset()
            self.scheduler.reset()  # windows restart with the camera
            self.post.interrupt(last if stale_at is None else stale_at)  # no state spans it
            self.stats.skipped['gap'] += 1
            last = None
        # Keep the detector off frames that complete a window: their latency is what counts.
        obs = self.tracker.update(stamp, bgr, defer_detection=self.scheduler.due(stamp))
        self.last_observation = obs
        crop = None
        if obs.box is not None:
            crop = crop_face(bgr, obs.box, self.recognizer.backend.crop_size)
            self.stats.faces += 1
        self.cache.add(stamp, crop)
        self.stats.processed += 1
        self._last_input = stamp
        self._stale_reported_at = None
        behind = self.scheduler.skipped['behind']
        window = self.scheduler.push(stamp)
        if self.scheduler.skipped['behind'] > behind:
            self.stats.skipped['windows_behind'] += self.scheduler.skipped['behind'] - behind
        if last is not None and window is None:
            self._encode_ahead(last, stamp)
        result = None if window is None else self._classify(window, t0)
        self.stats.encoded = self.cache.encoded
        self.stats.frame_latency.append(time.perf_counter() - t0)
        return result

    def _encode_ahead(self, prev: float, stamp: float) -> None:
        """Encode a frame as soon as it is known to be the nearest to a sampling grid time.

        Windows sample frames on a fixed grid (runtime/pipeline/windows.py), so the frame that a
        window will use is known when the next frame arrives; encoding it then spreads the
        encoder's work over the frames between windows instead of adding it to their latency.
        """
        cur, before = self.cache.latest(0), self.cache.latest(1)
        for g in self.scheduler.grid_points(prev, stamp):
            rec = cur if before is None or abs(stamp - g) < abs(g - prev) else before
            if rec is not None and rec.crop is not None and rec.feature is None:
                self.cache.features([rec], self.recognizer.encode_frames)

    def _classify(self, window: Window, t0: float) -> EmotionSequenceResult:
        c = self.config
        backend = self.recognizer.backend
        tolerance = max(self.windows.spacing, 0.1)
        records = self.cache.nearest(window.targets, tolerance)
        have = [r for r in records if r is not None]
        model_id = self.recognizer.model_id
        self.stats.windows += 1
        if not have or len(have) < c.min_face_fraction * len(records):
            decision = WindowDecisionInput(window.start, window.end, None)
        else:
            # Fill frames without a face with the nearest one that has a face.
            filled = []
            for i, r in enumerate(records):
                if r is None:
                    j = min(
                        (k for k, q in enumerate(records) if q is not None),
                        key=lambda k: abs(k - i),
                    )
                    r = records[j]
                filled.append(r)
            feats = self.cache.features(filled, self.recognizer.encode_frames)  # type: ignore[arg-type]
            emb = np.zeros(backend.text_dim, dtype=np.float32)
            has_text = False
            if c.use_text and backend.text_usable:
                emb, has_text = self.transcripts.embed(
                    window.start, window.end, self.recognizer.encode_text, backend.text_dim
                )
            scores, model_id = self.recognizer.classify(
                feats[None], emb[None], np.ones(1, np.float32),
                np.full(1, float(has_text), np.float32),
            )  # fmt: skip
            probs = scores.probs[0]
            if not np.all(np.isfinite(probs)):
                self.stats.skipped['nonfinite_output'] += 1
            mods = MODALITY_VISION | (MODALITY_TEXT if has_text else 0)
            decision = WindowDecisionInput(
                window.start, window.end, probs, scores.components[0],
                float(np.nan_to_num(scores.intensity[0])), mods,
            )  # fmt: skip
        states = self.post.update(decision)
        latency = time.perf_counter() - t0
        self.stats.window_latency.append(latency)
        return self._result(window.end, states, model_id, latency)

    def _result(
        self, stamp: float, states: list[EmotionStateResult], model_id: str, latency: float
    ) -> EmotionSequenceResult:
        res = EmotionSequenceResult(
            stamp=stamp,
            subject_id=self.config.subject_id or self.recognizer.state.subject,
            model_id=model_id,
            states=[copy.copy(s) for s in states],  # snapshots: the post-processor moves on
            class_labels=tuple(self.recognizer.backend.class_labels),
            frame_id=self.config.frame_id,
            window_size=self.windows.length,
            window_hop=self.windows.hop,
            processing_latency=latency,
        )
        self.last_result = res
        return res

    def _check_stale(self, now: float) -> EmotionSequenceResult | None:
        if not math.isfinite(now):
            return None
        if self._first_tick is None:
            self._first_tick = now
        since = self._last_input if self._last_input is not None else self._first_tick
        if now - since <= self.config.stale_timeout:
            return None
        reported = self._stale_reported_at
        if reported is not None and now - reported < self.windows.hop:
            return None  # at most one STALE result per hop
        t0 = time.perf_counter()
        self._stale_reported_at = now
        states = self.post.stale(since, now)
        return self._result(now, states, self.recognizer.model_id, time.perf_counter() - t0)
