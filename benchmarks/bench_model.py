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
"""Benchmark the ST-F2M model on this machine: inference per backbone, and training steps.

    .venv/bin/python benchmarks/bench_model.py [--threads 2] [--repeats 20]

For each backbone option (at its usual crop size) it prints: per-frame encoding latency
(batch 1, what the live pipeline pays per new frame), batched encoding throughput, per-window
classification latency (B=1 window of T cached frames: what a window costs once its frames are
cached), and the end-to-end window cost when one new frame arrives per window. Then the time of
one training step of each stage, and `meta.adapt.adapt` on a 30-clip support set (the
runtime-level /adapt benchmark, with decoding and the pipeline running, is bench_adapt.py).
Medians over `--repeats`; the machine is printed first.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import os
import platform
import statistics
import time

import numpy as np
import torch

from st_f2m_ros.meta.maml import MetaLearner, WindowBatch
from st_f2m_ros.meta.objectives import FrameObjective, WindowObjective
from st_f2m_ros.model.config import STF2MConfig
from st_f2m_ros.model.stf2m import STF2MModel

OPTIONS = (('resnet18', 112), ('resnet18', 96), ('resnet18_half', 96), ('resnet18_quarter', 64))


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def bench_inference(backbone: str, crop: int, repeats: int) -> None:
    cfg = STF2MConfig(backbone=backbone, crop_size=crop, text_encoder='hashing')
    model = STF2MModel(cfg).eval()
    n_params = sum(p.numel() for p in model.parameters())
    rng = np.random.default_rng(0)
    one = rng.integers(0, 256, (1, crop, crop, 3), dtype=np.uint8)
    many = rng.integers(0, 256, (32, crop, crop, 3), dtype=np.uint8)
    r, d = model.feature_shape
    feats = torch.randn(1, cfg.window, r, d)
    text, vm, tm = torch.randn(1, 384), torch.ones(1), torch.ones(1)
    with torch.inference_mode():
        frame = median_ms(lambda: model.encode_frames(one), repeats)
        batch = median_ms(lambda: model.encode_frames(many), max(3, repeats // 4)) / 32
        window = median_ms(lambda: model.classify(feats, text, vm, tm), repeats)
    print(
        f'{backbone:>17s} @{crop:<3d} {n_params / 1e6:5.2f} M params | encode 1 frame '
        f'{frame:6.2f} ms | batched {batch:5.2f} ms/crop ({1e3 / batch:6.0f} crops/s) | '
        f'classify 1 window {window:5.2f} ms | frame+window {frame + window:6.2f} ms'
    )


def bench_training(repeats: int) -> None:
    cfg = STF2MConfig(text_encoder='hashing')
    model = STF2MModel(cfg).train()
    r, d = model.feature_shape
    rng = np.random.default_rng(0)
    crops = torch.from_numpy(rng.integers(0, 256, (64, cfg.crop_size, cfg.crop_size, 3), np.uint8))
    labels = torch.randint(0, 19, (64,))
    comps = torch.rand(64, 12)
    frame_obj = FrameObjective(model, 1.0)
    opt = torch.optim.AdamW(frame_obj.parameters(), 1e-3)

    def frame_step() -> None:
        loss, _ = frame_obj(crops, labels, comps)
        opt.zero_grad()
        loss.backward()
        opt.step()

    win_obj = WindowObjective(model, 1.0)
    wb = (
        torch.randn(64, cfg.window, r, d),
        torch.randn(64, 384),
        torch.ones(64),
        torch.ones(64),
        labels,
        comps,
    )

    def window_step() -> None:
        loss, _ = win_obj(*wb)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def episode(n: int) -> WindowBatch:
        return WindowBatch(
            torch.randn(4, n, cfg.window, r, d),
            torch.randn(4, n, 384),
            torch.ones(4, n),
            torch.ones(4, n),
            torch.randint(0, 19, (4, n)),
        )

    sup, qry = episode(5), episode(5)
    timings = {
        f'frames step (batch 64, {cfg.backbone} @{cfg.crop_size})': median_ms(frame_step, repeats),
        'windows step (batch 64)': median_ms(window_step, repeats),
    }
    for first_order in (True, False):
        learner = MetaLearner(model, 'head', steps=5, lr=0.05, first_order=first_order)

        def meta_step(learner: MetaLearner = learner) -> None:
            loss, _ = learner.outer_loss(sup, qry)
            opt.zero_grad()
            loss.backward()

        order = 'first' if first_order else 'second'
        timings[f'meta step (4 tasks 5-way 1-shot, 5 inner steps, {order} order)'] = median_ms(
            meta_step, repeats
        )
    for name, ms in timings.items():
        print(f'{name:>62s}: {ms:8.1f} ms')


def bench_adapt_core(repeats: int) -> None:
    """meta.adapt.adapt on DESIGN 6's support set size: 30 one-second clips at 30 fps.

    The clips are cut from one 30 s scripted session of an unseen synthetic person, so their
    labels are the true per-frame labels (several classes, segments of 0.5-4 s).
    """
    from dataclasses import replace

    from st_f2m_ros.data.clip import Clip
    from st_f2m_ros.data.synthetic.generator import SyntheticConfig, SyntheticSession
    from st_f2m_ros.data.synthetic.subjects import make_subject
    from st_f2m_ros.meta.adapt import adapt
    from st_f2m_ros.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint

    if DEFAULT_CHECKPOINT.is_file():
        model, what = load_checkpoint(), DEFAULT_CHECKPOINT.name
    else:
        model, what = STF2MModel(STF2MConfig()).eval(), 'untrained default config'
    cfg = model.config
    person = make_subject('bench-p01', seed=7)
    syn = replace(SyntheticConfig(fps=30.0), duration=30.0)
    session = SyntheticSession(person, syn, 7, 0).to_clip(cfg.crop_size)
    clips = [
        Clip(
            session.subject,
            session.crops[i : i + 30],
            session.times[i : i + 30],
            session.labels[i : i + 30],
            utterances=[],
            source=f'bench:{i // 30}',
        )
        for i in range(0, 900, 30)
    ]
    model.text_encoder.encode(['warm up'])  # load the sentence encoder once, as the node does
    durations = []
    for _ in range(repeats):
        res = adapt(model, clips)
        durations.append(res.duration)
    print(
        f'adapt() on 30 one-second 30 fps clips ({what}, {res.windows} windows, '
        f'{res.clips_used} clips used, '
        f'{cfg.inner.steps} steps, scope {res.scope}): '
        f'median {statistics.median(durations):.3f} s, '
        f'max {max(durations):.3f} s; support acc {res.support_acc_before:.2f} -> '
        f'{res.support_acc_after:.2f}'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
        f'torch {torch.__version__}, {torch.get_num_threads()} threads'
    )
    print('inference (eager PyTorch, CPU, medians):')
    for backbone, crop in OPTIONS:
        bench_inference(backbone, crop, args.repeats)
    print('adaptation (core API, encoding included):')
    bench_adapt_core(max(3, args.repeats // 4))
    print('training steps (medians):')
    bench_training(max(3, args.repeats // 4))


if __name__ == '__main__':
    main()
