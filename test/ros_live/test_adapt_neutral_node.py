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
"""The real node: a neutral support clip at /adapt becomes the front end's neutral face.

In-process PerceptionNode (real rclpy, the tiny checkpoint, the real-face front end) called
through its /adapt and /reset_adaptation services and its parameter service: after /adapt the
running front end's baseline is the clip's ('support'); a switch to another person and back
reloads it from the store with the head; /reset_adaptation drops it. Support frames are
scikit-image's astronaut in 640x480 frames (test_realface_node's helpers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from conftest import wait_for  # noqa: E402
from pipeline_support import run_graph  # noqa: E402
from rcl_interfaces.srv import SetParameters  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from test_realface_node import astronaut_frame, models_dir  # noqa: E402

pytest.importorskip('ai_edge_litert', reason='ai-edge-litert is not installed')
NODE = '/st_f2m_perception'


def _clip(label: str, frame: np.ndarray) -> Any:
    """Six 640x480 frames of `frame` drifting 4 px a frame."""
    from sensor_msgs.msg import Image

    from st_f2m_ros.msg import SupportClip

    clip = SupportClip(label=label)
    for i in range(6):
        f = np.ascontiguousarray(np.roll(frame, 4 * i, axis=1))
        clip.frames.append(
            Image(height=480, width=640, encoding='bgr8', step=1920, data=f.tobytes())
        )
    return clip


def _call(client: Any, request: Any, timeout: float = 120.0) -> Any:
    assert client.wait_for_service(timeout_sec=10.0), client.srv_name
    future = client.call_async(request)
    assert wait_for(future.done, timeout), f'no answer from {client.srv_name}'
    return future.result()


@pytest.fixture
def graph(tiny_checkpoint: Path, tmp_path: Path):
    yield from run_graph(tiny_checkpoint, tmp_path, f'models_dir:={models_dir()}')


def test_neutral_clip_is_the_front_ends_neutral_face_until_reset(graph) -> None:
    import cv2

    from st_f2m_ros.srv import Adapt, ResetAdaptation

    node, probe = graph.node, graph.probe
    tracker = node.session.pipeline.tracker
    assert tracker.active == 'blazeface_full'
    frame = astronaut_frame()
    stretched = cv2.resize(frame, (640, 576))[:480]  # taller face: other raw measures
    req = Adapt.Request(subject_id='p01', inner_steps=1, persist=True)
    req.clips = [_clip('neutral', frame), _clip('happiness_high', stretched)]
    out = _call(probe.create_client(Adapt, 'adapt'), req)
    assert out.success, out.message
    assert node.subject == 'p01' and tracker.neutral_source == 'support'
    neutral = tracker.frontend.baseline.neutral

    setp = probe.create_client(SetParameters, f'{NODE}/set_parameters')

    def subject(name: str) -> None:
        msg = Parameter('subject_id', value=name).to_parameter_msg()
        assert _call(setp, SetParameters.Request(parameters=[msg])).results[0].successful

    subject('p02')  # another person: their own (online) neutral face
    assert wait_for(lambda: node.subject == 'p02')
    assert tracker.neutral_source != 'support'
    subject('p01')  # back: the adaptation and its neutral face reloaded from the store
    assert wait_for(lambda: node.subject == 'p01')
    assert tracker.neutral_source == 'support'
    assert np.allclose(tracker.frontend.baseline.neutral, neutral)
    res = _call(probe.create_client(ResetAdaptation, 'reset_adaptation'),
                ResetAdaptation.Request(subject_id='p01', delete_persisted=True))  # fmt: skip
    assert res.success, res.message
    assert tracker.neutral_source != 'support'
