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
"""Stamp rules: one wild stamp never stops perception; a real timeline change is followed.

Table-driven over `StampGate` (the rule) and then through the real pipeline (the effect):
the frames after a zero, negative, repeated, backwards or far-future stamp are processed,
each outlier is counted under its cause, and a camera restart or a looped bag is taken once
a few frames agree. `InputClock` maps the node clock onto the stamps (bag play without
--clock).
"""

from __future__ import annotations

import numpy as np
import pytest

from st_f2m_ros.runtime.inference.recognizer import Recognizer
from st_f2m_ros.runtime.pipeline.pipeline import PerceptionPipeline, PipelineConfig
from st_f2m_ros.runtime.pipeline.results import STATUS_STALE
from st_f2m_ros.runtime.pipeline.timeline import (
    ACCEPT,
    RESTART,
    SKIP,
    InputClock,
    StampConfig,
    StampGate,
)

B = 1_700_000_000.0  # a bag's epoch
F = 1 / 30  # frame period


def run(stamps, arrivals=None, config=None):
    gate = StampGate(config)
    arrivals = arrivals or [None] * len(stamps)
    return [gate.check(s, a) for s, a in zip(stamps, arrivals)]


# (name, stamps, expected verdicts: 'a' accept, 'r' restart, or the skip cause)
CASES = [
    ('first frame starts the timeline', [B], ['r']),
    ('steady 30 fps', [B, B + F, B + 2 * F], ['r', 'a', 'a']),
    ('zero stamp (unset header)', [B, 0.0, B + F], ['r', 'stamp_zero', 'a']),
    ('negative stamp', [B, -5.0, B + F], ['r', 'stamp_negative', 'a']),
    ('nan stamp', [B, float('nan'), B + F], ['r', 'stamp_nonfinite', 'a']),
    ('inf stamp', [B, float('inf'), B + F], ['r', 'stamp_nonfinite', 'a']),
    ('beyond int32 seconds', [B, 2.0**31, B + F], ['r', 'stamp_out_of_range', 'a']),
    ('repeated stamp', [B, B, B + F], ['r', 'stamp_repeated', 'a']),
    ('one backwards frame', [B, B + F, B - 60, B + 2 * F], ['r', 'a', 'stamp_backwards', 'a']),
    ('one slightly late frame', [B, B + 2 * F, B + F, B + 3 * F],
     ['r', 'a', 'stamp_backwards', 'a']),
    ('one far-future frame', [B, B + F, B + 1e6, B + 2 * F, B + 3 * F],
     ['r', 'a', 'stamp_jump', 'a', 'a']),
    ('two far-future frames that agree are not yet a timeline',
     [B, B + 1e6, B + 1e6 + F, B + F], ['r', 'stamp_jump', 'stamp_jump', 'a']),
    ('bag looped: stamps go back by its length',
     [B + 5, B + 5 + F, B, B + F, B + 2 * F, B + 3 * F],
     ['r', 'a', 'stamp_backwards', 'stamp_backwards', 'r', 'a']),
    ('camera restarted with a reset clock', [B, B + F, 12.0, 12.0 + F, 12.0 + 2 * F],
     ['r', 'a', 'stamp_backwards', 'stamp_backwards', 'r']),
    ('gap under max_jump is normal time', [B, B + 9.0], ['r', 'a']),
    ('zero stamps between agreeing candidates do not break them',
     [B, B - 100, 0.0, B - 100 + F, B - 100 + 2 * F],
     ['r', 'stamp_backwards', 'stamp_zero', 'stamp_backwards', 'r']),
]  # fmt: skip


