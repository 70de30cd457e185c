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
"""The whole perception loop: frames in, EmotionSequence results out; bad input counted."""

from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
import torch

from st_f2m_ros.interfaces import typestore
from st_f2m_ros.perception.image_convert import bgr_to_compressed, bgr_to_image
from st_f2m_ros.runtime.inference.recognizer import Recognizer
from st_f2m_ros.runtime.pipeline.pipeline import PerceptionPipeline, PipelineConfig
from st_f2m_ros.runtime.pipeline.results import (
    STATUS_LOW_CONFIDENCE,
    STATUS_NO_FACE,
    STATUS_OK,
    STATUS_STALE,
)
from st_f2m_ros.taxonomy import MODALITY_TEXT, MODALITY_VISION, class_id

T0 = 100.0  # a zero stamp is refused (an unset header), so streams start later
HAPPY_H = class_id('happiness', 'high')
SAD_L = class_id('sadness', 'low')


def forcing_head(model, cls: int) -> dict[str, torch.Tensor]:
    """Head parameters under which class `cls` always wins (a stand-in for an adaptation)."""
    params = model.head_params()
    params['head.weight'] = torch.zeros_like(params['head.weight'])
    bias = torch.zeros_like(params['head.bias'])
    bias[cls] = 20.0
    params['head.bias'] = bias
    return params


@pytest.fixture
def pipeline(torch_backend) -> PerceptionPipeline:
    return PerceptionPipeline(Recognizer(torch_backend), PipelineConfig(subject_id='p01'))


def stream(pipe, frames, n, t0=T0, fps=30.0):
    out = []
    for i in range(n):
        r = pipe.on_image(t0 + i / fps, frames[i % len(frames)])
        if r is not None:
            out.append((t0 + i / fps, r))
    return out


def test_stream_of_faces_gives_stamped_sequences(pipeline, face_frames, small_model):
    pipeline.recognizer.set_adaptation('p01', forcing_head(small_model, HAPPY_H), 3)
    out = stream(pipeline, face_frames, 90)
    assert len(out) >= 8  # 3 s at a 0.25 s hop, after the first 1 s window
    for stamp, res in out:
        assert res.stamp == stamp  # the stamp of the frame that completed the window
        assert res.subject_id == 'p01' and res.model_id == 'small-test+p01@v3'
        assert len(res.class_labels) == 19 and res.window_size == pytest.approx(1.0)
        assert res.processing_latency > 0
        cur = res.current
        assert cur.status == STATUS_OK and cur.class_id == HAPPY_H
        assert cur.class_label == 'happiness_high' and cur.emotion == 1 and cur.intensity == 3
        assert cur.modalities == MODALITY_VISION
        assert cur.end == stamp
    assert len(out[-1][1].states) == 1  # merged into one state
    s = pipeline.stats.snapshot()
    assert s['frames_total'] == s['frames_processed'] == 90 and s['face_found_rate'] == 1.0
    assert s['frames_encoded'] < 45 and s['latency_p95_ms'] > 0 and s['latency_p50_ms'] > 0
    assert s['skipped_total'] == 0 and s['windows_total'] == len(out)


def test_transcripts_add_the_text_modality(pipeline, face_frames):
    pipeline.on_transcript(T0 + 0.5, 'I am really happy to see you')
    out = stream(pipeline, face_frames, 40)
    assert out[0][1].current.modalities == MODALITY_VISION | MODALITY_TEXT
    late = stream(pipeline, face_frames, 50, t0=T0 + 40 / 30, fps=10.0)
    assert late[-1][1].current.modalities == MODALITY_VISION  # speech is in the past now


def test_no_face_gives_no_face_state(pipeline):
    blank = np.full((480, 640, 3), 120, np.uint8)
    out = stream(pipeline, [blank], 45)
    assert out and all(r.current.status == STATUS_NO_FACE for _, r in out)
    assert pipeline.stats.snapshot()['face_found_rate'] == 0.0


