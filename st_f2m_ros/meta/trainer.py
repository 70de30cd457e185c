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

This module holds the run, resume and epoch-end bookkeeping; the stage loops are in
`train_stages`, process setup (DDP, seeding, data) in `train_setup`, the CSV/TensorBoard log in
`train_log`, the optimizer state files in `train_state`.
"""

from __future__ import annotations

import json
from pathlib import Path
import time
from typing import Any

import torch
import torch.distributed as dist

from st_f2m_ros.data.label_noise import add_frame_label_noise
from st_f2m_ros.errors import ConfigError
from st_f2m_ros.meta.train_config import TrainConfig
from st_f2m_ros.meta.train_log import CSV_FIELDS, MetricsLog
from st_f2m_ros.meta.train_setup import (
    init_distributed,
    load_training_clips,
    progress_bar,
    seed_all,
    subject_split,
    synthetic_ids,
)
from st_f2m_ros.meta.train_stages import StageLoops
from st_f2m_ros.meta.train_state import load_train_state, save_train_state
from st_f2m_ros.meta.validation import evaluate_bank
from st_f2m_ros.meta.windows import FeatureBank, encode_all
from st_f2m_ros.model.checkpoint import load_checkpoint, save_checkpoint
from st_f2m_ros.model.stf2m import STF2MModel

__all__ = ['CSV_FIELDS', 'STAGES', 'Trainer', 'load_training_clips']

STAGES = ('frames', 'windows', 'meta')


class Trainer(StageLoops):
    """Runs the stages of a TrainConfig; `run()` returns the final validation metrics."""

    def __init__(
        self, cfg: TrainConfig, resume: bool = False, model: STF2MModel | None = None
    ) -> None:
        """`model`: train this one (built for `cfg.model`) instead of a fresh STF2MModel."""
        self.cfg = cfg
        self.rank, self.world = init_distributed()
        self.main = self.rank == 0
        self.out = Path(cfg.out_dir)
        self.resume = resume
        torch.set_num_threads(max(1, cfg.threads))
        seed_all(cfg.seed)
        self.model = model if model is not None else STF2MModel(cfg.model)
        self.done: tuple[str, int] = ('', 0)  # (stage, epochs completed) from a resumed run
        self.opt_state: dict[str, Any] | None = None
        self.best = -1.0
        self.log = MetricsLog(self.out)
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

    def _end_epoch(self, stage: str, epoch: int, opt: torch.optim.Optimizer, row: dict) -> None:
        if self.world > 1:
            dist.barrier()
        if not self.main:
            return
        metrics = self.validate() if stage != 'frames' else self._validate_frames()
        row = {**row, **metrics}
        row['global_epoch'] = STAGES.index(stage) * 1000 + epoch
        row['seconds'] = round(time.perf_counter() - self.t0, 1)
        self.log.write(row)
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

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> dict[str, float]:
        """Run every stage; return the final validation metrics (rank 0; {} elsewhere)."""
        cfg = self.cfg
        t0 = self.t0 = time.perf_counter()
        clips = load_training_clips(cfg)
        subjects = sorted({c.subject for c in clips})
        if cfg.data.train_subjects > 0 and not (cfg.data.root or cfg.data.dataset):
            subjects = synthetic_ids(cfg)  # the held-out draw of the full recipe
        train_s, val_s = subject_split(cfg, subjects)
        # Table V label noise on training subjects only: validation scores against true labels
        clips = add_frame_label_noise(clips, cfg.data.frame_label_noise, cfg.seed, train_s)
        self.train_clips = [c for c in clips if c.subject in train_s]
        self.val_clips = [c for c in clips if c.subject in val_s]
        self._frames_stage()
        self.model.freeze_backbone(True)
        self.model.eval()
        encode = self.model.encode_frames
        text = self.model.text_encoder.encode if self.model.text_usable else None
        total = sum(len(c) for c in clips)
        with progress_bar(self.main, total=total, desc='encode frames', unit='frame') as bar:
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
            self.log.close()
        if self.world > 1:
            dist.barrier()
        return metrics

    # -- validation -------------------------------------------------------------------------
    def validate(self) -> dict[str, float]:
        """Held-out subjects: window accuracy (19-class, basic emotion) and after adaptation."""
        was = self.model.training
        self.model.eval()
        try:
            return evaluate_bank(self.model, self.val_bank, self.cfg.eval_k_shot, self.cfg.seed)
        finally:
            self.model.train(was)
