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
"""Checkpoints: safetensors weights with the model config in the file's metadata.

A checkpoint is one `.safetensors` file. Its metadata holds the `STF2MConfig` JSON (so loading
rebuilds the architecture, nanoGPT style), the package version and the weight dtype; its
tensors are the model's state dict, optionally in float16 (half the size; loading casts back
to float32). Loading goes through `safetensors` only, never pickle, and any mismatch between
file and architecture is a ModelError that names the keys. Writes are atomic (temp file +
os.replace) so a crash never leaves half a checkpoint where the node looks for one.

`model_id` is '<file stem>-<first 10 hex digits of the SHA-256 of the file>': the same file
gives the same id on every robot, and a retrained file a different one.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
import tempfile

import torch

from st_f2m_ros import __version__
from st_f2m_ros.errors import ConfigError, ModelError
from st_f2m_ros.model.config import STF2MConfig
from st_f2m_ros.model.stf2m import STF2MModel

DEFAULT_CHECKPOINT = (
    Path(__file__).resolve().parent.parent / 'resources' / 'st_f2m_default.safetensors'
)
CONFIG_KEY = 'st_f2m_config'
FORMAT_KEY = 'st_f2m_format'
FORMAT_VERSION = '1'


def _file_id(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return f'{path.name.split(".")[0]}-{digest.hexdigest()[:10]}'


def save_checkpoint(
    model: STF2MModel,
    path: str | os.PathLike[str],
    half: bool = False,
    extra: dict[str, str] | None = None,
) -> str:
    """Write `model` to `path` atomically; return the new file's model id.

    Args:
        model: the model to save (its config goes into the metadata).
        path: target `.safetensors` file; parent folders are created.
        half: store floating-point tensors as float16 (loading casts back to float32).
        extra: additional string metadata (training command, accuracy, ...).

    """
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {}
    for name, t in model.state_dict().items():
        t = t.detach().to('cpu')
        if half and t.is_floating_point():
            t = t.half()
        tensors[name] = t.contiguous().clone()
    meta = {
        CONFIG_KEY: model.config.to_json(),
        FORMAT_KEY: FORMAT_VERSION,
        'st_f2m_version': __version__,
        'dtype': 'float16' if half else 'float32',
        **(extra or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=meta)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a shipped model must be world-readable
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return _file_id(path)


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """Return a checkpoint's metadata without loading its tensors."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelError(f'checkpoint {path} does not exist; train one with "st-f2m train"')
    try:
        with safe_open(str(path), framework='pt') as f:
            return dict(f.metadata() or {})
    except Exception as err:  # safetensors raises its own SafetensorError / OSError
        raise ModelError(f'{path} is not a readable safetensors file: {err}') from err


def load_checkpoint(
    path: str | os.PathLike[str] | None = None,
    device: str | torch.device = 'cpu',
    models_dir: str | None = None,
) -> STF2MModel:
    """Build the model described by a checkpoint and load its weights (in eval mode).

    `path=None` loads the shipped default checkpoint. `models_dir` is searched first for the
    registry files a frozen backbone needs (the node's `models_dir` parameter). Raises
    ModelError when the file is missing, unreadable, has no/invalid config, or its tensors do
    not match the architecture.
    """
    from safetensors.torch import load_file

    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    meta = read_metadata(path)
    if CONFIG_KEY not in meta:
        raise ModelError(f'{path} has no {CONFIG_KEY!r} metadata: it is not an ST-F2M checkpoint')
    try:
        config = STF2MConfig.from_json(meta[CONFIG_KEY])
    except ConfigError as err:
        raise ModelError(f'{path}: invalid model config: {err}') from err
    try:
        tensors = load_file(str(path), device='cpu')
    except Exception as err:
        raise ModelError(f'{path}: cannot read tensors: {err}') from err
    model = STF2MModel(config, models_dir=models_dir)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    bad_shape = [k for k in expected if k in tensors and tensors[k].shape != expected[k].shape]
    if missing or unexpected or bad_shape:
        raise ModelError(
            f'{path} does not match its architecture: missing {missing[:5]}, unexpected '
            f'{unexpected[:5]}, wrong shape {bad_shape[:5]}; the file is corrupt or was '
            'written by an incompatible version: retrain or re-export it'
        )
    state = {k: tensors[k].to(expected[k].dtype) for k in expected}
    model.load_state_dict(state, strict=True)
    model.model_id = _file_id(path)
    return model.to(device).eval()
