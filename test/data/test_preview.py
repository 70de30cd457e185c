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
"""`st-f2m preview`: the contact sheet and timeline PNGs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from st_f2m_ros.cli.main import main
from st_f2m_ros.data.preview import contact_sheet, save_timeline, sheet_columns
from st_f2m_ros.data.synthetic import SyntheticConfig, SyntheticSession, make_subject
from st_f2m_ros.taxonomy import NUM_CLASSES


def test_contact_sheet_rows_differ_by_class_and_columns_by_corruption() -> None:
    sheet = contact_sheet(make_subject('s000'), seed=0, tile=48)
    cols = sheet_columns()
    assert sheet.shape == (28 + NUM_CLASSES * 48, 150 + len(cols) * 48, 3)

    def tile(r: int, c: int) -> np.ndarray:
        return sheet[28 + r * 48 : 28 + (r + 1) * 48, 150 + c * 48 : 150 + (c + 1) * 48]

    neutral, surprise = tile(0, 0).astype(int), tile(NUM_CLASSES - 1, 0).astype(int)
    assert np.abs(neutral - surprise).mean() > 1.0
    fog = [tile(0, c).std() for c in (0, 1, 2, 3)]  # clean, fog 10/30/50 %: less contrast
    assert fog[0] > fog[1] > fog[2] > fog[3]


@pytest.mark.slow
def test_timeline_png_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sess = SyntheticSession(
        make_subject('s001'), SyntheticConfig(duration=4.0, width=320, height=240), seed=2
    )
    path = save_timeline(sess, tmp_path / 'timeline.png', thumbnails=4)
    img = cv2.imread(str(path))
    assert img is not None and img.shape[0] > 400 and img.shape[1] > 800 and img.std() > 20
    assert main(['preview', '--out', str(tmp_path / 'p'), '--duration', '2', '--tile', '32']) == 0
    assert {p.name for p in (tmp_path / 'p').iterdir()} == {
        'contact_s000.png',
        'timeline_s000.png',
    }
    assert main(['preview', '--out', str(tmp_path / 'p'), '--tile', '8']) == 1
    assert '--tile' in capsys.readouterr().err
