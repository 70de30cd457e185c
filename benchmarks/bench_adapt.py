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
"""Time /adapt end to end and the perception frame rate during and outside adaptation.

Usage: .venv/bin/python benchmarks/bench_adapt.py [--checkpoint F] [--clips-per-class 5]
       [--seconds 1.0] [--fps 30] [--steps 0] [--threads 2] [--repeats 3]

The support set is DESIGN 6's: `clips-per-class` clips of `seconds` at `fps` for each of six
classes, sent inline as bgr8 face crops through the AdaptationManager (decoding, cropping,
encoding and the inner loop included; persisting off). Meanwhile a camera thread pushes
640x480 frames through the PerceptionPipeline as fast as it can; its frame rate during
adaptation is compared with the rate measured alone (DESIGN 6 target: >= 80 %). Without the
packaged checkpoint a randomly initialised default model is used (same cost, meaningless
accuracy).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
import platform
import statistics
import tempfile
import threading
import time

import numpy as np
import torch

from st_f2m_ros.ros.params import defaults
from st_f2m_ros.runtime.adaptation.manager import AdaptRequest, InlineClip
from st_f2m_ros.runtime.messages.inputs import RawImage
from st_f2m_ros.runtime.session import build_session

CLASSES = (
    'happiness_high',
    'anger_medium',
    'sadness_low',
    'fear_high',
    'surprise_medium',
    'neutral',
)


def _checkpoint(path: str, tmp: Path) -> str:
    if path:
        return path
    from st_f2m_ros.model.checkpoint import DEFAULT_CHECKPOINT, save_checkpoint
    from st_f2m_ros.model.stf2m import STF2MModel

    if DEFAULT_CHECKPOINT.is_file():
        return str(DEFAULT_CHECKPOINT)
    print('packaged checkpoint missing: timing a randomly initialised default model')
    out = tmp / 'random_default.safetensors'
    save_checkpoint(STF2MModel(), out)
    return str(out)


def _request(crop: int, per_class: int, seconds: float, fps: float, steps: int) -> AdaptRequest:
    rng = np.random.default_rng(0)
    n = max(1, round(seconds * fps))
    clips = []
    for k, label in enumerate(CLASSES):
        for c in range(per_class):
            base = rng.integers(0, 255, (crop, crop, 3), dtype=np.uint8)
            frames = []
            for i in range(n):
                img = np.clip(base.astype(int) + 8 * k + i % 5, 0, 255).astype(np.uint8)
                frames.append(
                    RawImage(c * 10.0 + i / fps, crop, crop, 'bgr8', 0, crop * 3, img.tobytes())
                )
            clips.append(InlineClip(label, frames))
    return AdaptRequest('bench', clips, inner_steps=steps, persist=False)


def _camera_frames() -> list[np.ndarray]:
    """640x480 frames with a real face (skimage's astronaut), shifted a little per frame."""
    import cv2

    try:
        from skimage.data import astronaut

        face = cv2.resize(np.ascontiguousarray(astronaut()[:, :, ::-1]), (480, 480))
    except ImportError:  # scikit-image is a dev extra: fall back to noise (no face found)
        face = np.random.default_rng(1).integers(0, 255, (480, 480, 3), dtype=np.uint8)
    frames = []
    for dx in range(0, 160, 20):
        img = np.zeros((480, 640, 3), dtype=np.uint8)
        img[:, dx : dx + 480] = face
        frames.append(img)
    return frames


_STAMP = [1000.0]


def _camera_rate(
    pipeline, frames: list[np.ndarray], stop: threading.Event, out: list, rate: float
) -> None:
    """Push frames (paced at `rate` Hz, or flat out when 0) until stopped.

    Paced like a camera with keep-last QoS: a frame that is due while the previous one is still
    being processed is dropped. Records (processed frames/s, windows/s, face rate).
    """
    st = pipeline.stats
    w0, f0 = st.windows, st.faces
    t0 = time.perf_counter()
    i = 0
    due = t0
    while not stop.is_set():
        if rate > 0:
            now = time.perf_counter()
            if now < due:
                time.sleep(due - now)
            due = max(due + 1.0 / rate, time.perf_counter() - 0.5 / rate)  # drop if behind
        pipeline.on_image(_STAMP[0], frames[i % len(frames)])
        _STAMP[0] += 1 / 30.0
        i += 1
    dt = time.perf_counter() - t0
    out.append((i / dt, (st.windows - w0) / dt, (st.faces - f0) / max(i, 1)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--checkpoint', default='')
    ap.add_argument('--clips-per-class', type=int, default=5)
    ap.add_argument('--seconds', type=float, default=1.0)
    ap.add_argument('--fps', type=float, default=30.0)
    ap.add_argument('--steps', type=int, default=0)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--camera-fps', type=float, default=30.0, help='0 = as fast as possible')
    ap.add_argument('--nice', type=int, default=5, help='niceness of the adaptation worker')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        values = {**defaults(), 'checkpoint': _checkpoint(args.checkpoint, Path(tmp)),
                  'adaptation_store': '', 'num_threads': args.threads,
                  'support_clips_are_crops': True, 'max_clips_per_class': 64}  # fmt: skip
        session = build_session(values, 'bench')
        session.manager.close()  # rebuild the worker with the requested niceness
        session.manager = type(session.manager)(
            session.recognizer,
            session.manager.adapt_fn,
            dataclasses.replace(session.manager.settings, worker_nice=args.nice),
        )
        crop = session.recognizer.backend.crop_size
        req = _request(crop, args.clips_per_class, args.seconds, args.fps, args.steps)
        frames = _camera_frames()
        alone: list[float] = []
        during: list[float] = []
        durations: list[float] = []
        try:
            for _ in range(args.repeats):
                stop = threading.Event()
                cam = threading.Thread(
                    target=_camera_rate,
                    args=(session.pipeline, frames, stop, alone, args.camera_fps),
                )
                cam.start()
                time.sleep(3.0)
                stop.set()
                cam.join()
                stop = threading.Event()
                cam = threading.Thread(
                    target=_camera_rate,
                    args=(session.pipeline, frames, stop, during, args.camera_fps),
                )
                cam.start()
                out = session.manager.submit(req).result()
                stop.set()
                cam.join()
                if not out.success:
                    raise SystemExit(f'adaptation failed: {out.message}')
                durations.append(out.duration)
                session.recognizer.reset()
        finally:
            session.close()
    n_clips = len(req.clips)
    n_frames = sum(len(c.frames) for c in req.clips)
    print(
        f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
        f'torch threads {args.threads}'
    )
    print(f'support set: {n_clips} clips, {n_frames} frames ({crop} px crops)')
    print(
        f'/adapt duration: median {statistics.median(durations):.2f} s '
        f'(min {min(durations):.2f}, max {max(durations):.2f}; target <= 2 s)'
    )
    fa, wa, ka = (statistics.median(x) for x in zip(*alone))
    fd, wd, kd = (statistics.median(x) for x in zip(*during))
    print(
        f'camera 640x480 frames/s: alone {fa:.1f} (windows/s {wa:.1f}, face rate {ka:.2f}); '
        f'during adaptation {fd:.1f} (windows/s {wd:.1f}, face rate {kd:.2f}); '
        f'ratio {100 * fd / fa:.0f} % (target >= 80 %)'
    )


if __name__ == '__main__':
    main()
