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
"""The replay soak (benchmarks/soak.py) at 20 s: memory flat, every window accounted for."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _soak_module():
    spec = importlib.util.spec_from_file_location('soak', ROOT / 'benchmarks' / 'soak.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_expected_windows_rule() -> None:
    soak = _soak_module()
    fps15 = [100 + i / 15 for i in range(31)]  # 2 s: first window at 100.875, then every 0.25
    assert soak.expected_windows(fps15, 1.0, 0.125, 0.25, 0.5) == 5
    two_runs = fps15 + [110 + i / 15 for i in range(31)]  # a gap restarts the window
    assert soak.expected_windows(two_runs, 1.0, 0.125, 0.25, 0.5) == 10


@pytest.mark.slow
def test_short_soak(tmp_path: Path, tiny_checkpoint: Path) -> None:
    soak = _soak_module()
    bag = soak.write_bag(tmp_path / 'session', 20.0, 15.0, 320, 240)
    out = soak.soak(bag, checkpoint=str(tiny_checkpoint), threads=1, warmup=5.0)
    assert out['frames'] == 300 and out['frames_skipped'] == {}
    assert out['windows_accounted'], out
    assert out['windows_produced'] >= 70 and out['results_published'] >= 70
    assert out['rss_mb_end'] - out['rss_mb_after_warmup'] < 40, out['rss_samples']
