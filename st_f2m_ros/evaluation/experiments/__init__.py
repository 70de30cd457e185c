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
"""The paper's experiments (issue 10) on the synthetic benchmark: `st-f2m experiment`.

`budget` (how big a run is), `features` (people rendered and encoded once, cached),
`methods` (ST-F2M, ablations, baselines, trained above the frozen encoder), `protocol` (each
unseen person read before and after adapting to them), `runner` (which experiment runs what),
`report` / `figures` (tables, RESULTS.md blocks, plots).
"""
