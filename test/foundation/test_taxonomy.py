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
"""The shared label space: ids round-trip and follow the message constants' layout."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
import pytest

from st_f2m_ros import taxonomy as tx


def test_label_space_size_and_order() -> None:
    assert tx.NUM_CLASSES == 19
    assert tx.CLASS_LABELS[0] == 'neutral'
    assert tx.CLASS_LABELS[1:4] == ('happiness_low', 'happiness_medium', 'happiness_high')
    assert tx.CLASS_LABELS[-1] == 'surprise_high'
    assert len(set(tx.CLASS_LABELS)) == tx.NUM_CLASSES
    assert tx.NUM_COMPONENTS == 12
    assert tx.UNIPOLAR_COMPONENTS <= set(tx.COMPONENTS)


@given(st.integers(min_value=0, max_value=tx.NUM_CLASSES - 1))
def test_decode_and_encode_round_trip(cid: int) -> None:
    fc = tx.decode_class(cid)
    assert tx.class_id_from_label(fc.label) == cid
    if cid == 0:
        assert (fc.emotion_id, fc.intensity_id) == (0, 0)
    else:
        assert tx.class_id(fc.emotion, fc.intensity) == cid
        assert tx.EMOTION_IDS[fc.emotion] == fc.emotion_id == tx.basic_emotion_of(cid)
        assert tx.INTENSITY_IDS[fc.intensity] == fc.intensity_id


@given(st.integers().filter(lambda i: not 0 <= i < tx.NUM_CLASSES))
def test_out_of_range_ids_are_rejected(cid: int) -> None:
    with pytest.raises(ValueError, match='out of range'):
        tx.decode_class(cid)


def test_unknown_names_say_what_is_expected() -> None:
    with pytest.raises(ValueError, match='expected one of'):
        tx.class_id('joy', 'high')
    with pytest.raises(ValueError, match='expected one of'):
        tx.class_id('anger', 'extreme')
    with pytest.raises(ValueError, match='neutral, happiness_low'):
        tx.class_id_from_label('angry')
