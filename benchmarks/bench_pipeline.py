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
"""End-to-end perception benchmark (frames/s, window latency p50/p95, during /adapt), with the
front end's stages broken out, CPU time beside wall time and the process's memory.

Same as `st-f2m bench`; arguments are passed through, e.g.

    .venv/bin/python benchmarks/bench_pipeline.py --backends torch,onnx --seconds 10 --threads 2 \
        --checkpoint st_f2m_ros/resources/st_f2m_realface.safetensors --json bench.json

The node process's own memory: benchmarks/bench_node_memory.py (ROS virtual environment).
"""

from __future__ import annotations

import sys

from st_f2m_ros.cli.main import main

if __name__ == '__main__':
    sys.exit(main(['bench', *sys.argv[1:]]))
