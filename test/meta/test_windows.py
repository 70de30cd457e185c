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
"""FeatureBank, the training windows: text per group, the no-face mask, modality dropout,
projected-channel dropout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from st_f2m_ros.data.clip import Clip, Utterance
from st_f2m_ros.errors import ConfigError
from st_f2m_ros.meta.train_config import train_config_from_dict
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


def test_projected_channel_dropout_hides_only_the_projection_of_some_windows() -> None:
    bank = _bank(None)  # features [T, 2 regions, 3 channels]; here 2 projected + 1 fixed
    idx = [0, 1, 2, 3] * 50
    plain, _ = bank.batch(idx, np.random.default_rng(0), drop_text=0.3)
    same, _ = bank.batch(idx, np.random.default_rng(0), drop_text=0.3, proj_channels=2)
    assert torch.equal(plain.feats, same.feats)  # off by default: the same draws and windows
    assert torch.equal(plain.text_mask, same.text_mask)
    wb, _ = bank.batch(idx, np.random.default_rng(0), drop_proj=0.4, proj_channels=2)
    ref, _ = bank.batch(idx, np.random.default_rng(0))
    assert torch.equal(wb.feats[..., 2:], ref.feats[..., 2:])  # the fixed channel is kept
    hidden = (wb.feats[..., :2] != ref.feats[..., :2]).flatten(1).any(1)
    assert 0.25 < float(hidden.float().mean()) < 0.55
    # a hidden window carries the batch mean, the same value in every frame
    mean = ref.feats[..., :2].mean((0, 1))
    assert torch.allclose(wb.feats[hidden][..., :2], mean.expand_as(wb.feats[hidden][..., :2]))
    assert torch.equal(wb.feats[~hidden], ref.feats[~hidden])
    assert torch.equal(wb.labels, ref.labels) and torch.equal(wb.text_mask, ref.text_mask)


def test_proj_dropout_is_a_windows_option_off_by_default() -> None:
    assert train_config_from_dict({}).windows.proj_dropout == 0.0
    fer = {'backbone': 'fer_mini_xception'}
    cfg = train_config_from_dict({'model': fer, 'windows': {'proj_dropout': 0.4}})
    assert cfg.windows.proj_dropout == 0.4
    for bad in (
        {'model': fer, 'windows': {'proj_dropout': 1.0}},
        {'model': fer, 'frames': {'proj_dropout': 0.2}},
        {'windows': {'proj_dropout': 0.4}},  # a ResNet has no fixed channels to read
    ):
        with pytest.raises(ConfigError, match='proj_dropout'):
            train_config_from_dict(bad)


def test_absorbed_components_zero_only_the_twelve_component_channels_of_some_windows() -> None:
    bank = _bank(None)
    n = len(bank.features[0])
    # [T, 2 regions, 2 projected + 12 components + 12 flags + 1 probability], all non-zero
    bank.features = [torch.arange(1, n + 1, dtype=torch.float32).reshape(n, 1, 1).expand(n, 2, 27)]
    idx = [0, 1, 2, 3] * 50
    ref, _ = bank.batch(idx, np.random.default_rng(0), proj_channels=2)
    off, _ = bank.batch(idx, np.random.default_rng(0), proj_channels=2, absorb=0.0)
    assert torch.equal(ref.feats, off.feats)  # off by default
    wb, _ = bank.batch(idx, np.random.default_rng(0), proj_channels=2, absorb=0.3)
    absorbed = (wb.feats[..., 2:14] == 0).flatten(1).all(1)
    assert 0.15 < float(absorbed.float().mean()) < 0.45
    assert torch.equal(wb.feats[~absorbed], ref.feats[~absorbed])
    # projection, reliable flags and probabilities are kept in an absorbed window
    keep = torch.cat([wb.feats[absorbed][..., :2], wb.feats[absorbed][..., 14:]], -1)
    ref_keep = torch.cat([ref.feats[absorbed][..., :2], ref.feats[absorbed][..., 14:]], -1)
    assert torch.equal(keep, ref_keep)
    # meta episodes draw their windows with the same augmentation
    from st_f2m_ros.meta.tasks import Episode

    eps = [Episode(support=[0, 1], query=[2, 3], classes=[2, 5])] * 40
    sup, _ = bank.episode_batch(eps, np.random.default_rng(1), absorb=0.5, proj_channels=2)
    share = float((sup.feats[..., 2:14] == 0).flatten(2).all(-1).float().mean())
    assert 0.3 < share < 0.7


def test_absorb_components_is_a_recipe_option_for_component_models() -> None:
    assert train_config_from_dict({}).absorb_components == 0.0
    comp = {'backbone': 'fer_mini_xception', 'component_input': True}
    cfg = train_config_from_dict({'model': comp, 'absorb_components': 0.3})
    assert cfg.absorb_components == 0.3
    for bad in ({'model': comp, 'absorb_components': 1.0}, {'absorb_components': 0.3}):
        with pytest.raises(ConfigError, match='absorb_components'):
            train_config_from_dict(bad)
