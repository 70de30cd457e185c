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
"""`st-f2m train`: pre-train and meta-train ST-F2M from a YAML config (meta/trainer.py)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the train parser."""
    from st_f2m_ros.named_datasets import describe

    p = subparsers.add_parser(
        'train',
        help='train an ST-F2M checkpoint (pre-training, then meta-learning)',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            'Train the model described by a YAML config (see config/train.yaml): frame-level\n'
            'pre-training of the backbone with component supervision, window training of E, F\n'
            'and C on cached features, then bi-level meta-training (paper eqs. 6-7).\n'
            'Validation runs on held-out subjects after every epoch. OUT_DIR receives\n'
            'last/best/final.safetensors, train_state.safetensors (for --resume),\n'
            'metrics.csv and TensorBoard logs (tb/).\n\n'
            'Data: the synthetic generator, a dataset folder (data.root) or a named data set\n'
            '(--dataset NAME:PATH or data.dataset; validation is on its held-out subjects):\n'
            + describe()
            + '\n\n'
            '--frame-label-noise F (data.frame_label_noise) gives a fraction F of the training\n'
            "frames another class (seeded; the paper's Table V uses 0.3); validation keeps\n"
            'its true labels.'
        ),
        epilog=(
            'examples:\n'
            '  st-f2m train --config config/train.yaml\n'
            '  st-f2m train --config config/train.yaml --resume\n'
            '  torchrun --standalone --nproc-per-node 2 -m st_f2m_ros train '
            '--config config/train.yaml   # DDP, gloo on CPU\n'
            '  st-f2m train --config config/train.yaml --dataset ckplus:/data/CK+ '
            '--out-dir runs/ckplus'
        ),
    )
    p.add_argument('--config', required=True, help='training YAML file')
    p.add_argument('--out-dir', help='override out_dir of the config')
    p.add_argument('--export', help='override export: also write the final model here')
    p.add_argument('--seed', type=int, help='override the seed of the config')
    p.add_argument('--threads', type=int, help='override torch threads per process')
    p.add_argument('--dataset', metavar='NAME:PATH', help='override data: a named data set')
    p.add_argument(
        '--frame-label-noise',
        type=float,
        metavar='F',
        help='override data.frame_label_noise: fraction of training frames relabelled (0-1)',
    )
    p.add_argument(
        '--resume',
        action='store_true',
        help='continue from OUT_DIR/last.safetensors + train_state',
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the config, train, print the held-out metrics."""
    from st_f2m_ros.meta.train_config import load_train_config
    from st_f2m_ros.meta.trainer import Trainer

    cfg = load_train_config(args.config)
    if args.out_dir:
        cfg.out_dir = args.out_dir
    if args.export:
        cfg.export = args.export
    if args.seed is not None:
        cfg.seed = args.seed
    if args.threads:
        cfg.threads = args.threads
    if args.dataset:
        cfg.data.dataset, cfg.data.root = args.dataset, None
    if args.frame_label_noise is not None:
        cfg.data.frame_label_noise = args.frame_label_noise
    cfg.validate()
    trainer = Trainer(cfg, resume=args.resume)
    metrics = trainer.run()
    if trainer.main:
        for key, value in metrics.items():
            shown = f'{value:.4f}' if isinstance(value, float) else value
            print(f'{key}: {shown}')
        print(f'checkpoints and logs: {cfg.out_dir}')
    return 0
