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
"""The perception statistics behind /diagnostics (one class, one set of keys), and log pacing.

`PerceptionStats` is written by the pipeline (frames, windows, skipped inputs by cause,
latencies) and read by the node's diagnostics timer from another thread, hence its lock.
Rates and percentiles cover the last `horizon` seconds of a monotonic clock. The keys of
`snapshot` are the /diagnostics keys documented in docs/ros_api.md. Bad input must never
kill the node and must not flood the log either (DESIGN 7): `OncePerCause` says when a cause
deserves a log line.
"""

from __future__ import annotations

from collections import Counter, deque
import threading
import time
from typing import Any

import numpy as np

from st_f2m_ros.runtime.messages.convert import DiagnosticReport
from st_f2m_ros.runtime.pipeline.timeline import InputClock

__all__ = ['InputClock', 'OncePerCause', 'PerceptionStats']

# Skip causes that are not camera frames: every other cause counts one dropped frame.
FRAME_EXCLUDED = ('transcript_', 'window_')
DETECT_RUNS = 100  # front-end detector times kept for frontend_detect_p50_ms / p95


class OncePerCause:
    """Rate limiter: True the first time a cause is seen, then at most once per `period` s."""

    def __init__(self, period: float = 60.0) -> None:
        self.period = float(period)
        self._last: dict[str, float] = {}

    def should_log(self, cause: str, now: float) -> bool:
        """Whether to log `cause` at time `now`."""
        last = self._last.get(cause)
        if last is None or now - last >= self.period:
            self._last[cause] = now
            return True
        return False


def _percentiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 0.0
    p50, p95 = np.percentile(np.asarray(values, dtype=np.float64), [50, 95]) * 1e3
    return float(p50), float(p95)


def _face_keys(faces: np.ndarray, detect: np.ndarray) -> dict[str, float]:
    """Front-end keys from rolling rows (face px, occluded, |yaw|, mesh ms, tracked) and the
    last detector run times (ms)."""
    d50, d95 = np.percentile(detect, [50, 95]) if len(detect) else (0.0, 0.0)
    m50, m95 = np.percentile(faces[:, 3], [50, 95])
    return {
        'face_size_p50_px': float(np.median(faces[:, 0])),
        'face_occluded_share': float(faces[:, 1].mean()),
        'face_abs_yaw_p50_deg': float(np.median(faces[:, 2])),
        'frontend_detect_p50_ms': float(d50),
        'frontend_detect_p95_ms': float(d95),
        'frontend_mesh_p50_ms': float(m50),
        'frontend_mesh_p95_ms': float(m95),
        'frontend_tracked_share': float(faces[:, 4].mean()),
    }


