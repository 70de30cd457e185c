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
"""Build a Recognizer from a checkpoint and a backend name (CLI, node, demo, benchmark).

One place that knows how the pieces connect: load the safetensors checkpoint, export it to
ONNX when an ONNX-based backend is asked for (into `onnx_dir`, reused when it already holds an
export of the same model id), and wrap the backend in a Recognizer.
"""

from __future__ import annotations

import json
from pathlib import Path
import tempfile
from typing import Any

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.runtime.inference.backends import BACKENDS, META_FILE, make_backend
from st_f2m_ros.runtime.inference.recognizer import Recognizer


def _export_matches(onnx_dir: Path, model_id: str) -> bool:
    try:
        meta = json.loads((onnx_dir / META_FILE).read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return False
    return meta.get('model_id') == model_id


def build_recognizer(
    backend: str = 'torch',
    checkpoint: str | Path | None = None,
    model: Any = None,
    onnx_dir: str | Path | None = None,
    device: str = 'cpu',
    num_threads: int | None = None,
) -> Recognizer:
    """Return a Recognizer over `backend` ('torch', 'onnx', 'tensorrt').

    `model` (an STF2MModel) wins over `checkpoint`; `checkpoint=None` loads the shipped
    default. ONNX backends export the model into `onnx_dir` (a temporary folder if None)
    unless it already holds an export of the same model id.
    """
    if backend not in BACKENDS:
        raise ConfigError(f'unknown backend {backend!r}; choose one of {BACKENDS}')
    if model is None:
        from st_f2m_ros.model.checkpoint import load_checkpoint

        model = load_checkpoint(checkpoint)
    if backend == 'torch':
        return Recognizer(make_backend('torch', model, device=device, num_threads=num_threads))
    from st_f2m_ros.runtime.inference.onnx_export import export_onnx

    if onnx_dir is None:
        onnx_dir = tempfile.mkdtemp(prefix='st_f2m_onnx_')
    onnx_dir = Path(onnx_dir)
    if not _export_matches(onnx_dir, str(getattr(model, 'model_id', ''))):
        export_onnx(model, onnx_dir)
    return Recognizer(
        make_backend(backend, export_dir=onnx_dir, device=device, num_threads=num_threads)
    )
