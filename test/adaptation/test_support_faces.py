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
"""Support frames go through the live pipeline's face stage; neutral clips set the neutral face.

Real front end (BlazeFace + mesh on LiteRT) on a real face: scikit-image's astronaut pasted
into 640x480 frames that drift a few pixels per frame, and a vertically stretched copy (other
raw measures: another "expression"). The pipelines are real `PerceptionPipeline`s on a small
random model (test/conftest.py's tiny checkpoint): what is tested is the face path, not the
model's decisions.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from st_f2m_ros.perception.crop import crop_face
from st_f2m_ros.perception.face_components import to_components
from st_f2m_ros.perception.face_stage import FaceStage
from st_f2m_ros.ros.params import defaults
from st_f2m_ros.runtime.adaptation.manager import AdaptRequest, InlineClip
from st_f2m_ros.runtime.adaptation.support_faces import NEUTRAL_KEY
from st_f2m_ros.runtime.session import build_session, pipeline_config

N = 8


@pytest.fixture(scope='module')
def models_dir() -> Path:
    """The installed front-end model files (skip where they are not installed)."""
    pytest.importorskip('ai_edge_litert', reason='ai-edge-litert is not installed')
    from st_f2m_ros.models import model_path, verify_models

    if not all(s.status == 'ok' for s in verify_models()):
        pytest.skip('front-end model files not installed (st-f2m models install)')
    return model_path('face_landmark').parent


@pytest.fixture(scope='module')
def faces() -> dict[str, np.ndarray]:
    """The astronaut (BGR) and a vertically stretched copy of her."""
    from skimage import data

    face = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    return {'plain': face, 'stretched': cv2.resize(face, (512, 614))[:512]}


def frames_of(face: np.ndarray, n: int = N, seed: int = 0) -> list[np.ndarray]:
    """`n` 640x480 frames: the face drifting 4 px a frame, with sensor noise."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        f = np.full((480, 640, 3), 90, np.uint8)
        f[:, 40 + 4 * i : 552 + 4 * i] = face[:480]
        out.append(np.clip(f + rng.integers(-3, 4, f.shape), 0, 255).astype(np.uint8))
    return out


def clip(label: str, frames: list[np.ndarray], t0: float = 0.0) -> InlineClip:
    from st_f2m_ros.runtime.messages.inputs import RawImage

    return InlineClip(
        label,
        [
            RawImage(t0 + i / 30, 480, 640, 'bgr8', 0, 640 * 3, f.tobytes())
            for i, f in enumerate(frames)
        ],
    )


@pytest.fixture
def session(tiny_checkpoint: Path, tmp_path: Path, models_dir):
    """A real session (checkpoint, recognizer, pipeline with the front end, manager, store)."""
    store = str(tmp_path / 'store')
    values = {**defaults(), 'checkpoint': str(tiny_checkpoint), 'adaptation_store': store,
              'face_detector': 'blazeface_full', 'num_threads': 1}  # fmt: skip
    s = build_session(values, 'p07')
    assert s.pipeline.tracker.active == 'blazeface_full'
    yield s
    s.close()


def live_components(pipeline, frames: list[np.ndarray], t0: float) -> tuple[np.ndarray, ...]:
    """The live pipeline's measured components [T, 12] of the frames, and their raw measures."""
    fronts = [
        pipeline.process_bgr(t0 + i / 30, f).observation.frontend for i, f in enumerate(frames)
    ]
    return np.stack([f.components for f in fronts]), np.stack([f.raw for f in fronts])


