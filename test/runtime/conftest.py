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
"""Fixtures: a small real ST-F2M model (untrained) and its backends, synthetic frames."""

from __future__ import annotations

import os

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')  # before torch: see runtime/inference/cpu.py

import numpy as np
import pytest
import torch

from st_f2m_ros.runtime.inference.backends import TorchBackend

torch.set_num_threads(1)  # robust on a shared 2-core machine


@pytest.fixture(scope='session')
def torch_backend(small_model) -> TorchBackend:
    return TorchBackend(small_model)


@pytest.fixture(scope='session')
def face_frames() -> list[np.ndarray]:
    """A few synthetic 640x480 frames with a face (the data engineer's renderer)."""
    sub = pytest.importorskip('st_f2m_ros.data.synthetic.subjects')
    render = pytest.importorskip('st_f2m_ros.data.synthetic.render')
    expr = pytest.importorskip('st_f2m_ros.data.synthetic.expression')
    s = sub.make_subject('p01', 0)
    frames = []
    for k, cid in enumerate((0, 3, 6, 9)):
        img = render.make_background(s, 640, 480, np.random.default_rng(k))
        comps = s.expression_components(expr.class_activation(cid))
        render.draw_face(img, s, render.face_geometry(s, comps), render.Pose(320, 230, 70))
        frames.append(img)
    return frames
