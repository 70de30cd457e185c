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
"""The stage loops of the training recipe, as a mixin of `meta.trainer.Trainer`.

`frames` (the per-frame encoder with a temporary readout), `windows` (conventional training on
cached window features) and `meta` (bi-level optimisation on episodes): each splits its data
between the ranks, wraps its objective for DDP and ends every epoch with
`Trainer._end_epoch` (validation, logs, checkpoints). `_skip` makes them resumable.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.errors import DataError
from st_f2m_ros.meta.maml import MetaLearner
from st_f2m_ros.meta.objectives import (
    FrameObjective,
    MetaObjective,
    WindowObjective,
    hflip_half,
    photometric_jitter,
)
from st_f2m_ros.meta.tasks import EpisodeSampler
from st_f2m_ros.meta.train_config import TrainConfig
from st_f2m_ros.meta.train_setup import progress_bar, seed_all, set_trainable, wrap_ddp
from st_f2m_ros.meta.validation import BASIC_OF
from st_f2m_ros.meta.windows import FeatureBank, frame_batch, frame_measured, frame_samples
from st_f2m_ros.model.stf2m import STF2MModel


class StageLoops:
    """The three stages. State and `_skip` / `_optimizer` / `_end_epoch` come from Trainer."""

    cfg: TrainConfig
    model: STF2MModel
    rank: int
    world: int
    main: bool
    train_clips: list[Clip]
    val_clips: list[Clip]
    train_bank: FeatureBank

    def _frames_stage(self) -> None:
        st = self.cfg.frames
        if st.epochs == 0 or self._skip('frames', st.epochs):
            return
        set_trainable(self.model, 'frames')
        self.model.train()
        obj = self._frame_obj = FrameObjective(self.model, st.component_weight)
        params = [p for p in obj.parameters() if p.requires_grad]
        opt = self._optimizer('frames', params, st.lr, st.weight_decay)
        ddp = wrap_ddp(obj, self.world)
        pairs = frame_samples(self.train_clips, st.frame_stride)
        for epoch in range(st.epochs):
            if self._skip('frames', epoch):
                continue
            rng = seed_all(self.cfg.seed, 1, epoch)
            order = rng.permutation(len(pairs))
            per_rank = len(order) // self.world
            mine = order[self.rank * per_rank : (self.rank + 1) * per_rank]
            n_batches = max(1, per_rank // st.batch_size)

            def step(b: int, mine=mine, rng=rng) -> tuple[torch.Tensor, torch.Tensor]:
                sel = pairs[mine[b * st.batch_size : (b + 1) * st.batch_size]]
                crops, labels, comps = frame_batch(self.train_clips, sel)
                measured, ok = frame_measured(self.train_clips, sel)
                if st.hflip:
                    crops, comps, measured, ok = hflip_half(crops, comps, rng, measured, ok)
                if st.jitter > 0:
                    crops = photometric_jitter(crops, rng, st.jitter)
                return ddp(torch.from_numpy(crops), labels, comps, measured, ok)

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
        with progress_bar(self.main, total=n_batches, desc=f'{stage} {epoch + 1}/{epochs}') as bar:
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
                measured, ok = frame_measured(self.val_clips, pairs[i : i + 128])
                f = self.model.encode_frames(torch.from_numpy(crops), measured, ok)
                f = F.gelu(f.flatten(1))
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
        set_trainable(self.model, 'windows')
        self.model.train()
        obj = WindowObjective(self.model, st.component_weight)
        params = [p for p in obj.parameters() if p.requires_grad]
        opt = self._optimizer('windows', params, st.lr, st.weight_decay)
        ddp = wrap_ddp(obj, self.world)
        bank = self.train_bank
        cfg = self.model.config
        proj = cfg.projected_channels
        for epoch in range(st.epochs):
            if self._skip('windows', epoch):
                continue
            rng = seed_all(self.cfg.seed, 2, epoch, self.rank)
            perm_rng = np.random.default_rng([self.cfg.seed, 2, epoch])
            order = np.concatenate([perm_rng.permutation(len(bank)) for _ in range(st.repeats)])
            per_rank = len(order) // self.world
            mine = order[self.rank * per_rank : (self.rank + 1) * per_rank]
            n_batches = max(1, -(-per_rank // st.batch_size))
            self.model.train()

            def step(b: int, mine=mine, rng=rng) -> tuple[torch.Tensor, torch.Tensor]:
                idx = mine[b * st.batch_size : (b + 1) * st.batch_size]
                wb, comps = bank.batch(
                    idx, rng, self.cfg.drop_text, self.cfg.drop_vision, st.proj_dropout, proj,
                    self.cfg.absorb_components,
                )  # fmt: skip
                return ddp(*wb.astuple(), comps)

            self._sgd_epoch('windows', epoch, st.epochs, n_batches, opt, step)

    def _meta_stage(self) -> None:
        st = self.cfg.meta
        if st.epochs == 0 or self._skip('meta', st.epochs):
            return
        set_trainable(self.model, 'meta')
        learner = MetaLearner(self.model, st.scope, st.steps, st.inner_lr, st.first_order)
        obj = MetaObjective(self.model, learner)
        params = [p for p in obj.parameters() if p.requires_grad]
        opt = self._optimizer('meta', params, st.lr, st.weight_decay)
        ddp = wrap_ddp(obj, self.world)
        proj = self.model.config.projected_channels
        for epoch in range(st.epochs):
            if self._skip('meta', epoch):
                continue
            rng = seed_all(self.cfg.seed, 3, epoch, self.rank)
            sampler = self._sampler(int(rng.integers(1 << 31)))
            tot_loss = tot_acc = 0.0
            self.model.train()
            with progress_bar(
                self.main, total=st.iterations, desc=f'meta {epoch + 1}/{st.epochs}'
            ) as bar:
                for _ in range(st.iterations):
                    eps = [sampler.sample() for _ in range(st.tasks_per_batch)]
                    sup, qry = self.train_bank.episode_batch(
                        eps, rng, self.cfg.absorb_components, proj
                    )
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
