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
"""End-to-end perception benchmark: frames/s and window latency, with and without adaptation.

Feeds 640x480 synthetic camera frames as `sensor_msgs/Image` fields (rgb8, so the colour
conversion is paid as on a robot) through the whole pipeline: conversion, face tracking, crop,
feature cache, windows, the recognizer and post-processing. Frames are stamped at the camera
rate (30 Hz by default) but fed as fast as the pipeline takes them, so frames/s is the
sustainable end-to-end rate and windows happen at their real ratio to frames (one per hop).
The "adapting" phase runs the real `/adapt` inner loop (`meta.adapt.adapt`, paper eq. 6) on a
second thread in a loop, swapping each result in, and counts the frames that still flow.
Numbers are medians over repeats where it matters; the machine is printed with them.

Each phase also breaks the frame down into its stages (runtime/bench_stages.py) and records the
process's resident memory: the bench runs the node's pipeline, recognizer and model in-process,
without rclpy (benchmarks/bench_node_memory.py measures a real node process).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
import os
import platform
import threading
import time
from typing import Any

import numpy as np

from st_f2m_ros.perception.image_convert import bgr_to_image
from st_f2m_ros.runtime.bench_stages import StageTimer, instrument, rss_mb
from st_f2m_ros.runtime.inference.recognizer import Recognizer
from st_f2m_ros.runtime.pipeline.pipeline import PerceptionPipeline, PipelineConfig
from st_f2m_ros.runtime.pipeline.stats import PerceptionStats


@dataclass
class BenchRow:
    """One measured phase of one backend."""

    backend: str
    phase: str  # 'steady' or 'adapting'
    mode: str  # 'max' (as fast as possible) or 'paced' (camera rate, drop when behind)
    frames: int
    seconds: float
    window_p50_ms: float
    window_p95_ms: float
    frame_p95_ms: float
    adaptations: int = 0
    adapt_seconds: float = 0.0
    dropped: int = 0
    face_rate: float = 0.0
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    rss_mb: float = 0.0
    cpu_ms_per_frame: float = 0.0  # process CPU time (all threads) per frame
    window_cpu_p95_ms: float = 0.0  # the same for the frames that completed a window, p95

    @property
    def cpu_bound_fps(self) -> float:
        """Frames/s if the process had the CPU to itself and used one core at a time: an
        estimate that a loaded shared machine does not drag down (its wall time does)."""
        return 1e3 / self.cpu_ms_per_frame if self.cpu_ms_per_frame > 0 else 0.0

    @property
    def fps(self) -> float:
        """End-to-end frames per second."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def render_frames(n: int = 90, seed: int = 0, fps: float = 30.0) -> list[np.ndarray]:
    """`n` 640x480 frames of one synthetic person (moving, changing expression)."""
    from st_f2m_ros.data.synthetic import SyntheticConfig, SyntheticSession, make_subject

    cfg = SyntheticConfig(fps=fps, width=640, height=480, duration=n / fps)
    session = SyntheticSession(make_subject('bench', seed), cfg, seed)
    return [session.render(i).image for i in range(min(n, len(session)))]


def support_clips(crop_size: int, seed: int = 0) -> list[Any]:
    """A support set like /adapt receives: 6 labelled clips of one person."""
    from st_f2m_ros.data.synthetic import generate_clips

    return generate_clips(1, clips_per_subject=6, duration=5.0, seed=seed, crop_size=crop_size)


class _Adapter(threading.Thread):
    """Runs adaptations back to back and swaps each result in, like the /adapt worker."""

    def __init__(self, model: Any, clips: list[Any], recognizer: Recognizer) -> None:
        super().__init__(daemon=True)
        self.model, self.clips, self.recognizer = model, clips, recognizer
        self.stop = threading.Event()
        self.count = 0
        self.durations: list[float] = []
        self.error = ''

    def run(self) -> None:
        from st_f2m_ros.meta.adapt import adapt

        while not self.stop.is_set():
            try:
                result = adapt(self.model, self.clips)
            except Exception as err:  # reported in the table, never silently
                self.error = f'{type(err).__name__}: {err}'
                return
            self.count += 1
            self.durations.append(float(result.duration))
            self.recognizer.set_adaptation('bench', result.params, self.count)


