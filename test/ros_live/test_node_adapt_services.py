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
"""The real PerceptionNode under real rclpy: /adapt, /reset_adaptation, subject switches, params.

The node runs in-process on a MultiThreadedExecutor (as `main` runs it) with the tiny
checkpoint; a probe node calls its services and parameter services through rclpy clients and
publishes synthetic camera frames. Support clips are inline SupportClip messages rendered by
the synthetic generator.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import threading
import time
from typing import Any

import pytest

rclpy = pytest.importorskip('rclpy')

from rcl_interfaces.msg import Parameter as ParameterMsg  # noqa: E402
from rcl_interfaces.srv import GetParameters, SetParameters  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

NODE = '/st_f2m_perception'


class Graph:
    """The node under test, a probe node with clients, and the spinning executor."""

    def __init__(self, node: Any, probe: Node) -> None:
        from sensor_msgs.msg import Image

        from st_f2m_ros.msg import EmotionSequence
        from st_f2m_ros.ros.qos import RELIABLE, SENSOR
        from st_f2m_ros.srv import Adapt, ResetAdaptation

        self.node, self.probe = node, probe
        self.adapt = probe.create_client(Adapt, 'adapt')
        self.reset = probe.create_client(ResetAdaptation, 'reset_adaptation')
        self.set_params = probe.create_client(SetParameters, f'{NODE}/set_parameters')
        self.get_params = probe.create_client(GetParameters, f'{NODE}/get_parameters')
        self.camera = probe.create_publisher(Image, 'image', SENSOR)
        self.sequences: list[Any] = []
        probe.create_subscription(
            EmotionSequence, 'emotion/sequence', self.sequences.append, RELIABLE
        )

    def call(self, client: Any, request: Any, timeout: float = 120.0) -> Any:
        assert client.wait_for_service(timeout_sec=10.0), client.srv_name
        future = client.call_async(request)
        end = time.monotonic() + timeout
        while not future.done() and time.monotonic() < end:
            time.sleep(0.02)
        assert future.done(), f'no answer from {client.srv_name} in {timeout} s'
        return future.result()

    def set_param(self, name: str, value: Any) -> Any:
        """Through the node's parameter service, as `ros2 param set` does."""
        msg = Parameter(name, value=value).to_parameter_msg()
        return self.call(self.set_params, SetParameters.Request(parameters=[msg])).results[0]

    def get_param(self, name: str) -> Any:
        value = self.call(self.get_params, GetParameters.Request(names=[name])).values[0]
        return Parameter.from_parameter_msg(ParameterMsg(name=name, value=value)).value

    def sequence_model_id(self, subject: str, timeout: float = 20.0) -> str:
        """Publish synthetic frames until an EmotionSequence of `subject` comes; its model_id."""
        from sensor_msgs.msg import Image

        from st_f2m_ros.data.synthetic import SyntheticConfig
        from st_f2m_ros.data.synthetic.generator import SyntheticSession
        from st_f2m_ros.data.synthetic.subjects import make_subjects

        frames = list(
            SyntheticSession(
                make_subjects(1, seed=5)[0],
                SyntheticConfig(fps=15.0, width=160, height=120, duration=2.0),
            ).frames()
        )
        self.sequences.clear()
        end = time.monotonic() + timeout
        i = 0
        while time.monotonic() < end:
            img = frames[i % len(frames)].image
            msg = Image(height=120, width=160, encoding='bgr8', step=480, data=img.tobytes())
            msg.header.stamp = self.probe.get_clock().now().to_msg()
            self.camera.publish(msg)
            mine = [s for s in self.sequences if s.subject_id == subject]
            if mine:
                return mine[-1].model_id
            i += 1
            time.sleep(1 / 15)
        raise AssertionError(f'no EmotionSequence for {subject} in {timeout} s')


