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
"""Replay soak: a generated session through the perception pipeline, memory and accounting.

    .venv/bin/python benchmarks/soak.py                 # 10-minute session, shipped checkpoint
    .venv/bin/python benchmarks/soak.py --seconds 20    # the short version (test/runtime)

A synthetic session bag (faces, expressions, transcripts; JPEG camera) is written once, then
replayed through the same calls the node makes (`process_compressed` with the log time as
arrival, `on_transcript`, `tick`), faster than real time. Reported: frames/s (median over
30 s chunks of session, shorter ones for a short session), RSS after warm-up and at the end
(memory must stay flat), and the window accounting: windows produced + windows skipped by
cause == the windows the accepted frames call for (one every hop after the first full
window of each continuous run).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import platform
import sys
import tempfile
import time
from typing import Any

import numpy as np


def rss_mb() -> float:
    """Resident set size of this process in MiB (Linux /proc)."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    return float('nan')


def write_bag(path: Path, seconds: float, fps: float, width: int, height: int) -> Path:
    from st_f2m_ros.data.bag_writer import write_synthetic_bag
    from st_f2m_ros.data.synthetic.generator import SyntheticConfig

    if not (path / 'metadata.yaml').exists():
        cfg = SyntheticConfig(fps=fps, width=width, height=height, duration=seconds)
        write_synthetic_bag(path, duration=seconds, config=cfg, encoding='jpeg',
                            transcript_type='transcript', overwrite=True)  # fmt: skip
    return path


def expected_windows(stamps: list[float], length: float, spacing: float, hop: float,
                     max_gap: float) -> int:  # fmt: skip
    """Windows the scheduler's rule calls for over accepted frame stamps (runs split at gaps)."""
    total = 0
    runs: list[list[float]] = []
    for s in stamps:
        if not runs or s - runs[-1][-1] > max_gap:
            runs.append([s])
        else:
            runs[-1].append(s)
    for run in runs:
        first_end = run[0] + length - spacing
        if run[-1] + 1e-6 >= first_end:
            total += int(np.floor((run[-1] + 1e-6 - first_end) / hop)) + 1
    return total


