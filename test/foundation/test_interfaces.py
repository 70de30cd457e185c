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
"""The .msg/.srv files parse with rosidl and rosbags, and survive CDR round trips."""

from __future__ import annotations

import os
from pathlib import Path

import _checks
import numpy as np
import pytest
import yaml

from st_f2m_ros import interfaces, taxonomy

ROOT = _checks.ROOT
REQUIRE_TOOLS = os.environ.get('ST_F2M_REQUIRE_ROS_TOOLS') == '1'
ALL = [f'msg/{m}' for m in interfaces.MESSAGES] + [f'srv/{s}' for s in interfaces.SERVICES]


def _need_rosidl() -> None:
    if not _checks.rosidl_available():
        if REQUIRE_TOOLS:
            pytest.fail('python3-rosidl is required here (ST_F2M_REQUIRE_ROS_TOOLS=1)')
        pytest.skip('Debian python3-rosidl not installed (make ros-tools installs it)')


@pytest.fixture(scope='module')
def rosidl_doc() -> dict:
    _need_rosidl()
    return _checks.rosidl_parse(ROOT)


def _rosbags_fields(store, name: str) -> list[str]:
    fields = store.types[name].__dataclass_fields__
    return [f for f in fields if not f.isupper() and not f.startswith('__')]


def test_every_interface_file_is_known() -> None:
    on_disk = {f'msg/{p.stem}' for p in (ROOT / 'msg').glob('*.msg')}
    on_disk |= {f'srv/{p.stem}' for p in (ROOT / 'srv').glob('*.srv')}
    assert on_disk == set(ALL)


def test_rosidl_parses_every_interface(rosidl_doc: dict) -> None:
    assert set(rosidl_doc) == set(ALL)


@pytest.mark.parametrize('distro', interfaces.DISTROS)
def test_rosidl_and_rosbags_agree_on_fields(rosidl_doc: dict, distro: str) -> None:
    store = interfaces.typestore(distro)
    for key, doc in rosidl_doc.items():
        kind, name = key.split('/')
        if kind == 'msg':
            halves = {f'st_f2m_ros/msg/{name}': doc}
        else:
            halves = {f'st_f2m_ros/srv/{name}_Request': doc['request'],
                      f'st_f2m_ros/srv/{name}_Response': doc['response']}
        for type_name, struct in halves.items():
            assert _rosbags_fields(store, type_name) == [m for m, _ in struct['members']]
            consts = {k: getattr(store.types[type_name], k) for k in struct['constants']}
            assert consts == struct['constants']


def test_rosidl_catches_a_type_typo(tmp_path: Path) -> None:
    _need_rosidl()
    broken = _checks.copy_package(ROOT, tmp_path / 'pkg')
    path = broken / 'msg' / 'EmotionState.msg'
    path.write_text(path.read_text().replace('float32 confidence', 'flaot32 confidence'))
    with pytest.raises(RuntimeError, match='rosidl rejected'):
        _checks.rosidl_parse(broken)


def test_rosidl_catches_a_backslash_in_a_comment(tmp_path: Path) -> None:
    # A line continuation in a comment breaks rosidl's IDL template (seen on Adapt.srv).
    _need_rosidl()
    broken = _checks.copy_package(ROOT, tmp_path / 'pkg')
    path = broken / 'srv' / 'Adapt.srv'
    path.write_text('# ros2 service call /adapt \\\n' + path.read_text())
    with pytest.raises(RuntimeError, match='rosidl rejected'):
        _checks.rosidl_parse(broken)


def test_adapt_command_line_needs_only_subject_and_uris(rosidl_doc: dict) -> None:
    # ros2 service call /adapt st_f2m_ros/srv/Adapt "{subject_id: 'p07', clip_uris: [...]}"
    given = yaml.safe_load("{subject_id: 'p07', clip_uris: ['/data/p07/support.mcap']}")
    request = rosidl_doc['srv/Adapt']['request']
    names = [m for m, _ in request['members']]
    assert set(given) <= set(names)
    assert request['defaults'] == {'inner_steps': 0, 'persist': True}


def test_emotion_state_constants_match_taxonomy() -> None:
    state = interfaces.typestore('humble').types['st_f2m_ros/msg/EmotionState']
    for name, eid in taxonomy.EMOTION_IDS.items():
        assert getattr(state, name.upper()) == eid
    assert state.UNKNOWN == taxonomy.UNKNOWN_EMOTION_ID
    for name, iid in taxonomy.INTENSITY_IDS.items():
        assert getattr(state, f'INTENSITY_{name.upper()}') == iid
    for i, comp in enumerate(taxonomy.COMPONENTS):
        assert getattr(state, f'COMPONENT_{comp.upper()}') == i
    assert state.NUM_COMPONENTS == taxonomy.NUM_COMPONENTS
    assert state.MODALITY_VISION == taxonomy.MODALITY_VISION
    assert state.MODALITY_TEXT == taxonomy.MODALITY_TEXT


