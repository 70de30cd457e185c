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
"""The frozen real-face backbone `fer_mini_xception` (model/fer_backbone.py).

What must hold for the synthetic benchmark never to shape the pixel features: the FER net is
frozen (no gradients, eval mode under `train()`, not in `parameters()`, not in the state
dict), its weights come from the registry (sha256 in the config; a clear error without them),
its torch preprocessing is fer's, and the ResNet configurations (and the shipped checkpoint)
are unchanged. The weights are installed by `st-f2m models install` (`make setup`); without
them these tests skip, naming that command.
"""

from __future__ import annotations

from pathlib import Path
import sys

import numpy as np
import pytest
import torch

from st_f2m_ros.errors import ConfigError, ModelError, ModelFileError
from st_f2m_ros.meta.train_setup import set_trainable
from st_f2m_ros.model.checkpoint import (
    DEFAULT_CHECKPOINT,
    load_checkpoint,
    read_metadata,
    save_checkpoint,
)
from st_f2m_ros.model.config import STF2MConfig
from st_f2m_ros.model.stf2m import STF2MModel

FER = dict(backbone='fer_mini_xception', crop_size=96, window=4, text_encoder='hashing')


@pytest.fixture(scope='module')
def fer_net():
    """The installed ExpressionNet, or a skip that names the install command."""
    from st_f2m_ros.perception.expression_net import ExpressionNet

    try:
        return ExpressionNet.load()
    except ModelFileError as err:
        pytest.skip(f'FER weights not installed (st-f2m models install): {err}')


@pytest.fixture(scope='module')
def model(fer_net) -> STF2MModel:
    torch.manual_seed(0)
    return STF2MModel(STF2MConfig(**FER)).eval()


@pytest.fixture(scope='module')
def faces() -> np.ndarray:
    """Real face crops (scikit-image's astronaut, public domain, and shifted copies), BGR 96 px."""
    import cv2
    from skimage import data

    img = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    crops = [cv2.resize(img[20 + d : 240 + d, 150 + d : 370 + d], (96, 96)) for d in (0, 8, 16)]
    rng = np.random.default_rng(0)
    crops.append(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8))
    return np.stack(crops)


def test_shapes_and_probabilities(model: STF2MModel, fer_net, faces: np.ndarray) -> None:
    with torch.inference_mode():
        feats = model.encode_frames(faces)
    assert feats.shape == (len(faces), *model.feature_shape) == (4, 9, 64)
    probs = feats[:, :, -7:]
    assert torch.allclose(probs, probs[:, :1].expand_as(probs))  # broadcast to every region
    assert torch.allclose(probs[:, 0].sum(-1), torch.ones(4), atol=1e-5)
    ref = fer_net.run(faces).probs
    assert np.abs(probs[:, 0].numpy() - ref).max() < 0.02  # fer's uint8 pipeline vs torch's
    assert model.encode_frames(np.zeros((0, 96, 96, 3), np.uint8)).shape == (0, 9, 64)


def test_any_crop_size(fer_net) -> None:
    for s in (64, 112):
        m = STF2MModel(STF2MConfig(**{**FER, 'crop_size': s})).eval()
        with torch.inference_mode():
            assert m.encode_frames(np.zeros((2, s, s, 3), np.uint8)).shape == (2, 9, 64)
    with pytest.raises(ModelError, match='crop_size is 112'):
        m.encode_frames(np.zeros((2, 96, 96, 3), np.uint8))


def test_preprocessing_is_fers(model: STF2MModel, fer_net, faces: np.ndarray) -> None:
    ours = model.backbone.preprocess(torch.from_numpy(faces)).numpy()
    theirs = fer_net.preprocess(faces).numpy()
    assert ours.shape == theirs.shape == (4, 1, 64, 64)
    assert np.abs(ours - theirs).max() <= 2.0 / 255 + 1e-6  # at most one grey level
    assert np.abs(ours - theirs).mean() < 2e-3


def test_frozen(fer_net, faces: np.ndarray) -> None:
    m = STF2MModel(STF2MConfig(**FER))
    frozen = m.backbone.frozen
    names = {n for n, _ in m.named_parameters()}
    assert not any(n.startswith('backbone.') for n in names)
    ids = {id(p) for p in m.parameters()}
    assert not any(id(t) in ids for t in frozen.parameters())
    assert all(not t.requires_grad for t in frozen.parameters())
    before = {k: v.clone() for k, v in frozen.state_dict().items()}
    m.train()
    assert m.training and m.backbone.training and not frozen.training
    assert not any(mod.training for mod in frozen.modules())
    feats = m.encode_frames(faces)
    feats.square().mean().backward()
    assert m.region_proj.weight.grad is not None and m.region_proj.weight.grad.abs().sum() > 0
    after = frozen.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN stats untouched
    set_trainable(m, 'frames')  # the frames stage trains only the projection now
    trainable = sorted(n for n, p in m.named_parameters() if p.requires_grad)
    assert trainable == ['region_proj.bias', 'region_proj.weight']


