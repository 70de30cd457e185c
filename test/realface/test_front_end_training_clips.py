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
"""Synthetic training clips through the runtime face stage (issue 9 item 3, `data.front_end`).

The default model is trained on what the robot will see: crops cut from the face stage's box by
the pipeline's own call (`FaceStage.observe`) and the front end's measured components with
their reliable mask (`Clip.measured` / `measured_ok`), the neutral baseline learnt online.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from st_f2m_ros.data.synthetic import SyntheticConfig, SyntheticSession, make_subjects
from st_f2m_ros.data.synthetic.generator import generate_clips
from st_f2m_ros.meta.train_config import train_config_from_dict
from st_f2m_ros.meta.train_setup import load_training_clips
from st_f2m_ros.perception.crop import crop_face
from st_f2m_ros.perception.face import FaceConfig
from st_f2m_ros.perception.face_stage import FaceStage, crop_box
from st_f2m_ros.taxonomy import COMPONENTS

pytestmark = pytest.mark.usefixtures('models_dir')

C = {n: i for i, n in enumerate(COMPONENTS)}
SIZE = 48


@pytest.fixture(scope='module')
def session() -> SyntheticSession:
    person = make_subjects(1, seed=3, prefix='fe')[0]
    return SyntheticSession(person, SyntheticConfig(fps=8.0, duration=8.0), 3)


def test_crops_and_measurements_are_the_runtime_face_stages(session) -> None:
    stage = FaceStage(FaceConfig())
    assert stage.frontend is not None
    clip = session.to_clip(SIZE, front_end=stage)
    assert clip.measured.shape == clip.measured_ok.shape == (len(session), 12)
    assert clip.measured.dtype == np.float32 and clip.measured_ok.dtype == np.bool_
    # Replay the same frames through a fresh stage the way the pipeline does: identical clip.
    replay = FaceStage(FaceConfig())
    reliable = []
    for f in session.frames():
        obs = replay.update(f.time, f.image)
        front = obs.frontend
        assert front is not None, f'frame {f.index}: face not found'
        box = crop_box(front.box, replay.config)
        np.testing.assert_array_equal(clip.crops[f.index], crop_face(f.image, box, SIZE))
        np.testing.assert_array_equal(clip.measured[f.index], front.components)
        # the model reads a component once it is reliable AND the person's neutral is known
        np.testing.assert_array_equal(
            clip.measured_ok[f.index], front.reliable & front.neutral_known
        )
        reliable.append(front.reliable)
    assert np.mean(reliable) > 0.9  # drawn faces are found, frontal and unoccluded
    known = clip.measured_ok.all(axis=1)
    assert not known[0] and known[-1]  # prior at first, the person's own neutral later
    assert np.all(np.diff(known.astype(int)) >= 0)  # once known, it stays known
    # ... which differ from the generator's own boxes, and follow the drawn expression.
    plain = session.to_clip(SIZE)
    assert plain.measured is None and not np.array_equal(plain.crops, clip.crops)
    for name in ('mouth', 'left_eyebrow'):
        j = C[name]
        r = np.corrcoef(clip.measured[:, j], clip.components[:, j])[0, 1]
        assert r > 0.5, (name, r)


def test_frames_without_a_front_end_observation_keep_the_generators_box(session) -> None:
    haar = FaceStage(FaceConfig(detector='haar'))
    clip = session.to_clip(SIZE, front_end=haar)
    assert not clip.measured_ok.any() and not clip.measured.any()
    replay = FaceStage(FaceConfig(detector='haar'))
    for f in session.frames():
        obs = replay.update(f.time, f.image)
        box = obs.box if obs.box is not None else f.box
        np.testing.assert_array_equal(clip.crops[f.index], crop_face(f.image, box, SIZE))
    assert clip.face_found.all()


@pytest.mark.slow
def test_two_workers_make_the_same_clips_and_the_trainer_reads_the_option(tmp_path) -> None:
    people = make_subjects(2, seed=4)
    cfg = SyntheticConfig(fps=8.0)
    seen = []
    one = generate_clips(2, 1, 2.0, 4, SIZE, cfg, people, front_end=FaceConfig())
    two = generate_clips(
        2, 1, 2.0, 4, SIZE, cfg, people, front_end=FaceConfig(), workers=2,
        progress=lambda done, total, frames: seen.append((done, total, frames)),
    )  # fmt: skip
    assert seen == [(1, 2, 16), (2, 2, 32)]
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a.crops, b.crops)
        np.testing.assert_array_equal(a.measured, b.measured)
        np.testing.assert_array_equal(a.measured_ok, b.measured_ok)
    train = train_config_from_dict(
        {
            'model': {'crop_size': SIZE, 'feature_rate': 8.0},
            'data': {'n_subjects': 2, 'clips_per_subject': 1, 'duration': 2.0, 'seed': 4,
                     'val_subjects': 1, 'front_end': True},
        }
    )  # fmt: skip
    clips = load_training_clips(train)
    assert all(c.measured is not None for c in clips)
    np.testing.assert_array_equal(clips[0].measured, one[0].measured)
    plain = load_training_clips(replace(train, data=replace(train.data, front_end=False)))
    assert all(c.measured is None for c in plain)


def test_the_pipeline_feeds_each_frames_measurements_to_a_component_model(astronaut) -> None:
    import torch

    from st_f2m_ros.model.config import STF2MConfig
    from st_f2m_ros.model.stf2m import STF2MModel
    from st_f2m_ros.runtime.inference.backends import TorchBackend
    from st_f2m_ros.runtime.inference.recognizer import Recognizer
    from st_f2m_ros.runtime.pipeline.pipeline import PerceptionPipeline, PipelineConfig

    torch.manual_seed(0)
    cfg = STF2MConfig(
        backbone='resnet18_quarter', crop_size=96, feat_dim=40, hidden=32, fuzzy=False,
        text_encoder='hashing', window=8, feature_rate=8.0, component_input=True,
    )  # fmt: skip
    pipe = PerceptionPipeline(Recognizer(TorchBackend(STF2MModel(cfg).eval())), PipelineConfig())
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[:, 64:576] = astronaut[:480]
    rng = np.random.default_rng(0)
    for i in range(60):  # 2 s: the online neutral is known after about 38 calm frames
        noisy = np.clip(frame + rng.integers(-3, 4, frame.shape), 0, 255).astype(np.uint8)
        assert pipe.process_bgr(1.0 + i / 30.0, noisy).skipped is None
    encoded = [r for r in pipe.cache._frames if r.feature is not None]
    assert len(encoded) >= 8
    known = [bool(r.measured.model_ok.any()) for r in encoded if r.measured is not None]
    assert not known[0] and known[-1]  # prior first: not read; the person's neutral: read
    for r in encoded:
        assert r.measured is not None  # the front end measured every frame of a real face
        ok = r.measured.model_ok  # reliable and measured against the person's own neutral
        assert not (ok & ~r.measured.reliable).any()
        want = np.where(ok, r.measured.components, 0.0)
        np.testing.assert_allclose(r.feature[:, -24:-12], np.broadcast_to(want, (9, 12)), 1e-6)
        np.testing.assert_array_equal(r.feature[:, -12:], np.broadcast_to(ok, (9, 12)))
