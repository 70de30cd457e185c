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
"""Inference backends behind one interface: PyTorch (default), ONNX Runtime, TensorRT.

The runtime needs the model in two parts (docs/ARCHITECTURE.md, "Model"): the per-frame part of
E, `encode_frames` (run once per cached frame), and the window part E -> F -> C, `classify`
(run once per window, with the current, possibly adapted, head parameters). A backend exposes
exactly these two calls on numpy arrays plus the preprocessing facts the runtime needs (crop
size, T, text dimension, class labels), so the pipeline never knows which engine runs.

* `TorchBackend`: the `STF2MModel` in eager PyTorch under `torch.inference_mode()`.
* `OnnxBackend`: two ONNX Runtime sessions over the export of `onnx_export.py`; the
  adaptable head parameters are graph inputs with the base values as defaults (overridable
  initialisers), so adapted heads work without re-exporting.
* `TensorRTBackend`: builds a TensorRT engine for the per-frame encoder (the CNN: most of the
  compute) from the ONNX file where `tensorrt` imports, e.g. on a Jetson; the small window
  classifier stays on ONNX Runtime so that adapted heads still apply.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
import json
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from st_f2m_ros.errors import ConfigError, ModelError

BACKENDS: tuple[str, ...] = ('torch', 'onnx', 'tensorrt')
ENCODER_FILE = 'encoder.onnx'
CLASSIFIER_FILE = 'classifier.onnx'
META_FILE = 'model.json'
CLASSIFIER_INPUTS = ('frame_feats', 'text_emb', 'vision_mask', 'text_mask')
CLASSIFIER_OUTPUTS = ('logits', 'components', 'memberships', 'intensity')
# Encoder inputs besides `crops` of a model with `component_input` (float32 [N, 12] each;
# reliable is 1/0): the front end's measured components, see STF2MConfig.
COMPONENT_INPUTS = ('components', 'reliable')

Params = dict[str, Any]  # parameter name -> torch.Tensor or numpy array


@dataclass
class WindowScores:
    """Model output for B windows as numpy arrays (see model.stf2m.WindowOutput)."""

    logits: np.ndarray  # [B, C]
    probs: np.ndarray  # [B, C]
    components: np.ndarray  # [B, 12]
    memberships: np.ndarray  # [B, 18]
    intensity: np.ndarray  # [B]


@runtime_checkable
class Backend(Protocol):
    """What the runtime calls. Arrays in and out are numpy; `params` may hold tensors."""

    name: str
    model_id: str
    crop_size: int
    window: int
    feature_rate: float
    text_dim: int
    class_labels: tuple[str, ...]
    text_usable: bool

    def encode_frames(
        self,
        crops: np.ndarray,
        components: np.ndarray | None = None,
        reliable: np.ndarray | None = None,
    ) -> np.ndarray:
        """uint8 [N, S, S, 3] BGR crops (+ measured components [N, 12] and their reliable
        mask, used by models with `component_input`) -> float32 per-frame features [N, ...]."""
        ...

    def encode_text(self, texts: list[str]) -> np.ndarray:
        """Sentence embeddings float32 [U, text_dim]."""
        ...

    def classify(
        self,
        frame_feats: np.ndarray,
        text_emb: np.ndarray,
        vision_mask: np.ndarray,
        text_mask: np.ndarray,
        params: Params | None = None,
    ) -> WindowScores:
        """Classify windows [B, T, ...] with optional replacement parameters."""
        ...


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32, stable for large logits."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


class TorchBackend:
    """Eager PyTorch over an `STF2MModel` (or any module with its two calls and `config`)."""

    name = 'torch'

    def __init__(self, model: Any, device: str = 'cpu', num_threads: int | None = None) -> None:
        import torch

        if num_threads:
            torch.set_num_threads(int(num_threads))
        self._torch = torch
        self.device = torch.device(device)
        # A private copy of the module: torch.func.functional_call (classify with an adapted
        # head, and the /adapt inner loop) swaps parameters into the module for the duration
        # of the call, so a module shared with the adaptation thread would let each thread see
        # the other's tensors (the inner loop failed, or started from an adapted head, while
        # frames were classified). The sentence encoder is shared (read-only, loads once).
        text = getattr(model, '_text_encoder', None)
        memo = {id(text): text} if text is not None else {}
        self.model = copy.deepcopy(model, memo).to(self.device).eval()
        cfg = model.config
        self.model_id = str(getattr(model, 'model_id', 'untrained'))
        self.crop_size = int(cfg.crop_size)
        self.window = int(cfg.window)
        self.feature_rate = float(cfg.feature_rate)
        self.text_dim = int(cfg.text_dim)
        self.class_labels = tuple(cfg.class_labels)
        self.text_usable = bool(getattr(model, 'text_usable', True))

    def encode_frames(
        self,
        crops: np.ndarray,
        components: np.ndarray | None = None,
        reliable: np.ndarray | None = None,
    ) -> np.ndarray:
        """Per-frame features of uint8 BGR crops (+ measured components), as float32 numpy."""
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device)
            out = self.model.encode_frames(x, components, reliable)
            return out.float().cpu().numpy()

    def encode_text(self, texts: list[str]) -> np.ndarray:
        """Sentence embeddings from the model's text encoder."""
        return np.asarray(self.model.text_encoder.encode(list(texts)), dtype=np.float32)

    def classify(
        self,
        frame_feats: np.ndarray,
        text_emb: np.ndarray,
        vision_mask: np.ndarray,
        text_mask: np.ndarray,
        params: Params | None = None,
    ) -> WindowScores:
        """Run E (window part) -> F -> C; `params` replaces parameters via torch.func."""
        torch = self._torch
        dev = self.device
        with torch.inference_mode():
            p = None
            if params:
                p = {k: torch.as_tensor(v).to(dev) for k, v in params.items()}
            out = self.model.classify(
                torch.from_numpy(np.ascontiguousarray(frame_feats, dtype=np.float32)).to(dev),
                torch.from_numpy(np.ascontiguousarray(text_emb, dtype=np.float32)).to(dev),
                torch.from_numpy(np.asarray(vision_mask, dtype=np.float32)).to(dev),
                torch.from_numpy(np.asarray(text_mask, dtype=np.float32)).to(dev),
                params=p,
            )
            return WindowScores(
                *(t.float().cpu().numpy() for t in (out.logits, out.probs, out.components)),
                out.memberships.float().cpu().numpy(),
                out.intensity.float().cpu().numpy(),
            )


