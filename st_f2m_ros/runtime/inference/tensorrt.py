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
"""The TensorRT backend: a TensorRT engine for the per-frame encoder (Jetson, desktop GPUs).

Split from backends.py by concern: everything TensorRT-version specific is here. The API
calls follow the TensorRT Python reference (Builder.create_network, OnnxParser,
execute_async_v3): implicit batch networks are gone in TensorRT 10, while 8.x (JetPack 6)
still needs the EXPLICIT_BATCH flag for ONNX models (`network_flags`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from st_f2m_ros.errors import ConfigError, ModelError
from st_f2m_ros.runtime.inference.backends import (
    COMPONENT_INPUTS,
    ENCODER_FILE,
    OnnxBackend,
    component_feed,
)


class TensorRTBackend(OnnxBackend):
    """TensorRT engine for the per-frame encoder, ONNX Runtime for the window classifier.

    The engine is built from `encoder.onnx` on first use, on the configured device (`cuda:N`),
    and cached next to it as `encoder.<gpu name>.plan` (FP16 where the GPU supports it; an
    engine is specific to a GPU model). Raises ModelError where TensorRT or a CUDA
    device is missing: use the onnx or torch backend there.
    """

    name = 'tensorrt'
    max_batch = 64

    def __init__(
        self, export_dir: str | Path, num_threads: int | None = None, device: str = 'cuda'
    ) -> None:
        self.device = cuda_device(device)  # set before the base class builds the encoder
        super().__init__(export_dir, num_threads=num_threads)

    def _make_encoder(self, num_threads: int | None, providers: list[str] | None) -> Any:
        try:
            import tensorrt as trt
            import torch
        except ImportError as err:
            raise ModelError(
                'the tensorrt backend needs the tensorrt Python package and a CUDA build of '
                'PyTorch (on a Jetson: JetPack); use --backend onnx or torch here'
            ) from err
        if not torch.cuda.is_available():
            raise ModelError('the tensorrt backend needs a CUDA GPU; use --backend onnx here')
        index = int(self.device.split(':')[1]) if ':' in self.device else 0
        if index >= torch.cuda.device_count():
            raise ModelError(
                f'device {self.device} not found ({torch.cuda.device_count()} CUDA devices)'
            )
        self._trt, self._cuda = trt, torch
        # An engine is built for, and runs on, one GPU: the configured one, not device 0.
        with torch.cuda.device(index):
            plan = self.export_dir / f'encoder.{torch.cuda.get_device_name(index)}.plan'
            plan = plan.with_name(plan.name.replace(' ', '_').replace('/', '_'))
            logger = trt.Logger(trt.Logger.WARNING)
            if not plan.is_file():
                plan_bytes = self._build_plan(trt, logger)
                tmp = plan.with_suffix('.plan.tmp')
                tmp.write_bytes(plan_bytes)
                tmp.replace(plan)
            engine = trt.Runtime(logger).deserialize_cuda_engine(plan.read_bytes())
            if engine is None:
                raise ModelError(f'cannot load the TensorRT engine {plan}; delete it to rebuild')
            self._engine = engine
            self._context = engine.create_execution_context()
        return None

    def _build_plan(self, trt: Any, logger: Any) -> bytes:
        builder = trt.Builder(logger)
        network = builder.create_network(network_flags(trt))
        parser = trt.OnnxParser(network, logger)
        onnx_path = self.export_dir / ENCODER_FILE
        if not parser.parse(onnx_path.read_bytes()):
            errors = '; '.join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ModelError(f'TensorRT cannot parse {onnx_path}: {errors}')
        config = builder.create_builder_config()
        if builder.platform_has_fast_fp16:
            config.set_flag(trt.BuilderFlag.FP16)
        s = self.crop_size
        profile = builder.create_optimization_profile()
        profile.set_shape('crops', (1, s, s, 3), (8, s, s, 3), (self.max_batch, s, s, 3))
        if self.component_input:  # the front end's measured components (STF2MConfig)
            for name in COMPONENT_INPUTS:
                profile.set_shape(name, (1, 12), (8, 12), (self.max_batch, 12))
        config.add_optimization_profile(profile)
        plan = builder.build_serialized_network(network, config)
        if plan is None:
            raise ModelError(f'TensorRT failed to build an engine from {onnx_path}')
        return bytes(plan)

    def encode_frames(
        self,
        crops: np.ndarray,
        components: np.ndarray | None = None,
        reliable: np.ndarray | None = None,
    ) -> np.ndarray:
        """Per-frame features through the TensorRT engine, in chunks of `max_batch`."""
        torch = self._cuda
        dev = torch.device(self.device)
        extra = component_feed(len(crops), components, reliable) if self.component_input else {}
        outs = []
        for i in range(0, len(crops), self.max_batch):
            x = torch.from_numpy(np.ascontiguousarray(crops[i : i + self.max_batch])).to(dev)
            self._context.set_input_shape('crops', tuple(x.shape))
            self._context.set_tensor_address('crops', x.data_ptr())
            keep = []  # the extra inputs must live until the engine has run
            for name, arr in extra.items():
                t = torch.from_numpy(np.ascontiguousarray(arr[i : i + self.max_batch])).to(dev)
                self._context.set_input_shape(name, tuple(t.shape))
                self._context.set_tensor_address(name, t.data_ptr())
                keep.append(t)
            shape = tuple(self._context.get_tensor_shape('features'))
            y = torch.empty(shape, dtype=torch.float32, device=dev)
            self._context.set_tensor_address('features', y.data_ptr())
            stream = torch.cuda.current_stream(dev)
            if not self._context.execute_async_v3(stream.cuda_stream):
                raise ModelError('TensorRT execution failed')
            stream.synchronize()
            outs.append(y.cpu().numpy())
        return np.concatenate(outs) if outs else np.zeros((0,), dtype=np.float32)


def network_flags(trt: Any) -> int:
    """`create_network` flags: EXPLICIT_BATCH before TensorRT 10, nothing from 10 on.

    TensorRT 8.x (JetPack 6 ships 8.6) creates an implicit-batch network from 0, which the
    ONNX parser rejects; TensorRT 10 networks are always explicit batch and the flag is
    deprecated (ignored, later removed).
    """
    major = int(str(getattr(trt, '__version__', '0')).split('.')[0] or 0)
    flag = getattr(getattr(trt, 'NetworkDefinitionCreationFlag', None), 'EXPLICIT_BATCH', None)
    if major < 10 and flag is not None:
        return 1 << int(flag)
    return 0


def cuda_device(device: str) -> str:
    """The CUDA device of a backend setting: 'cuda' / 'cuda:N' (TensorRT has no CPU mode)."""
    d = (device or 'cuda').strip().lower()
    if d == 'cpu':
        d = 'cuda'  # the node's default device: TensorRT always runs on a GPU
    if not (d == 'cuda' or (d.startswith('cuda:') and d[5:].isdigit())):
        raise ConfigError(f'the tensorrt backend needs device cuda or cuda:N, got {device!r}')
    return d