def test_support_crops_are_the_live_pipelines_and_measured_is_filled(session, faces) -> None:
    frames = frames_of(faces['plain'])
    size = session.recognizer.backend.crop_size
    assert session.manager.settings.crop_size == size
    clips = session.manager.load_clips(
        'p07', session.manager.validate(AdaptRequest('p07', [clip('happiness_high', frames)]))
    )
    assert len(clips) == 1 and clips[0].face_found.all()
    # The live pipeline on the same frames: its face box, cut as it cuts it.
    live = [session.pipeline.process_bgr(10 + i / 30, f).observation for i, f in enumerate(frames)]
    for got, obs, f in zip(clips[0].crops, live, frames):
        assert np.array_equal(got, crop_face(f, obs.box, size))
    # Measured: the front end's components and the mask the model reads, per frame (no
    # neutral clip: as a fresh person's stage measures them, against the prior neutral, so
    # reliable in every frame but not read by a model until the person's neutral is known).
    stage = FaceStage(session.pipeline.face_config)
    fronts = [stage.observe(i / 30, f, size)[0].frontend for i, f in enumerate(frames)]
    m, ok = clips[0].measured, clips[0].measured_ok
    assert m.shape == (N, 12) and m.dtype == np.float32 and ok.shape == (N, 12)
    assert np.array_equal(m, np.stack([fr.components for fr in fronts]))
    assert np.stack([fr.reliable for fr in fronts]).all()
    assert np.array_equal(ok, np.stack([fr.model_reliable for fr in fronts])) and not ok.any()
    assert np.abs(m).max() > 0.1  # against the prior neutral: not all zero
    # With a neutral clip the components are re-taken against it and become readable.
    req = AdaptRequest('p07', [clip('happiness_high', frames), clip('neutral', frames)])
    both = session.manager.load_clips('p07', session.manager.validate(req))
    assert all(c.measured_ok.all() for c in both)
    assert np.abs(both[0].measured).mean() < 0.05  # the same frames: their own neutral


@pytest.mark.slow
def test_neutral_clip_sets_the_baseline_reload_and_reset(session, faces, tiny_checkpoint) -> None:
    pipe, mgr = session.pipeline, session.manager
    plain, stretched = frames_of(faces['plain']), frames_of(faces['stretched'], seed=1)
    before, _ = live_components(pipe, plain, 1.0)
    assert pipe.tracker.neutral_source in ('prior', 'partial')
    req = AdaptRequest(
        'p07', [clip('happiness_high', stretched), clip('neutral', plain)], inner_steps=1
    )
    out = mgr.adapt(req)
    assert out.success, out.message
    # The neutral is the neutral frames' median raw measure (not the stretched frames').
    stage = FaceStage(pipe.face_config)
    raws = np.stack([stage.observe(i / 30, f, 32)[0].frontend.raw for i, f in enumerate(plain)])
    assert pipe.tracker.neutral_source == 'support'
    neutral = pipe.tracker.frontend.baseline.neutral
    assert np.allclose(neutral, np.median(raws, axis=0), atol=1e-6)
    # The running front end now measures against it: the neutral face reads as ~0.
    after, raw = live_components(pipe, plain, 2.0)
    cset = pipe.tracker.frontend.cset
    assert np.allclose(after, [to_components(r, neutral, cset) for r in raw], atol=1e-6)
    assert np.abs(after).mean() < 0.05 < 0.2 < np.abs(before).mean()
    # Stored with the head, in the same file.
    stored = mgr.store.latest('p07', mgr.settings.checkpoint_id)
    assert stored.meta[NEUTRAL_KEY]['source'] == 'support'
    assert np.allclose(stored.meta[NEUTRAL_KEY]['neutral'], neutral)
    json.dumps(stored.meta)  # plain JSON
    # Another person: no support neutral; back to p07: reloaded from the store with its neutral.
    pipe.set_subject('p08')
    assert 'base model' in mgr.activate('p08')
    assert pipe.tracker.neutral_source != 'support'
    pipe.set_subject('p07')
    assert 'with its neutral face' in mgr.activate('p07')
    assert pipe.tracker.neutral_source == 'support'
    assert np.allclose(pipe.tracker.frontend.baseline.neutral, neutral)
    # /reset_adaptation drops it: the front end learns the neutral online again.
    assert mgr.reset('p07').success
    assert pipe.tracker.neutral_source in ('prior', 'partial', 'online')
    again, _ = live_components(pipe, plain, 3.0)
    assert np.abs(again).mean() > 0.2