def test_stale_camera_is_reported_not_repeated(pipeline, face_frames, small_model):
    pipeline.recognizer.set_adaptation('p01', forcing_head(small_model, HAPPY_H), 1)
    stream(pipeline, face_frames, 45)
    last = T0 + 44 / 30
    assert pipeline.on_tick(last + 0.5) is None  # within the timeout
    res = pipeline.on_tick(last + 1.5)
    assert res is not None and res.stamp == last + 1.5
    assert res.current.status == STATUS_STALE and res.current.emotion == 255
    assert res.states[-2].class_id == HAPPY_H  # history keeps the past decision
    assert pipeline.on_tick(last + 1.55) is None  # at most one STALE per hop
    # Speech alone does not keep the camera fresh.
    assert pipeline.on_transcript(last + 2.0, 'hello') is None
    assert pipeline.on_tick(last + 2.0).current.status == STATUS_STALE
    assert pipeline.stats.stale == 2


def test_bad_input_is_counted_never_raised(pipeline, face_frames):
    img = face_frames[0]
    ok = bgr_to_image(img, 'rgb8')
    t = T0
    pipeline.process_image(t, ok.encoding, ok.height, ok.width, ok.step, 0, ok.data)
    pipeline.process_image(t + 0.1, 'bayer_xyz', 2, 2, 2, 0, bytes(4))
    pipeline.process_image(t + 0.2, 'bgr8', 480, 640, 1920, 0, bytes(100))
    pipeline.process_image(t + 0.3, 'bgr8', 0, 0, 0, 0, b'')
    pipeline.process_compressed(t + 0.4, 'jpeg', b'garbage')
    pipeline.process_bgr(t + 0.45, np.zeros((10, 10), np.uint8))
    pipeline.process_bgr(float('nan'), img)
    assert pipeline.process_bgr(t - 1.0, img).skipped == 'stamp_backwards'
    pipeline.on_image(t + 0.5, img)
    fmt, data = bgr_to_compressed(img, 'jpeg')
    out = pipeline.process_compressed(t + 0.55, fmt, data, frame_id='cam', keep_image=True)
    assert out.skipped is None and out.image is not None and out.image.shape == img.shape
    assert pipeline.on_transcript(t + 0.8, '') == 'transcript_invalid'
    assert pipeline.on_transcript(t + 0.9, 'fine', start=2.0, end=1.0) == 'transcript_invalid'
    s = pipeline.stats.snapshot()
    skipped = {k[8:]: v for k, v in s.items() if k.startswith('skipped_') and k != 'skipped_total'}
    assert skipped == {
        'image_encoding': 1, 'image_layout': 2, 'image_size': 1, 'image_decode': 1,
        'stamp_nonfinite': 1, 'stamp_backwards': 1, 'transcript_invalid': 2,
    }  # fmt: skip
    assert s['frames_total'] == 10 and s['frames_processed'] == 3 and s['dropped_total'] == 7
    assert pipeline.stats.frame_skips() == 7 and s['gaps_total'] == 0
    assert set(pipeline.errors) == set(skipped)


def test_camera_gap_restarts_windows(pipeline, face_frames):
    stream(pipeline, face_frames, 45)
    out = stream(pipeline, face_frames, 45, t0=T0 + 5.0)
    assert pipeline.stats.gaps == 1 and pipeline.stats.frame_skips() == 0
    for _, r in out:
        assert r.current.start >= T0 + 5.0 - 1e-9  # no state spans the outage
        assert all(s.end <= T0 + 44 / 30 + 1e-9 for s in r.states[:-1])


