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
"""Bags of a named person: the same person across bags, a different script per clip index."""

from __future__ import annotations

from pathlib import Path

from st_f2m_ros.data.bag_reader import BagReader
from st_f2m_ros.data.bag_writer import write_synthetic_bag
from st_f2m_ros.data.synthetic import SyntheticConfig


def _truth(path: Path) -> list[tuple[float, int]]:
    with BagReader(path) as bag:
        return [(round(s.start - 1.7e9, 3), s.class_id) for s in bag.ground_truth()]


def test_named_person_and_clip_index(tmp_path: Path) -> None:
    cfg = SyntheticConfig(width=160, height=120)
    a = write_synthetic_bag(tmp_path / 'a', subject_ids=['p07'], duration=6.0, seed=3,
                            config=cfg)
    b = write_synthetic_bag(tmp_path / 'b', subject_ids=['p07'], duration=6.0, seed=3,
                            config=cfg)
    c = write_synthetic_bag(tmp_path / 'c', subject_ids=['p07'], duration=6.0, seed=3,
                            config=cfg, clip_index=1)
    assert a.frames == b.frames == c.frames == 180
    assert _truth(a.path) == _truth(b.path)  # deterministic
    assert _truth(a.path) != _truth(c.path)  # another recording of the person
    with BagReader(a.path) as bag:
        subjects = {s.subject for s in bag.ground_truth()}
    assert subjects == {'p07'}