def run_phase(
    recognizer: Recognizer,
    frames: list[np.ndarray],
    seconds: float,
    adapter: _Adapter | None = None,
    camera_fps: float = 30.0,
    warmup: int = 90,
    paced: bool = False,
    detector: str = '',
    redetect_every: int = 0,
) -> BenchRow:
    """Feed frames for `seconds` of wall time (after a warm-up) and measure.

    `paced` delivers frames at the camera rate in wall time, as a camera would: a frame that
    arrives while the previous one is still processed replaces it (a depth-1 queue), and the
    skipped ones are counted as dropped. Unpaced, frames are fed back to back (maximum rate).
    `detector`: the face stage (FaceConfig.detector; '' = its default, BlazeFace full-range);
    `redetect_every` N > 0 also runs BlazeFace every N tracked frames (node parameter
    face_redetect_every), which is how its cost shows in a phase where the mesh never loses
    the face.
    """
    from st_f2m_ros.perception.face import FaceConfig

    fields = [bgr_to_image(f, 'rgb8') for f in frames]
    face = FaceConfig(detector=detector) if detector else FaceConfig()
    face = dataclasses.replace(face, redetect_every=redetect_every)
    pipe = PerceptionPipeline(recognizer, PipelineConfig(subject_id='bench', face=face))
    pipe.stats = PerceptionStats(horizon=float('inf'))  # percentiles over the whole phase
    pipe.warm_up()
    i = 0

    window_cpu: list[float] = []  # process CPU ms of the frames that completed a window

    def feed() -> None:
        nonlocal i
        f = fields[i % len(fields)]
        c = time.process_time()
        out = pipe.process_image(i / camera_fps, f.encoding, f.height, f.width, f.step, 0, f.data)
        if out.result is not None:
            window_cpu.append((time.process_time() - c) * 1e3)
        i += 1

    timer = StageTimer()
    with instrument(pipe, timer):
        for _ in range(warmup):
            feed()
        pipe.stats.clear_latencies()
        timer.clear()
        window_cpu.clear()
        if adapter is not None:
            adapter.start()
        start_i, t0, c0 = i, time.perf_counter(), time.process_time()
        n = dropped = 0
        while (now := time.perf_counter() - t0) < seconds:
            if paced:
                due = start_i + int(now * camera_fps)  # the newest frame the camera has sent
                if due < i:
                    time.sleep((i - start_i) / camera_fps - now)
                    continue
                dropped += due - i
                i = due
            feed()
            n += 1
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - c0
    if adapter is not None:
        adapter.stop.set()
        adapter.join()
    s = pipe.stats.snapshot()
    return BenchRow(
        backend=recognizer.backend.name,
        phase='adapting' if adapter is not None else 'steady',
        mode='paced' if paced else 'max',
        frames=n,
        seconds=elapsed,
        window_p50_ms=s['latency_p50_ms'],
        window_p95_ms=s['latency_p95_ms'],
        frame_p95_ms=s['frame_latency_p95_ms'],
        adaptations=adapter.count if adapter is not None else 0,
        adapt_seconds=float(np.median(adapter.durations)) if adapter and adapter.durations else 0,
        dropped=dropped,
        face_rate=float(s['face_found_rate']),
        stages=timer.summary(n),
        rss_mb=rss_mb()[0],
        cpu_ms_per_frame=1e3 * cpu / max(n, 1),
        window_cpu_p95_ms=float(np.percentile(window_cpu, 95)) if window_cpu else 0.0,
    )


def machine_line(threads: int) -> str:
    """Where the numbers were taken (the project runs on a shared 2-core machine)."""
    load = os.getloadavg() if hasattr(os, 'getloadavg') else (float('nan'),) * 3
    return (
        f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
        f'torch/ORT threads {threads}, load average {load[0]:.1f} (1 min), '
        f'python {platform.python_version()}'
    )


def format_table(rows: list[BenchRow]) -> list[str]:
    """The results as a text table, with the during/outside adaptation ratio."""
    head = (
        f'{"backend":<9} {"mode":<6} {"phase":<9} {"frames/s":>9} {"dropped":>8} '
        f'{"window p50":>11} {"window p95":>11} {"frame p95":>10} {"faces":>6} {"adapts":>7} '
        f'{"adapt s":>8} {"RSS MB":>7} {"CPU ms/f":>9} {"CPU-bound f/s":>13} '
        f'{"win CPU p95":>11}'
    )
    lines = [head, '-' * len(head)]
    steady = {(r.backend, r.mode): r.fps for r in rows if r.phase == 'steady'}
    for r in rows:
        lines.append(
            f'{r.backend:<9} {r.mode:<6} {r.phase:<9} {r.fps:>9.1f} {r.dropped:>8d} '
            f'{r.window_p50_ms:>9.1f}ms {r.window_p95_ms:>9.1f}ms {r.frame_p95_ms:>8.1f}ms '
            f'{100 * r.face_rate:>5.0f}% {r.adaptations:>7d} {r.adapt_seconds:>8.2f} '
            f'{r.rss_mb:>7.0f} {r.cpu_ms_per_frame:>9.2f} {r.cpu_bound_fps:>13.1f} '
            f'{r.window_cpu_p95_ms:>9.1f}ms'
        )
    for r in rows:
        base = steady.get((r.backend, r.mode))
        if r.phase == 'adapting' and base:
            lines.append(
                f'{r.backend} ({r.mode}): frame rate during adaptation = '
                f'{100 * r.fps / base:.0f} % of steady'
            )
    return lines


def machine_info(threads: int) -> dict[str, Any]:
    """The machine line's facts, for the JSON report."""
    load = os.getloadavg() if hasattr(os, 'getloadavg') else (float('nan'),) * 3
    return {
        'processor': platform.processor() or platform.machine(),
        'cores': os.cpu_count(),
        'threads': threads,
        'load_average_1_5_15': [round(x, 2) for x in load],
        'python': platform.python_version(),
    }


def report_dict(
    rows: list[BenchRow], model: dict[str, Any], threads: int, load_before: list[float]
) -> dict[str, Any]:
    """Everything measured, for `--json` (machine, model, rows with stages, peak RSS)."""
    current, peak = rss_mb()
    return {
        'machine': {**machine_info(threads), 'load_average_before': load_before},
        'model': model,
        'rows': [
            {**vars(r), 'fps': r.fps, 'cpu_bound_fps': r.cpu_bound_fps} for r in rows
        ],
        'rss_mb': {'current': current, 'peak': peak, 'what': 'bench process (pipeline, '
                   'recognizer and model in-process, both backends loaded; no rclpy)'},
    }  # fmt: skip
