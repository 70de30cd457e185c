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
"""Message converters against the real ROS 2 definitions (rosbags type stores, CDR round trips)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from st_f2m_ros.errors import PerceptionError
from st_f2m_ros.interfaces import interface_types, typestore
from st_f2m_ros.perception.image_convert import bgr_to_image, msg_to_bgr
from st_f2m_ros.runtime.messages import convert as m
from st_f2m_ros.runtime.messages import inputs
from st_f2m_ros.runtime.messages.hri import expression_for
from st_f2m_ros.taxonomy import CLASS_LABELS, NUM_CLASSES, UNKNOWN_EMOTION_ID, class_id

DISTROS = ('humble', 'jazzy')

EXPRESSION_MSG = """
std_msgs/Header header
string NEUTRAL="neutral"
string ANGRY="angry"
string expression
float32 valence
float32 arousal
float32 confidence
"""


def _kit(distro: str) -> m.MessageKit:
    return m.MessageKit.from_typestore(typestore(distro))


def _roundtrip(store, msg):
    typename = msg.__msgtype__
    data = store.serialize_cdr(msg, typename)
    return store.deserialize_cdr(bytes(data), typename)


def _state(cid: int, start: float, status: int = 0) -> m.EmotionStateRecord:
    probs = np.full(NUM_CLASSES, 0.01, dtype=np.float32)
    probs[cid] = 1.0 - 0.01 * (NUM_CLASSES - 1)
    return m.EmotionStateRecord(
        start=start,
        end=start + 0.5,
        class_id=cid,
        confidence=float(probs[cid]),
        class_probabilities=probs,
        components=np.linspace(-1, 1, 12, dtype=np.float32),
        intensity_value=0.75,
        modalities=3,
        status=status,
    )


@pytest.mark.parametrize('distro', DISTROS)
def test_sequence_cdr_roundtrip(distro: str) -> None:
    store = typestore(distro)
    kit = _kit(distro)
    anger_high = class_id('anger', 'high')
    seq = m.EmotionSequenceRecord(
        stamp=1_700_000_000.123456789,
        subject_id='p07',
        model_id='st_f2m_synth_v1+p07@v3',
        states=[_state(0, 1_700_000_000.0), _state(anger_high, 1_700_000_000.5)],
        frame_id='camera',
        window_size=1.0,
        window_hop=0.25,
        processing_latency=0.012,
    )
    msg = m.sequence_to_msg(kit, seq)
    back = _roundtrip(store, msg)
    assert back.header.stamp.sec == 1_700_000_000
    assert abs(back.header.stamp.nanosec - 123456789) <= 256  # float64 precision at epoch
    assert back.header.frame_id == 'camera'
    assert list(back.class_labels) == list(CLASS_LABELS)
    last = back.states[-1]
    assert (last.emotion, last.intensity) == (last.ANGER, last.INTENSITY_HIGH)
    assert (last.emotion_label, last.class_label) == ('anger', 'anger_high')
    assert last.class_id == anger_high
    np.testing.assert_allclose(last.components, np.linspace(-1, 1, 12), atol=1e-6)
    assert back.states[0].emotion == back.states[0].NEUTRAL
    rec = m.sequence_from_msg(back)
    assert rec.subject_id == 'p07' and rec.model_id.endswith('@v3')
    assert rec.states[1].class_id == anger_high
    assert rec.states[1].start == pytest.approx(1_700_000_000.5, abs=1e-6)
    assert rec.window_hop == pytest.approx(0.25)


@pytest.mark.parametrize('distro', DISTROS)
def test_abstaining_state_is_unknown_never_a_guess(distro: str) -> None:
    kit = _kit(distro)
    msg = m.state_to_msg(kit, _state(class_id('fear', 'high'), 3.0, status=1))
    back = _roundtrip(typestore(distro), msg)
    assert back.emotion == UNKNOWN_EMOTION_ID == back.UNKNOWN
    assert back.intensity == back.INTENSITY_NONE
    assert back.status == back.STATUS_LOW_CONFIDENCE


def test_wrong_component_count_is_rejected() -> None:
    s = _state(1, 0.0)
    s.components = np.zeros(5, dtype=np.float32)
    with pytest.raises(PerceptionError, match='12 component'):
        m.state_to_msg(_kit('humble'), s)


@pytest.mark.parametrize('distro', DISTROS)
def test_adapt_request_and_response_roundtrip(distro: str) -> None:
    store = typestore(distro)
    t = store.types
    kit = _kit(distro)
    f = bgr_to_image(np.full((4, 6, 3), 7, dtype=np.uint8), 'rgb8')
    header = kit.header(5.5, 'cam')
    image = t['sensor_msgs/msg/Image'](
        header=header,
        height=f.height,
        width=f.width,
        encoding=f.encoding,
        is_bigendian=0,
        step=f.step,
        data=f.data,
    )
    clip = t['st_f2m_ros/msg/SupportClip'](
        label='happiness_low', frames=[image], compressed_frames=[], transcript=''
    )
    req = t['st_f2m_ros/srv/Adapt_Request'](
        subject_id='p07', clips=[clip], clip_uris=['/data/a.mcap'], inner_steps=5, persist=True
    )
    back = _roundtrip(store, req)
    raw = inputs.image_from_msg(back.clips[0].frames[0])
    assert raw.stamp == 5.5 and raw.encoding == 'rgb8'
    assert msg_to_bgr(raw).shape == (4, 6, 3)

    class Outcome:
        success = False
        message = 'no clips'
        model_id = 'base'
        clips_used = 0
        support_accuracy_before = 0.25
        support_accuracy_after = 0.5
        duration = 1.5

    resp = _roundtrip(store, m.adapt_response(kit, Outcome()))
    assert (resp.success, resp.message, resp.model_id) == (False, 'no clips', 'base')
    assert resp.support_accuracy_after == pytest.approx(0.5)
    reset = _roundtrip(store, m.reset_response(kit, True, 'ok', 'base'))
    assert reset.success and reset.model_id == 'base'


@pytest.mark.parametrize('distro', DISTROS)
def test_diagnostics_roundtrip(distro: str) -> None:
    store = typestore(distro)
    kit = _kit(distro)
    reports = [
        m.DiagnosticReport(
            'st_f2m: perception',
            'WARN',
            'low frame rate',
            values={'fps': 12.3456, 'model_id': 'x', 'dropped': 3},
        ),
        m.DiagnosticReport('st_f2m: adaptation', 'OK', 'idle'),
    ]
    back = _roundtrip(store, m.diagnostics_to_msg(kit, 10.25, reports))
    assert back.header.stamp.sec == 10 and back.header.stamp.nanosec == 250_000_000
    assert back.status[0].level == back.status[0].WARN
    assert {kv.key: kv.value for kv in back.status[0].values} == {
        'fps': '12.35',
        'model_id': 'x',
        'dropped': '3',
    }
    with pytest.raises(PerceptionError, match='level'):
        m.diagnostics_to_msg(kit, 0.0, [m.DiagnosticReport('x', 'BAD')])


@pytest.mark.parametrize('distro', DISTROS)
def test_transcript_roundtrip(distro: str) -> None:
    store = typestore(distro)
    kit = _kit(distro)
    msg = store.types['st_f2m_ros/msg/Transcript'](
        header=kit.header(12.0),
        text='hello',
        speaker_id='v1',
        confidence=0.9,
        start=kit.time(10.5),
        end=kit.time(0.0),
        is_final=True,
    )
    rec = inputs.transcript_from_msg(_roundtrip(store, msg))
    assert (rec.stamp, rec.start, rec.end, rec.text) == (12.0, 10.5, None, 'hello')
    assert inputs.transcript_from_string('hi', 3.0).stamp == 3.0


@pytest.mark.parametrize('distro', DISTROS)
def test_debug_image_roundtrip(distro: str) -> None:
    store = typestore(distro)
    bgr = np.random.default_rng(0).integers(0, 255, (8, 10, 3), dtype=np.uint8)
    back = _roundtrip(store, m.bgr_to_image_msg(_kit(distro), bgr, 1.0, 'cam'))
    np.testing.assert_array_equal(msg_to_bgr(back), bgr)


@pytest.mark.parametrize('distro', DISTROS)
def test_hri_expression_roundtrip(distro: str) -> None:
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE if distro == 'humble' else Stores.ROS2_JAZZY)
    store.register(interface_types())
    store.register(get_types_from_msg(EXPRESSION_MSG, 'hri_msgs/msg/Expression'))
    kit = m.MessageKit.from_typestore(store)
    expr = expression_for(class_id('anger', 'high'), 1.0, 0.8)
    back = _roundtrip(store, m.expression_to_msg(kit, 2.0, expr, 'face_a'))
    assert back.expression == 'furious' and back.header.frame_id == 'face_a'
    assert back.valence < 0 < back.arousal
    assert back.confidence == pytest.approx(0.8)


def test_live_speech_only_final_results() -> None:
    class Stamp:
        sec, nanosec = 0, 0

    class Header:
        stamp = Stamp()

    class Speech:
        header = Header()
        incremental = 'hel'
        final = ''
        confidence = 0.5

    assert inputs.transcript_from_live_speech(Speech(), 4.0) is None
    Speech.final = 'hello'
    rec = inputs.transcript_from_live_speech(Speech(), 4.0)
    assert rec is not None and rec.stamp == 4.0 and rec.text == 'hello'


def test_rclpy_array_adapters() -> None:
    a = m.rclpy_float_seq(np.array([0.5, 0.25]))
    assert a.typecode == 'f' and list(a) == [0.5, 0.25]
    assert m.rclpy_bytes_seq(np.array([1, 2], dtype=np.uint8)).tobytes() == b'\x01\x02'


@settings(max_examples=300, deadline=None)
@given(sec=st.integers(-(2**31) + 1, 2**31 - 2), nanosec=st.integers(0, 999_999_999))
def test_stamp_to_seconds_and_back_is_within_float_precision(sec: int, nanosec: int) -> None:
    class Stamp:
        pass

    s = Stamp()
    s.sec, s.nanosec = sec, nanosec
    t = m.stamp_to_seconds(s)
    sec2, ns2 = m.seconds_to_stamp(t)
    assert 0 <= ns2 < m.NS_PER_S
    err = abs((sec2 - sec) * m.NS_PER_S + (ns2 - nanosec))
    assert err <= max(1, math.ulp(abs(t)) * m.NS_PER_S)
    assert m.stamp_to_ns(s) == sec * m.NS_PER_S + nanosec


@settings(max_examples=300, deadline=None)
@given(t=st.floats(-1e9, 2e9, allow_nan=False))
def test_seconds_to_stamp_normalised(t: float) -> None:
    sec, ns = m.seconds_to_stamp(t)
    assert 0 <= ns < m.NS_PER_S
    assert abs(sec + ns / m.NS_PER_S - t) <= max(1e-9, 2 * math.ulp(t))


@pytest.mark.parametrize('bad', [math.nan, math.inf, 3e9])
def test_seconds_to_stamp_rejects_unrepresentable(bad: float) -> None:
    with pytest.raises(PerceptionError):
        m.seconds_to_stamp(bad)
