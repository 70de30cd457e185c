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
"""Fixtures shared by several test folders."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope='session')
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised small ST-F2M checkpoint (quarter width, 32 px, hashing text).

    For tests of the plumbing around a real model (sessions, /adapt, backends), where the
    shipped checkpoint's accuracy does not matter and its size would only cost time.
    """
    import torch

    from st_f2m_ros.model.checkpoint import save_checkpoint
    from st_f2m_ros.model.config import STF2MConfig
    from st_f2m_ros.model.stf2m import STF2MModel

    torch.manual_seed(0)
    cfg = STF2MConfig(backbone='resnet18_quarter', crop_size=32, text_encoder='hashing')
    path = tmp_path_factory.mktemp('model') / 'tiny_stf2m.safetensors'
    save_checkpoint(STF2MModel(cfg), path)
    return path


@pytest.fixture(scope='session')
def small_model():
    """The package's model at its smallest: quarter-width ResNet-18, 96 px crops, no F.

    In memory, untrained: for the runtime's wiring (pipeline, backends, windows), not decisions.
    """
    import torch

    from st_f2m_ros.model.config import STF2MConfig
    from st_f2m_ros.model.stf2m import STF2MModel

    torch.manual_seed(0)
    cfg = STF2MConfig(
        backbone='resnet18_quarter', crop_size=96, feat_dim=16, hidden=32, fuzzy=False,
        text_encoder='hashing', window=8, feature_rate=8.0,
    )  # fmt: skip
    model = STF2MModel(cfg).eval()
    model.model_id = 'small-test'
    return model
