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
"""Both node executables as real processes: SIGINT/SIGTERM at any point ends them with exit 0.

`ros2 launch` sends SIGINT on Ctrl-C (and the terminal sends its own to the process group);
both nodes used to die with "exit code -2" (a KeyboardInterrupt escaping clean-up), and a
running adaptation held Ctrl-C without bound.
"""

from __future__ import annotations

import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip('rclpy')

ROOT = Path(__file__).resolve().parents[2]
EXIT_WITHIN = 10.0


def start(script: str, tmp_path: Path, *params: str) -> subprocess.Popen:
    env = {
        **os.environ,
        'PYTHONPATH': str(ROOT),
        'PYTHONUNBUFFERED': '1',
        'RCUTILS_LOGGING_BUFFERED_STREAM': '0',
    }
    args = [sys.executable, str(ROOT / 'scripts' / script), '--ros-args']
    for p in params:
        args += ['-p', p]
    log = open(tmp_path / f'{script}.log', 'w+b')
    proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def output(proc: subprocess.Popen) -> str:
    with open(proc.log.name, 'rb') as f:  # type: ignore[attr-defined]
        return f.read().decode(errors='replace')


def wait_ready(proc: subprocess.Popen, marker: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if marker in output(proc):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f'not ready ({marker!r}); output:\n{output(proc)}')


def stop(proc: subprocess.Popen, *signals: int, gap: float = 0.1) -> tuple[int, float]:
    """Send the signals `gap` s apart; return (exit code, seconds to exit after the first)."""
    t0 = time.monotonic()
    for i, sig in enumerate(signals):
        if i:
            time.sleep(gap)
        if proc.poll() is None:
            proc.send_signal(sig)
    try:
        code = proc.wait(timeout=EXIT_WITHIN + 5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f'still running {EXIT_WITHIN + 5} s after {signals}:\n{output(proc)}')
    return code, time.monotonic() - t0


def perception(tmp_path: Path, checkpoint: Path) -> subprocess.Popen:
    return start(
        'perception_node',
        tmp_path,
        f'checkpoint:={checkpoint}',
        f'adaptation_store:={tmp_path / "store"}',
        f'clip_roots:=[{tmp_path}]',
        'support_clips_are_crops:=true',
        'num_threads:=1',
    )


@pytest.mark.parametrize(
    'signals',
    [(signal.SIGINT,), (signal.SIGINT, signal.SIGINT), (signal.SIGTERM,)],
    ids=['sigint', 'two-sigints', 'sigterm'],
)
def test_perception_node_exits_0(tmp_path: Path, tiny_checkpoint: Path, signals) -> None:
    proc = perception(tmp_path, tiny_checkpoint)
    wait_ready(proc, 'ready: model')
    time.sleep(0.5)  # spinning
    code, took = stop(proc, *signals)
    log = output(proc)
    assert code == 0, f'exit {code}:\n{log}'
    assert took < EXIT_WITHIN, took
    assert 'Traceback' not in log, log


@pytest.mark.parametrize('delay', [0.5, 3.0, 6.0])
def test_perception_node_exits_0_when_interrupted_during_start_up(
    tmp_path: Path, tiny_checkpoint: Path, delay: float
) -> None:
    """Ctrl-C while Python imports torch/rclpy, loads the model or warms up (two of them)."""
    proc = perception(tmp_path, tiny_checkpoint)
    time.sleep(delay)
    code, took = stop(proc, signal.SIGINT, signal.SIGINT, gap=0.3)
    assert code == 0, f'exit {code}:\n{output(proc)}'
    assert took < EXIT_WITHIN


@pytest.mark.parametrize(
    'signals', [(signal.SIGINT,), (signal.SIGINT, signal.SIGINT)], ids=['sigint', 'two-sigints']
)
def test_behavior_node_exits_0(tmp_path: Path, signals) -> None:
    proc = start('emotion_behavior_node', tmp_path)
    wait_ready(proc, 'behaviour rules loaded')
    time.sleep(0.5)
    code, took = stop(proc, *signals)
    assert code == 0, f'exit {code}:\n{output(proc)}'
    assert took < EXIT_WITHIN


def test_sigint_during_a_running_adaptation(tmp_path: Path, tiny_checkpoint: Path) -> None:
    """Ctrl-C while /adapt trains: exit 0 within the bound, the caller gets an answer or none."""
    import rclpy
    from rclpy.node import Node

    from st_f2m_ros.srv import Adapt

    proc = perception(tmp_path, tiny_checkpoint)
    wait_ready(proc, 'ready: model')
    rclpy.init()
    node = Node('adapt_caller')
    try:
        client = node.create_client(Adapt, 'adapt')
        assert client.wait_for_service(timeout_sec=10.0)
        future = client.call_async(support_request('p01', frames=64, steps=200))
        time.sleep(2.0)  # the request is on its way / training
        rclpy.spin_once(node, timeout_sec=0.1)
        assert not future.done(), 'the adaptation finished too early to test Ctrl-C during it'
        code, took = stop(proc, signal.SIGINT)
        assert code == 0, f'exit {code}:\n{output(proc)}'
        assert took < EXIT_WITHIN, took
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        if proc.poll() is None:
            proc.kill()


def support_request(subject: str, frames: int = 6, steps: int = 5) -> object:
    """An Adapt request of three classes of random frames (a long one: many steps)."""
    import numpy as np
    from sensor_msgs.msg import Image

    from st_f2m_ros.msg import SupportClip
    from st_f2m_ros.srv import Adapt

    rng = np.random.default_rng(0)
    req = Adapt.Request(subject_id=subject, inner_steps=steps, persist=True)
    for label in ('happiness_high', 'anger_high', 'neutral'):
        clip = SupportClip(label=label)
        for _ in range(frames):
            img = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
            clip.frames.append(
                Image(height=32, width=32, encoding='bgr8', step=96, data=img.tobytes())
            )
        req.clips.append(clip)
    return req