def support_request(subject: str, frames: int = 6, steps: int = 5, classes: int = 3) -> Any:
    """Inline clips of up to three classes rendered by the synthetic generator (64 px faces)."""
    from sensor_msgs.msg import Image

    from st_f2m_ros.data.synthetic import SyntheticConfig
    from st_f2m_ros.data.synthetic.generator import SyntheticSession
    from st_f2m_ros.data.synthetic.subjects import make_subjects
    from st_f2m_ros.msg import SupportClip
    from st_f2m_ros.srv import Adapt
    from st_f2m_ros.taxonomy import CLASS_LABELS, class_id

    person = make_subjects(1, seed=3)[0]
    cfg = SyntheticConfig(fps=8.0, width=64, height=64, duration=frames / 8.0)
    req = Adapt.Request(subject_id=subject, inner_steps=steps, persist=True)
    kinds = [('happiness', 'high'), ('anger', 'high'), ('neutral', None)][:classes]
    for k, (emotion, intensity) in enumerate(kinds):
        cid = class_id(emotion, intensity)
        clip = SupportClip(label=CLASS_LABELS[cid])
        for f in SyntheticSession(person, cfg, seed=k, classes=(cid,)).frames():
            clip.frames.append(
                Image(height=64, width=64, encoding='bgr8', step=192, data=f.image.tobytes())
            )
        req.clips.append(clip)
    return req


@pytest.fixture
def graph(tmp_path: Path, tiny_checkpoint: Path):
    """(conftest.py has set a DDS domain of this run, localhost only.)"""
    from st_f2m_ros.ros.perception_node import PerceptionNode

    params = {
        'checkpoint': str(tiny_checkpoint),
        'adaptation_store': str(tmp_path / 'store'),
        'clip_roots': f'[{tmp_path}]',
        'support_clips_are_crops': 'true',
        'subject_id': 'p00',
        'num_threads': '1',
    }
    args = ['--ros-args'] + [a for k, v in params.items() for a in ('-p', f'{k}:={v}')]
    rclpy.init(args=args)
    node = PerceptionNode()
    probe = Node('probe')
    executor = MultiThreadedExecutor(num_threads=6)
    executor.add_node(node)
    executor.add_node(probe)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield Graph(node, probe)
    finally:  # every step, so that one failing does not leave rclpy initialised
        errors = []
        for step in (
            lambda: node.close(5.0),
            lambda: executor.shutdown(timeout_sec=5.0),
            node.destroy_node,
            probe.destroy_node,
            rclpy.try_shutdown,
        ):
            try:
                step()
            except Exception as err:
                errors.append(err)
        thread.join(timeout=5.0)
        assert not errors, errors


def base_id(g: Graph) -> str:
    return g.node.session.recognizer.backend.model_id


def test_bad_then_good_adapt_keeps_the_node_alive(graph: Graph) -> None:
    """A failed /adapt, then a good one: the node used to die ('Logger severity cannot be
    changed between calls': one log call site used at info and warning)."""
    from st_f2m_ros.srv import Adapt

    g = graph
    bad = g.call(g.adapt, Adapt.Request(subject_id='p01'))  # no clips: refused by the manager
    assert not bad.success and 'no support clips' in bad.message
    bad = g.call(g.adapt, Adapt.Request(subject_id='a..b'))
    assert not bad.success and 'invalid subject id' in bad.message
    good = g.call(g.adapt, support_request('p01'))
    assert good.success, good.message
    assert good.model_id == f'{base_id(g)}+p01@v1' and good.clips_used == 3
    bad = g.call(g.adapt, Adapt.Request(subject_id='p01'))  # and bad after good
    assert not bad.success
    # still alive: answers and publishes, with the adapted head
    assert g.sequence_model_id('p01') == f'{base_id(g)}+p01@v1'
    assert (Path(g.node.values['adaptation_store']) / 'p01' / 'v0001.safetensors').is_file()


def test_concurrent_adapt_calls_are_both_answered(graph: Graph) -> None:
    g = graph
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(g.call, g.adapt, support_request(s)) for s in ('p04', 'p05')]
        answers = [f.result() for f in futures]
    for a in answers:
        assert a.success or 'busy' in a.message, a.message
    assert any(a.success for a in answers)
    # the live head and the subject parameter agree on who it is
    subject = g.get_param('subject_id')
    assert g.node.session.recognizer.model_id.startswith(f'{base_id(g)}+{subject}@v')


