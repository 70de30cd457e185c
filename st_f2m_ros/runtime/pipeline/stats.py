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
"""Health figures of the perception node for /diagnostics, and once-per-cause logging.

Frame rate, window latency p50/p95, dropped frames by cause, face-found rate, model id and
adaptation state are computed here from plain numbers (time passed in), so the node only
converts them with `messages.diagnostics_to_msg`. Bad input must never kill the node and must
not flood the log either (DESIGN 7): `OncePerCause` says when a cause deserves a log line.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
import threading
from typing import Any

import numpy as np

from st_f2m_ros.runtime.messages.convert import DiagnosticReport


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


class NodeStats:
    """Rolling statistics over the last `horizon` seconds (thread-safe)."""

    def __init__(self, horizon: float = 10.0, min_fps_warn: float = 5.0) -> None:
        self.horizon = float(horizon)
        self.min_fps_warn = float(min_fps_warn)
        self._frames: deque[tuple[float, bool]] = deque()
        self._latencies: deque[tuple[float, float]] = deque()
        self.dropped: Counter[str] = Counter()
        self.frames_total = 0
        self._lock = threading.Lock()

    def _trim(self, now: float) -> None:
        while self._frames and now - self._frames[0][0] > self.horizon:
            self._frames.popleft()
        while self._latencies and now - self._latencies[0][0] > self.horizon:
            self._latencies.popleft()

    def frame(self, now: float, face_found: bool) -> None:
        """Count one processed frame received at `now` (node clock)."""
        with self._lock:
            self.frames_total += 1
            self._frames.append((now, bool(face_found)))
            self._trim(now)

    def latency(self, now: float, seconds: float) -> None:
        """Record the latency of one published window."""
        with self._lock:
            self._latencies.append((now, float(seconds)))
            self._trim(now)

    def drop(self, cause: str) -> None:
        """Count one dropped input by cause (e.g. 'encoding', 'out_of_order', 'busy')."""
        with self._lock:
            self.dropped[cause] += 1

    def summary(self, now: float) -> dict[str, float]:
        """fps, face_found_rate, latency_p50, latency_p95 (ms) over the horizon."""
        with self._lock:
            self._trim(now)
            frames = list(self._frames)
            lat = np.array([v for _, v in self._latencies], dtype=np.float64)
        fps = 0.0
        if len(frames) >= 2:
            span = frames[-1][0] - frames[0][0]
            fps = (len(frames) - 1) / span if span > 0 else 0.0
        found = sum(f for _, f in frames) / len(frames) if frames else 0.0
        p50, p95 = (np.percentile(lat, [50, 95]) * 1e3).tolist() if lat.size else (0.0, 0.0)
        return {'fps': fps, 'face_found_rate': found, 'latency_p50_ms': p50, 'latency_p95_ms': p95}

    def reports(
        self,
        now: float,
        model_id: str,
        adaptation_state: str,
        stale: bool,
        hardware_id: str = '',
        extra: Mapping[str, Any] | None = None,
    ) -> list[DiagnosticReport]:
        """The node's two DiagnosticStatus entries: perception and adaptation.

        `extra` (the pipeline's own counters: latencies, skipped inputs by cause, face rate)
        is merged in; nested maps become `<key>_<name>` entries.
        """
        s = self.summary(now)
        for k, v in (extra or {}).items():
            if isinstance(v, Mapping):
                s.update({f'{k}_{kk}': vv for kk, vv in sorted(v.items())})
            else:
                s[k] = v
        if 'face_rate' in s:
            s['face_found_rate'] = s['face_rate']
        values: dict[str, object] = {
            **s,
            'frames_total': self.frames_total,
            'dropped_total': sum(self.dropped.values()),
            'model_id': model_id,
        }
        values.update({f'dropped_{k}': v for k, v in sorted(self.dropped.items())})
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
                {'model_id': model_id, 'state': adaptation_state},
            ),
        ]


class InputClock:
    """Current time in the clock of the input stamps, for staleness checks.

    Live, stamps and the node clock agree and the node clock is used. A bag replayed without
    `--clock` carries old stamps: once stamps and node clock differ by more than `max_skew`
    seconds, time is the newest stamp plus the node time elapsed since it arrived, so that
    replayed data is not declared stale (and silence still is).
    """

    def __init__(self, max_skew: float = 5.0) -> None:
        self.max_skew = float(max_skew)
        self._stamp: float | None = None
        self._arrival = 0.0

    def observe(self, stamp: float, arrival: float) -> None:
        """Record the stamp of an input and its arrival time on the node clock."""
        if self._stamp is None or stamp >= self._stamp:
            self._stamp, self._arrival = float(stamp), float(arrival)

    def now(self, node_now: float) -> float:
        """The current time in the input clock."""
        if self._stamp is None or abs(self._arrival - self._stamp) <= self.max_skew:
            return float(node_now)
        return self._stamp + (float(node_now) - self._arrival)