def test_support_clip_components_are_taken_against_the_neutral_clips(session, faces) -> None:
    mgr = session.manager
    plain, stretched = frames_of(faces['plain']), frames_of(faces['stretched'], seed=1)
    req = AdaptRequest('p07', [clip('happiness_high', stretched), clip('neutral', plain)])
    clips, neutral = mgr.load_support('p07', mgr.validate(req))
    assert neutral is not None and neutral['source'] == 'support' and all(neutral['ready'])
    happy, calm = clips
    assert np.abs(calm.measured).mean() < 0.05  # the neutral clip against itself
    assert np.abs(happy.measured).mean() > 0.1  # the stretched face against the neutral one
    # Without the neutral clip the same frames are measured against a fresh person's prior.
    alone, none = mgr.load_support('p07', mgr.validate(AdaptRequest('p07', req.clips[:1])))
    assert none is None and not np.allclose(alone[0].measured, happy.measured)


def test_haar_fallback_crops_without_measures(tiny_checkpoint, tmp_path, monkeypatch, faces):
    from st_f2m_ros.models import locate

    empty = tmp_path / 'models'
    empty.mkdir()
    monkeypatch.setattr(locate, 'search_dirs', lambda models_dir=None: [empty])
    values = {**defaults(), 'checkpoint': str(tiny_checkpoint), 'adaptation_store': '',
              'face_detector': 'blazeface_full', 'models_dir': str(empty)}  # fmt: skip
    s = build_session(values, 'p07')
    try:
        assert s.pipeline.tracker.active == 'haar' and s.pipeline.tracker.fallback
        frames = frames_of(faces['plain'])
        req = AdaptRequest('p07', [clip('neutral', frames)], inner_steps=1, persist=False)
        clips, neutral = s.manager.load_support('p07', s.manager.validate(req))
        assert neutral is None
        assert clips[0].measured is None and clips[0].measured_ok is None
        assert clips[0].face_found.mean() >= 0.75  # Haar finds the astronaut
        live = [s.pipeline.process_bgr(5 + i / 30, f).observation for i, f in enumerate(frames)]
        size = s.recognizer.backend.crop_size
        for got, obs, f, ok in zip(clips[0].crops, live, frames, clips[0].face_found):
            if ok and obs.box is not None:
                assert np.array_equal(got, crop_face(f, obs.box, size))
        out = s.manager.adapt(req)
        assert out.success, out.message
        assert s.pipeline.tracker.neutral_source == ''  # nothing to hand over
    finally:
        s.close()


def test_default_face_config_without_a_pipeline_is_the_nodes(tiny_checkpoint) -> None:
    values = {**defaults(), 'checkpoint': str(tiny_checkpoint), 'face_detector': 'haar'}
    s = build_session(values, 'p07', with_pipeline=False)
    try:
        assert s.manager.faces is None
        assert s.manager.face_config == pipeline_config(values, 'p07').face
        assert s.manager.face_config.detector == 'haar'
        assert not s.manager.support_faces().measuring
    finally:
        s.close()


def test_clips_that_are_crops_skip_the_face_stage(make_manager, helpers) -> None:
    mgr = make_manager(clips_are_crops=True)
    assert not mgr.support_faces().measuring
    clips, neutral = mgr.load_support('p07', mgr.validate(helpers.request()))
    assert neutral is None and all(c.measured is None and c.face_found.all() for c in clips)
    assert mgr._support_faces is None  # no front end was built for them


def test_a_bad_stored_neutral_face_is_reported_and_the_head_still_reloads(make_manager) -> None:
    import torch

    from st_f2m_ros.taxonomy import NUM_CLASSES

    mgr = make_manager()
    bad = {'neutral': [0.1] * 3, 'ready': [True] * 3}  # 3 values, not 12
    params = {'head.weight': torch.zeros(NUM_CLASSES, 4)}
    mgr.store.save('p07', params, {'checkpoint_id': 'tiny', NEUTRAL_KEY: bad})
    report = mgr.activate('p07')
    assert 'reloaded adaptation p07@v1' in report and 'neutral face not used' in report, report
    assert 'with its neutral face' not in report
