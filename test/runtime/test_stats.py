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
"""The one statistics class behind /diagnostics: keys, rolling rates, levels, thread safety."""

from __future__ import annotations

import threading

import pytest

from st_f2m_ros.runtime.pipeline.stats import OncePerCause, PerceptionStats


def test_fps_latency_face_rate_and_one_set_of_keys() -> None:
    s = PerceptionStats(horizon=10.0)
    for i in range(31):  # 30 fps for 1 s, face in 2 of 3 frames
        s.received()
        s.frame(i % 3 != 0, latency=0.002, now=100.0 + i / 30.0)
    for ms in range(1, 101):
        s.window(ms / 1000.0, now=101.0)
    s.received()
    s.skip('image_encoding')
    s.skip('transcript_flood', 3)
    snap = s.snapshot(101.0)
    assert snap['fps'] == pytest.approx(30.0)
    assert snap['face_found_rate'] == pytest.approx(20 / 31)
    assert snap['latency_p50_ms'] == pytest.approx(50.5)
    assert snap['latency_p95_ms'] == pytest.approx(95.05)
    assert snap['frame_latency_p50_ms'] == pytest.approx(2.0)
    assert snap['frames_total'] == 32 and snap['frames_processed'] == 31
    assert snap['dropped_total'] == 1 == s.frame_skips()
    assert snap['skipped_image_encoding'] == 1 and snap['skipped_transcript_flood'] == 3
    assert snap['skipped_total'] == 4 and snap['windows_total'] == 100
    perception, adaptation = s.reports('m+p07@v2', 'adapted p07@v2', stale=False, now=101.0)
    assert perception.level == 'OK' and perception.values['model_id'] == 'm+p07@v2'
    assert 'model_id' not in adaptation.values  # once in the whole array
    assert not any('window_latency' in k for k in perception.values)  # one latency family
    assert s.reports('m', 'base model', stale=True, now=101.0)[0].level == 'STALE'
    failed = s.reports('m', 'base model (p07: persisted adaptation rejected)', False, now=101.0)
    assert failed[1].level == 'WARN'


def test_rolling_window_forgets_old_samples_and_low_fps_warns() -> None:
    s = PerceptionStats(horizon=10.0, min_fps_warn=5.0)
    s.frame(True, 0.01, now=0.0)
    s.frame(True, 0.01, now=1.0)
    assert s.reports('m', 'base model', stale=False, now=1.0)[0].level == 'WARN'
    s.window(0.5, now=1.0)
    assert s.snapshot(20.0)['latency_p95_ms'] == 0.0  # older than the horizon
    assert s.snapshot(20.0)['frames_processed'] == 2  # totals stay


def test_writers_and_a_reader_on_threads() -> None:
    s = PerceptionStats()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            s.snapshot()

    t = threading.Thread(target=read)
    t.start()
    try:
        for _ in range(5000):
            s.received()
            s.frame(True, 0.001)
            s.skip('stamp_zero')
    finally:
        stop.set()
        t.join()
    assert s.snapshot()['frames_processed'] == 5000 and s.skipped['stamp_zero'] == 5000


def test_once_per_cause() -> None:
    o = OncePerCause(period=60.0)
    assert o.should_log('encoding', 0.0)
    assert not o.should_log('encoding', 30.0)
    assert o.should_log('step', 30.0)
    assert o.should_log('encoding', 61.0)
