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
"""The training recipe behind `st-f2m train`: pre-train conventionally, then meta-train.

Stages (each resumable at epoch boundaries, each an `nn.Module` objective wrapped in PyTorch
DistributedDataParallel when launched with `torchrun`, gloo backend on CPU):

1. `frames`: the per-frame encoder (ResNet backbone + region projection) learns from single
   crops with a temporary linear readout: cross-entropy over the classes plus a regression of
   the 12 Table II components where the data has them (the synthetic ground truth).
2. The backbone is frozen (the paper pre-trains it and keeps it fixed, VI-A1) and every frame
   is encoded once into the feature cache.
3. `windows`: E's window part, F and C train conventionally on V-A groups (windows) from the
   cache: cross-entropy plus component supervision of F's FCIS output, with modality dropout.
4. `meta`: bi-level optimisation (eqs. 6-7, meta/maml.py) on N-way K-shot episodes drawn per
   subject, the outer loop updating everything above the backbone.

Every epoch ends with validation on held-out subjects (window accuracy over the 19 classes and
over the basic emotions, and accuracy after adapting to each held-out subject), a CSV row, a
TensorBoard scalar set, `last.safetensors` + `train_state.safetensors`, and `best.safetensors`
when validation improves. Rank 0 alone logs and writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
import csv
import json
import os
from pathlib import Path
import random
import time
from typing import Any

import numpy as np
import torch
from torch import nn
import torch.distributed as dist
import torch.nn.functional as F

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.errors import ConfigError, DataError
from st_f2m_ros.meta.maml import MetaLearner
from st_f2m_ros.meta.objectives import (
    FrameObjective,
    MetaObjective,
    WindowObjective,
    hflip_half,
    photometric_jitter,
)
from st_f2m_ros.meta.tasks import EpisodeSampler, split_subjects
from st_f2m_ros.meta.train_config import TrainConfig
from st_f2m_ros.meta.train_state import load_train_state, save_train_state
from st_f2m_ros.meta.validation import BASIC_OF, evaluate_bank
from st_f2m_ros.meta.windows import FeatureBank, encode_all, frame_batch, frame_samples
from st_f2m_ros.model.checkpoint import load_checkpoint, save_checkpoint
from st_f2m_ros.model.stf2m import BACKBONE_PREFIXES, STF2MModel

STAGES = ('frames', 'windows', 'meta')
CSV_FIELDS = (
    'stage',
    'epoch',
    'global_epoch',
    'seconds',
    'train_loss',
    'train_acc',
    'val_acc',
    'val_basic_acc',
    'val_adapt_before',
    'val_adapt_after',
)


# -- helpers ---------------------------------------------------------------------------------
def _dist() -> tuple[int, int]:
    if int(os.environ.get('WORLD_SIZE', '1')) > 1 and not dist.is_initialized():
        dist.init_process_group('gloo')
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _wrap(module: nn.Module, world: int) -> nn.Module:
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(module, find_unused_parameters=True)
    return module


def _seed(*parts: int) -> np.random.Generator:
    seed = int(np.random.SeedSequence(list(parts)).generate_state(1)[0])
    torch.manual_seed(seed)
    random.seed(seed)
    return np.random.default_rng(seed)


def _set_trainable(model: STF2MModel, stage: str) -> None:
    for name, p in model.named_parameters():
        backbone = name.startswith(BACKBONE_PREFIXES)
        if stage == 'frames':
            p.requires_grad_(backbone)
        elif stage == 'windows':
            p.requires_grad_(not backbone and not name.startswith('inner_lr.'))
        else:
            p.requires_grad_(not backbone)


@contextmanager
def _maybe_tqdm(enabled: bool, **kw: Any) -> Iterator[Any]:
    from tqdm import tqdm

    bar = tqdm(disable=not enabled, dynamic_ncols=True, **kw)
    try:
        yield bar
    finally:
        bar.close()


# -- data ------------------------------------------------------------------------------------
def load_training_clips(cfg: TrainConfig) -> list[Clip]:
    """Clips of the configured dataset folder, or generated synthetic ones (deterministic)."""
    d = cfg.data
    if d.root:
        from st_f2m_ros.data.dataset import load_clips

        clips = load_clips(d.root)
    else:
        from dataclasses import replace

        from st_f2m_ros.data.synthetic.generator import SyntheticConfig, generate_clips
        from st_f2m_ros.data.synthetic.subjects import make_subjects

        syn = SyntheticConfig(fps=cfg.model.feature_rate)
        people = make_subjects(d.n_subjects, d.seed, idiosyncrasy=d.idiosyncrasy)
        clips = generate_clips(
            d.n_subjects,
            d.clips_per_subject,
            d.duration,
            d.seed,
            cfg.model.crop_size,
            replace(syn, duration=d.duration),
            people,
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


# -- the trainer -------------------------------------------------------------------------------
class Trainer:
    """Runs the stages of a TrainConfig; `run()` returns the final validation metrics."""

    def __init__(self, cfg: TrainConfig, resume: bool = False) -> None:
        self.cfg = cfg
        self.rank, self.world = _dist()
        self.main = self.rank == 0
        self.out = Path(cfg.out_dir)
        self.resume = resume
        torch.set_num_threads(max(1, cfg.threads))
        _seed(cfg.seed)
        self.model = STF2MModel(cfg.model)
        self.done: tuple[str, int] = ('', 0)  # (stage, epochs completed) from a resumed run
        self.opt_state: dict[str, Any] | None = None
        self.best = -1.0
        self.writer: Any = None
        self.t0 = time.perf_counter()
        if self.main:
            self.out.mkdir(parents=True, exist_ok=True)
        if resume:
            self._resume()

    def _resume(self) -> None:
        last, state = self.out / 'last.safetensors', self.out / 'train_state.safetensors'
        if not (last.is_file() and state.is_file()):
            raise ConfigError(f'nothing to resume in {self.out}: run without --resume first')
        loaded = load_checkpoint(last)
        if loaded.config.to_dict() != self.cfg.model.to_dict():
            raise ConfigError(
                f'{last} was trained with a different model config; use a new out_dir'
            )
        self.model.load_state_dict(loaded.state_dict())
        info, self.opt_state = load_train_state(state)
        self.done = (info['stage'], int(info['epoch']))
        self.best = float(info.get('best', -1.0))

    def _skip(self, stage: str, epoch: int) -> bool:
        s, e = self.done
        if not s:
            return False
        return STAGES.index(stage) < STAGES.index(s) or (stage == s and epoch < e)

    def _log(self, row: dict[str, Any]) -> None:
        if not self.main:
            return
        path = self.out / 'metrics.csv'
        new = not path.exists()
        with open(path, 'a', newline='') as f:
            w = csv.DictWriter(f, fieldnames=CSV_FIELDS, restval='', extrasaction='ignore')
            if new:
                w.writeheader()
            w.writerow(row)
        if self.writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(self.out / 'tb'))
            except ImportError:
                self.writer = False
        if self.writer:
            step = int(row['global_epoch'])
            for k, v in row.items():
                if isinstance(v, float):
                    self.writer.add_scalar(f'{row["stage"]}/{k}', v, step)
            self.writer.flush()

    def _end_epoch(self, stage: str, epoch: int, opt: torch.optim.Optimizer, row: dict) -> None:
        if self.world > 1:
            dist.barrier()
        if not self.main:
            return
        metrics = self.validate() if stage != 'frames' else self._validate_frames()
        row = {**row, **metrics}
        row['global_epoch'] = STAGES.index(stage) * 1000 + epoch
        row['seconds'] = round(time.perf_counter() - self.t0, 1)
        self._log(row)
        save_checkpoint(self.model, self.out / 'last.safetensors')
        score = metrics.get('val_acc', -1.0) if stage != 'frames' else -1.0
        if score > self.best:
            self.best = score
            save_checkpoint(self.model, self.out / 'best.safetensors')
        save_train_state(
            self.out / 'train_state.safetensors',
            opt,
            {'stage': stage, 'epoch': epoch + 1, 'best': self.best},
        )

    def _optimizer(
        self, stage: str, params: list[torch.Tensor], lr: float, wd: float
    ) -> torch.optim.Optimizer:
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
        if self.opt_state is not None and self.done[0] == stage:
            try:
                opt.load_state_dict(self.opt_state)
            except (ValueError, KeyError) as err:
                raise ConfigError(f'cannot resume the optimizer of stage {stage}: {err}') from err
        return opt

    # -- stages ---------------------------------------------------------------------------
    def run(self) -> dict[str, float]:
        """Run every stage; return the final validation metrics (rank 0; {} elsewhere)."""
        cfg = self.cfg
        t0 = self.t0 = time.perf_counter()
        clips = load_training_clips(cfg)
        subjects = sorted({c.subject for c in clips})
        train_s, val_s = split_subjects(subjects, cfg.data.val_subjects, cfg.seed)
        self.train_clips = [c for c in clips if c.subject in train_s]
        self.val_clips = [c for c in clips if c.subject in val_s]
        self._frames_stage()
        self.model.freeze_backbone(True)
        self.model.eval()
        encode = self.model.encode_frames
        text = self.model.text_encoder.encode if self.model.text_usable else None
        total = sum(len(c) for c in clips)
        with _maybe_tqdm(self.main, total=total, desc='encode frames', unit='frame') as bar:
            feats = encode_all(encode, clips, progress=bar.update)
        by_id = {id(c): f for c, f in zip(clips, feats)}
        m = cfg.model
        self.train_bank = FeatureBank(
            self.train_clips,
            [by_id[id(c)] for c in self.train_clips],
            text,
            m.window,
            m.feature_rate,
            m.text_dim,
        )
        self.val_bank = FeatureBank(
            self.val_clips,
            [by_id[id(c)] for c in self.val_clips],
            text,
            m.window,
            m.feature_rate,
            m.text_dim,
        )
        self._windows_stage()
        self._meta_stage()
        metrics = self.validate() if self.main else {}
        if self.main:
            metrics['train_seconds'] = time.perf_counter() - t0
            extra = {
                'train_config': json.dumps(cfg.to_dict(), sort_keys=True),
                'val_metrics': json.dumps(metrics, sort_keys=True),
                'val_subjects': ','.join(val_s),
            }
            save_checkpoint(self.model, self.out / 'final.safetensors', extra=extra)
            if cfg.export:
                metrics['model_id'] = save_checkpoint(  # type: ignore[assignment]
                    self.model, cfg.export, half=cfg.export_half, extra=extra
                )
            if self.writer:
                self.writer.close()
        if self.world > 1:
            dist.barrier()
        return metrics

    def _frames_stage(self) -> None:
        st = self.cfg.frames
        if st.epochs == 0 or self._skip('frames', st.epochs):
            return
        _set_trainable(self.model, 'frames')
        self.model.train()
        obj = self._frame_obj = FrameObjective(self.model, st.component_weight)
        params = [p for p in obj.parameters() if p.requires_grad]
        opt = self._optimizer('frames', params, st.lr, st.weight_decay)
        ddp = _wrap(obj, self.world)
        pairs = frame_samples(self.train_clips, st.frame_stride)
        for epoch in range(st.epochs):
            if self._skip('frames', epoch):
                continue
            rng = _seed(self.cfg.seed, 1, epoch)
            order = rng.permutation(len(pairs))
            per_rank = len(order) // self.world
            mine = order[self.rank * per_rank : (self.rank + 1) * per_rank]
            n_batches = max(1, per_rank // st.batch_size)

            def step(b: int, mine=mine, rng=rng) -> tuple[torch.Tensor, torch.Tensor]:
                sel = pairs[mine[b * st.batch_size : (b + 1) * st.batch_size]]
                crops, labels, comps = frame_batch(self.train_clips, sel)
                if st.hflip:
                    crops, comps = hflip_half(crops, comps, rng)
                if st.jitter > 0:
                    crops = photometric_jitter(crops, rng, st.jitter)
                return ddp(torch.from_numpy(crops), labels, comps)

            self._sgd_epoch('frames', epoch, st.epochs, n_batches, opt, step)

    def _sgd_epoch(
        self,
        stage: str,
        epoch: int,
        epochs: int,
        n_batches: int,
        opt: torch.optim.Optimizer,
        step: Callable[[int], tuple[torch.Tensor, torch.Tensor]],
    ) -> None:
        """One epoch of plain optimisation: `step(b)` returns batch b's (loss, accuracy)."""
        tot_loss = tot_acc = 0.0
        with _maybe_tqdm(self.main, total=n_batches, desc=f'{stage} {epoch + 1}/{epochs}') as bar:
            for b in range(n_batches):
                loss, acc = step(b)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                tot_loss, tot_acc = tot_loss + loss.item(), tot_acc + acc.item()
                bar.update()
                bar.set_postfix(loss=f'{loss.item():.3f}', acc=f'{acc.item():.2f}')
        row = {
            'stage': stage,
            'epoch': epoch + 1,
            'train_loss': tot_loss / n_batches,
            'train_acc': tot_acc / n_batches,
        }
        self._end_epoch(stage, epoch, opt, row)

    def _validate_frames(self) -> dict[str, float]:
        """Frame-level accuracy of the stage-1 readout on the held-out subjects."""
        obj = self._frame_obj
        pairs = frame_samples(self.val_clips, 4)
        was = obj.training
        obj.eval()
        correct = basic = 0
        with torch.no_grad():
            for i in range(0, len(pairs), 128):
                crops, labels, _ = frame_batch(self.val_clips, pairs[i : i + 128])
                f = F.gelu(self.model.encode_frames(torch.from_numpy(crops)).flatten(1))
                pred = obj.classify(f).argmax(-1)
                correct += int((pred == labels).sum())
                basic += int((BASIC_OF[pred] == BASIC_OF[labels]).sum())
        obj.train(was)
        n = max(1, len(pairs))
        return {'val_acc': correct / n, 'val_basic_acc': basic / n}

    def _windows_stage(self) -> None:
        st = self.cfg.windows
        if st.epochs == 0 or self._skip('windows', st.epochs):
            return
        _set_trainable(self.model, 'windows')
        self.model.train()
        obj = WindowObjective(self.model, st.component_weight)
        params = [p for p in obj.parameters() if p.requires_grad]
        opt = self._optimizer('windows', params, st.lr, st.weight_decay)
        ddp = _wrap(obj, self.world)
        bank = self.train_bank
        for epoch in range(st.epochs):
            if self._skip('windows', epoch):
                continue
            rng = _seed(self.cfg.seed, 2, epoch, self.rank)
            perm_rng = np.random.default_rng([self.cfg.seed, 2, epoch])
            order = np.concatenate([perm_rng.permutation(len(bank)) for _ in range(st.repeats)])
            per_rank = len(order) // self.world
            mine = order[self.rank * per_rank : (self.rank + 1) * per_rank]
            n_batches = max(1, -(-per_rank // st.batch_size))
            self.model.train()

            def step(b: int, mine=mine, rng=rng) -> tuple[torch.Tensor, torch.Tensor]:
                idx = mine[b * st.batch_size : (b + 1) * st.batch_size]
                wb, comps = bank.batch(idx, rng, self.cfg.drop_text, self.cfg.drop_vision)
                return ddp(*wb.astuple(), comps)

            self._sgd_epoch('windows', epoch, st.epochs, n_batches, opt, step)

    def _meta_stage(self) -> None:
        st = self.cfg.meta
        if st.epochs == 0 or self._skip('meta', st.epochs):
            return
        _set_trainable(self.model, 'meta')
        learner = MetaLearner(self.model, st.scope, st.steps, st.inner_lr, st.first_order)
        obj = MetaObjective(self.model, learner)
        params = [p for p in obj.parameters() if p.requires_grad]
        opt = self._optimizer('meta', params, st.lr, st.weight_decay)
        ddp = _wrap(obj, self.world)
        for epoch in range(st.epochs):
            if self._skip('meta', epoch):
                continue
            rng = _seed(self.cfg.seed, 3, epoch, self.rank)
            sampler = EpisodeSampler(
                self.train_bank.groups,
                st.n_way,
                st.k_shot,
                st.q_query,
                st.per_subject,
                seed=int(rng.integers(1 << 31)),
            )
            tot_loss = tot_acc = 0.0
            self.model.train()
            with _maybe_tqdm(
                self.main, total=st.iterations, desc=f'meta {epoch + 1}/{st.epochs}'
            ) as bar:
                for _ in range(st.iterations):
                    eps = [sampler.sample() for _ in range(st.tasks_per_batch)]
                    sup, qry = self.train_bank.episode_batch(eps, rng)
                    loss, acc = ddp(*sup.astuple(), *qry.astuple())
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    tot_loss, tot_acc = tot_loss + loss.item(), tot_acc + acc.item()
                    bar.update()
                    bar.set_postfix(loss=f'{loss.item():.3f}', qacc=f'{acc.item():.2f}')
            row = {
                'stage': 'meta',
                'epoch': epoch + 1,
                'train_loss': tot_loss / st.iterations,
                'train_acc': tot_acc / st.iterations,
            }
            self._end_epoch('meta', epoch, opt, row)

    def _sampler(self, seed: int) -> EpisodeSampler:
        st = self.cfg.meta
        groups = self.train_bank.groups
        try:
            return EpisodeSampler(groups, st.n_way, st.k_shot, st.q_query, st.per_subject, seed)
        except DataError:
            if not st.per_subject:
                raise
        # Too few segments per person for per-subject episodes: pool the training subjects
        # (still disjoint from the validation subjects) rather than stop.
        if self.main:
            from tqdm import tqdm

            tqdm.write('meta: too few segments per subject; sampling episodes across subjects')
        return EpisodeSampler(groups, st.n_way, st.k_shot, st.q_query, False, seed)

    # -- validation -------------------------------------------------------------------------
    def validate(self) -> dict[str, float]:
        """Held-out subjects: window accuracy (19-class, basic emotion) and after adaptation."""
        was = self.model.training
        self.model.eval()
        try:
            return evaluate_bank(self.model, self.val_bank, self.cfg.eval_k_shot, self.cfg.seed)
        finally:
            self.model.train(was)