def test_every_encoding_of_a_real_message_goes_through(pipeline, face_frames):
    store = typestore('humble')
    image_t = store.types['sensor_msgs/msg/Image']
    header = store.types['std_msgs/msg/Header']
    time_t = store.types['builtin_interfaces/msg/Time']
    for i, enc in enumerate(['bgr8', 'rgb8', 'mono8', 'bgra8', 'yuv422', 'mono16', 'rgb16']):
        f = bgr_to_image(face_frames[0], enc, step=None)
        msg = image_t(
            header=header(stamp=time_t(sec=i, nanosec=0), frame_id='cam'), height=f.height,
            width=f.width, encoding=enc, is_bigendian=0, step=f.step, data=f.data,
        )  # fmt: skip
        m = store.deserialize_cdr(
            store.serialize_cdr(msg, 'sensor_msgs/msg/Image'), msg.__msgtype__
        )
        out = pipeline.process_image(
            T0 + i, m.encoding, m.height, m.width, m.step, m.is_bigendian, m.data
        )
        assert out.skipped is None and out.observation is not None
    assert pipeline.stats.processed == 7 and pipeline.stats.faces >= 6


def test_adaptation_on_another_thread_keeps_frames_flowing(pipeline, face_frames, small_model):
    heads = [forcing_head(small_model, HAPPY_H), forcing_head(small_model, SAD_L)]
    stop = threading.Event()
    swaps = 0

    def adapter():
        nonlocal swaps
        while not stop.is_set():
            pipeline.recognizer.set_adaptation('p01', heads[swaps % 2], swaps + 1)
            swaps += 1
            stop.wait(0.01)

    t = threading.Thread(target=adapter)
    t.start()
    try:
        out = stream(pipeline, face_frames, 60)
    finally:
        stop.set()
        t.join()
    assert pipeline.stats.processed == 60 and swaps > 5
    for _, r in out:
        cur = r.current
        assert cur.status in (STATUS_OK, STATUS_LOW_CONFIDENCE)
        assert '+p01@v' in r.model_id


def test_results_are_snapshots(pipeline, face_frames):
    out = stream(pipeline, face_frames, 60)
    first = out[0][1].current
    end = first.end
    stream(pipeline, face_frames, 30, t0=T0 + 2.0)
    assert first.end == end


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(-0.05, 0.2),  # jitter, duplicates and out-of-order steps
            st.floats(0.5, 3.0),  # gaps
            st.just(float('nan')),
        ),
        min_size=1,
        max_size=80,
    )
)
def test_any_stamp_sequence_is_handled(torch_backend, steps):
    pipe = PerceptionPipeline(Recognizer(torch_backend))
    frame = np.full((48, 64, 3), 100, np.uint8)
    t, newest, restarts = T0, -np.inf, 0
    for step in steps:
        stamp = float('nan') if np.isnan(step) else t + step
        res = pipe.on_image(stamp, frame)
        if not np.isnan(step):
            t = stamp
        if pipe.stats.restarts > restarts:  # a confirmed new timeline may go back in time
            newest, restarts = -np.inf, pipe.stats.restarts
        if res is not None:
            assert res.stamp == stamp and res.stamp > newest
            newest = res.stamp
        tick = pipe.on_tick(t + 1.2) if step > 0.15 else None
        assert tick is None or tick.current.status == STATUS_STALE
        for r in (res, tick):
            for a, b in zip(r.states, r.states[1:]) if r is not None else ():
                assert a.start <= a.end <= b.start + 1e-9 <= b.end + 1e-9
    s = pipe.stats.snapshot()
    assert s['frames_total'] == len(steps)
    assert s['frames_processed'] + pipe.stats.frame_skips() == len(steps)


def test_warm_up_leaves_no_trace(pipeline):
    assert pipeline.warm_up() > 0
    s = pipeline.stats.snapshot()
    assert s['frames_total'] == s['windows_total'] == s['frames_encoded'] == 0
    assert len(pipeline.cache) == 0


def test_set_subject_and_update_face_apply_live(pipeline, face_frames):
    from st_f2m_ros.errors import ConfigError

    pipeline.set_subject('p02')
    out = stream(pipeline, face_frames, 45)
    assert out and all(r.subject_id == 'p02' for _, r in out)
    pipeline.update_face(detect_every=2, target='largest')
    assert pipeline.tracker.config.detect_every == 2
    assert pipeline.tracker.config.target == 'largest'
    with pytest.raises(ConfigError):
        pipeline.update_face(detect_every=0)
    assert pipeline.tracker.config.detect_every == 2  # a refused change leaves the old one