def read_export_meta(export_dir: str | Path) -> dict[str, Any]:
    """Read `model.json` of an ONNX export; ModelError with a hint when it is missing."""
    path = Path(export_dir) / META_FILE
    try:
        meta = json.loads(path.read_text(encoding='utf-8'))
    except FileNotFoundError as err:
        raise ModelError(
            f'{path} not found: export the model first (st-f2m export, or '
            'runtime.onnx_export.export_onnx)'
        ) from err
    except (OSError, json.JSONDecodeError) as err:
        raise ModelError(f'cannot read {path}: {err}') from err
    for key in ('config', 'model_id', 'param_names'):
        if key not in meta:
            raise ModelError(f'{path} lacks {key!r}; re-export the model')
    return meta


class _ExportedModelInfo:
    """Preprocessing facts of an exported model, read from its model.json."""

    def __init__(self, export_dir: str | Path) -> None:
        from st_f2m_ros.model.config import STF2MConfig
        from st_f2m_ros.model.text import make_text_encoder

        self.export_dir = Path(export_dir)
        meta = read_export_meta(self.export_dir)
        cfg = STF2MConfig.from_dict(meta['config'])
        self.model_id = str(meta['model_id'])
        self.param_names = tuple(meta['param_names'])
        self.crop_size = int(cfg.crop_size)
        self.window = int(cfg.window)
        self.feature_rate = float(cfg.feature_rate)
        self.text_dim = int(cfg.text_dim)
        self.class_labels = tuple(cfg.class_labels)
        self.component_input = bool(cfg.component_input)
        self._text = make_text_encoder(cfg.text_encoder)
        self.text_usable = self._text.name == cfg.text_encoder

    def encode_text(self, texts: list[str]) -> np.ndarray:
        """Sentence embeddings with the encoder named in the model config."""
        return np.asarray(self._text.encode(list(texts)), dtype=np.float32)


def _ort_session(path: Path, num_threads: int | None, providers: list[str] | None) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise ModelError('the onnx backend needs onnxruntime (pip install onnxruntime)') from err
    if not path.is_file():
        raise ModelError(f'{path} not found: export the model first')
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # the head's overridable initialisers warn by design
    if os.environ.get('ST_F2M_ORT_SPIN', '0') != '1':
        # Spinning worker threads win microseconds on an idle machine and lose badly on a
        # robot whose cores are shared with other nodes; off unless asked for.
        opts.add_session_config_entry('session.intra_op.allow_spinning', '0')
    if num_threads:
        opts.intra_op_num_threads = int(num_threads)
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(
            str(path), sess_options=opts, providers=providers or ['CPUExecutionProvider']
        )
    except Exception as err:  # onnxruntime raises its own exception types
        raise ModelError(f'ONNX Runtime cannot load {path}: {err}') from err


