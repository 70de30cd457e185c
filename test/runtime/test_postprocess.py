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
"""Temporal post-processing: merging, hysteresis (no flicker), abstain, no face, stale."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.runtime.pipeline.postprocess import (
    PostprocessConfig,
    TemporalPostprocessor,
    WindowDecisionInput,
)
from st_f2m_ros.runtime.pipeline.results import (
    STATUS_LOW_CONFIDENCE,
    STATUS_NO_FACE,
    STATUS_OK,
    STATUS_STALE,
    UNKNOWN,
)
from st_f2m_ros.taxonomy import class_id

HOP = 0.25
ANGER_M, ANGER_H = class_id('anger', 'medium'), class_id('anger', 'high')
HAPPY_H = class_id('happiness', 'high')


def probs(**mass: float) -> np.ndarray:
    """Class probabilities with given mass on named classes, the rest spread evenly."""
    p = np.zeros(19)
    ids = {k: int(k[1:]) for k in mass}
    for k, v in mass.items():
        p[ids[k]] = v
    rest = 1.0 - p.sum()
    free = [i for i in range(19) if i not in ids.values()]
    p[free] += rest / len(free)
    return p


def feed(post, seq, t0=0.0):
    out = None
    for i, p in enumerate(seq):
        end = t0 + 1.0 + i * HOP
        out = post.update(WindowDecisionInput(end - 1.0, end, p, np.zeros(12), 0.5, 1))
    return out


def test_consecutive_windows_merge_into_one_state():
    post = TemporalPostprocessor()
    states = feed(post, [probs(c0=0.9)] * 10)
    assert len(states) == 1
    s = states[0]
    assert s.status == STATUS_OK and s.class_id == 0 and s.emotion == 0  # neutral
    assert (s.start, s.end) == (0.0, pytest.approx(1.0 + 9 * HOP))


def test_close_classes_alternating_do_not_flicker():
    post = TemporalPostprocessor()
    a = {f'c{ANGER_M}': 0.5, f'c{ANGER_H}': 0.4}
    b = {f'c{ANGER_M}': 0.4, f'c{ANGER_H}': 0.5}
    seq = [probs(**(a if i % 2 else b)) for i in range(40)]
    states = feed(post, seq)
    assert len(states) == 1  # one anger segment, no switching back and forth


def test_raw_argmax_would_have_flickered():
    # Same input without smoothing, hysteresis or minimum duration does flicker: the test above
    # can fail.
    cfg = PostprocessConfig(smoothing=1.0, hysteresis=0.0, switch_margin=0.0, min_segment=0.0)
    post = TemporalPostprocessor(cfg)
    a = {f'c{ANGER_M}': 0.5, f'c{ANGER_H}': 0.4}
    b = {f'c{ANGER_M}': 0.4, f'c{ANGER_H}': 0.5}
    states = feed(post, [probs(**(a if i % 2 else b)) for i in range(20)])
    assert len(states) > 10


def test_real_change_switches_after_min_segment_and_is_backdated():
    post = TemporalPostprocessor(PostprocessConfig(min_segment=0.5))
    seq = [probs(c0=0.9)] * 8 + [probs(**{f'c{HAPPY_H}': 0.9})] * 8
    states = feed(post, seq)
    assert [s.class_id for s in states] == [0, HAPPY_H]
    first, second = states
    assert first.end == second.start
    change = 1.0 + 7 * HOP  # end of the last neutral window
    assert change <= second.start <= change + 2 * HOP


def test_a_blip_shorter_than_min_segment_is_ignored():
    post = TemporalPostprocessor(PostprocessConfig(min_segment=1.0, smoothing=1.0))
    seq = [probs(c0=0.9)] * 6 + [probs(**{f'c{HAPPY_H}': 0.9})] * 2 + [probs(c0=0.9)] * 6
    assert [s.class_id for s in feed(post, seq)] == [0]


def test_low_confidence_abstains_with_unknown_emotion():
    post = TemporalPostprocessor(PostprocessConfig(confidence_threshold=0.4))
    flat = np.full(19, 1 / 19)
    states = feed(post, [flat] * 5)
    s = states[-1]
    assert s.status == STATUS_LOW_CONFIDENCE and s.emotion == UNKNOWN
    assert s.confidence < 0.4


def test_no_face_is_immediate():
    post = TemporalPostprocessor(PostprocessConfig(min_segment=2.0))
    feed(post, [probs(**{f'c{HAPPY_H}': 0.9})] * 5)
    states = post.update(WindowDecisionInput(1.25, 2.25, None))
    assert states[-1].status == STATUS_NO_FACE and states[-1].emotion == UNKNOWN
    assert states[-2].class_id == HAPPY_H


def test_stale_replaces_the_last_emotion_at_once():
    post = TemporalPostprocessor()
    feed(post, [probs(**{f'c{HAPPY_H}': 0.9})] * 5)
    states = post.stale(2.0, 3.5)
    assert states[-1].status == STATUS_STALE and states[-1].emotion == UNKNOWN
    assert states[-1].start == 2.0 and states[-1].end == 3.5
    assert states[-1].confidence == 0.0


def test_nan_probabilities_abstain():
    post = TemporalPostprocessor()
    states = feed(post, [np.full(19, np.nan)])
    assert states[-1].status == STATUS_LOW_CONFIDENCE


def test_history_is_bounded():
    post = TemporalPostprocessor(PostprocessConfig(min_segment=0.0, smoothing=1.0, history=3.0))
    seq = [probs(**{f'c{1 + (i // 2) % 18}': 0.9}) for i in range(80)]
    states = feed(post, seq)
    assert states[-1].end - states[0].end <= 3.0 + HOP


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 18), min_size=1, max_size=60), st.floats(0.3, 0.95))
def test_states_are_ordered_and_contiguous(classes, peak):
    post = TemporalPostprocessor()
    states = feed(post, [probs(**{f'c{c}': peak}) for c in classes])
    for a, b in itertools.pairwise(states):
        assert a.end <= b.start + 1e-9 and a.start < a.end
    for s in states:
        assert s.class_probabilities.sum() == pytest.approx(1.0, abs=1e-4)
        assert (s.emotion == UNKNOWN) == (s.status != STATUS_OK)


def test_bad_config():
    with pytest.raises(ConfigError, match='smoothing'):
        TemporalPostprocessor(PostprocessConfig(smoothing=0.0))
