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
"""Export an ST-F2M model to ONNX in the two parts the runtime calls (for ONNX Runtime/TensorRT).

* `encoder.onnx`: uint8 BGR crops [N, S, S, 3] -> per-frame features [N, R, D] (preprocessing
  included, so the runtime feeds raw crops exactly as to PyTorch); a model with
  `component_input` also takes `components` and `reliable` (float32 [N, 12], reliable 1/0);
* `classifier.onnx`: (frame_feats [B, T, R, D], text_emb [B, Dt], vision_mask [B],
  text_mask [B]) -> (logits, components, memberships, intensity). The adaptable parameters
  (by default the head, what /adapt changes) are graph inputs whose initialisers hold the base
  values: ONNX Runtime uses the defaults unless an adapted head is fed, so one export serves
  the base model and every adaptation.
* `model.json`: the model config, model id and the names of the adaptable parameters.

`torch.func.functional_call` cannot be traced, so the exported copy of the model has its
adaptable parameters removed and re-assigned from the graph inputs at each call. Files are
written to temporary names and renamed, so a crashed export never leaves a half file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import copy
from dataclasses import dataclass
import json
import os
from pathlib import Path
import tempfile
from typing import Any
import warnings

from st_f2m_ros.errors import ModelError
from st_f2m_ros.runtime.inference.backends import (
    CLASSIFIER_FILE,
    CLASSIFIER_INPUTS,
    CLASSIFIER_OUTPUTS,
    COMPONENT_INPUTS,
    ENCODER_FILE,
    META_FILE,
)

OPSET = 17


@dataclass(frozen=True)
class OnnxExport:
    """Paths of one export."""

    directory: Path
    encoder: Path
    classifier: Path
    meta: Path


def _split(name: str) -> tuple[str, str]:
    mod, _, attr = name.rpartition('.')
    return mod, attr


def _wrappers(model: Any, param_names: list[str]) -> tuple[Any, Any]:
    from torch import nn

    class Encoder(nn.Module):
        def __init__(self, m: Any) -> None:
            super().__init__()
            self.m = m

        def forward(self, crops: Any, *measured: Any) -> Any:
            return self.m.encode_frames(crops, *measured)

    class Classifier(nn.Module):
        def __init__(self, m: Any) -> None:
            super().__init__()
            self.m = m
            for n in param_names:
                mod, attr = _split(n)
                delattr(self.m.get_submodule(mod), attr)

        def forward(self, feats: Any, text: Any, vm: Any, tm: Any, *params: Any) -> Any:
            for n, p in zip(param_names, params):
                mod, attr = _split(n)
                setattr(self.m.get_submodule(mod), attr, p)
            out = self.m.classify(feats, text, vm, tm)
            return out.logits, out.components, out.memberships, out.intensity

    return Encoder(_clone(model)).eval(), Classifier(_clone(model)).eval()


def _clone(model: Any) -> Any:
    """Deep copy of the network, without the text encoder (not part of the graph; holds locks)."""
    memo: dict[int, Any] = {}
    text = model.__dict__.get('_text_encoder')
    if text is not None:
        memo[id(text)] = None
    return copy.deepcopy(model, memo)


def _pool_matrix(n: int, g: int) -> Any:
    """[g, n] averaging weights of adaptive average pooling from n to g cells (PyTorch's bins)."""
    import torch

    w = torch.zeros(g, n)
    for i in range(g):
        start, end = (i * n) // g, -((-(i + 1) * n) // g)
        w[i, start:end] = 1.0 / (end - start)
    return w


@contextmanager
def _exportable_adaptive_pool() -> Iterator[None]:
    """Let adaptive average pooling export for any input size.

    The ONNX exporter only handles output sizes that divide the input (a 112 px crop gives a
    4x4 feature map pooled to 3x3 regions: not exportable). The same bins are a fixed linear
    map, so during export the pooling is computed as two small matrix products: numerically
    the same function, exportable for every size.
    """
    import torch
    import torch.nn.functional as F

    original = F.adaptive_avg_pool2d

    def pool(x: Any, output_size: Any) -> Any:
        oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
        h, w = int(x.shape[-2]), int(x.shape[-1])
        if h % oh == 0 and w % ow == 0:
            return original(x, output_size)
        ph = _pool_matrix(h, oh).to(x.dtype)
        pw = _pool_matrix(w, ow).to(x.dtype)
        return torch.einsum('ih,nchw,jw->ncij', ph, x, pw)

    F.adaptive_avg_pool2d = pool
    try:
        yield
    finally:
        F.adaptive_avg_pool2d = original


def default_param_names(model: Any) -> list[str]:
    """The parameters /adapt changes: `model.head_params()` where available, else `head.*`."""
    if hasattr(model, 'head_params'):
        return list(model.head_params())
    return [n for n, _ in model.named_parameters() if n.startswith('head.')]


def export_onnx(
    model: Any, out_dir: str | Path, param_names: list[str] | None = None
) -> OnnxExport:
    """Export `model` (an STF2MModel) to `out_dir`; return the written paths."""
    import onnx
    from onnx import numpy_helper
    import torch

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = default_param_names(model) if param_names is None else list(param_names)
    named = dict(model.named_parameters())
    unknown = [n for n in names if n not in named]
    if unknown:
        raise ModelError(f'cannot make {unknown} adaptable: the model has no such parameters')
    cfg = model.config
    s, t = cfg.crop_size, cfg.window
    r, d = model.feature_shape
    enc, cls = _wrappers(model, names)
    base = [named[n].detach().float().cpu().clone() for n in names]
    crops = torch.randint(0, 256, (2, s, s, 3), dtype=torch.uint8)
    enc_inputs = ['crops']
    enc_args: tuple[Any, ...] = (crops,)
    if getattr(cfg, 'component_input', False):
        enc_inputs += list(COMPONENT_INPUTS)
        enc_args += (torch.randn(2, 12), (torch.rand(2, 12) > 0.5).float())
    feats = torch.randn(2, t, r, d)
    text = torch.randn(2, cfg.text_dim)
    mask = torch.ones(2)
    batch = {0: 'batch'}
    with (
        tempfile.TemporaryDirectory(dir=out) as tmp,
        warnings.catch_warnings(),
        _exportable_adaptive_pool(),
    ):
        warnings.simplefilter('ignore')  # tracer warnings about shape checks
        tmp_enc, tmp_cls = Path(tmp) / ENCODER_FILE, Path(tmp) / CLASSIFIER_FILE
        try:
            torch.onnx.export(
                enc, enc_args, str(tmp_enc), dynamo=False, opset_version=OPSET,
                input_names=enc_inputs, output_names=['features'],
                dynamic_axes={k: batch for k in (*enc_inputs, 'features')},
            )  # fmt: skip
            torch.onnx.export(
                cls, (feats, text, mask, mask, *base), str(tmp_cls), dynamo=False,
                opset_version=OPSET, input_names=[*CLASSIFIER_INPUTS, *names],
                output_names=list(CLASSIFIER_OUTPUTS),
                dynamic_axes={k: batch for k in (*CLASSIFIER_INPUTS, *CLASSIFIER_OUTPUTS)},
            )  # fmt: skip
        except Exception as err:  # the exporter raises many types
            raise ModelError(f'ONNX export failed: {str(err)[:300]}') from err
        graph = onnx.load(str(tmp_cls))
        # Base values as initialisers of the same name: overridable defaults (ONNX IR >= 4).
        present = {i.name for i in graph.graph.input}
        for n, v in zip(names, base):
            if n in present:
                graph.graph.initializer.append(numpy_helper.from_array(v.numpy(), n))
        onnx.save(graph, str(tmp_cls))
        meta = {
            'config': cfg.to_dict(),
            'model_id': str(getattr(model, 'model_id', 'untrained')),
            'param_names': [n for n in names if n in present],
            'feature_shape': [r, d],
            'encoder_inputs': enc_inputs,
            'opset': OPSET,
        }
        (Path(tmp) / META_FILE).write_text(json.dumps(meta, indent=1), encoding='utf-8')
        for f in (ENCODER_FILE, CLASSIFIER_FILE, META_FILE):
            os.replace(Path(tmp) / f, out / f)
    for stale_plan in out.glob('encoder*.plan'):
        stale_plan.unlink()  # TensorRT engines (one per GPU model) of the previous export
    return OnnxExport(out, out / ENCODER_FILE, out / CLASSIFIER_FILE, out / META_FILE)
