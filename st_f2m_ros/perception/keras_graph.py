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
"""A Keras functional model's layer graph rebuilt as a frozen torch module.

The FER2013 mini-Xception comes as a Keras 2 file; TensorFlow (1.9 GB) must never be a run-time
dependency, so the network is rebuilt in torch from the file's own `model_config` rather than
retyped by hand: the layer list, every padding mode, `use_bias` and BatchNorm epsilon come from
the file, and an unsupported layer is refused by name instead of being guessed at.

TensorFlow's 'same' padding is asymmetric when the padding is odd (the extra row and column go
at the bottom and right); torch pads symmetrically. The input size is fixed by the model
(`batch_input_shape`), so every layer's padding is computed once here and the asymmetric cases
get an explicit pad (zeros for convolutions, -inf for max pooling, which is what TF's pooling
ignores). Kernels are converted from Keras layouts: HWIO -> OIHW; depthwise HWC1 -> (C, 1, H, W).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from st_f2m_ros.errors import ModelError

SUPPORTED = (
    'InputLayer',
    'Conv2D',
    'SeparableConv2D',
    'BatchNormalization',
    'Activation',
    'MaxPooling2D',
    'Add',
    'GlobalAveragePooling2D',
)


def same_pad(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """TF 'same' padding along one axis: (before, after, output size)."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


class _Pad2d(nn.Module):
    """Padding given per side (left, right, top, bottom) with a constant, before a layer."""

    def __init__(self, pads: tuple[int, int, int, int], value: float) -> None:
        super().__init__()
        self.pads, self.value = pads, value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pads, value=self.value)


def _spatial(
    cfg: dict[str, Any], h: int, w: int, kernel: tuple[int, int], strides: tuple[int, int]
) -> tuple[tuple[int, int, int, int], int, int]:
    """(left, right, top, bottom) padding and output size of a windowed layer."""
    if cfg.get('padding', 'valid') == 'valid':
        return (0, 0, 0, 0), (h - kernel[0]) // strides[0] + 1, (w - kernel[1]) // strides[1] + 1
    top, bottom, oh = same_pad(h, kernel[0], strides[0])
    left, right, ow = same_pad(w, kernel[1], strides[1])
    return (left, right, top, bottom), oh, ow


def _check_plain(cfg: dict[str, Any], name: str) -> None:
    if tuple(cfg.get('dilation_rate', (1, 1))) != (1, 1):
        raise ModelError(f'layer {name}: dilated convolutions are not supported')
    if cfg.get('data_format', 'channels_last') != 'channels_last':
        raise ModelError(f'layer {name}: only channels_last Keras models are supported')


def _activation(kind: str, name: str) -> nn.Module:
    if kind == 'linear':
        return nn.Identity()
    if kind == 'relu':
        return nn.ReLU()
    if kind == 'softmax':
        return nn.Softmax(dim=1)
    raise ModelError(f'layer {name}: activation {kind!r} is not supported')


def _conv(pads: tuple[int, int, int, int], conv: nn.Conv2d, act: nn.Module) -> nn.Module:
    """Conv with its padding: symmetric padding inside the conv, asymmetric as a pad layer."""
    left, right, top, bottom = pads
    if left == right and top == bottom:
        conv.padding = (top, left)
        return nn.Sequential(conv, act)
    return nn.Sequential(_Pad2d(pads, 0.0), conv, act)


