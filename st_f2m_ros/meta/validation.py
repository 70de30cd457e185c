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
"""Validation on held-out subjects: window accuracy and accuracy after per-person adaptation.

Reported per epoch by the trainer and stored in the exported checkpoint's metadata.
"""

from __future__ import annotations

import numpy as np
import torch

from st_f2m_ros.meta.maml import InnerLoop
from st_f2m_ros.meta.windows import FeatureBank
from st_f2m_ros.model.stf2m import STF2MModel
from st_f2m_ros.taxonomy import NUM_CLASSES, basic_emotion_of

# Basic emotion (0 = neutral, 1..6) of each fine-grained class id.
BASIC_OF = torch.tensor([basic_emotion_of(c) for c in range(NUM_CLASSES)])


def evaluate_bank(
    model: STF2MModel, bank: FeatureBank, k_shot: int = 2, seed: int = 0
) -> dict[str, float]:
    """Accuracy on a bank's windows, plus per-subject adaptation (k support windows per class).

    Returns val_acc (19 classes), val_basic_acc (neutral + 6 emotions), and val_adapt_before /
    val_adapt_after: accuracy on each subject's remaining windows before / after the inner
    loop on its support windows (the /adapt scenario), averaged over subjects.
    """
    idx = np.arange(len(bank))
    with torch.no_grad():
        wb, _ = bank.batch(idx)
        logits = model(*wb.astuple()[:4])[0]
    pred, y = logits.argmax(-1), wb.labels
    out = {
        'val_acc': float((pred == y).float().mean()),
        'val_basic_acc': float((BASIC_OF[pred] == BASIC_OF[y]).float().mean()),
    }
    rng = np.random.default_rng(seed)
    before, after = [], []
    loop = InnerLoop(model, model.config.inner.scope)
    for subject in bank.subjects:
        mine = [i for i, g in enumerate(bank.groups) if g.subject == subject]
        by_class: dict[int, list[int]] = {}
        for i in rng.permutation(mine).tolist():
            by_class.setdefault(bank.groups[i].label, []).append(i)
        sup = [i for v in by_class.values() if len(v) > k_shot for i in v[:k_shot]]
        qry = [i for v in by_class.values() if len(v) > k_shot for i in v[k_shot:]]
        if not sup or not qry:
            continue
        with torch.no_grad():
            xs = loop.prefix(bank.batch(sup)[0])
            qb = bank.batch(qry)[0]
            xq = loop.prefix(qb)
            base = {k: v.detach().clone() for k, v in loop.initial().items()}
        ys = bank.labels[torch.as_tensor(sup)]
        adapted = loop.adapt(base, xs, ys, model.config.inner.steps, model.config.inner.lr, True)
        with torch.no_grad():
            before.append(float((loop.logits(base, xq).argmax(-1) == qb.labels).float().mean()))
            after.append(float((loop.logits(adapted, xq).argmax(-1) == qb.labels).float().mean()))
    if before:
        out['val_adapt_before'] = float(np.mean(before))
        out['val_adapt_after'] = float(np.mean(after))
    return out