# --- CDR round trips with realistic content -----------------------------------------------

def _messages(store) -> dict[str, object]:
    t = store.types
    time = t['builtin_interfaces/msg/Time']
    header = t['std_msgs/msg/Header'](stamp=time(sec=1732490000, nanosec=123456789),
                                      frame_id='head_camera')
    probs = np.full(taxonomy.NUM_CLASSES, 0.01, dtype=np.float32)
    probs[taxonomy.class_id('anger', 'high')] = 1.0 - 0.01 * (taxonomy.NUM_CLASSES - 1)
    comps = np.linspace(-1, 1, taxonomy.NUM_COMPONENTS).astype(np.float32)
    state_cls = t['st_f2m_ros/msg/EmotionState']
    state = state_cls(
        start=time(sec=1732489999, nanosec=0), end=time(sec=1732490000, nanosec=123456789),
        emotion=state_cls.ANGER, emotion_label='anger', intensity=state_cls.INTENSITY_HIGH,
        intensity_value=0.87, class_id=taxonomy.class_id('anger', 'high'),
        class_label='anger_high', confidence=float(probs.max()), class_probabilities=probs,
        components=comps, modalities=state_cls.MODALITY_VISION | state_cls.MODALITY_TEXT,
        status=state_cls.STATUS_OK,
        component_reliable=np.array([True] * 7 + [False] * 3 + [True] * 2),
        components_measured=True,
    )
    sequence = t['st_f2m_ros/msg/EmotionSequence'](
        header=header, subject_id='p07', model_id='st_f2m_synth_v1+p07@v3',
        class_labels=list(taxonomy.CLASS_LABELS), states=[state, state], window_size=1.0,
        window_hop=0.25, processing_latency=0.018,
    )
    image = t['sensor_msgs/msg/Image'](
        header=header, height=4, width=6, encoding='bgr8', is_bigendian=0, step=18,
        data=np.arange(72, dtype=np.uint8),
    )
    jpeg = t['sensor_msgs/msg/CompressedImage'](
        header=header, format='jpeg', data=np.frombuffer(b'\xff\xd8\xff\xe0', np.uint8),
    )
    clip = t['st_f2m_ros/msg/SupportClip'](
        label='happiness_medium', frames=[image, image], compressed_frames=[jpeg],
        transcript='that is wonderful news',
    )
    transcript = t['st_f2m_ros/msg/Transcript'](
        header=header, text='I am fine, thank you', speaker_id='voice_3', confidence=0.92,
        start=time(sec=1732489998, nanosec=500000000), end=time(sec=1732490000, nanosec=0),
        is_final=True,
    )
    adapt_req = t['st_f2m_ros/srv/Adapt_Request'](
        subject_id='p07', clips=[clip], clip_uris=['/data/p07/support.mcap'], inner_steps=10,
        persist=True,
    )
    adapt_res = t['st_f2m_ros/srv/Adapt_Response'](
        success=True, message='adapted on 30 clips', model_id='st_f2m_synth_v1+p07@v3',
        clips_used=30, support_accuracy_before=0.41, support_accuracy_after=0.93,
        duration=1.42,
    )
    reset_req = t['st_f2m_ros/srv/ResetAdaptation_Request'](subject_id='p07',
                                                             delete_persisted=False)
    reset_res = t['st_f2m_ros/srv/ResetAdaptation_Response'](
        success=True, message='base model in use', model_id='st_f2m_synth_v1')
    return {
        'st_f2m_ros/msg/EmotionState': state,
        'st_f2m_ros/msg/EmotionSequence': sequence,
        'st_f2m_ros/msg/SupportClip': clip,
        'st_f2m_ros/msg/Transcript': transcript,
        'st_f2m_ros/srv/Adapt_Request': adapt_req,
        'st_f2m_ros/srv/Adapt_Response': adapt_res,
        'st_f2m_ros/srv/ResetAdaptation_Request': reset_req,
        'st_f2m_ros/srv/ResetAdaptation_Response': reset_res,
    }


def _equal(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_equal, a, b))
    if hasattr(a, '__dataclass_fields__'):
        return type(a).__name__ == type(b).__name__ and all(
            _equal(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__
        )
    if isinstance(a, float):
        return np.float32(a) == np.float32(b)
    return a == b


@pytest.mark.parametrize('distro', interfaces.DISTROS)
def test_cdr_round_trip(distro: str) -> None:
    store = interfaces.typestore(distro)
    for name, msg in _messages(store).items():
        raw = store.serialize_cdr(msg, name)
        back = store.deserialize_cdr(raw, name)
        assert _equal(msg, back), name


def test_fixed_component_array_is_enforced() -> None:
    store = interfaces.typestore('humble')
    state = _messages(store)['st_f2m_ros/msg/EmotionState']
    state.components = np.zeros(5, dtype=np.float32)
    with pytest.raises(Exception):  # noqa: B017 - rosbags raises its own error types
        store.serialize_cdr(state, 'st_f2m_ros/msg/EmotionState')