@pytest.mark.parametrize(('stamps', 'expected'), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_stamp_gate_table(stamps, expected) -> None:
    got = [
        {ACCEPT: 'a', RESTART: 'r'}[verdict] if verdict != SKIP else cause
        for verdict, cause in run(stamps)
    ]
    assert got == expected


def test_a_long_camera_pause_is_normal_time_when_arrival_agrees() -> None:
    # 30 s without frames, then the camera comes back: stamps and arrival moved together.
    got = run([B, B + F, B + 30.0], arrivals=[500.0, 500.0 + F, 530.0])
    assert [v for v, _ in got] == [RESTART, ACCEPT, ACCEPT]
    # Without arrival times the same jump needs `confirm` frames to agree.
    got = run([B, B + F, B + 30.0, B + 30 + F, B + 30 + 2 * F])
    assert [v for v, _ in got] == [RESTART, ACCEPT, SKIP, SKIP, RESTART]


def test_confirm_is_configurable() -> None:
    got = run([B, B - 50, B - 50 + F], config=StampConfig(confirm=2))
    assert [v for v, _ in got] == [RESTART, SKIP, RESTART]


def test_input_clock_live_replay_and_restart() -> None:
    c = InputClock(max_skew=5.0)
    assert c.now(1000.0) == 1000.0 and not c.anchored  # before any input: the node clock
    c.observe(999.9, 1000.0)  # live: stamps agree with the node clock
    assert c.now(1002.0) == 1002.0
    r = InputClock(max_skew=5.0)
    r.observe(50.0, 1000.0)  # a bag from the past, replayed without --clock
    assert r.now(1000.5) == pytest.approx(50.5)
    r.observe(49.0, 1000.6)  # an older stamp does not move the clock back ...
    assert r.now(1001.0) == pytest.approx(51.0)
    r.observe(10.0, 1002.0, restart=True)  # ... unless the timeline restarted (bag looped)
    assert r.now(1003.0) == pytest.approx(11.0)


# ------------------------------------------------------------------ through the pipeline


@pytest.fixture
def pipe(torch_backend) -> PerceptionPipeline:
    return PerceptionPipeline(Recognizer(torch_backend), PipelineConfig(subject_id='p01'))


def feed(pipe, frames, stamps, arrivals=None):
    arrivals = arrivals or [None] * len(stamps)
    return [
        pipe.process_bgr(s, frames[i % len(frames)], arrival=a)
        for i, (s, a) in enumerate(zip(stamps, arrivals))
    ]


@pytest.mark.parametrize(
    ('wild', 'cause'),
    [(0.0, 'stamp_zero'), (B - 3600, 'stamp_backwards'), (B + 1e7, 'stamp_jump'),
     (None, 'stamp_repeated'), (-1.0, 'stamp_negative')],
    ids=['zero', 'backwards', 'far-future', 'repeated', 'negative'],
)  # fmt: skip
def test_one_wild_stamp_does_not_stop_perception(pipe, face_frames, wild, cause) -> None:
    good = [B + i * F for i in range(90)]
    stamps = [*good[:30], good[29] if wild is None else wild, *good[30:]]
    outs = feed(pipe, face_frames, stamps)
    assert outs[30].skipped == cause
    after = [o for o in outs[31:] if o.result is not None]
    assert len(after) >= 7  # 2 s of frames after the outlier: windows every 0.25 s
    assert all(o.skipped is None for o in outs[31:])
    assert pipe.stats.skipped == {cause: 1}


def test_looped_bag_is_followed_after_a_few_frames(pipe, face_frames) -> None:
    lap = [B + i * F for i in range(60)]
    outs = feed(pipe, face_frames, lap + lap)
    second = outs[60:]
    assert [o.skipped for o in second[:2]] == ['stamp_backwards'] * 2
    assert all(o.skipped is None for o in second[2:])
    results = [o.result for o in second if o.result is not None]
    assert len(results) >= 3 and all(B <= r.stamp <= lap[-1] for r in results)
    assert pipe.stats.restarts == 1


@pytest.mark.parametrize(
    ('delay', 'bag_epoch'),
    [(2.0, B), (300.0, B), (300.0, 1_780_000_010.0)],
    ids=['2s-after', '5min-after', 'recorded-while-node-ran'],
)
def test_bag_played_into_a_running_node_without_clock(pipe, face_frames, delay, bag_epoch):
    """The node clock is 'now' (2026); the bag's stamps are older; the node ticks first."""
    node0 = 1_780_000_000.0
    for k in range(int(delay / 0.2)):  # ticks before the bag: silence reported, in node time
        pipe.tick(node0 + 0.2 * k)
    assert pipe.stats.stale >= 1
    stale_before = pipe.stats.stale
    results = []
    B = bag_epoch  # noqa: N806 (the module's B, per case)
    for i in range(90):  # 3 s of bag at real-time pace, starting at node0 + delay
        arrival = node0 + delay + i * F
        out = pipe.process_bgr(B + i * F, face_frames[i % 4], arrival=arrival)
        assert out.skipped is None, out.skipped
        if out.result is not None:
            results.append(out.result)
        if i % 6 == 0:
            tick = pipe.tick(arrival + 0.01)
            assert tick is None  # the bag flows: not stale
        if i == 45:  # a String transcript is stamped in the frames' clock
            assert abs(pipe.input_time(arrival + 0.01) - (B + i * F + 0.01)) < 1e-6
    assert len(results) >= 7 and all(B < r.stamp < B + 3 for r in results)
    assert pipe.stats.stale == stale_before
    # Silence after the bag is reported again, in the bag's clock.
    stale = pipe.tick(node0 + delay + 89 * F + 1.5)
    assert stale is not None and stale.current.status == STATUS_STALE
    assert B + 3 < stale.stamp < B + 5


def test_wild_transcript_stamp_does_not_declare_stale(pipe, face_frames) -> None:
    feed(pipe, face_frames, [B + i * F for i in range(30)])
    assert pipe.on_transcript(B + 1e6, 'hello there') is None  # buffered, no STALE
    assert pipe.on_transcript(0.0, 'hello') == 'transcript_stamp_zero'
    outs = feed(pipe, face_frames, [B + (30 + i) * F for i in range(30)])
    assert all(o.skipped is None for o in outs)
    assert any(o.result is not None for o in outs)


def test_transcript_flood_is_limited(pipe) -> None:
    causes = [pipe.on_transcript(B + i * 0.001, f'word {i}') for i in range(50)]
    assert causes.count(None) == 10 and causes.count('transcript_flood') == 40
    assert np.isclose(pipe.config.max_transcript_rate, 10)
