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
"""What the perception node does per frame, without rclpy: session from the node's parameters,
frames through the real pipeline, results converted to EmotionSequence and CDR round-tripped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from st_f2m_ros.interfaces import typestore
from st_f2m_ros.ros.params import defaults
from st_f2m_ros.runtime.messages import convert as m
from st_f2m_ros.runtime.session import build_session


@pytest.fixture
def checkpoint(tiny_checkpoint: Path) -> Path:
    """The shared small random checkpoint (test/conftest.py)."""
    return tiny_checkpoint


@pytest.mark.parametrize('distro', ['humble', 'jazzy'])
def test_node_path_frames_to_messages(checkpoint: Path, tmp_path: Path, distro: str) -> None:
    torch.set_num_threads(2)
    values = {
        **defaults(),
        'checkpoint': str(checkpoint),
        'adaptation_store': str(tmp_path / 'store'),
        'subject_id': 'p07',
    }
    session = build_session(values, 'p07')
    store = typestore(distro)
    kit = m.MessageKit.from_typestore(store)
    published = []
    rng = np.random.default_rng(0)
    try:
        for i in range(40):  # 2 s at 20 fps, rgb8 like many camera drivers
            stamp = 1_700_000_000.0 + i * 0.05
            frame = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
            out = session.pipeline.process_image(
                stamp, 'rgb8', 120, 160, 480, 0, frame.tobytes(), frame_id='cam'
            )
            res = out.result
            if res is not None:
                msg = m.sequence_to_msg(kit, res)
                data = store.serialize_cdr(msg, 'st_f2m_ros/msg/EmotionSequence')
                back = store.deserialize_cdr(bytes(data), 'st_f2m_ros/msg/EmotionSequence')
                published.append((stamp, back))
        bad = session.pipeline.process_image(5.0, 'weird16', 2, 2, 4, 0, b'\0' * 8)
        assert bad.result is None and bad.skipped  # bad input is counted, never raised
        reports = session.pipeline.stats.reports(
            session.recognizer.model_id, session.manager.state, stale=False
        )
        diag = m.diagnostics_to_msg(kit, 1_700_000_002.0, reports)
        store.serialize_cdr(diag, 'diagnostic_msgs/msg/DiagnosticArray')
    finally:
        session.close()
    assert published, 'no EmotionSequence from 2 s of frames'
    for stamp, seq in published:
        assert abs(m.stamp_to_seconds(seq.header.stamp) - stamp) < 1e-6  # input stamp copied
        assert seq.subject_id == 'p07' and seq.model_id.startswith('tiny_stf2m')
        assert len(seq.class_labels) == 19
        for st in seq.states:
            if st.status != st.STATUS_OK:
                assert st.emotion == st.UNKNOWN
    values = {kv.key: kv.value for kv in diag.status[0].values}
    assert int(values['frames_total']) == 41
    assert any(k.startswith('skipped_') for k in values)


def test_live_parameter_changes_reach_the_session(checkpoint: Path, tmp_path: Path) -> None:
    from st_f2m_ros.errors import StF2MError
    from st_f2m_ros.runtime.session import apply_live_params

    values = {**defaults(), 'checkpoint': str(checkpoint), 'adaptation_store': ''}
    session = build_session(values, 'p07')
    try:
        pipeline = session.pipeline
        before = pipeline.post.config
        changes = {
            'min_confidence': 0.7,
            'stale_timeout': 3.0,
            'publish_debug_image': True,  # the node's, not the session's
            'face_detect_every': 9,
            'face_target': 'largest',
            'max_clips': 7,
            'max_clip_bytes': 4096,
            'default_inner_steps': 3,
            'support_clips_are_crops': True,
        }
        applied = apply_live_params(session, changes)
        assert sorted(applied) == sorted(set(changes) - {'publish_debug_image'})
        assert pipeline.post.config.confidence_threshold == pytest.approx(0.7)
        assert pipeline.post.config is not before and before.confidence_threshold != 0.7
        assert pipeline.config.stale_timeout == 3.0
        assert pipeline.tracker.config.detect_every == 9
        assert pipeline.tracker.config.target == 'largest'
        s = session.manager.settings
        assert (s.max_clips, s.limits.max_file_bytes, s.default_inner_steps) == (7, 4096, 3)
        assert s.clips_are_crops is True
        assert session.manager.store is None
        # refused as a whole: nothing of the batch applied
        with pytest.raises(StF2MError):
            apply_live_params(session, {'min_confidence': 0.2, 'default_inner_steps': 10**6})
        assert pipeline.post.config.confidence_threshold == pytest.approx(0.7)
        assert session.manager.settings.default_inner_steps == 3
    finally:
        session.close()
