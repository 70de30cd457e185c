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
"""FeatureBank, the training windows: text per group, the no-face mask, modality dropout."""

from __future__ import annotations

import numpy as np
import torch

from st_f2m_ros.data.clip import Clip, Utterance
from st_f2m_ros.meta.windows import FeatureBank


def _bank(face_found: np.ndarray | None) -> FeatureBank:
    """One clip, 4 runs of 8 frames at 8 fps (classes 2, 5, 7, 11); speech in runs 0 and 2."""
    labels = np.repeat([2, 5, 7, 11], 8)
    n = len(labels)
    clip = Clip(
        'p01',
        np.zeros((n, 8, 8, 3), np.uint8),
        np.arange(n) / 8.0,
        labels,
        face_found=face_found,
        utterances=[Utterance(0.2, 0.6, 'first'), Utterance(2.2, 2.6, 'third')],
    )
    features = [torch.arange(n, dtype=torch.float32).reshape(n, 1, 1).expand(n, 2, 3)]

    def encode(texts: list[str]) -> np.ndarray:
        return np.array([[float(len(t)), 1.0] for t in texts], np.float32)

    return FeatureBank([clip], features, encode, window=4, rate=8.0, text_dim=2)


def test_groups_carry_their_runs_text_and_label() -> None:
    bank = _bank(None)
    assert [g.label for g in bank.groups] == [2, 5, 7, 11]
    assert [g.text for g in bank.groups] == ['first', '', 'third', '']
    wb, _ = bank.batch([0, 1, 2, 3])
    assert wb.text_mask.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert wb.text[:, 0].tolist() == [5.0, 0.0, 5.0, 0.0]
    assert wb.vision_mask.tolist() == [1.0, 1.0, 1.0, 1.0]  # face_found unknown: found
    # centred windows: frames 2-5 of each run (features hold the frame index)
    assert wb.feats[:, :, 0, 0].tolist()[1] == [10.0, 11.0, 12.0, 13.0]


def test_windows_mostly_without_a_face_have_no_vision() -> None:
    found = np.ones(32, dtype=bool)
    found[8:16] = False  # run 1: no face at all
    found[18:21] = False  # run 2: 3 of its window's 4 frames (18-21)
    found[29] = False  # run 3: 1 of 4
    wb, _ = _bank(found).batch([0, 1, 2, 3])
    assert wb.vision_mask.tolist() == [1.0, 0.0, 0.0, 1.0]


def test_dropout_never_leaves_a_window_without_any_modality() -> None:
    found = np.ones(32, dtype=bool)
    found[16:24] = False  # run 2 has speech but no face: its text must never be dropped
    bank = _bank(found)
    rng = np.random.default_rng(0)
    idx = [0, 1, 2, 3] * 50
    wb, _ = bank.batch(idx, rng, drop_text=0.5, drop_vision=0.5)
    vm, tm = wb.vision_mask.reshape(50, 4), wb.text_mask.reshape(50, 4)
    assert torch.all(vm + tm > 0)
    assert torch.all(tm[:, 2] == 1) and torch.all(vm[:, 2] == 0)
    assert torch.all(vm[:, [1, 3]] == 1)  # no speech: vision is never dropped
    assert 0 < float(tm[:, 0].mean()) < 1 and 0 < float(vm[:, 0].mean()) < 1
