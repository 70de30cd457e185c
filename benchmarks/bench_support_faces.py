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
"""/adapt on a support bag of 640x480 JPEG camera frames: wall time and peak loading memory.

Usage: .venv/bin/python benchmarks/bench_support_faces.py [--seconds 30] [--detector
       blazeface_full|haar] [--all-frames] [--steps 10] [--repeats 3] [--bag DIR]

The bag is a synthetic support recording (drawn faces the real-face front end reads, ground
truth per segment), written once to --bag (default: a temporary folder). Support frames are
taken at the model's feature rate (the node's default) or all of them (--all-frames). Memory is
tracemalloc's peak while the clips are loaded (numpy and OpenCV buffers are traced); time is
the manager's own /adapt duration (validation, decoding, face stage, inner loop, no persist)
and the process CPU time beside it (steadier than wall time on a shared machine).
Only public session API is used, so the script also measures older checkouts
(PYTHONPATH=<checkout> python benchmarks/bench_support_faces.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
import platform
import statistics
import tempfile
import time
import tracemalloc


def _bag(folder: Path, seconds: float) -> Path:
    from st_f2m_ros.data.bag_writer import write_synthetic_bag

    bag = folder / f'support_{seconds:g}s'
    if not (bag / 'metadata.yaml').is_file():
        t0 = time.perf_counter()
        write_synthetic_bag(bag, duration=seconds, seed=3, encoding='jpeg', clip_index=1)
        print(f'wrote {bag} in {time.perf_counter() - t0:.1f} s')
    return bag


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seconds', type=float, default=30.0)
    ap.add_argument('--detector', default='blazeface_full')
    ap.add_argument('--all-frames', action='store_true')
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--bag', default='')
    args = ap.parse_args()
    import torch

    from st_f2m_ros.ros.params import defaults
    from st_f2m_ros.runtime.adaptation.manager import AdaptRequest
    from st_f2m_ros.runtime.session import build_session

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.bag or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        bag = _bag(folder, args.seconds)
        values = {**defaults(), 'clip_roots': [str(folder)], 'adaptation_store': '',
                  'face_detector': args.detector, 'num_threads': args.threads,
                  'max_clip_bytes': 2**31 - 1}  # fmt: skip
        session = build_session(values, 'bench', with_pipeline=False)
        mgr = session.manager
        if args.all_frames:
            mgr.settings = dataclasses.replace(mgr.settings, frame_rate=0.0)
        try:
            req = AdaptRequest(
                'bench', clip_uris=[str(bag)], inner_steps=args.steps, persist=False
            )
            tracemalloc.start()
            t0, c0 = time.perf_counter(), time.process_time()
            clips = mgr.load_clips('bench', mgr.validate(req))
            load_s, load_cpu = time.perf_counter() - t0, time.process_time() - c0
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            frames = sum(len(c) for c in clips)
            faces = sum(int(c.face_found.sum()) for c in clips if c.face_found is not None)
            measured = sum(getattr(c, 'measured', None) is not None for c in clips)
            outs, cpu = [], []
            for _ in range(args.repeats):
                c0 = time.process_time()
                outs.append(mgr.adapt(req))
                cpu.append(time.process_time() - c0)
                session.recognizer.reset()
        finally:
            session.close()
    failed = [o.message for o in outs if not o.success]
    if failed:
        raise SystemExit(f'adaptation failed: {failed[0]}')
    durations = [o.duration for o in outs]
    load1 = os.getloadavg()[0]
    print(
        f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
        f'load average {load1:.1f}, torch threads {args.threads}'
    )
    rate = 'all frames' if args.all_frames else f'{mgr.settings.frame_rate:g} Hz'
    print(f'support bag: {args.seconds:g} s 640x480 JPEG at {rate}; detector {args.detector}')
    print(f'clips {len(clips)}, frames {frames}, with a face {faces}, clips measured {measured}')
    print(f'load: {load_s:.2f} s ({load_cpu:.2f} s CPU), peak traced memory {peak / 2**20:.1f} MB')
    print(
        f'/adapt ({args.steps} steps) duration: median {statistics.median(durations):.2f} s '
        f'(min {min(durations):.2f}, max {max(durations):.2f}, n={len(durations)}); CPU '
        f'median {statistics.median(cpu):.2f} s'
    )


if __name__ == '__main__':
    main()