def test_to_moves_the_hidden_net(fer_net, faces: np.ndarray) -> None:
    """`.to()` must reach the net held outside the module tree (a dtype change shows it)."""
    m = STF2MModel(STF2MConfig(**FER)).eval()
    with torch.inference_mode():
        ref = m.encode_frames(faces)
        m.double()
        assert m.backbone.frozen.layers['conv2d_1'][0].weight.dtype == torch.float64
        out = m.encode_frames(faces)
    # float64 may round a grey level the other way (the .5 cases): close, not identical
    assert out.dtype == torch.float64 and (out.float() - ref).abs().max() < 0.01


def test_state_dict_excludes_fer_weights(model: STF2MModel) -> None:
    keys = list(model.state_dict())
    assert not any(k.startswith('backbone.') for k in keys)
    n_frozen = sum(t.numel() for t in model.backbone.frozen.state_dict().values())
    n_saved = sum(t.numel() for t in model.state_dict().values())
    assert n_frozen > 50_000 and n_saved < 400_000
    assert model.state_dict()['region_proj.weight'].shape == (57, 128)  # 64 - 7 probs


def test_checkpoint_round_trip(tmp_path: Path, model: STF2MModel, faces: np.ndarray) -> None:
    path = tmp_path / 'rf.safetensors'
    save_checkpoint(model, path)
    meta = read_metadata(path)
    from st_f2m_ros.models import registry_entry

    assert model.config.backbone_sha256 == registry_entry('fer_emotion').sha256
    assert '"backbone_sha256": "' + model.config.backbone_sha256 in meta['st_f2m_config']
    loaded = load_checkpoint(path)
    assert loaded.config == model.config
    with torch.inference_mode():
        assert torch.equal(loaded.encode_frames(faces), model.encode_frames(faces))
    assert path.stat().st_size < 1_500_000  # the frozen net is not in the file


def test_missing_weights_name_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: STF2MModel
) -> None:
    path = tmp_path / 'rf.safetensors'
    save_checkpoint(model, path)
    empty = tmp_path / 'empty'
    empty.mkdir()
    monkeypatch.setenv('ST_F2M_MODELS_DIR', str(empty))
    monkeypatch.delenv('AMENT_PREFIX_PATH', raising=False)
    monkeypatch.setenv('XDG_DATA_HOME', str(tmp_path / 'xdg'))
    monkeypatch.setattr(sys, 'prefix', str(tmp_path / 'prefix'))
    with pytest.raises(ModelFileError, match='st-f2m models install'):
        load_checkpoint(path)


def test_other_fer_weights_are_refused(fer_net) -> None:
    with pytest.raises(ModelError, match='sha256'):
        STF2MModel(STF2MConfig(**FER, backbone_sha256='0' * 64))


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match='feat_dim > 7'):
        STF2MConfig(**FER, feat_dim=7)
    with pytest.raises(ConfigError, match='only for frozen backbones'):
        STF2MConfig(backbone='resnet18_quarter', backbone_sha256='ab')
    assert STF2MConfig().backbone_sha256 == ''


def test_shipped_resnet_checkpoint_still_loads() -> None:
    """The pixel ResNet default of before issue 9 (no component_input field) loads unchanged."""
    model = load_checkpoint(DEFAULT_CHECKPOINT.parent / 'st_f2m_pixel.safetensors')
    assert not model.config.component_input
    assert model.config.backbone == 'resnet18_half' and model.config.backbone_sha256 == ''
    assert not model.frozen_backbone
    assert any(k.startswith('backbone.') for k in model.state_dict())
    with torch.inference_mode():
        feats = model.encode_frames(np.zeros((2, 96, 96, 3), np.uint8))
    assert feats.shape == (2, 9, 64) and torch.isfinite(feats).all()


def test_onnx_export_of_encode_frames(tmp_path: Path, model: STF2MModel) -> None:
    ort = pytest.importorskip('onnxruntime')
    pytest.importorskip('onnx')
    from st_f2m_ros.runtime.inference.onnx_export import export_onnx

    exp = export_onnx(model, tmp_path / 'onnx')
    crops = np.random.default_rng(1).integers(0, 256, (5, 96, 96, 3), dtype=np.uint8)
    sess = ort.InferenceSession(str(exp.encoder), providers=['CPUExecutionProvider'])
    (onnx_feats,) = sess.run(None, {'crops': crops})
    with torch.inference_mode():
        ref = model.encode_frames(crops).numpy()
    assert onnx_feats.shape == ref.shape
    assert np.abs(onnx_feats - ref).max() < 1e-4


def test_committed_realface_checkpoint(fer_net) -> None:
    from safetensors import safe_open

    path = DEFAULT_CHECKPOINT.parent / 'st_f2m_realface.safetensors'
    with safe_open(str(path), framework='pt') as f:
        assert not any(k.startswith('backbone.') for k in f.keys())
    assert path.stat().st_size < 2_000_000
    meta = read_metadata(path)
    assert meta['val_subjects'] == read_metadata(DEFAULT_CHECKPOINT)['val_subjects']
    model = load_checkpoint(path)
    assert model.config.backbone == 'fer_mini_xception' and model.frozen_backbone
    with torch.inference_mode():
        assert model.encode_frames(np.zeros((1, 96, 96, 3), np.uint8)).shape == (1, 9, 64)
