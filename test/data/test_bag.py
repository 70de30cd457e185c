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
"""rosbag2 writer and reader: round trips through rosbags with the package's definitions."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from ruamel.yaml import YAML

from st_f2m_ros.cli.main import main
from st_f2m_ros.data.bag_reader import BagReader, labels_at
from st_f2m_ros.data.bag_writer import DEFAULT_START, BagTopics, write_synthetic_bag
from st_f2m_ros.data.synthetic import SyntheticConfig, SyntheticSession, make_subjects
from st_f2m_ros.errors import DataError
from st_f2m_ros.taxonomy import CLASS_LABELS

SMALL = SyntheticConfig(width=160, height=120, duration=2.0)


def _session(k: int, seed: int = 0, duration: float = 2.0) -> SyntheticSession:
    person = make_subjects(k + 1, seed)[k]
    return SyntheticSession(person, SMALL, seed, 0, start_time=DEFAULT_START + k * duration)


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_round_trip_raw_images_transcripts_and_ground_truth(tmp_path: Path, storage: str) -> None:
    bag = tmp_path / 'bag'
    summary = write_synthetic_bag(
        bag,
        subjects=2,
        duration=2.0,
        seed=0,
        config=SMALL,
        storage=storage,
        transcript_type='both',
    )
    assert summary.frames == 120
    sessions = [_session(0), _session(1)]
    with BagReader(bag) as r:
        assert r.topics == {
            '/camera/image_raw': 'sensor_msgs/msg/Image',
            '/emotion/ground_truth': 'st_f2m_ros/msg/EmotionSequence',
            '/speech/transcript': 'std_msgs/msg/String',
            '/speech/transcript_stamped': 'st_f2m_ros/msg/Transcript',
        }
        images = list(r.images())
        assert len(images) == 120
        expected_times = np.concatenate([s.times for s in sessions])
        np.testing.assert_allclose([m.stamp for m in images], expected_times, atol=1e-6)
        np.testing.assert_allclose([m.log_time for m in images], expected_times, atol=1e-6)
        m = images[75]
        assert (m.msg.encoding, m.msg.height, m.msg.width, m.msg.step) == ('bgr8', 120, 160, 480)
        assert m.msg.header.frame_id == 'camera'
        np.testing.assert_array_equal(
            m.msg.data.reshape(120, 160, 3), sessions[1].render(15).image
        )
        # Ground truth: one state per segment, labels identical to the generator's.
        truth = r.ground_truth()
        assert {s.subject for s in truth} == {'s000', 's001'}
        np.testing.assert_array_equal(
            labels_at(truth, expected_times), np.concatenate([s.labels for s in sessions])
        )
        assert all(s.label == CLASS_LABELS[s.class_id] for s in truth)
        # Transcripts: the stamped type is preferred and keeps the utterance span.
        spoken = list(r.transcripts())
        want = [u for s in sessions for u in s.utterances]
        assert [t.text for t in spoken] == [u.text for u in want]
        for t, u in zip(spoken, want):
            assert t.start == pytest.approx(u.start, abs=1e-6)
            assert t.end == pytest.approx(u.end, abs=1e-6) == pytest.approx(t.stamp, abs=1e-6)
        plain = list(r.transcripts('/speech/transcript'))
        assert [t.text for t in plain] == [u.text for u in want]


def test_metadata_is_version_8_with_string_qos(tmp_path: Path) -> None:
    write_synthetic_bag(tmp_path / 'b', duration=0.5, config=SMALL)
    meta = YAML(typ='safe').load((tmp_path / 'b' / 'metadata.yaml').read_text())
    info = meta['rosbag2_bagfile_information']
    assert info['version'] == 8 and info['storage_identifier'] == 'mcap'
    for topic in info['topics_with_message_count']:
        qos = topic['topic_metadata']['offered_qos_profiles']
        assert isinstance(qos, str), 'Humble needs offered_qos_profiles as a YAML string'
        profiles = YAML(typ='safe').load(qos)
        assert profiles[0]['reliability'] == 1 and profiles[0]['history'] == 1
    assert (tmp_path / 'b' / 'b.mcap').is_file()


def test_rgb8_and_compressed_images(tmp_path: Path) -> None:
    write_synthetic_bag(
        tmp_path / 'rgb', duration=0.2, config=SMALL, encoding='rgb8', transcript_type='string'
    )
    write_synthetic_bag(
        tmp_path / 'jpg', duration=0.2, config=SMALL, encoding='jpeg', storage='sqlite3'
    )
    frame = _session(0).render(3).image
    with BagReader(tmp_path / 'rgb') as r:
        m = list(r.images())[3]
        assert m.msg.encoding == 'rgb8'
        np.testing.assert_array_equal(m.msg.data.reshape(120, 160, 3)[:, :, ::-1], frame)
        assert r.topics['/speech/transcript'] == 'std_msgs/msg/String'
    with BagReader(tmp_path / 'jpg') as r:
        assert r.topics['/camera/image_raw/compressed'] == 'sensor_msgs/msg/CompressedImage'
        m = list(r.images())[3]
        assert m.msg.format.endswith('jpeg compressed bgr8')
        decoded = cv2.imdecode(np.frombuffer(m.msg.data, np.uint8), cv2.IMREAD_COLOR)
        assert np.abs(decoded.astype(int) - frame).mean() < 6


def test_custom_topics_and_corruption(tmp_path: Path) -> None:
    topics = BagTopics(image='/cam/raw', transcript='/asr', ground_truth='/gt', frame_id='head')
    cfg = SyntheticConfig(width=160, height=120, duration=0.5)
    write_synthetic_bag(tmp_path / 'c', duration=0.5, config=cfg, topics=topics)
    with BagReader(tmp_path / 'c') as r:
        assert set(r.topics) == {'/cam/raw', '/asr', '/gt'}
        assert next(r.images()).msg.header.frame_id == 'head'


def test_reader_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DataError, match='not found'):
        BagReader(tmp_path / 'missing').open()
    (tmp_path / 'junk').mkdir()
    (tmp_path / 'junk' / 'metadata.yaml').write_text('not: [a bag')
    with pytest.raises(DataError, match='junk'):
        BagReader(tmp_path / 'junk').open()
    write_synthetic_bag(tmp_path / 'ok', duration=0.2, config=SMALL)
    with BagReader(tmp_path / 'ok') as r, pytest.raises(DataError, match='no topic /nope'):
        list(r.images('/nope'))
    with pytest.raises(DataError, match='exists'):
        write_synthetic_bag(tmp_path / 'ok', duration=0.2, config=SMALL)


def test_make_bag_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / 'cli'
    assert (
        main(
            [
                'make-bag',
                '--out',
                str(out),
                '--duration',
                '0.5',
                '--resolution',
                '160x120',
                '--storage',
                'sqlite3',
                '--corrupt',
                'mask:0.3',
                '--fps',
                '10',
            ]
        )
        == 0
    )
    assert '5 frames' in capsys.readouterr().out
    with BagReader(out) as r:
        stamps = [m.stamp for m in r.images()]
    np.testing.assert_allclose(np.diff(stamps), 0.1, atol=1e-6)
    assert main(['make-bag', '--out', str(out)]) == 1
    assert 'exists' in capsys.readouterr().err
