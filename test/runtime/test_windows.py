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
"""Window scheduling by message stamps: regular streams, jitter, out-of-order, gaps, bursts."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st
import numpy as np
import pytest

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.runtime.pipeline.windows import WindowConfig, WindowScheduler


def _run(stamps, **kw):
    s = WindowScheduler(WindowConfig(**kw))
    return s, [w for w in map(s.push, stamps) if w is not None]


def test_regular_stream_gives_a_window_every_hop():
    stamps = np.arange(0, 3.0, 1 / 30)
    s, wins = _run(stamps, length=1.0, hop=0.25, frames=8)
    ends = np.array([w.end for w in wins])
    # first window once T frames' worth of time has passed, then every 0.25 s
    assert ends[0] == pytest.approx(0.9, abs=1 / 30)
    np.testing.assert_allclose(np.diff(ends), 0.25, atol=1 / 30 + 1e-9)
    assert len(wins) == 9
    for w in wins:
        assert w.end in stamps  # windows end at an input stamp
        np.testing.assert_allclose(np.diff(w.targets), 0.125)
        # targets on the sampling grid anchored at the first frame, the last within a frame
        assert 0 <= w.end - w.targets[-1] < 1 / 30 + 1e-9 and w.start == w.targets[0]
        np.testing.assert_allclose(w.targets / 0.125, np.round(w.targets / 0.125), atol=1e-9)
    # consecutive windows share their sampled frames (so each is encoded once)
    assert len(set(wins[0].targets.round(6)) & set(wins[1].targets.round(6))) == 6
    assert not s.skipped


def test_out_of_order_and_duplicate_stamps_are_refused():
    s, _ = _run([0.0, 0.1, 0.05, 0.1, float('nan'), 0.2], length=0.4, hop=0.1, frames=4)
    assert s.skipped['out_of_order'] == 3
    assert s.last_stamp == 0.2


def test_gap_restarts_the_window():
    stamps = list(np.arange(0, 1.5, 0.05)) + list(np.arange(3.0, 4.5, 0.05))
    s, wins = _run(stamps, length=1.0, hop=0.25, frames=8, max_gap=0.5)
    assert s.skipped['gap'] == 1
    after = [w for w in wins if w.end >= 3.0]
    assert after[0].end >= 3.0 + 0.875 - 1e-9  # needs a full window of new frames
    assert all(w.start >= 2.0 for w in after)


def test_burst_after_a_stall_emits_one_window_not_a_backlog():
    stamps = [*np.arange(0, 1.2, 0.04), 1.6, *np.arange(1.601, 1.8, 0.01)]
    s, wins = _run(stamps, length=1.0, hop=0.1, frames=8, max_gap=0.5)
    late = [w for w in wins if w.end >= 1.6]
    assert late[0].end == 1.6
    assert s.skipped['behind'] >= 2
    assert all(b.end - a.end >= 0.1 - 1e-9 for a, b in itertools.pairwise(late))


@given(st.lists(st.floats(0.001, 0.3), min_size=1, max_size=200))
def test_windows_never_closer_than_half_a_hop(gaps):
    stamps = np.cumsum(gaps)
    _, wins = _run(stamps, length=0.5, hop=0.2, frames=5, max_gap=0.25)
    ends = [w.end for w in wins]
    assert ends == sorted(ends)
    assert all(b - a >= 0.1 - 1e-6 for a, b in itertools.pairwise(ends))
    assert len(ends) <= (stamps[-1] - stamps[0]) / 0.2 + 1


def test_bad_config():
    with pytest.raises(ConfigError, match='hop'):
        WindowScheduler(WindowConfig(length=1.0, hop=2.0))


def test_grid_points_announce_the_sampled_frames():
    s = WindowScheduler(WindowConfig(length=1.0, hop=0.25, frames=8))
    s.push(10.0)
    assert s.grid_points(10.0, 10.3) == pytest.approx([10.125, 10.25])
    assert s.grid_points(10.3, 10.3) == []
    stamps = [10.0 + i / 30 for i in range(1, 60)]
    wins = [w for w in map(s.push, stamps) if w is not None]
    announced = set(np.round(s.grid_points(9.99, stamps[-1]), 6))
    assert all(set(np.round(w.targets, 6)) <= announced for w in wins)


def test_due_predicts_push():
    s = WindowScheduler(WindowConfig(length=0.5, hop=0.25, frames=4))
    for i in range(40):
        t = i / 30
        predicted = s.due(t)
        assert predicted == (s.push(t) is not None)
