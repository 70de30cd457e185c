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
"""Every case of the bad-input corpus through the real pipeline, one after another.

No exception escapes, each case is counted under its named cause, every skip cause is logged
once (and never with frame bytes or transcript text), and good frames after each bad case
are processed.
"""

from __future__ import annotations

import logging

import pytest

from st_f2m_ros.evaluation.bad_inputs import (
    CASES,
    PipelineRunner,
    diagnostic_key,
    live_cases,
)
from st_f2m_ros.runtime.inference.recognizer import Recognizer
from st_f2m_ros.runtime.pipeline.pipeline import PerceptionPipeline, PipelineConfig


def test_the_corpus_is_big_and_named() -> None:
    assert len(CASES) >= 40 and len(live_cases()) >= 15
    assert len({c.name for c in CASES}) == len(CASES)
    assert all(c.causes for c in CASES)


@pytest.fixture(scope='module')
def runner(torch_backend):
    pipe = PerceptionPipeline(Recognizer(torch_backend), PipelineConfig(subject_id='p01'))
    r = PipelineRunner(pipe)
    r.good_frames(20)
    return r


@pytest.mark.parametrize('case', CASES, ids=[c.name for c in CASES])
def test_bad_case_is_counted_and_good_frames_follow(runner, case, caplog) -> None:
    pipe = runner.pipe
    before = pipe.stats.snapshot()
    with caplog.at_level(logging.WARNING, logger='st_f2m_ros'):
        runner.case(case)  # raises if anything escapes
    after = pipe.stats.snapshot()
    for cause in case.causes:
        key = diagnostic_key(cause)
        assert after.get(key, 0) > before.get(key, 0), (key, before.get(key), after.get(key))
    good = runner.good_frames(8)
    assert all(o.skipped is None for o in good), [o.skipped for o in good]
    assert all(o.observation is not None for o in good)
    for rec in caplog.records:  # the log names causes and sizes, never content
        msg = rec.getMessage()
        assert len(msg) < 400 and 'lorem' not in msg and 'still here' not in msg


def test_each_cause_logged_once(torch_backend, caplog) -> None:
    pipe = PerceptionPipeline(Recognizer(torch_backend))
    r = PipelineRunner(pipe)
    with caplog.at_level(logging.WARNING, logger='st_f2m_ros'):
        for case in CASES[:30]:
            r.case(case)
            r.case(case)  # twice: still one line per cause
    lines = [rec.getMessage() for rec in caplog.records if 'input skipped' in rec.getMessage()]
    causes = [line.split('(')[1].split(')')[0] for line in lines]
    assert sorted(causes) == sorted(set(causes))
    assert set(causes) == {k for k in pipe.stats.skipped}