class KerasGraph(nn.Module):
    """Frozen eval-mode torch twin of a Keras functional model (channels_last, one input).

    `forward(x)` takes float [N, C, H, W] at the model's input size and returns the tensors of
    the layers named in `outputs` (default: the model's output layer), in that order.
    """

    def __init__(
        self,
        config: dict[str, Any],
        weights: dict[str, np.ndarray],
        outputs: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__()
        body = config.get('config', config)
        self.layer_cfgs: list[dict[str, Any]] = body['layers']
        self.order: list[tuple[str, str, tuple[str, ...]]] = []  # (name, class, inbound)
        shapes: dict[str, tuple[int, int, int]] = {}  # name -> (C, H, W)
        self.layers = nn.ModuleDict()
        self.input_name = ''
        for layer in self.layer_cfgs:
            kind, name, cfg = layer['class_name'], layer['name'], layer['config']
            if kind not in SUPPORTED:
                raise ModelError(f'layer {name}: Keras {kind} is not supported here')
            inbound = (
                tuple(n[0] for n in layer['inbound_nodes'][0]) if layer['inbound_nodes'] else ()
            )
            if kind == 'InputLayer':
                _, h, w, c = cfg['batch_input_shape']
                shapes[name] = (c, h, w)
                self.input_name = name
                self.order.append((name, kind, ()))
                continue
            c, h, w = shapes[inbound[0]]
            module, shapes[name] = self._build(kind, name, cfg, weights, c, h, w)
            self.layers[name] = module
            self.order.append((name, kind, inbound))
        self.shapes = shapes
        self.input_shape = shapes[self.input_name]
        self.outputs = outputs or tuple(n[0] for n in body['output_layers'])
        for n in self.outputs:
            if n not in shapes:
                raise ModelError(f'no layer called {n!r} in the Keras model')
        self.eval()
        self.requires_grad_(False)

    @staticmethod
    def _param(weights: dict[str, np.ndarray], name: str, param: str) -> torch.Tensor:
        key = f'{name}/{param}'
        if key not in weights:
            raise ModelError(f'the weight file has no {key}')
        return torch.from_numpy(np.ascontiguousarray(weights[key], dtype=np.float32))

    def _build(
        self,
        kind: str,
        name: str,
        cfg: dict[str, Any],
        weights: dict[str, np.ndarray],
        c: int,
        h: int,
        w: int,
    ) -> tuple[nn.Module, tuple[int, int, int]]:
        """One layer's torch module, with its weights, and its output shape (C, H, W)."""
        p = self._param
        if kind in ('Conv2D', 'SeparableConv2D'):
            _check_plain(cfg, name)
            k, s = tuple(cfg['kernel_size']), tuple(cfg['strides'])
            pads, oh, ow = _spatial(cfg, h, w, k, s)
            f, bias = int(cfg['filters']), bool(cfg['use_bias'])
            act = _activation(cfg.get('activation', 'linear'), name)
            if kind == 'Conv2D':
                conv = nn.Conv2d(c, f, k, s, bias=bias)
                conv.weight.data = p(weights, name, 'kernel').permute(3, 2, 0, 1).contiguous()
                if bias:
                    conv.bias.data = p(weights, name, 'bias')
                return _conv(pads, conv, act), (f, oh, ow)
            m = int(cfg.get('depth_multiplier', 1))
            dw = nn.Conv2d(c, c * m, k, s, groups=c, bias=False)
            # Keras depthwise (kh, kw, C, M): output channel c*M + m, as torch's groups=C.
            dk = p(weights, name, 'depthwise_kernel').permute(2, 3, 0, 1)
            dw.weight.data = dk.reshape(c * m, 1, k[0], k[1]).contiguous()
            pw = nn.Conv2d(c * m, f, 1, bias=bias)
            pw.weight.data = p(weights, name, 'pointwise_kernel').permute(3, 2, 0, 1).contiguous()
            if bias:
                pw.bias.data = p(weights, name, 'bias')
            return nn.Sequential(_conv(pads, dw, nn.Identity()), pw, act), (f, oh, ow)
        if kind == 'BatchNormalization':
            if cfg.get('axis', -1) not in (-1, 3):
                raise ModelError(f'layer {name}: BatchNorm over axis {cfg["axis"]} unsupported')
            bn = nn.BatchNorm2d(c, eps=float(cfg['epsilon']))
            bn.weight.data = p(weights, name, 'gamma') if cfg.get('scale', True) else torch.ones(c)
            bn.bias.data = p(weights, name, 'beta') if cfg.get('center', True) else torch.zeros(c)
            bn.running_mean.data = p(weights, name, 'moving_mean')
            bn.running_var.data = p(weights, name, 'moving_variance')
            return bn, (c, h, w)
        if kind == 'Activation':
            return _activation(cfg['activation'], name), (c, h, w)
        if kind == 'MaxPooling2D':
            _check_plain(cfg, name)
            k, s = tuple(cfg['pool_size']), tuple(cfg['strides'] or cfg['pool_size'])
            pads, oh, ow = _spatial(cfg, h, w, k, s)
            pool = nn.MaxPool2d(k, s)
            if any(pads):
                return nn.Sequential(_Pad2d(pads, float('-inf')), pool), (c, oh, ow)
            return pool, (c, oh, ow)
        if kind == 'Add':
            return nn.Identity(), (c, h, w)
        # GlobalAveragePooling2D
        return nn.Flatten(), (c, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The wanted layers' outputs for float input [N, C, H, W]."""
        out: dict[str, torch.Tensor] = {self.input_name: x}
        for name, kind, inbound in self.order[1:]:
            if kind == 'Add':
                y = out[inbound[0]]
                for other in inbound[1:]:
                    y = y + out[other]
            elif kind == 'GlobalAveragePooling2D':
                y = out[inbound[0]].mean(dim=(2, 3))
            else:
                y = self.layers[name](out[inbound[0]])
            out[name] = y
        return tuple(out[n] for n in self.outputs)
