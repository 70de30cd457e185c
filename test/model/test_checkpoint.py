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
"""Checkpoint round trips (fp32 exact, fp16 stable), safe loading and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file
import torch

from st_f2m_ros.errors import ModelError
from st_f2m_ros.model.checkpoint import (
    CONFIG_KEY,
    DEFAULT_CHECKPOINT,
    load_checkpoint,
    read_metadata,
    save_checkpoint,
)
from st_f2m_ros.model.config import STF2MConfig
from st_f2m_ros.model.stf2m import STF2MModel

SMALL = dict(backbone='resnet18_quarter', crop_size=64, window=4, text_encoder='hashing')


def _model(seed: int = 0, **kw: object) -> STF2MModel:
    torch.manual_seed(seed)
    model = STF2MModel(STF2MConfig(**{**SMALL, **kw}))
    with torch.no_grad():  # make BN statistics non-trivial so they are checked too
        for name, buf in model.named_buffers():
            if name.endswith('running_mean'):
                buf.normal_()
    return model.eval()


def _inputs(model: STF2MModel) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(3)
    r, d = model.feature_shape
    return (
        torch.randn(2, model.config.window, r, d, generator=g),
        torch.randn(2, 384, generator=g),
        torch.ones(2),
        torch.tensor([1.0, 0.0]),
    )


def test_fp32_round_trip_is_exact(tmp_path: Path) -> None:
    model = _model(inner={'meta_sgd': True})
    path = tmp_path / 'm.safetensors'
    model_id = save_checkpoint(model, path, extra={'note': 'x'})
    loaded = load_checkpoint(path)
    assert loaded.config == model.config
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with torch.no_grad():
        assert torch.equal(
            model.classify(*_inputs(model)).logits, loaded.classify(*_inputs(loaded)).logits
        )
    assert loaded.model_id == model_id and model_id.startswith('m-')
    assert read_metadata(path)['note'] == 'x'
    assert not loaded.training


def test_fp16_round_trip_is_stable_and_smaller(tmp_path: Path) -> None:
    model = _model()
    full, half = tmp_path / 'full.safetensors', tmp_path / 'half.safetensors'
    save_checkpoint(model, full)
    save_checkpoint(model, half, half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded = load_checkpoint(half)
    for k, v in model.state_dict().items():
        w = loaded.state_dict()[k]
        assert w.dtype == v.dtype
        if v.is_floating_point():
            assert torch.equal(w, v.half().float())
    again = tmp_path / 'again.safetensors'
    save_checkpoint(loaded, again, half=True)
    x, y = load_file(str(half)), load_file(str(again))
    assert all(torch.equal(x[k], y[k]) for k in x)


def test_model_id_changes_with_the_weights(tmp_path: Path) -> None:
    a = save_checkpoint(_model(0), tmp_path / 'a.safetensors')
    b = save_checkpoint(_model(1), tmp_path / 'a.safetensors')
    assert a != b


def test_missing_file_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match='st-f2m train'):
        load_checkpoint(tmp_path / 'nope.safetensors')


def test_corrupt_file_is_a_model_error(tmp_path: Path) -> None:
    path = tmp_path / 'bad.safetensors'
    path.write_bytes(b'\x00' * 100)
    with pytest.raises(ModelError, match='not a readable safetensors'):
        load_checkpoint(path)


def test_foreign_safetensors_without_config(tmp_path: Path) -> None:
    path = tmp_path / 'other.safetensors'
    save_file({'w': torch.zeros(2)}, str(path))
    with pytest.raises(ModelError, match='not an ST-F2M checkpoint'):
        load_checkpoint(path)


def test_architecture_mismatch_names_the_keys(tmp_path: Path) -> None:
    path = tmp_path / 'm.safetensors'
    save_checkpoint(_model(), path)
    tensors = load_file(str(path))
    meta = read_metadata(path)
    del tensors['head.bias']
    cfg = json.loads(meta[CONFIG_KEY])
    cfg['hidden'] = 64  # config no longer matches the tensors either
    meta[CONFIG_KEY] = json.dumps(cfg)
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(ModelError, match=r'missing \[.head\.bias.\]'):
        load_checkpoint(path)


def test_invalid_config_in_metadata(tmp_path: Path) -> None:
    path = tmp_path / 'm.safetensors'
    save_file({'w': torch.zeros(1)}, str(path), metadata={CONFIG_KEY: '{"backbone": "vgg"}'})
    with pytest.raises(ModelError, match='invalid model config'):
        load_checkpoint(path)


def test_shipped_default_checkpoint_loads_and_classifies() -> None:
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip('no default checkpoint trained yet (st-f2m train --config config/train.yaml)')
    assert DEFAULT_CHECKPOINT.stat().st_size <= 25 * 2**20
    model = load_checkpoint()
    assert model.model_id.startswith('st_f2m_default-')
    assert read_metadata(DEFAULT_CHECKPOINT)['dtype'] == 'float16'
    with torch.no_grad():
        out = model.classify(*_inputs(model))
    assert torch.isfinite(out.probs).all()
