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
"""CPU threading policy for inference on a robot whose cores are shared with other nodes.

OpenMP (PyTorch) and ONNX Runtime worker threads spin while waiting for work by default. On an
idle machine that saves microseconds; on a robot, where the perception node shares two cores
with the camera driver, speech recognition and navigation, spinning threads steal the cores
they wait for and throughput collapses (measured here under load: eager PyTorch 15 -> 125
frames/s, ONNX Runtime 92 -> 283 frames/s with passive waiting; benchmarks/bench_pipeline.py).
OpenMP reads its policy once, when the library loads, so this must run before `import torch`.
ONNX Runtime sessions get `allow_spinning = 0` in runtime/inference/backends.py.
"""

from __future__ import annotations

import os
import sys


def prefer_passive_threads() -> bool:
    """Make OpenMP threads sleep instead of spin unless the user chose otherwise.

    Returns False when torch is already imported (too late to take effect).
    """
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    return 'torch' not in sys.modules