class OnnxBackend(_ExportedModelInfo):
    """ONNX Runtime over `encoder.onnx` and `classifier.onnx` in an export folder."""

    name = 'onnx'

    def __init__(
        self,
        export_dir: str | Path,
        num_threads: int | None = None,
        providers: list[str] | None = None,
    ) -> None:
        super().__init__(export_dir)
        self._encoder = self._make_encoder(num_threads, providers)
        self._classifier = _ort_session(self.export_dir / CLASSIFIER_FILE, num_threads, providers)
        inputs = {i.name for i in self._classifier.get_inputs()}
        # Inputs with a default (the head's base values) are listed apart by ONNX Runtime.
        inputs |= {i.name for i in self._classifier.get_overridable_initializers()}
        missing = [n for n in CLASSIFIER_INPUTS if n not in inputs]
        if missing:
            raise ModelError(f'{CLASSIFIER_FILE} lacks inputs {missing}; re-export the model')
        self._overridable = {n for n in self.param_names if n in inputs}

    def _make_encoder(self, num_threads: int | None, providers: list[str] | None) -> Any:
        return _ort_session(self.export_dir / ENCODER_FILE, num_threads, providers)

    def encode_frames(
        self,
        crops: np.ndarray,
        components: np.ndarray | None = None,
        reliable: np.ndarray | None = None,
    ) -> np.ndarray:
        """Per-frame features of uint8 BGR crops (+ measured components where the graph has
        the inputs, `component_feed`)."""
        crops = np.ascontiguousarray(crops, dtype=np.uint8)
        if len(crops) == 0:
            return np.zeros((0,), dtype=np.float32)
        feed = {'crops': crops}
        if self.component_input:
            feed.update(component_feed(len(crops), components, reliable))
        return self._encoder.run(None, feed)[0]

    def classify(
        self,
        frame_feats: np.ndarray,
        text_emb: np.ndarray,
        vision_mask: np.ndarray,
        text_mask: np.ndarray,
        params: Params | None = None,
    ) -> WindowScores:
        """Run the classifier graph; `params` feed the head inputs (base values otherwise)."""
        feed = {
            'frame_feats': np.ascontiguousarray(frame_feats, dtype=np.float32),
            'text_emb': np.ascontiguousarray(text_emb, dtype=np.float32),
            'vision_mask': np.asarray(vision_mask, dtype=np.float32),
            'text_mask': np.asarray(text_mask, dtype=np.float32),
        }
        for k, v in (params or {}).items():
            if k not in self._overridable:
                raise ModelError(
                    f'parameter {k!r} is not an input of {CLASSIFIER_FILE} (exported: '
                    f'{sorted(self._overridable)}); re-export with these parameters adaptable'
                )
            feed[k] = _to_numpy(v)
        logits, comps, memb, inten = self._classifier.run(list(CLASSIFIER_OUTPUTS), feed)
        return WindowScores(logits, softmax(logits), comps, memb, inten.reshape(-1))


def component_feed(
    n: int, components: np.ndarray | None, reliable: np.ndarray | None
) -> dict[str, np.ndarray]:
    """The encoder graph's `components` / `reliable` inputs (float32 [n, 12]); none measured:
    zeros (every component unreliable), as `STF2MModel.encode_frames` does with None."""
    if components is None:
        zeros = np.zeros((n, 12), dtype=np.float32)
        return {'components': zeros, 'reliable': zeros}
    comps = np.ascontiguousarray(components, dtype=np.float32)
    ok = np.ones_like(comps) if reliable is None else np.asarray(reliable, dtype=np.float32)
    if comps.shape != (n, 12) or ok.shape != (n, 12):
        raise ModelError(
            f'components and reliable must be [{n}, 12] (one row per crop), '
            f'got {comps.shape} and {ok.shape}'
        )
    return {'components': comps, 'reliable': np.ascontiguousarray(ok)}


def _to_numpy(v: Any) -> np.ndarray:
    if hasattr(v, 'detach'):
        v = v.detach().float().cpu().numpy()
    return np.ascontiguousarray(v, dtype=np.float32)


def make_backend(
    kind: str,
    model: Any = None,
    export_dir: str | Path | None = None,
    device: str = 'cpu',
    num_threads: int | None = None,
) -> Backend:
    """Build the backend called `kind` ('torch' needs `model`, the others `export_dir`)."""
    if kind == 'torch':
        if model is None:
            raise ConfigError('the torch backend needs a model (load a checkpoint)')
        return TorchBackend(model, device=device, num_threads=num_threads)
    if kind in ('onnx', 'tensorrt'):
        if export_dir is None:
            raise ConfigError(f'the {kind} backend needs the folder of an ONNX export')
        if kind == 'tensorrt':
            from st_f2m_ros.runtime.inference.tensorrt import TensorRTBackend

            return TensorRTBackend(export_dir, num_threads=num_threads, device=device)
        return OnnxBackend(export_dir, num_threads=num_threads)
    raise ConfigError(f'unknown backend {kind!r}; choose one of {BACKENDS}')


def __getattr__(name: str) -> Any:
    """`backends.TensorRTBackend` still works; it lives in runtime/inference/tensorrt.py."""
    if name == 'TensorRTBackend':
        from st_f2m_ros.runtime.inference.tensorrt import TensorRTBackend

        return TensorRTBackend
    raise AttributeError(name)
