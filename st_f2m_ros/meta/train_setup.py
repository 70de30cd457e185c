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
"""Process setup for the training recipe: DDP (gloo), seeding, trainable sets, data, progress.

`init_distributed` joins the process group when launched with `torchrun` (WORLD_SIZE > 1)
and `wrap_ddp` wraps a stage's objective in DistributedDataParallel then, so every rank holds
the same parameters after each step. `load_training_clips` reads the configured dataset or
generates the synthetic one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import os
import random
import time
from typing import Any

import numpy as np
import torch
from torch import nn
import torch.distributed as dist

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.errors import DataError
from st_f2m_ros.meta.tasks import split_subjects
from st_f2m_ros.meta.train_config import TrainConfig
from st_f2m_ros.model.stf2m import BACKBONE_PREFIXES, STF2MModel


def init_distributed() -> tuple[int, int]:
    """(rank, world size); joins the gloo process group under torchrun (WORLD_SIZE > 1)."""
    if int(os.environ.get('WORLD_SIZE', '1')) > 1 and not dist.is_initialized():
        dist.init_process_group('gloo')
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def wrap_ddp(module: nn.Module, world: int) -> nn.Module:
    """The module in DistributedDataParallel when there are several ranks, else itself."""
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(module, find_unused_parameters=True)
    return module


def seed_all(*parts: int) -> np.random.Generator:
    """Seed torch and random from `parts`; return a numpy generator with the same seed."""
    seed = int(np.random.SeedSequence(list(parts)).generate_state(1)[0])
    torch.manual_seed(seed)
    random.seed(seed)
    return np.random.default_rng(seed)


def set_trainable(model: STF2MModel, stage: str) -> None:
    """frames: the backbone only; windows: all above it but the inner LRs; meta: all above it."""
    for name, p in model.named_parameters():
        backbone = name.startswith(BACKBONE_PREFIXES)
        if stage == 'frames':
            p.requires_grad_(backbone)
        elif stage == 'windows':
            p.requires_grad_(not backbone and not name.startswith('inner_lr.'))
        else:
            p.requires_grad_(not backbone)


@contextmanager
def progress_bar(enabled: bool, **kw: Any) -> Iterator[Any]:
    """A tqdm bar (silent when not `enabled`, i.e. on ranks other than 0), always closed."""
    from tqdm import tqdm

    bar = tqdm(disable=not enabled, dynamic_ncols=True, **kw)
    try:
        yield bar
    finally:
        bar.close()


def subject_split(cfg: TrainConfig, subjects: list[str]) -> tuple[list[str], list[str]]:
    """(training, held-out) subject ids: the held-out draw is over all `subjects`, then
    `data.train_subjects` (when > 0) keeps only that many training subjects."""
    train, val = split_subjects(subjects, cfg.data.val_subjects, cfg.seed)
    if cfg.data.train_subjects > 0:
        train = train[: cfg.data.train_subjects]
    return train, val


def synthetic_ids(cfg: TrainConfig) -> list[str]:
    """Ids of all `data.n_subjects` synthetic people (make_subjects' `s000`, `s001`, ...)."""
    return [f's{i:03d}' for i in range(cfg.data.n_subjects)]


def training_face_config() -> Any:
    """The node's face stage settings (FaceConfig defaults); DataError when the real-face
    front end is not installed (training must not silently fall back to Haar)."""
    from st_f2m_ros.perception.face import FaceConfig
    from st_f2m_ros.perception.face_stage import FaceStage

    face = FaceConfig()
    stage = FaceStage(face)
    if stage.frontend is None:
        raise DataError(
            f'data.front_end needs the real-face front end ({face.detector}), which is not '
            f'usable: {stage.fallback}. Run `st-f2m models install`, or set data.front_end: false'
        )
    return face


class _GenerationProgress:
    """Prints clips done and frames/s while synthetic frames go through the front end."""

    def __init__(self, total: int) -> None:
        self._t0, self._every = time.perf_counter(), max(1, total // 20)

    def __call__(self, done: int, total: int, frames: int) -> None:
        if done % self._every == 0 or done == total:
            dt = time.perf_counter() - self._t0
            print(
                f'front end: {done}/{total} clips, {frames} frames, {frames / max(dt, 1e-9):.1f} '
                f'frames/s ({dt:.0f} s)',
                flush=True,
            )


def load_training_clips(cfg: TrainConfig) -> list[Clip]:
    """Clips of the configured named data set or dataset folder, or generated synthetic ones.

    With `data.train_subjects`, synthetic data is generated only for the subjects
    `subject_split` keeps (split over all `synthetic_ids`, as `Trainer` does).
    """
    d = cfg.data
    if d.dataset:  # a named data set, `name:PATH` (named_datasets.py)
        from st_f2m_ros.named_datasets import load_dataset

        clips = load_dataset(d.dataset, cfg.model.crop_size, cfg.model.feature_rate)
    elif d.root:
        from st_f2m_ros.data.dataset import load_clips

        clips = load_clips(d.root)
    else:
        from dataclasses import replace

        from st_f2m_ros.data.synthetic.generator import SyntheticConfig, generate_clips
        from st_f2m_ros.data.synthetic.subjects import make_subjects

        syn = SyntheticConfig(fps=cfg.model.feature_rate)
        people = make_subjects(d.n_subjects, d.seed, idiosyncrasy=d.idiosyncrasy)
        if d.train_subjects > 0:
            keep = set().union(*subject_split(cfg, synthetic_ids(cfg)))
            people = [p for p in people if p.subject_id in keep]
        clips = generate_clips(
            len(people),
            d.clips_per_subject,
            d.duration,
            d.seed,
            cfg.model.crop_size,
            replace(syn, duration=d.duration),
            people,
            front_end=training_face_config() if d.front_end else None,
            workers=d.workers,
            progress=_GenerationProgress(len(people) * d.clips_per_subject)
            if d.front_end
            else None,
        )
    if not clips:
        raise DataError('the training data has no clips')
    bad = {c.crop_size for c in clips} - {cfg.model.crop_size}
    if bad:
        raise DataError(
            f'clips have crop size {sorted(bad)} but model.crop_size is {cfg.model.crop_size}: '
            'regenerate the dataset with --crop-size or change model.crop_size'
        )
    return clips
