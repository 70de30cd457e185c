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
"""The real node with the real-face front end (issue 9 item 7), under rclpy.

A real face (scikit-image's astronaut in 640x480 frames) is published as a 15 fps camera; the
node runs `face_detector: blazeface_full` (its default) with the model files of the main
virtual environment (`models_dir`). Checked: EmotionState carries `component_reliable` and
`components_measured` (true: the components come from the landmarks), /diagnostics has the
front-end keys of docs/ros_api.md, and the debug image shows the mesh's dots.
"""

from __future__ import annotations

from pathlib import Path
import sys
import time

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('st_f2m_ros.msg')
pytest.importorskip('ai_edge_litert', reason='ai-edge-litert is not installed')
sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib: siblings by path

from pipeline_support import image_msg, run_graph, wait_for

from st_f2m_ros.perception.image_convert import bgr_to_image
from st_f2m_ros.runtime.messages.debug_draw import MESH_COLOUR

ROOT = Path(__file__).resolve().parents[2]
FRONT_END_KEYS = (
    'face_size_p50_px', 'face_occluded_share', 'face_abs_yaw_p50_deg', 'frontend_detect_p50_ms',
    'frontend_detect_p95_ms', 'frontend_mesh_p50_ms', 'frontend_mesh_p95_ms',
    'frontend_tracked_share',
)  # fmt: skip


def models_dir() -> Path:
    """The model files `make setup` installed into .venv (.venv-ros has none of its own)."""
    from st_f2m_ros.models.locate import find_file, registry_entry

    for d in (ROOT / '.venv' / 'share' / 'st_f2m_ros' / 'models',):
        if (d / registry_entry('face_landmark').filename).is_file():
            return d
    found = find_file(registry_entry('face_landmark'))
    if found is None:
        pytest.skip('real-face model files not installed (st-f2m models install)')
    return found.parent


def astronaut_frame() -> np.ndarray:
    """scikit-image's astronaut (public domain) in a 640x480 frame; .venv-ros has no skimage,
    so its PNG is read from the main environment's copy."""
    import cv2

    try:
        from skimage import data

        img = data.astronaut()[:, :, ::-1]
    except ImportError:
        pngs = sorted(ROOT.glob('.venv/lib/python*/site-packages/skimage/data/astronaut.png'))
        if not pngs:
            pytest.skip('scikit-image astronaut picture not available')
        img = cv2.imread(str(pngs[0]), cv2.IMREAD_COLOR)
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[:, 64:576] = img[:480]
    return frame


@pytest.fixture
def graph(tiny_checkpoint: Path, tmp_path: Path):
    yield from run_graph(
        tiny_checkpoint, tmp_path, 'diagnostics_period:=0.2', f'models_dir:={models_dir()}',
        'publish_debug_image:=true',
    )  # fmt: skip


def test_real_face_node_reports_measured_components_and_front_end_diagnostics(graph) -> None:
    from sensor_msgs.msg import Image

    debug: list = []
    graph.probe.create_subscription(Image, 'emotion/debug_image', debug.append, 10)
    rng = np.random.default_rng(0)
    still = astronaut_frame()
    for _ in range(60):  # 4 s of a 15 fps camera, stamped now
        time.sleep(1 / 15)
        noisy = np.clip(still + rng.integers(-3, 4, still.shape), 0, 255).astype(np.uint8)
        graph.image.publish(image_msg(time.time(), bgr_to_image(noisy, 'bgr8')))
    assert wait_for(lambda: float(graph.values().get('windows_total', 0)) >= 3, 15.0)
    assert wait_for(lambda: 'frontend_mesh_p50_ms' in graph.values(), 5.0), graph.values()
    v = graph.values()
    assert v['face_detector'] == 'blazeface_full', v
    for key in FRONT_END_KEYS:
        assert key in v, key
    assert float(v['face_found_rate_total']) >= 0.9, v
    assert 60 < float(v['face_size_p50_px']) < 200, v
    assert float(v['face_occluded_share']) < 0.1, v
    assert float(v['frontend_mesh_p50_ms']) > 0 and float(v['frontend_detect_p50_ms']) > 0, v
    assert float(v['frontend_tracked_share']) > 0.5, v
    assert wait_for(lambda: graph.sequences, 5.0)
    seq = graph.sequences[-1]
    state = seq.states[-1]
    assert len(state.component_reliable) == 12
    assert all(isinstance(b, bool) for b in state.component_reliable)
    assert state.components_measured
    assert all(state.component_reliable)
    assert wait_for(lambda: debug, 5.0), 'no debug image'
    img = np.frombuffer(bytes(debug[-1].data), np.uint8).reshape(480, 640, 3)
    dots = np.all(img == np.array(MESH_COLOUR, np.uint8), axis=2).sum()
    assert dots > 200, dots  # the 468-point mesh drawn on the face