class PerceptionStats:
    """Counters since start plus rolling rates over the last `horizon` seconds (thread-safe).

    Totals: `frames` received, `processed` (reached the face tracker), `faces`, `windows`
    classified or reported NO_FACE, `stale` reports, `transcripts` buffered, `encoded` frames,
    camera `gaps` and timeline `restarts` (runtime/pipeline/timeline.py), `skipped` inputs by
    named cause. Rolling: processed frames (for fps and face rate), frame
    latency (one frame through the pipeline) and window latency (the frame that completed a
    window, classification included: the `processing_latency` of a published result). With
    the real-face front end also its per-frame face quality and stage timings (rolling), and
    windows `abstained` by face-quality reason (totals).
    """

    def __init__(self, horizon: float = 10.0, min_fps_warn: float = 5.0) -> None:
        self.horizon = float(horizon)
        self.min_fps_warn = float(min_fps_warn)
        self.frames = self.processed = self.faces = self.windows = 0
        self.stale = self.transcripts = self.encoded = self.restarts = self.gaps = 0
        self.skipped: Counter[str] = Counter()
        self.abstained: Counter[str] = Counter()
        self.face_detector = ''
        self.face_fallback = ''  # the detector asked for when its model files were missing
        self._frames: deque[tuple[float, bool, float]] = deque()
        # (time, face px, occluded, |yaw|, mesh ms, tracked); detector runs are rare while the
        # mesh follows the face, so their times are the last DETECT_RUNS runs, whenever.
        self._faces: deque[tuple[float, float, bool, float, float, bool]] = deque()
        self._detect_ms: deque[float] = deque(maxlen=DETECT_RUNS)
        self._windows: deque[tuple[float, float]] = deque()
        self._lock = threading.Lock()

    # -- writers (the pipeline) ------------------------------------------------------------
    def received(self) -> None:
        """Count one camera frame received (processed or not)."""
        with self._lock:
            self.frames += 1

    def frame(
        self, face_found: bool, latency: float, now: float | None = None, face: Any = None
    ) -> None:
        """Count one processed frame and its latency in seconds.

        `face`: the front end's FaceObservation of the frame (quality and timings), if any.
        """
        now = time.monotonic() if now is None else float(now)
        with self._lock:
            self.processed += 1
            self.faces += bool(face_found)
            self._frames.append((now, bool(face_found), float(latency)))
            if face is not None:
                q, t = face.quality, face.timings_ms
                self._faces.append((
                    now, float(q.face_size_px), bool(q.occluded), abs(float(q.yaw)),
                    float(t.get('mesh', 0.0)), bool(face.tracked),
                ))  # fmt: skip
                if not face.tracked:
                    self._detect_ms.append(float(t.get('detect', 0.0)))
            self._trim(now)

    def abstain(self, reason: str) -> None:
        """Count one window abstained for face quality (`reason`: face_small, yaw, ...)."""
        with self._lock:
            self.abstained[reason] += 1

    def window(self, latency: float, now: float | None = None) -> None:
        """Count one classified window and its latency in seconds."""
        now = time.monotonic() if now is None else float(now)
        with self._lock:
            self.windows += 1
            self._windows.append((now, float(latency)))
            self._trim(now)

    def skip(self, cause: str, n: int = 1) -> None:
        """Count `n` skipped inputs under `cause`."""
        with self._lock:
            self.skipped[cause] += n

    def count(self, name: str, n: int = 1) -> None:
        """Add `n` to one of the totals ('stale', 'transcripts', 'restarts', 'gaps')."""
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def clear_latencies(self) -> None:
        """Forget the rolling latencies (benchmarks: after the warm-up)."""
        with self._lock:
            self._frames.clear()
            self._windows.clear()
            self._faces.clear()

    def _trim(self, now: float) -> None:
        while self._frames and now - self._frames[0][0] > self.horizon:
            self._frames.popleft()
        while self._windows and now - self._windows[0][0] > self.horizon:
            self._windows.popleft()
        while self._faces and now - self._faces[0][0] > self.horizon:
            self._faces.popleft()

    # -- readers (diagnostics, summaries) ---------------------------------------------------
    def frame_skips(self) -> int:
        """Skipped camera frames (every cause but `transcript_*` and `window_*`)."""
        with self._lock:
            return sum(n for c, n in self.skipped.items() if not c.startswith(FRAME_EXCLUDED))

    @property
    def dropped(self) -> int:
        """Frames received but not processed."""
        return self.frames - self.processed

    def frame_latencies(self) -> list[float]:
        """Rolling frame latencies in seconds."""
        with self._lock:
            return [f[2] for f in self._frames]

    def window_latencies(self) -> list[float]:
        """Rolling window latencies in seconds."""
        with self._lock:
            return [w[1] for w in self._windows]

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """Every /diagnostics key of the perception status (docs/ros_api.md), model id aside."""
        now = time.monotonic() if now is None else float(now)
        with self._lock:
            self._trim(now)
            frames = list(self._frames)
            win = [w[1] for w in self._windows]
            totals = {
                'face_found_rate_total': self.faces / self.processed if self.processed else 0.0,
                'frames_total': self.frames,
                'frames_processed': self.processed,
                'dropped_total': self.frames - self.processed,
                'windows_total': self.windows,
                'stale_total': self.stale,
                'gaps_total': self.gaps,
                'timeline_restarts': self.restarts,
                'transcripts_total': self.transcripts,
                'frames_encoded': self.encoded,
            }
            skipped = dict(sorted(self.skipped.items()))
            abstained = dict(sorted(self.abstained.items()))
            faces = np.asarray([f[1:] for f in self._faces], dtype=np.float64).reshape(-1, 5)
            detect = np.asarray(self._detect_ms, dtype=np.float64)
        fps = 0.0
        if len(frames) >= 2 and frames[-1][0] > frames[0][0]:
            fps = (len(frames) - 1) / (frames[-1][0] - frames[0][0])
        found = sum(f[1] for f in frames) / len(frames) if frames else 0.0
        p50, p95 = _percentiles(win)
        f50, f95 = _percentiles([f[2] for f in frames])
        out: dict[str, Any] = {
            'fps': fps,
            'face_found_rate': found,
            'latency_p50_ms': p50,
            'latency_p95_ms': p95,
            'frame_latency_p50_ms': f50,
            'frame_latency_p95_ms': f95,
            **totals,
            'skipped_total': sum(skipped.values()),
        }
        out.update({f'skipped_{k}': v for k, v in skipped.items()})
        if self.face_detector:
            out['face_detector'] = self.face_detector
        if self.face_fallback:
            out['face_detector_requested'] = self.face_fallback
        if len(faces):
            out.update(_face_keys(faces, detect))
        out.update({f'abstained_{k}': v for k, v in abstained.items()})
        return out

    def reports(
        self,
        model_id: str,
        adaptation_state: str,
        stale: bool,
        hardware_id: str = '',
        now: float | None = None,
    ) -> list[DiagnosticReport]:
        """The node's two DiagnosticStatus entries: perception (with model_id) and adaptation."""
        s = self.snapshot(now)
        values: dict[str, object] = {**s, 'model_id': model_id}
        if stale:
            level, msg = 'STALE', 'no camera frames within the stale timeout'
        elif s['fps'] < self.min_fps_warn:
            level, msg = 'WARN', f'low frame rate ({s["fps"]:.1f} fps)'
        elif s['face_found_rate'] < 0.2:
            level, msg = 'WARN', 'face rarely found'
        else:
            level, msg = 'OK', f'{s["fps"]:.1f} fps, p95 {s["latency_p95_ms"]:.0f} ms'
        failed = 'rejected' in adaptation_state or 'failed' in adaptation_state
        return [
            DiagnosticReport('st_f2m_ros: perception', level, msg, hardware_id, values),
            DiagnosticReport(
                'st_f2m_ros: adaptation',
                'WARN' if failed else 'OK',
                adaptation_state,
                hardware_id,
                {'state': adaptation_state},
            ),
        ]
