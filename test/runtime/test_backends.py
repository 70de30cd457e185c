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
"""Backends: ONNX Runtime against PyTorch, adapted heads, atomic swaps under threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from st_f2m_ros.errors import AdaptationError, ConfigError, ModelError
from st_f2m_ros.runtime.inference.backends import (
    Backend,
    OnnxBackend,
    TorchBackend,
    make_backend,
)
from st_f2m_ros.runtime.inference.onnx_export import export_onnx
from st_f2m_ros.runtime.inference.recognizer import Recognizer


@pytest.fixture(scope='module')
def export_dir(small_model, tmp_path_factory):
    out = tmp_path_factory.mktemp('onnx')
    export_onnx(small_model, out)
    return out


@pytest.fixture(scope='module')
def onnx_backend(export_dir) -> OnnxBackend:
    return OnnxBackend(export_dir, num_threads=2)


def _window_inputs(backend, b=3, seed=0):
    rng = np.random.default_rng(seed)
    crops = rng.integers(0, 256, (b * 8, 96, 96, 3), dtype=np.uint8)
    feats = backend.encode_frames(crops).reshape(b, 8, *backend.encode_frames(crops[:1]).shape[1:])
    text = backend.encode_text(['I am fine', 'this hurts', 'wow'][:b])
    return crops, feats, text


def _forcing_head(model, cls: int) -> dict[str, torch.Tensor]:
    """Head parameters under which class `cls` always wins."""
    params = model.head_params()
    params['head.weight'] = torch.zeros_like(params['head.weight'])
    bias = torch.zeros_like(params['head.bias'])
    bias[cls] = 20.0
    params['head.bias'] = bias
    return params


def test_backends_satisfy_the_protocol(torch_backend, onnx_backend):
    assert isinstance(torch_backend, Backend) and isinstance(onnx_backend, Backend)
    for b in (torch_backend, onnx_backend):
        assert (b.crop_size, b.window, b.model_id) == (96, 8, 'small-test')


def test_onnx_matches_pytorch(torch_backend, onnx_backend):
    crops, feats, text = _window_inputs(torch_backend)
    f_t = torch_backend.encode_frames(crops)
    f_o = onnx_backend.encode_frames(crops)
    np.testing.assert_allclose(f_o, f_t, rtol=1e-4, atol=1e-4)
    vm = np.array([1, 1, 0], np.float32)
    tm = np.array([1, 0, 1], np.float32)
    a = torch_backend.classify(feats, text, vm, tm)
    b = onnx_backend.classify(feats, text, vm, tm)
    np.testing.assert_allclose(b.logits, a.logits, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(b.probs, a.probs, atol=1e-5)
    np.testing.assert_allclose(b.probs.sum(axis=1), 1.0, atol=1e-5)


def test_onnx_takes_adapted_heads_like_pytorch(small_model, torch_backend, onnx_backend):
    _, feats, text = _window_inputs(torch_backend)
    ones = np.ones(3, np.float32)
    params = {k: v + 0.05 * torch.randn_like(v) for k, v in small_model.head_params().items()}
    a = torch_backend.classify(feats, text, ones, ones, params)
    b = onnx_backend.classify(feats, text, ones, ones, params)
    np.testing.assert_allclose(b.logits, a.logits, rtol=1e-4, atol=1e-4)
    base = onnx_backend.classify(feats, text, ones, ones)
    assert not np.allclose(base.logits, b.logits)  # the head really changed
    with pytest.raises(ModelError, match='not an input'):
        onnx_backend.classify(feats, text, ones, ones, {'backbone.conv1.weight': np.zeros(1)})


def test_recognizer_swaps_heads_atomically(small_model, onnx_backend):
    rec = Recognizer(onnx_backend)
    _, feats, text = _window_inputs(onnx_backend, b=1)
    ones = np.ones(1, np.float32)
    heads = {'a': (_forcing_head(small_model, 3), 3), 'b': (_forcing_head(small_model, 5), 5)}
    stop = threading.Event()
    swaps = 0

    def adapter():
        nonlocal swaps
        while not stop.is_set():
            for i, (subject, (params, _)) in enumerate(heads.items()):
                rec.set_adaptation(subject, params, version=i + 1)
                swaps += 1

    thread = threading.Thread(target=adapter)
    thread.start()
    try:
        for _ in range(200):
            scores, model_id = rec.classify(feats, text, ones, ones)
            subject = model_id.split('+')[1].split('@')[0] if '+' in model_id else None
            if subject is not None:
                assert int(scores.probs[0].argmax()) == heads[subject][1]
    finally:
        stop.set()
        thread.join()
    assert swaps > 10
    assert rec.model_id in ('small-test+a@v1', 'small-test+b@v2')
    assert rec.reset('nobody') is False
    assert rec.reset() is True and rec.model_id == 'small-test'
    with pytest.raises(AdaptationError, match='subject'):
        rec.set_adaptation('', heads['a'][0], 1)


def test_tensorrt_absent_is_a_clear_error(export_dir):
    try:
        import tensorrt  # noqa: F401

        pytest.skip('tensorrt is installed here: the error path cannot be observed')
    except ImportError:
        pass
    with pytest.raises(ModelError, match='tensorrt'):
        from st_f2m_ros.runtime.inference.tensorrt import TensorRTBackend

        TensorRTBackend(export_dir)


def test_make_backend_errors(tmp_path):
    with pytest.raises(ConfigError, match='unknown backend'):
        make_backend('tflite')
    with pytest.raises(ConfigError, match='needs a model'):
        make_backend('torch')
    with pytest.raises(ModelError, match='export the model first'):
        make_backend('onnx', export_dir=tmp_path)


def test_bench_phases_measure_and_tabulate(torch_backend, onnx_backend):
    from st_f2m_ros.runtime.bench import format_table, run_phase

    frames = [np.full((480, 640, 3), 90, np.uint8)]
    rows = [
        run_phase(Recognizer(b), frames, 0.3, warmup=3, paced=p)
        for b in (torch_backend, onnx_backend)
        for p in (False, True)
    ]
    assert all(r.frames > 0 and r.fps > 0 for r in rows)
    paced = [r for r in rows if r.mode == 'paced']
    assert all(r.fps <= 31 for r in paced)  # never faster than the camera
    table = '\n'.join(format_table(rows))
    assert 'torch' in table and 'onnx' in table and 'paced' in table


def test_export_works_for_crop_sizes_that_do_not_divide_into_regions(tmp_path):
    # 112 px crops (the datasets' default) give a 4x4 feature map pooled to 3x3 regions,
    # which the ONNX exporter refuses without onnx_export's pooling rewrite.
    from st_f2m_ros.model.config import STF2MConfig
    from st_f2m_ros.model.stf2m import STF2MModel

    model = STF2MModel(
        STF2MConfig(
            backbone='resnet18_quarter', crop_size=112, feat_dim=8, hidden=16, fuzzy=False,
            text_encoder='hashing',
        )
    ).eval()  # fmt: skip
    export_onnx(model, tmp_path)
    crops = np.random.default_rng(3).integers(0, 256, (2, 112, 112, 3), dtype=np.uint8)
    ours = OnnxBackend(tmp_path).encode_frames(crops)
    np.testing.assert_allclose(ours, TorchBackend(model).encode_frames(crops), atol=1e-4)


class _FakeFlag:
    EXPLICIT_BATCH = 0  # tensorrt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH is member 0


@pytest.mark.parametrize(
    ('version', 'has_flag', 'expected'),
    [('8.6.2', True, 1), ('8.5.3.1', True, 1), ('10.3.0', True, 0), ('10.12.0', False, 0)],
    ids=['jetpack6-8.6', '8.5', '10.3-deprecated-flag', '10.12-flag-removed'],
)
def test_tensorrt_network_flags(version, has_flag, expected):
    """EXPLICIT_BATCH before TensorRT 10 (the ONNX parser rejects implicit batch), 0 after."""
    from types import SimpleNamespace

    from st_f2m_ros.runtime.inference.tensorrt import network_flags

    fake = SimpleNamespace(__version__=version)
    if has_flag:
        fake.NetworkDefinitionCreationFlag = _FakeFlag
    assert network_flags(fake) == expected


def test_tensorrt_device_setting():
    from st_f2m_ros.runtime.inference.tensorrt import cuda_device

    assert cuda_device('cuda:1') == 'cuda:1' and cuda_device('cuda') == 'cuda'
    assert cuda_device('cpu') == 'cuda'  # the node's default: TensorRT always runs on a GPU
    with pytest.raises(ConfigError, match='cuda or cuda:N'):
        cuda_device('gpu1')
