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
"""Optimizer state for `st-f2m train --resume`, stored as safetensors (never pickle).

Tensors of `optimizer.state_dict()['state']` are saved as `state.<param index>.<key>`; the
param groups and the training progress (stage, epochs done, best score) go into the metadata as
JSON. Writes are atomic.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import tempfile
from typing import Any

import torch


def save_train_state(path: Path, opt: torch.optim.Optimizer, meta: dict[str, Any]) -> None:
    """Optimizer state + progress as safetensors (no pickle), atomically."""
    from safetensors.torch import save_file

    sd = opt.state_dict()
    tensors = {}
    for idx, state in sd['state'].items():
        for key, val in state.items():
            tensors[f'state.{idx}.{key}'] = torch.as_tensor(val).detach().clone().contiguous()
    info = {**meta, 'param_groups': sd['param_groups']}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix='.tmp')
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={'train_state': json.dumps(info)})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_train_state(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(progress info, optimizer state dict) written by save_train_state."""
    from safetensors import safe_open

    with safe_open(str(path), framework='pt') as f:
        info = json.loads((f.metadata() or {})['train_state'])
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key in f.keys():
            _, idx, name = key.split('.', 2)
            state.setdefault(int(idx), {})[name] = f.get_tensor(key)
    return info, {'state': state, 'param_groups': info.pop('param_groups')}
