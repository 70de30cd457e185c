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

    frame fields -> stamp gate -> decode (size checked first) -> face stage -> crop
        -> feature cache -> window scheduler (stamps) -> recognizer -> post-processing
    transcript -> transcript buffer (by time) ------------------^

One direct path: the node hands a message's fields to `process_image` / `process_compressed`
once and gets a `FrameOutcome` (result with ids set, face observation, decoded image for the
debug view, or the cause of a skip); it converts the result to a message and publishes. Every
result carries the stamp of the input it came from; time comes only from stamps, and from the
node clock mapped onto them (`timeline.InputClock`) for staleness. Bad input never raises out
of the public methods: it is counted in `stats` under a named cause and logged once per cause
(never with frame or transcript content).
"""

from __future__ import annotations

from collections import deque
import copy
import dataclasses
import logging
import threading
import time
from typing import Any

import numpy as np

from st_f2m_ros.errors import ConfigError, PerceptionError, StF2MError
from st_f2m_ros.perception.face_stage import FaceStage
from st_f2m_ros.perception.image_convert import (
    ImageError,
    compressed_to_bgr,
    image_to_bgr,
    validate_bgr,
)
from st_f2m_ros.runtime.inference.recognizer import Recognizer
from st_f2m_ros.runtime.pipeline.config import PipelineConfig
from st_f2m_ros.runtime.pipeline.face_window import frame_face
from st_f2m_ros.runtime.pipeline.feature_cache import FeatureCache
from st_f2m_ros.runtime.pipeline.postprocess import TemporalPostprocessor
from st_f2m_ros.runtime.pipeline.results import (
    EmotionSequenceResult,
    EmotionStateResult,
    FrameOutcome,
)
from st_f2m_ros.runtime.pipeline.stats import PerceptionStats
from st_f2m_ros.runtime.pipeline.timeline import (
    RESTART,
    SKIP,
    InputClock,
    StampGate,
    invalid_stamp,
)
from st_f2m_ros.runtime.pipeline.transcripts import TranscriptBuffer, clean_text
from st_f2m_ros.runtime.pipeline.window_classifier import classify_window
from st_f2m_ros.runtime.pipeline.windows import WindowConfig, WindowScheduler

__all__ = ['FrameOutcome', 'PerceptionPipeline', 'PipelineConfig']

_log = logging.getLogger(__name__)
LIVE_FACE_FIELDS = frozenset(
    {'detect_every', 'target', 'min_face_px', 'max_abs_yaw', 'max_abs_pitch', 'occluded_face'}
)


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
        self.tracker = FaceStage(c.face)  # BlazeFace front end, or Haar (also its fallback)
        self.cache = FeatureCache(c.cache_capacity, horizon=max(4 * length, 2.0))
        self.transcripts = TranscriptBuffer(c.transcripts)
        self.post = TemporalPostprocessor(c.postprocess, len(b.class_labels))
        self.stats = PerceptionStats()
        self.stats.face_detector = self.tracker.active  # 'haar' also when the fallback is taken
        self.stats.face_fallback = c.face.detector if self.tracker.fallback else ''
        self.gate = StampGate(c.stamps)
        self.clock = InputClock()
        self.errors: dict[str, str] = {}  # last message per skip cause (no patient data)
        self.log_skips = True  # python logging once per cause; the node logs through rclpy
        self._lock = threading.Lock()
        self._logged: set[str] = set()
        self._last_input: float | None = None
        self._first_tick: float | None = None
        self._stale_reported_at: float | None = None
        self._recent_text: deque[float] = deque()
        self._neutrals: dict[str, dict[str, Any]] = {}  # subject -> support neutral baseline

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

    # -- live settings ------------------------------------------------------------------------
    def set_subject(self, subject: str) -> None:
        """Results carry `subject` from the next one on (thread-safe: the node switches it).

        Another person also means another neutral face: the front end learns it afresh, or
        takes the one their adaptation brought (`set_neutral`).
        """
        with self._lock:
            if str(subject) != self.config.subject_id:
                self.tracker.new_person()
                self.tracker.set_neutral(self._neutrals.get(str(subject)))
            self.config.subject_id = str(subject)

    @property
    def face_config(self) -> Any:
        """The face stage's FaceConfig (what /adapt's support frames go through too)."""
        return self.tracker.config

    def set_neutral(self, subject: str, state: dict[str, Any] | None) -> None:
        """`subject`'s neutral face from their adaptation's neutral clips (None: forget it).

        Used at once when `subject` is the person in front of the camera, and again whenever
        the pipeline switches back to them (the adaptation manager calls this).
        """
        with self._lock:
            if state is None:
                self._neutrals.pop(str(subject), None)
            else:
                self._neutrals[str(subject)] = state
            if str(subject) == self.config.subject_id:
                self.tracker.set_neutral(state)

    def update_face(self, **changes: Any) -> None:
        """Apply live face settings (FaceConfig fields: detect_every, target, min_face_px,
        max_abs_yaw, max_abs_pitch, occluded_face); raises ConfigError (nothing changed) when
        invalid. The detector itself is read at start-up."""
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = set(changes) - LIVE_FACE_FIELDS
        if unknown:
            raise ConfigError(f'face settings not changeable at run time: {sorted(unknown)}')
        if not changes:
            return
        with self._lock:
            new = dataclasses.replace(self.tracker.config, **changes)
            new.validate()
            self.tracker.config = new
            self.config.face = new

    # -- frames -------------------------------------------------------------------------------
    def process_image(
        self, stamp: float, encoding: str, height: int, width: int, step: int,
        is_bigendian: bool | int, data: Any, frame_id: str = '', keep_image: bool = False,
        arrival: float | None = None,
    ) -> FrameOutcome:  # fmt: skip
        """One `sensor_msgs/Image` (any supported encoding), stamp in seconds.

        `arrival` (node clock, seconds) lets the pipeline map the node clock onto the stamps.
        """
        args = (encoding, height, width, step, is_bigendian, data, self.config.limits)
        return self._frame(stamp, frame_id, keep_image, arrival, image_to_bgr, args)

    def process_compressed(
        self, stamp: float, fmt: str, data: Any, frame_id: str = '', keep_image: bool = False,
        arrival: float | None = None,
    ) -> FrameOutcome:  # fmt: skip
        """One `sensor_msgs/CompressedImage` (jpeg/png; its size is checked before decoding)."""
        args = (fmt, data, self.config.limits)
        return self._frame(stamp, frame_id, keep_image, arrival, compressed_to_bgr, args)

    def process_bgr(
        self, stamp: float, bgr: np.ndarray, frame_id: str = '', keep_image: bool = False,
        arrival: float | None = None,
    ) -> FrameOutcome:  # fmt: skip
        """An already decoded uint8 BGR frame (tests, benchmarks, `st-f2m run` on videos)."""
        return self._frame(stamp, frame_id, keep_image, arrival, validate_bgr, (bgr,))

    def on_image(self, stamp: float, bgr: np.ndarray) -> EmotionSequenceResult | None:
        """`process_bgr` for callers that only want the result."""
        return self.process_bgr(stamp, bgr).result

    def _frame(
        self, stamp: Any, frame_id: str, keep_image: bool, arrival: float | None,
        decode: Any, args: tuple,
    ) -> FrameOutcome:  # fmt: skip
        t0 = time.perf_counter()
        with self._lock:
            self.stats.received()
            out = FrameOutcome(stamp=stamp, frame_id=str(frame_id or self.config.frame_id))
            try:
                out.stamp = stamp = float(stamp)
                cause = self._admit(stamp, arrival)
                if cause is not None:
                    self._skip(out, cause, f'frame stamp refused ({cause})')
                    return out
                bgr = validate_bgr(decode(*args))
                self._track(out, stamp, bgr, t0)
                if keep_image:
                    out.image = bgr
            except ImageError as err:
                self._skip(out, f'image_{err.cause}', str(err))
            except StF2MError as err:
                self._skip(out, 'error', str(err))
            except Exception as err:  # never let a frame kill the node; counted and logged
                self._skip(out, 'internal_error', f'{type(err).__name__}: {err}')
            return out

    def _admit(self, stamp: float, arrival: float | None) -> str | None:
        """Check a frame stamp against the timeline; restart windows on a new timeline."""
        last, stale_at = self.gate.last, self._stale_reported_at
        if stale_at is not None and last is not None and last < stamp <= stale_at:
            # STALE has been reported up to stale_at: a frame from before cannot be taken back.
            return 'late_after_stale'
        verdict, cause = self.gate.check(stamp, arrival)
        if verdict == SKIP:
            return cause
        if arrival is not None:
            if not self.clock.anchored:
                self._first_tick = None  # ticks so far were in the node clock
            self.clock.observe(stamp, arrival, restart=verdict == RESTART)
        prev = self.scheduler.last_stamp
        if verdict == RESTART and last is not None:
            self.stats.count('restarts')
            self.transcripts.drop_after(stamp)  # utterances from the old timeline's future
        gap = prev is not None and (stamp - prev > self.windows.max_gap or stale_at is not None)
        if prev is not None and (gap or verdict == RESTART):
            self.cache.clear()
            self.tracker.reset()
            self.scheduler.reset()  # windows restart with the camera
            self.post.interrupt(prev if stale_at is None else stale_at)  # no state spans it
            self.stats.count('gaps')
        return None

    def _track(self, out: FrameOutcome, stamp: float, bgr: np.ndarray, t0: float) -> None:
        # Keep the detector off frames that complete a window: their latency is what counts.
        size = self.recognizer.backend.crop_size
        obs, crop = self.tracker.observe(stamp, bgr, size, self.scheduler.due(stamp))
        out.observation = obs
        self.cache.add(stamp, crop, frame_face(obs, self.tracker.config))
        self._last_input = stamp
        self._stale_reported_at = None
        behind = self.scheduler.skipped['behind']
        prev = self.scheduler.last_stamp
        window = self.scheduler.push(stamp)
        if self.scheduler.skipped['behind'] > behind:
            self.stats.skip('window_behind', self.scheduler.skipped['behind'] - behind)
        if prev is not None and window is None:
            self._encode_ahead(prev, stamp)
        if window is not None:
            states, model_id, nonfinite = classify_window(self, window)
            if nonfinite:
                self.stats.skip('window_nonfinite_output')
            latency = time.perf_counter() - t0
            out.result = self._result(window.end, states, model_id, latency, out.frame_id)
            self.stats.window(latency)
        self.stats.encoded = self.cache.encoded
        self.stats.frame(obs.found, time.perf_counter() - t0, face=obs.frontend)

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

    # -- transcripts and time -----------------------------------------------------------------
    def on_transcript(
        self, stamp: float, text: str, start: float | None = None, end: float | None = None,
        arrival: float | None = None,
    ) -> str | None:  # fmt: skip
        """Buffer a final transcript; return the skip cause, or None when it was taken.

        Staleness is not checked here (a wild transcript stamp must not declare the camera
        STALE): the node's timer calls `tick`, offline replay `on_tick`.
        """
        with self._lock:
            out = FrameOutcome(stamp=0.0)
            try:
                stamp = float(stamp)
                bad = invalid_stamp(stamp)
                if bad is not None:
                    self._skip(out, f'transcript_{bad}', f'transcript stamp refused ({bad})')
                    return out.skipped
                recent = self._recent_text
                now = stamp if arrival is None else float(arrival)
                while recent and not 0 <= now - recent[0] < 1.0:
                    recent.popleft()
                if len(recent) >= self.config.max_transcript_rate:
                    self._skip(out, 'transcript_flood', 'more transcripts per second than allowed')
                    return out.skipped
                self.transcripts.add(stamp, self._clean(text), start, end)
                recent.append(now)
                self.stats.count('transcripts')
                if arrival is not None and not self.clock.anchored:
                    self._first_tick = None
                    self.clock.observe(stamp, float(arrival))
                backend = self.recognizer.backend
                if self.config.use_text and backend.text_usable:
                    # Embed now, between frames, rather than inside the next window's latency.
                    self.transcripts.encode_pending(self.recognizer.encode_text, backend.text_dim)
            except PerceptionError as err:
                self._skip(out, 'transcript_invalid', str(err))
            except Exception as err:
                self._skip(out, 'transcript_internal_error', f'{type(err).__name__}: {err}')
            return out.skipped

    @property
    def stale(self) -> bool:
        """Whether STALE was reported and no frame came since (the diagnostics level)."""
        return self._stale_reported_at is not None

    def input_time(self, node_now: float) -> float:
        """The node clock's `node_now` in the stamps' clock (stamp for String transcripts)."""
        with self._lock:
            return self.clock.now(node_now)

    def tick(self, node_now: float) -> EmotionSequenceResult | None:
        """Call periodically with the node clock: reports STALE after camera silence."""
        with self._lock:
            return self._check_stale(self.clock.now(float(node_now)))

    def on_tick(self, now: float) -> EmotionSequenceResult | None:
        """`tick` with a time already in the stamps' clock (offline replay: the log time)."""
        with self._lock:
            return self._check_stale(float(now))

    # -- internals ----------------------------------------------------------------------------
    def _clean(self, text: Any) -> str:
        """Transcript text cut to max_chars and stripped of invalid characters (counted)."""
        limit = self.config.transcripts.max_chars
        cleaned = clean_text(text, limit + 1)
        if len(cleaned) > limit:
            self.stats.skip('transcript_truncated')
        elif len(cleaned) < min(len(text), limit + 1):
            self.stats.skip('transcript_sanitized')
        return cleaned[:limit]

    def _skip(self, out: FrameOutcome, cause: str, message: str) -> None:
        out.skipped = cause
        self.stats.skip(cause)
        self.errors[cause] = message
        if self.log_skips and cause not in self._logged:  # once per cause: no log flood
            self._logged.add(cause)
            _log.warning('perception input skipped (%s): %s', cause, message)

    def _result(
        self, stamp: float, states: list[EmotionStateResult], model_id: str, latency: float,
        frame_id: str = '',
    ) -> EmotionSequenceResult:  # fmt: skip
        return EmotionSequenceResult(
            stamp=stamp,
            subject_id=self.config.subject_id or self.recognizer.state.subject,
            model_id=model_id,
            states=[copy.copy(s) for s in states],  # snapshots: the post-processor moves on
            class_labels=tuple(self.recognizer.backend.class_labels),
            frame_id=frame_id or self.config.frame_id,
            window_size=self.windows.length,
            window_hop=self.windows.hop,
            processing_latency=latency,
        )

    def _check_stale(self, now: float) -> EmotionSequenceResult | None:
        if invalid_stamp(now) is not None:
            return None
        if self._first_tick is None:
            self._first_tick = now
        since = self._last_input if self._last_input is not None else self._first_tick
        if now - since <= self.config.stale_timeout:
            return None
        reported = self._stale_reported_at
        if reported is not None and 0 <= now - reported < self.windows.hop:
            return None  # at most one STALE result per hop
        t0 = time.perf_counter()
        self._stale_reported_at = now
        self.stats.count('stale')
        states = self.post.stale(since, now)
        return self._result(now, states, self.recognizer.model_id, time.perf_counter() - t0)
