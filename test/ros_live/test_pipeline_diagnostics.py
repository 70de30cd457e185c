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
"""/diagnostics of the real node under rclpy: one set of keys, with values that move.

On the real graph latency_p50_ms / latency_p95_ms and dropped_total were always 0 (the
statistics they came from were never fed) and model_id appeared twice.
"""

from __future__ import annotations

from pathlib import Path
import sys
import time

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('st_f2m_ros.msg')
sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib: siblings by path

from pipeline_support import image_msg, run_graph, wait_for

from st_f2m_ros.evaluation.bad_inputs import Event
from st_f2m_ros.perception.image_convert import bgr_to_image


def face_frames() -> list[np.ndarray]:
    from st_f2m_ros.data.synthetic import expression, render, subjects

    s = subjects.make_subject('p01', 0)
    out = []
    for k, cid in enumerate((0, 3, 6, 9)):
        img = render.make_background(s, 320, 240, np.random.default_rng(k))
        comps = s.expression_components(expression.class_activation(cid))
        render.draw_face(img, s, render.face_geometry(s, comps), render.Pose(160, 115, 40))
        out.append(img)
    return out


@pytest.fixture
def graph(tiny_checkpoint: Path, tmp_path: Path):
    yield from run_graph(tiny_checkpoint, tmp_path, 'diagnostics_period:=0.2')


def test_diagnostics_values_move_and_keys_are_one_set(graph) -> None:
    frames = [bgr_to_image(f, 'rgb8') for f in face_frames()]
    for i in range(60):  # 4 s of a 15 fps camera, stamped now
        time.sleep(1 / 15)
        graph.image.publish(image_msg(time.time(), frames[i % 4]))
    assert wait_for(lambda: float(graph.values().get('windows_total', 0)) >= 5, 10.0)
    v = graph.values()
    assert float(v['latency_p50_ms']) > 0 and float(v['latency_p95_ms']) > 0, v
    assert float(v['latency_p95_ms']) >= float(v['latency_p50_ms'])
    assert float(v['frame_latency_p50_ms']) > 0 and float(v['fps']) > 5, v
    assert int(v['frames_total']) >= 40 and int(v['frames_processed']) >= 40, v
    assert float(v['face_found_rate']) > 0.5, v
    assert int(v['dropped_total']) == 0, v
    # Bad frames: dropped and counted by cause.
    good = frames[0]
    for enc, cut in [('rgb8', 5), ('weird16', 0), ('rgb8', 1)]:
        time.sleep(0.1)
        data = good.data.tobytes()[: len(good.data) - cut]
        bad = Event('image', encoding=enc, height=good.height, width=good.width,
                    step=good.step, data=data)  # fmt: skip
        graph.image.publish(image_msg(time.time(), bad))
    assert wait_for(lambda: int(graph.values().get('dropped_total', 0)) >= 3, 10.0)
    v = graph.values()
    assert int(v['skipped_image_layout']) == 2 and int(v['skipped_image_encoding']) == 1, v
    assert int(v['skipped_total']) == 3, v
    # model_id once in the whole array, one latency family.
    arr = graph.diagnostics[-1]
    keys = [kv.key for st in arr.status for kv in st.values]
    assert keys.count('model_id') == 1, keys
    assert not any(k.startswith('window_latency') for k in keys), keys
    assert len(keys) == len(set(keys)), keys


@pytest.fixture
def debug_graph(tiny_checkpoint: Path, tmp_path: Path):
    yield from run_graph(tiny_checkpoint, tmp_path, 'publish_debug_image:=true')


def test_debug_image_from_the_frame_decoded_once(debug_graph) -> None:
    """publish_debug_image: the FrameOutcome's decoded image, drawn and stamped like the result."""
    from pipeline_support import RELIABLE
    from sensor_msgs.msg import Image

    g = debug_graph
    debug: list = []
    g.probe.create_subscription(Image, 'emotion/debug_image', debug.append, RELIABLE)
    time.sleep(0.5)
    frames = [bgr_to_image(f, 'rgb8') for f in face_frames()]
    for i in range(45):
        time.sleep(1 / 15)
        g.image.publish(image_msg(time.time(), frames[i % 4]))
    assert wait_for(lambda: len(debug) >= 3 and len(g.sequences) >= 3, 10.0)
    stamps = {(m.header.stamp.sec, m.header.stamp.nanosec) for m in g.sequences}
    for m in debug:
        assert (m.height, m.width, m.encoding) == (240, 320, 'bgr8')
        assert (m.header.stamp.sec, m.header.stamp.nanosec) in stamps
        assert m.header.frame_id == 'camera'