def test_reset_returns_to_the_base_model(graph: Graph) -> None:
    from st_f2m_ros.srv import ResetAdaptation

    g = graph
    assert g.call(g.adapt, support_request('p01')).success
    out = g.call(g.reset, ResetAdaptation.Request(subject_id='', delete_persisted=False))
    assert out.success and out.model_id == base_id(g), out.message
    assert g.sequence_model_id('p01') == base_id(g)
    out = g.call(g.reset, ResetAdaptation.Request(subject_id='a..b'))
    assert not out.success and 'invalid subject id' in out.message


def test_subject_switches_never_serve_another_persons_head(graph: Graph) -> None:
    g = graph
    assert g.call(g.adapt, support_request('p01')).success
    adapted = f'{base_id(g)}+p01@v1'
    assert g.get_param('subject_id') == 'p01'  # /adapt for a person makes them the subject
    assert g.sequence_model_id('p01') == adapted

    result = g.set_param('subject_id', 'p02')  # no stored adaptation: the base model
    assert result.successful, result.reason
    assert g.node.session.recognizer.model_id == base_id(g)
    assert g.sequence_model_id('p02') == base_id(g)

    assert g.set_param('subject_id', 'p01').successful  # back: the stored head is reloaded
    assert g.sequence_model_id('p01') == adapted

    assert g.call(g.adapt, support_request('p03')).success
    assert g.get_param('subject_id') == 'p03'
    assert g.node.subject == 'p03'
    assert g.sequence_model_id('p03') == f'{base_id(g)}+p03@v1'

    refused = g.set_param('subject_id', 'a..b')
    assert not refused.successful and 'invalid subject id' in refused.reason
    assert g.get_param('subject_id') == 'p03'


def test_parameters_applied_live_or_refused_with_a_reason(graph: Graph) -> None:
    g = graph
    # accepted, and it changes behaviour: a 3-clip request is now over the limit
    result = g.set_param('max_clips', 2)
    assert result.successful, result.reason
    out = g.call(g.adapt, support_request('p01'))
    assert not out.success and 'at most 2' in out.message
    assert g.set_param('max_clips', 64).successful
    assert g.set_param('face_detect_every', 7).successful
    assert g.node.session.pipeline.tracker.config.detect_every == 7
    assert g.set_param('face_target', 'largest').successful
    assert g.node.session.pipeline.tracker.config.target == 'largest'
    assert g.set_param('default_inner_steps', 2).successful
    assert g.node.session.manager.settings.default_inner_steps == 2
    # refused: out of range (rclpy's descriptor range, or ours)
    result = g.set_param('min_confidence', 2.0)
    assert not result.successful and 'min_confidence' in result.reason
    assert g.get_param('min_confidence') == pytest.approx(0.45)
    # refused: read-only at run time, with what to do
    for name, value in (('backend', 'onnx'), ('checkpoint', '/x.safetensors'), ('device', 'cuda')):
        result = g.set_param(name, value)
        assert not result.successful
        assert 'read-only at run time: restart the node' in result.reason, result.reason
    assert g.get_param('backend') == 'torch'
    # the parameters rclpy declares itself are accepted
    assert g.set_param('use_sim_time', False).successful


def test_ros4hri_person_change_goes_through_the_same_switch(graph: Graph) -> None:
    """What HriBridge.follow_persons calls (hri_msgs is not on PyPI: called directly here)."""
    g = graph
    assert g.call(g.adapt, support_request('p01')).success
    g.node.switch_subject('abcde', origin='hri')  # one tracked person
    assert g.get_param('subject_id') == 'abcde'
    assert g.node.session.recognizer.model_id == base_id(g)
    g.node.switch_subject(g.node._fallback_subject, origin='hri')  # none tracked: configured
    assert g.get_param('subject_id') == 'p01'
    assert g.node.session.recognizer.model_id == f'{base_id(g)}+p01@v1'
