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
"""Per-stage timing and memory for the perception benchmark (runtime/bench.py).

Stages are timed inside the real pipeline run by wrapping the calls it makes anyway (the face
stage's `update`, whose front-end observation carries its own `timings_ms` for detect, mesh and
measure; `crop_face`; the recognizer's `encode_frames` and `classify`; image decoding), so the
breakdown and the end-to-end figures come from the same frames; a wrapper costs about a
microsecond a call. Memory is the process's resident set from /proc/self/status.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
import time
from typing import Any

import numpy as np

# Stage order of the breakdown: (name, what it is). 'face' contains detect, mesh and measure.
STAGES: tuple[tuple[str, str], ...] = (
    ('decode', 'sensor_msgs/Image fields -> BGR'),
    ('face', 'face stage update (front end: detect + mesh + measure; or Haar)'),
    ('detect', 'BlazeFace detector, frames where it ran'),
    ('mesh', '468-point mesh (tracked from the previous frame)'),
    ('measure', 'pose, aligned crop, Table II components, quality'),
    ('crop', 'model crop (crop_face)'),
    ('encode', 'E per frame (encode_frames; FER backbone: expression net + projection)'),
    ('classify', 'window head (temporal, spatial, fuzzy, classifier)'),
)


class StageTimer:
    """Milliseconds per call of each pipeline stage during one phase."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {name: [] for name, _ in STAGES}
        # CPU time of the whole process during each call (all its threads): on a loaded machine
        # the wall time waits for the CPU, the CPU time hardly changes.
        self.cpu: dict[str, list[float]] = {name: [] for name, _ in STAGES}
        self.batch: list[int] = []  # frames per encode_frames call
        self.warmup_detect: list[float] = []

    def clear(self) -> None:
        """Forget the warm-up (its detector runs are kept aside: with a tracked mesh the
        detector may not run again, and its cost per run is still worth reporting)."""
        self.warmup_detect = list(self.times['detect'])
        for values in (*self.times.values(), *self.cpu.values()):
            values.clear()
        self.batch.clear()

    def wrap(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn` timed into `stage`."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.times[stage].append((time.perf_counter() - t0) * 1e3)
                self.cpu[stage].append((time.process_time() - c0) * 1e3)

        return timed

    def face(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The face stage's `update`, also recording the front end's own stage timings."""
        timed = self.wrap('face', fn)

        def update(*args: Any, **kwargs: Any) -> Any:
            obs = timed(*args, **kwargs)
            front = getattr(obs, 'frontend', None)
            if front is not None:
                t = front.timings_ms
                if not front.tracked:
                    self.times['detect'].append(float(t.get('detect', 0.0)))
                self.times['mesh'].append(float(t.get('mesh', 0.0)))
                self.times['measure'].append(float(t.get('measure', 0.0)))
            return obs

        return update

    def encode(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`encode_frames`, also recording its batch size."""
        timed = self.wrap('encode', fn)

        def encode_frames(crops: Any, *args: Any, **kwargs: Any) -> Any:
            self.batch.append(len(crops))
            return timed(crops, *args, **kwargs)

        return encode_frames

    def summary(self, frames: int) -> dict[str, dict[str, float]]:
        """Per stage: calls, median and p95 ms per call, and mean ms per frame (the cost that
        bounds frames/s: a stage that runs on few frames costs little per frame)."""
        out = {}
        for name, values in self.times.items():
            if not values:
                continue
            p50, p95 = np.percentile(np.asarray(values), [50, 95])
            out[name] = {
                'calls': len(values),
                'p50_ms': float(p50),
                'p95_ms': float(p95),
                'per_frame_ms': float(np.sum(values)) / max(frames, 1),
            }
            cpu = self.cpu[name]
            if cpu:  # the front end's own sub-stages (detect, mesh, measure) are wall time only
                out[name]['cpu_p50_ms'] = float(np.median(cpu))
                out[name]['cpu_per_frame_ms'] = float(np.sum(cpu)) / max(frames, 1)
        if 'detect' not in out and self.warmup_detect:
            p50, p95 = np.percentile(np.asarray(self.warmup_detect), [50, 95])
            out['detect'] = {
                'calls': 0,
                'p50_ms': float(p50),
                'p95_ms': float(p95),
                'per_frame_ms': 0.0,
                'warmup_calls': len(self.warmup_detect),
            }
        if self.batch and 'encode' in out:
            out['encode']['frames_per_call'] = float(np.mean(self.batch))
        return out


@contextmanager
def instrument(pipe: Any, timer: StageTimer) -> Iterator[None]:
    """Time the stages of `pipe` into `timer` while inside; everything is restored after.

    `crop_face` and `image_to_bgr` are looked up at call time in the module that calls them
    (the pipeline or the face stage), so they are wrapped there; the face stage and the
    recognizer are wrapped on the instances.
    """
    from st_f2m_ros.perception import face_stage
    from st_f2m_ros.runtime.pipeline import pipeline as module

    stages = {'crop_face': 'crop', 'image_to_bgr': 'decode'}
    saved = [(m, n, getattr(m, n)) for m in (module, face_stage) for n in stages if hasattr(m, n)]
    rec = pipe.recognizer
    try:
        for mod, name, fn in saved:
            setattr(mod, name, timer.wrap(stages[name], fn))
        pipe.tracker.update = timer.face(pipe.tracker.update)
        rec.encode_frames = timer.encode(rec.encode_frames)
        rec.classify = timer.wrap('classify', rec.classify)
        yield
    finally:
        for mod, name, fn in saved:
            setattr(mod, name, fn)
        for obj, name in ((pipe.tracker, 'update'), (rec, 'encode_frames'), (rec, 'classify')):
            obj.__dict__.pop(name, None)


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB (Linux /proc; 0 elsewhere)."""
    values = {'VmRSS': 0.0, 'VmHWM': 0.0}
    try:
        with open('/proc/self/status') as f:
            for line in f:
                key, _, rest = line.partition(':')
                if key in values:
                    values[key] = float(rest.split()[0]) / 1024.0
    except OSError:
        pass
    return values['VmRSS'], values['VmHWM']


def cpu_name() -> str:
    """The processor's model name (Linux /proc/cpuinfo), else what `platform` knows."""
    import platform

    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def format_stages(rows: list[Any], phases: tuple[str, ...] = ('steady',)) -> list[str]:
    """The per-stage breakdown of the rows in `phases`: one block per backend and mode."""
    lines = []
    for r in rows:
        if r.phase not in phases or not r.stages:
            continue
        lines.append(f'{r.backend} {r.mode} {r.phase}: {r.frames} frames, {r.fps:.1f} frames/s')
        lines.append(
            f'  {"stage":<9} {"calls":>6} {"p50 ms":>8} {"p95 ms":>8} {"ms/frame":>9} '
            f'{"CPU p50":>8} {"CPU/frame":>9}'
        )
        for name, _ in STAGES:
            st = r.stages.get(name)
            if st is None:
                continue
            extra = ''
            if 'warmup_calls' in st:
                extra = (
                    f'  (not run: the mesh tracked; times of {st["warmup_calls"]} warm-up runs)'
                )
            if 'frames_per_call' in st:
                extra = f'  ({st["frames_per_call"]:.1f} frames a call)'
            cpu = f'{"-":>8} {"-":>9}'
            if 'cpu_p50_ms' in st:
                cpu = f'{st["cpu_p50_ms"]:>8.2f} {st["cpu_per_frame_ms"]:>9.2f}'
            lines.append(
                f'  {name:<9} {st["calls"]:>6d} {st["p50_ms"]:>8.2f} {st["p95_ms"]:>8.2f} '
                f'{st["per_frame_ms"]:>9.2f} {cpu}{extra}'
            )
    return lines
