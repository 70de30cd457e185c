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
"""One .tflite model on ai-edge-litert (LiteRT), the only run-time dependency of the face models.

MediaPipe's detector and mesh files run on LiteRT's interpreter directly, so neither
mediapipe nor TensorFlow is needed on the robot. LiteRT's XNNPACK delegate handles the
full-range detector's sparse weights. An interpreter is not thread-safe: each thread that
runs a model needs its own `LiteRTModel`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from st_f2m_ros.errors import ModelError


class LiteRTModel:
    """A loaded .tflite file with one float32 input; `run(x)` returns every output, by index.

    Args:
        path: the .tflite file (normally from `st_f2m_ros.models.model_path`).
        num_threads: CPU threads for this interpreter (1 keeps the nodes' budget predictable).
    """

    def __init__(self, path: str | os.PathLike[str], num_threads: int = 1) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as err:
            raise ModelError(
                'the face models need the ai-edge-litert package: pip install ai-edge-litert'
            ) from err
        self.path = Path(path)
        try:
            self._interp = Interpreter(model_path=str(self.path), num_threads=int(num_threads))
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise ModelError(f'{self.path}: cannot load as a LiteRT model ({err})') from err
        inputs = self._interp.get_input_details()
        if len(inputs) != 1:
            raise ModelError(f'{self.path}: expected one input tensor, found {len(inputs)}')
        self._input = int(inputs[0]['index'])
        self.input_shape: tuple[int, ...] = tuple(int(d) for d in inputs[0]['shape'])
        details = self._interp.get_output_details()
        self._outputs = [int(d['index']) for d in details]
        self.output_shapes: list[tuple[int, ...]] = [
            tuple(int(d) for d in det['shape']) for det in details
        ]

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """Run on a float32 input of `input_shape`; return copies of the outputs."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.shape != self.input_shape:
            raise ModelError(f'{self.path.name}: input {x.shape}, expected {self.input_shape}')
        self._interp.set_tensor(self._input, x)
        self._interp.invoke()
        return [self._interp.get_tensor(i).copy() for i in self._outputs]

    def output_by_size(self, outputs: list[np.ndarray], size: int) -> np.ndarray:
        """The output whose element count is `size` (output order differs between files)."""
        for out in outputs:
            if out.size == size:
                return out
        raise ModelError(f'{self.path.name}: no output of {size} values')
