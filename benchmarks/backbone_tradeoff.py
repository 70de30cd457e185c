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
"""Accuracy/speed trade-off of the backbone options, trained in the same harness.

Each backbone is trained by the real trainer (st_f2m_ros.meta.trainer) from config/train_pixel.yaml
with one reduced budget (fewer synthetic people, shorter sessions, fewer epochs) so that the
full ResNet-18 fits on a 2-core CPU; only the backbone and its crop size change between rows.
Absolute accuracies are therefore below the shipped checkpoint's (trained on the full budget);
the comparison between rows is what this measures. Encoding speed is the batched median of
`encode_frames` on this machine.

    python benchmarks/backbone_tradeoff.py [--backbones resnet18_quarter:64,resnet18_half:96]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import numpy as np
import torch

from st_f2m_ros.meta.train_config import load_train_config
from st_f2m_ros.meta.trainer import Trainer

# The full ResNet-18 (resnet18:112) takes ~25 min here on this budget: name it to include it.
ROWS = 'resnet18_quarter:64,resnet18_half:96'


def reduced(cfg, backbone: str, crop: int, out_dir: str):
    """The shipped config with a smaller budget and another backbone."""
    return dataclasses.replace(
        cfg,
        out_dir=out_dir,
        export=None,
        model=dataclasses.replace(cfg.model, backbone=backbone, crop_size=crop),
        data=dataclasses.replace(cfg.data, n_subjects=40, val_subjects=8),
        frames=dataclasses.replace(cfg.frames, epochs=2),
        windows=dataclasses.replace(cfg.windows, epochs=4),
        meta=dataclasses.replace(cfg.meta, epochs=1, iterations=40),
    )


def encode_ms(model, crop: int, batch: int = 32, repeats: int = 7) -> float:
    """Median milliseconds per crop, batched."""
    crops = np.random.default_rng(0).integers(0, 255, (batch, crop, crop, 3), dtype=np.uint8)
    times = []
    with torch.inference_mode():
        model.encode_frames(crops)
        for _ in range(repeats):
            t0 = time.perf_counter()
            model.encode_frames(crops)
            times.append((time.perf_counter() - t0) * 1e3 / batch)
    return statistics.median(times)


def main() -> None:
    """Train each backbone and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--config', default='config/train_pixel.yaml')
    ap.add_argument('--backbones', default=ROWS, help='backbone:crop,... to compare')
    args = ap.parse_args()
    torch.set_num_threads(2)
    base = load_train_config(args.config)
    print(f'machine: {platform.machine()} {platform.processor() or ""}, '
          f'{os.cpu_count()} cores, torch {torch.__version__}, 2 threads')
    rows = []
    for item in args.backbones.split(','):
        backbone, crop = item.split(':')
        with tempfile.TemporaryDirectory() as tmp:
            trainer = Trainer(reduced(base, backbone, int(crop), tmp))
            metrics = trainer.run()
            model = trainer.model.eval()
            params = sum(p.numel() for p in model.parameters()) / 1e6
            rows.append((item, params, encode_ms(model, int(crop)), metrics))
            print(f'[done] {_row(rows[-1])}', flush=True)
    print(f'\n{"backbone:crop":22} {"params M":>8} {"ms/crop":>8} {"fine acc":>9} '
          f'{"basic acc":>9} {"adapted":>8} {"train s":>8}')
    for row in rows:
        print(_row(row))


def _row(row: tuple) -> str:
    item, params, ms, m = row
    nan = float('nan')
    return (f'{item:22} {params:8.2f} {ms:8.2f} {m.get("val_acc", nan):9.3f} '
            f'{m.get("val_basic_acc", nan):9.3f} {m.get("val_adapt_after", nan):8.3f} '
            f'{m["train_seconds"]:8.0f}')


if __name__ == '__main__':
    main()
