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
"""The embedded default job end to end on short recordings (what make demo runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from st_f2m_ros.cli import main as cli


@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / 'demo'
    status = cli.main(['demo', '--out', str(out), '--seconds', '8', '--support-seconds', '12'])
    assert status == 0
    printed = capsys.readouterr().out
    assert 'fine accuracy (19)' in printed and 'adapted' in printed
    report = json.loads((out / 'report.json').read_text())
    adaptation = report['adaptation']
    assert adaptation['model_id'].endswith('+p07@v1')
    assert adaptation['clips_used'] >= 2
    assert adaptation['support_accuracy_after'] >= adaptation['support_accuracy_before']
    for run in ('base', 'adapted'):
        fine = report[run]['fine']
        assert report[run]['messages'] > 10
        assert 0.0 <= fine['accuracy'] <= 1.0 and fine['n'] == report[run]['messages']
    for name in ('confusion_base', 'confusion_adapted', 'timeline', 'contact_sheet'):
        assert (out / f'{name}.png').stat().st_size > 10_000
    # the adaptation was persisted like /adapt does
    assert list((out / 'adaptations' / 'p07').glob('v0001.*'))
