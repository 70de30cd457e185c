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
"""The session benchmark (issue 10 item 1), the figures of docs/RESULTS.md.

Usage: .venv/bin/python benchmarks/session_bench.py [--model PATH] [--people 20]
       [--seconds 20] [--fps 10] [--shots 1,3,5] [--noise 0.3] [--out DIR] ...

The same as `st-f2m session-bench` (all its options); kept here beside the other benchmarks so
that the headline number is found where the figures are. See `st-f2m session-bench --help`.
"""

from __future__ import annotations

import sys

from st_f2m_ros.cli.main import main

if __name__ == '__main__':
    sys.exit(main(['session-bench', *sys.argv[1:]]))
