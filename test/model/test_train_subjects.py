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
"""`data.train_subjects`: a reduced budget keeps the full recipe's held-out people.

Why it matters: a small run is only comparable with the shipped checkpoint when both are
validated on the same people, and those must be unseen by both.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.meta.train_config import load_train_config, train_config_from_dict
from st_f2m_ros.meta.train_setup import subject_split, synthetic_ids
from st_f2m_ros.model.checkpoint import DEFAULT_CHECKPOINT, read_metadata

ROOT = Path(__file__).resolve().parents[2]


def test_reduced_budget_keeps_the_shipped_held_out_people() -> None:
    cfg = load_train_config(ROOT / 'config' / 'train_realface.yaml')
    assert cfg.model.backbone == 'fer_mini_xception' and cfg.data.train_subjects > 0
    train, val = subject_split(cfg, synthetic_ids(cfg))
    shipped_val = read_metadata(DEFAULT_CHECKPOINT)['val_subjects'].split(',')
    assert val == shipped_val
    assert len(train) == cfg.data.train_subjects and not set(train) & set(val)
    full = train_config_from_dict({**cfg.to_dict(), 'data': {**cfg.to_dict()['data'],
                                                             'train_subjects': 0}})  # fmt: skip
    full_train, full_val = subject_split(full, synthetic_ids(full))
    assert full_val == val and set(train) <= set(full_train) and len(full_train) == 220


def test_negative_train_subjects_is_refused() -> None:
    with pytest.raises(ConfigError, match='train_subjects'):
        train_config_from_dict({'data': {'train_subjects': -1}})
