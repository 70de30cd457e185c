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
"""Speed of the synthetic generator (issue 3 target: >= 10x real time at 30 fps, 640x480, 1 core).

Usage: .venv/bin/python benchmarks/bench_generator.py [--seconds 10] [--repeats 5]
       [--width 640 --height 480] [--corrupt fog:0.3,mask:0.3]

Prints the median frames/s and x real time of: rendering full frames, rendering + cropping a
clip (make-dataset's work per frame), and writing a bag (rendering + CDR + MCAP storage).
OpenCV runs on one thread so that the number is per core.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time

import cv2

from st_f2m_ros.data.bag_writer import write_synthetic_bag
from st_f2m_ros.data.synthetic import (
    SyntheticConfig,
    SyntheticSession,
    make_subject,
    parse_corruptions,
)


def _median_rate(fn, frames: int, repeats: int) -> float:  # type: ignore[no-untyped-def]
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        rates.append(frames / (time.perf_counter() - t0))
    return statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seconds', type=float, default=10.0)
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--width', type=int, default=640)
    ap.add_argument('--height', type=int, default=480)
    ap.add_argument('--fps', type=float, default=30.0)
    ap.add_argument('--corrupt', default='')
    args = ap.parse_args()
    cv2.setNumThreads(1)
    cfg = SyntheticConfig(
        fps=args.fps,
        width=args.width,
        height=args.height,
        duration=args.seconds,
        corruptions=parse_corruptions(args.corrupt),
    )
    subject = make_subject('bench', 0)
    n = cfg.n_frames
    print(
        f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
        f'OpenCV threads 1, {args.width}x{args.height} @ {args.fps:g} fps, {args.seconds:g} s '
        f'clips, corruptions: {args.corrupt or "none"}'
    )

    def session() -> SyntheticSession:
        return SyntheticSession(subject, cfg, seed=0)

    t0 = time.perf_counter()
    session()
    setup = time.perf_counter() - t0

    def render() -> None:
        for _ in session().frames():
            pass

    def crop() -> None:
        session().to_clip(112)

    def bag() -> None:
        tmp = tempfile.mkdtemp()
        try:
            write_synthetic_bag(os.path.join(tmp, 'b'), duration=args.seconds, config=cfg)
        finally:
            shutil.rmtree(tmp)

    print(f'session setup (script, geometry, transcript): {setup * 1e3:.1f} ms')
    for name, fn in (
        ('render frames', render),
        ('render + crop 112', crop),
        ('write MCAP bag', bag),
    ):
        rate = _median_rate(fn, n, args.repeats)
        print(f'{name:20s} median {rate:8.1f} frames/s = {rate / args.fps:6.1f}x real time')


if __name__ == '__main__':
    main()
