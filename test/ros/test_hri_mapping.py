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
"""ROS4HRI expression mapping (runtime.hri_expressions): graded vocabulary, valence/arousal."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
import pytest

from st_f2m_ros.runtime.messages.hri import (
    HRI_VOCABULARY,
    expression_for,
    subject_from_tracked,
    table_is_complete,
)
from st_f2m_ros.taxonomy import EMOTIONS, NUM_CLASSES, class_id


def test_table_complete_and_in_vocabulary() -> None:
    assert table_is_complete()


@pytest.mark.parametrize(
    ('emotion', 'terms'),
    [
        ('anger', ('annoyed', 'angry', 'furious')),
        ('surprise', ('surprised', 'surprised', 'amazed')),
        ('fear', ('scared', 'scared', 'horrified')),
        ('sadness', ('disappointed', 'sad', 'despaired')),
        ('happiness', ('happy', 'happy', 'excited')),
    ],
)
def test_graded_terms(emotion: str, terms: tuple[str, str, str]) -> None:
    got = tuple(
        expression_for(class_id(emotion, k), 0.5, 0.9).expression
        for k in ('low', 'medium', 'high')
    )
    assert got == terms


def test_neutral_and_abstain() -> None:
    e = expression_for(0, 0.0, 0.8)
    assert (e.expression, e.valence, e.arousal) == ('neutral', 0.0, 0.0)
    for status in (1, 2, 3):
        assert expression_for(class_id('anger', 'high'), 1.0, 0.9, status) is None


@pytest.mark.parametrize('emotion', EMOTIONS)
def test_valence_sign_and_intensity_scaling(emotion: str) -> None:
    weak = expression_for(class_id(emotion, 'low'), 0.0, 0.9)
    strong = expression_for(class_id(emotion, 'high'), 1.0, 0.9)
    assert abs(strong.arousal) > abs(weak.arousal)
    positive = emotion in ('happiness', 'surprise')
    assert (strong.valence > 0) == positive


@given(cid=st.integers(0, NUM_CLASSES - 1), inten=st.floats(-5, 5), conf=st.floats(-1, 2))
def test_outputs_in_range(cid: int, inten: float, conf: float) -> None:
    e = expression_for(cid, inten, conf)
    assert e.expression in HRI_VOCABULARY
    assert -1.0 <= e.valence <= 1.0 and -1.0 <= e.arousal <= 1.0 and 0.0 <= e.confidence <= 1.0


def test_subject_from_tracked() -> None:
    assert subject_from_tracked(['person_a1'], 'p07') == 'person_a1'
    assert subject_from_tracked([], 'p07') == 'p07'
    assert subject_from_tracked(['a', 'b'], 'p07') == 'p07'  # ambiguous
    assert subject_from_tracked(['../x'], 'p07') == 'p07'  # not a safe id
