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
"""The bad-input corpus through the REAL perception node process, and what its log holds.

A subset of `evaluation.bad_inputs` (the `live` cases) is published into a running
`perception_node` process: after each case the node is alive, the case is counted in
/diagnostics under its named cause, and good frames after it are processed. The process's
log (stderr, as `ros2 launch` shows it) has one line per skip cause and, in a full run with
frames and a distinctive transcript, neither the transcript text nor frame bytes.
"""

from __future__ import annotations

import os
from pathlib import Path
import random
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('st_f2m_ros.msg')
sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib: siblings by path

from pipeline_support import (  # noqa: E402
    RELIABLE,
    SENSOR,
    compressed_msg,
    image_msg,
    string_msg,
    wait_for,
)

from st_f2m_ros.evaluation.bad_inputs import (  # noqa: E402
    WILD,
    Event,
    diagnostic_key,
    good_bgr,
    jpeg,
    live_cases,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = 'the purple giraffe recites lighthouse poetry at midnight'


class NodeProcess:
    """scripts/perception_node as a process, its output in a file, and a probe node."""

    def __init__(self, tmp_path: Path, checkpoint: Path, compressed: bool) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import CompressedImage, Image
        from std_msgs.msg import String

        from st_f2m_ros.msg import EmotionSequence

        env = {**os.environ, 'PYTHONPATH': str(ROOT), 'PYTHONUNBUFFERED': '1',
               'RCUTILS_LOGGING_BUFFERED_STREAM': '0'}  # fmt: skip
        params = [
            f'checkpoint:={checkpoint}', f'adaptation_store:={tmp_path / "store"}',
            f'use_compressed:={str(compressed).lower()}', 'transcript_type:=string',
            'diagnostics_period:=0.2', 'stale_timeout:=1.0', 'num_threads:=1',
        ]  # fmt: skip
        args = [sys.executable, str(ROOT / 'scripts' / 'perception_node'), '--ros-args']
        for p in params:
            args += ['-p', p]
        self.log_path = tmp_path / 'perception_node.log'
        self._log = open(self.log_path, 'wb')
        self.proc = subprocess.Popen(
            args, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=tmp_path
        )
        rclpy.init()
        self.probe = rclpy.create_node('bad_input_probe')
        self.image = self.probe.create_publisher(Image, 'image', SENSOR)
        self.compressed = self.probe.create_publisher(CompressedImage, 'image/compressed', SENSOR)
        self.string = self.probe.create_publisher(String, 'transcript', RELIABLE)
        self.diagnostics: list = []
        self.sequences: list = []
        self.probe.create_subscription(
            DiagnosticArray, '/diagnostics', self.diagnostics.append, RELIABLE
        )
        self.probe.create_subscription(
            EmotionSequence, 'emotion/sequence', self.sequences.append, RELIABLE
        )
        self._stop = threading.Event()
        self._spin = threading.Thread(target=self._spin_probe, daemon=True)
        self._spin.start()

    def _spin_probe(self) -> None:
        while not self._stop.is_set():
            rclpy.spin_once(self.probe, timeout_sec=0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors='replace')

    def values(self) -> dict[str, str]:
        for arr in reversed(list(self.diagnostics)):
            for st in arr.status:
                if st.name.endswith('perception'):
                    return {kv.key: kv.value for kv in st.values}
        return {}

    def count(self, key: str) -> float:
        return float(self.values().get(key, 0))

    def stop(self) -> int:
        self._stop.set()
        self._spin.join(timeout=2.0)
        self.probe.destroy_node()
        rclpy.try_shutdown()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._log.close()
        return code


@pytest.fixture(autouse=True)
def _own_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('ROS_DOMAIN_ID', str(random.randint(1, 100)))
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')


def start(tmp_path: Path, checkpoint: Path, compressed: bool) -> NodeProcess:
    node = NodeProcess(tmp_path, checkpoint, compressed)
    if not wait_for(lambda: node.values(), 60.0):
        node.stop()
        pytest.fail(f'no /diagnostics from the node; its log:\n{node.log()}')
    return node


def publish(node: NodeProcess, e: Event, t0: float) -> None:
    """Publish one event as a live camera / recogniser would, at its time."""
    if e.kind == 'pause':
        time.sleep(e.dt)
        return
    if not e.absolute and 0 <= e.dt < WILD:
        delay = t0 + e.dt - time.time()
        if delay > 0:
            time.sleep(delay)
    stamp = e.dt if e.absolute else t0 + e.dt
    if e.kind == 'image':
        node.image.publish(image_msg(stamp, e))
    elif e.kind == 'compressed':
        node.compressed.publish(compressed_msg(stamp, e.fmt, e.data))
    else:
        node.string.publish(string_msg(e.text))


def good_frames(node: NodeProcess, compressed: bool, n: int = 8, fps: float = 15.0) -> None:
    img = good_bgr(1)
    data = jpeg(img)
    for _ in range(n):
        time.sleep(1.0 / fps)
        if compressed:
            node.compressed.publish(compressed_msg(time.time(), 'jpeg', data))
        else:
            node.image.publish(image_msg(time.time(), Event('image', data=img.tobytes())))


def _cases(compressed: bool):
    frames = {'compressed'} if compressed else {'image', 'string', 'pause'}
    return [c for c in live_cases() if {e.kind for e in c.events} <= frames]


@pytest.mark.parametrize('compressed', [False, True], ids=['image', 'compressed'])
def test_live_bad_inputs_counted_logged_once_and_survived(
    tmp_path: Path, tiny_checkpoint: Path, compressed: bool
) -> None:
    cases = _cases(compressed)
    assert len(cases) >= (3 if compressed else 12)
    node = start(tmp_path, tiny_checkpoint, compressed)
    t_start = time.monotonic()
    try:
        good_frames(node, compressed, 15)
        assert wait_for(lambda: node.count('frames_processed') >= 5, 10.0), node.values()
        for case in cases:
            before = node.values()
            processed = float(before.get('frames_processed', 0))
            t0 = time.time()
            for e in case.events:
                publish(node, e, t0)
                t0 += e.dt if e.kind == 'pause' else 0.0  # stamps continue after a pause
            for cause in case.causes:
                key = diagnostic_key(cause)
                was = float(before.get(key, 0))
                ok = wait_for(lambda k=key, w=was: node.count(k) > w, 8.0)
                assert ok, f'{case.name}: {key} not counted; {node.values()}'
            assert node.proc.poll() is None, f'{case.name} killed the node:\n{node.log()}'
            good_frames(node, compressed)
            if any(e.kind == 'string' for e in case.events):
                time.sleep(1.1)  # past the flood limit's 1 s window, as the unit runner
            assert wait_for(lambda p=processed: node.count('frames_processed') > p, 8.0), (
                f'{case.name}: good frames after it were not processed; {node.values()}'
            )
        time.sleep(0.6)  # the diagnostics timer logs what it saw last
        values = node.values()
    finally:
        code = node.stop()
    took = time.monotonic() - t_start
    log = node.log()
    assert code == 0, log
    assert 'Traceback' not in log, log
    causes = {k[8:] for k, v in values.items() if k.startswith('skipped_') and k != 'skipped_total'
              and float(v) > 0}  # fmt: skip
    assert causes, values
    for cause in causes:
        lines = re.findall(rf'input skipped \({re.escape(cause)},', log)
        assert 1 <= len(lines) <= 1 + int(took // 60), (cause, len(lines), log[-3000:])


def test_full_run_logs_no_transcript_text_and_no_frame_bytes(
    tmp_path: Path, tiny_checkpoint: Path
) -> None:
    node = start(tmp_path, tiny_checkpoint, compressed=False)
    img = good_bgr(3)
    try:
        for i in range(45):
            time.sleep(1 / 15)
            node.image.publish(image_msg(time.time(), Event('image', data=img.tobytes())))
            if i % 10 == 0:
                node.string.publish(string_msg(f'{SECRET} {i}'))
        time.sleep(0.1)
        bad = Event('image', encoding='rgb8', data=img.tobytes()[:-7])  # logged: layout
        node.image.publish(image_msg(time.time(), bad))
        assert wait_for(lambda: node.count('skipped_image_layout') >= 1, 8.0), node.values()
        assert wait_for(lambda: node.count('transcripts_total') >= 3, 8.0), node.values()
        time.sleep(0.6)
    finally:
        assert node.stop() == 0
    log = node.log()
    assert 'input skipped (image_layout' in log  # the run did log
    lowered = log.lower()
    for word in ('purple giraffe', 'lighthouse', 'midnight'):
        assert word not in lowered
    raw = img.tobytes()
    for k in range(0, 4000, 400):  # no frame bytes, raw or as a repr/hex dump
        chunk = raw[k : k + 16]
        assert chunk.hex() not in log and repr(chunk)[2:-1] not in log
