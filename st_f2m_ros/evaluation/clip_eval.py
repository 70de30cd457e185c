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
"""A checkpoint scored on labelled clips (`st-f2m evaluate --dataset`), the trainer's way.

Real data sets come as clips, not bags, so they are scored on the windows the trainer
validates on (V-A groups over cached frame features, meta/windows.FeatureBank): 19-class and
7-class accuracy, macro recall and macro-F1 (evaluation.metrics), plus accuracy before and
after adapting to each subject on k support windows per class (meta/validation.evaluate_bank,
the /adapt scenario). Using the trainer's code keeps the numbers comparable to its val_* ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.errors import DataError
from st_f2m_ros.evaluation.metrics import Report, score_fine_and_basic
from st_f2m_ros.meta.validation import evaluate_bank
from st_f2m_ros.meta.windows import FeatureBank, encode_all
from st_f2m_ros.model.stf2m import STF2MModel


@dataclass
class ClipEvaluation:
    """Window-level scores of a model on a set of clips."""

    windows: int
    subjects: list[str]
    fine: Report
    basic: Report
    adapt: dict[str, float] = field(default_factory=dict)  # val_adapt_before / _after

    def summary(self) -> dict[str, Any]:
        """Plain-JSON form (report.json)."""
        return {
            'windows': self.windows,
            'subjects': self.subjects,
            'fine': self.fine.as_dict(),
            'basic': self.basic.as_dict(),
            'adapt': self.adapt,
        }


def evaluate_clips(
    model: STF2MModel, clips: list[Clip], k_shot: int = 2, seed: int = 0, batch: int = 256
) -> ClipEvaluation:
    """Score `model` on every labelled window of `clips` (centred windows, no dropout)."""
    model.eval()
    m = model.config
    bad = {c.crop_size for c in clips} - {m.crop_size}
    if bad:
        raise DataError(f'clips have crop size {sorted(bad)} but the model reads {m.crop_size}')
    text = model.text_encoder.encode if model.text_usable else None
    feats = encode_all(model.encode_frames, clips)
    bank = FeatureBank(clips, feats, text, m.window, m.feature_rate, m.text_dim)
    if not len(bank):
        raise DataError(
            'no labelled segment of >= 2 frames in these clips: nothing to score '
            '(every window is a run of one label, meta/tasks.py)'
        )
    preds = []
    with torch.no_grad():
        for i in range(0, len(bank), batch):
            wb, _ = bank.batch(np.arange(i, min(i + batch, len(bank))))
            preds.append(model(*wb.astuple()[:4])[0].argmax(-1))
    y_pred = torch.cat(preds).numpy()
    reports = score_fine_and_basic(bank.labels.numpy(), y_pred)
    scores = evaluate_bank(model, bank, k_shot, seed)
    adapt = {k: v for k, v in scores.items() if k.startswith('val_adapt')}
    return ClipEvaluation(len(bank), bank.subjects, reports['fine'], reports['basic'], adapt)