def soak(bag: Path, backend: str = 'torch', checkpoint: str | None = None,
         threads: int = 2, warmup: float = 60.0) -> dict[str, Any]:  # fmt: skip
    """Replay `bag` once; return the figures (see the module docstring)."""
    from st_f2m_ros.data.bag_reader import BagReader
    from st_f2m_ros.runtime.inference.factory import build_recognizer
    from st_f2m_ros.runtime.messages.inputs import transcript_from_msg
    from st_f2m_ros.runtime.pipeline.pipeline import PerceptionPipeline, PipelineConfig

    rec = build_recognizer(backend, checkpoint=checkpoint, num_threads=threads)
    pipe = PerceptionPipeline(rec, PipelineConfig(subject_id='soak'))
    pipe.warm_up()
    accepted: list[float] = []
    chunks: list[tuple[float, int]] = []  # (wall seconds, frames) per 30 s of session
    rss: list[tuple[float, float]] = []  # (session seconds, MiB)
    results = frames = chunk_frames = 0
    t_first = chunk_start = None
    wall0 = chunk_wall = time.perf_counter()
    with BagReader(bag) as reader:
        cam = reader.find_topic(('sensor_msgs/msg/CompressedImage',))
        txt = reader.find_topic(('st_f2m_ros/msg/Transcript',))
        chunk = min(30.0, max(1.0, (reader.end_time - reader.start_time) / 10))
        for m in reader.messages([cam, txt]):
            t_first = m.log_time if t_first is None else t_first
            chunk_start = m.log_time if chunk_start is None else chunk_start
            if m.topic == cam:
                out = pipe.process_compressed(m.stamp, m.msg.format, m.msg.data,
                                              arrival=m.log_time)  # fmt: skip
                frames += 1
                chunk_frames += 1
                results += out.result is not None
                if out.skipped is None:
                    accepted.append(out.stamp)
            else:
                tr = transcript_from_msg(m.msg)
                if tr.is_final:
                    pipe.on_transcript(tr.stamp, tr.text, tr.start, tr.end, arrival=m.log_time)
            results += pipe.tick(m.log_time) is not None
            if m.log_time - chunk_start >= chunk:
                now = time.perf_counter()
                chunks.append((now - chunk_wall, chunk_frames))
                rss.append((m.log_time - t_first, rss_mb()))
                chunk_wall, chunk_frames, chunk_start = now, 0, m.log_time
        session = (m.log_time - t_first) if t_first is not None else 0.0
    rss.append((session, rss_mb()))
    wall = time.perf_counter() - wall0
    s = pipe.stats.snapshot()
    w = pipe.windows
    expected = expected_windows(accepted, w.length, w.spacing, w.hop, w.max_gap)
    skipped_windows = {k: v for k, v in s.items() if k.startswith('skipped_window_')}
    after_warm = [r for t, r in rss if t >= min(warmup, session / 3)]
    fps = [n / dt for dt, n in chunks if dt > 0] or [frames / wall]
    return {
        'session_s': round(session, 1),
        'wall_s': round(wall, 1),
        'frames': frames,
        'frames_per_s_median': round(float(np.median(fps)), 1),
        'realtime_factor': round(session / wall, 2) if wall else 0.0,
        'rss_mb_after_warmup': round(after_warm[0], 1) if after_warm else None,
        'rss_mb_end': round(rss[-1][1], 1),
        'rss_mb_max_after_warmup': round(max(after_warm), 1) if after_warm else None,
        'rss_samples': [(round(t), round(r, 1)) for t, r in rss],
        'windows_produced': s['windows_total'],
        'windows_skipped': skipped_windows,
        'windows_expected': expected,
        'windows_accounted': s['windows_total'] + sum(skipped_windows.values()) == expected,
        'frames_skipped': {k: v for k, v in s.items() if k.startswith('skipped_') and v},
        'results_published': results,
        'stale_total': s['stale_total'],
        'face_found_rate': round(s['face_found_rate_total'], 3),
        'latency_p50_ms': round(s['latency_p50_ms'], 1),
        'latency_p95_ms': round(s['latency_p95_ms'], 1),
        'model_id': rec.model_id,
        'machine': f'{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}',
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seconds', type=float, default=600.0, help='session length (default 600)')
    ap.add_argument('--fps', type=float, default=15.0)
    ap.add_argument('--size', default='640x480', help='camera WxH (default 640x480)')
    ap.add_argument('--backend', default='torch')
    ap.add_argument('--checkpoint', default=None, help='default: the shipped checkpoint')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--bag', type=Path, default=None, help='reuse/write the session bag here')
    ap.add_argument('--json', type=Path, default=None, help='also write the figures here')
    args = ap.parse_args(argv)
    from st_f2m_ros.runtime.inference.cpu import prefer_passive_threads

    prefer_passive_threads()
    width, height = (int(v) for v in args.size.split('x'))
    tmp = None
    bag = args.bag
    if bag is None:
        tmp = tempfile.TemporaryDirectory(prefix='st_f2m_soak_')
        bag = Path(tmp.name) / 'session'
    t0 = time.perf_counter()
    write_bag(bag, args.seconds, args.fps, width, height)
    print(f'session bag: {args.seconds:.0f} s at {args.fps:g} fps {args.size} '
          f'({time.perf_counter() - t0:.0f} s to write)', flush=True)  # fmt: skip
    out = soak(bag, args.backend, args.checkpoint, args.threads,
               warmup=min(60.0, args.seconds / 3))  # fmt: skip
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + '\n')
    if tmp is not None:
        tmp.cleanup()
    return 0 if out['windows_accounted'] else 1


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
