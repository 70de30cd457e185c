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
"""Harness of the live tests: the real nodes under REAL rclpy (ROS 2 Kilted wheels).

`make test-ros` runs this folder in `.venv-ros` (tools/ros_venv.sh builds it: rclpy from PyPI,
this package's msg/srv built with CMake, the core imported from the source tree). The plain
`.venv` has no rclpy: there every module here is skipped with the reason, before it is
imported; with ST_F2M_REQUIRE_ROS=1 (CI) the same modules are collection errors instead.

Isolation: every run claims a free DDS domain id (a lock file per id, so that runs on one
machine never cross-talk), discovery is localhost only, and ROS log files go to a temporary
folder. Subprocesses inherit all of it through the environment.

Fixtures (helpers come through the `live` fixture; `from conftest import ...` works too when
this folder runs on its own, as `make test-ros` runs it: importing this file a second time
claims nothing new):
* `ros` (module scope): rclpy's default context initialised with the module's `ros_args`
  (override that fixture: `--ros-args -p node:name:=value ...`, e.g.
  `live.perception_args(...)`), a MultiThreadedExecutor spinning in a background thread and a
  probe node; see `RosGraph` (`publisher`, `record`, `collect`, `call_service`, `now`, ...).
  The default context because the nodes under test create themselves without `context=`.
* `perception` (module scope): a PerceptionNode spinning in `ros`.
* `node_process`: start `scripts/<node>` as a real process (venv Python, PYTHONPATH = the
  repository), wait for a log line, stop it with a signal and get its exit code.
* `live`: `wait_for`, `rendered_frames`, `image_msg`, `compressed_msg`, `play`,
  `check_sequence`, `perception_args`, `ros_param`, `ROOT`, `PERCEPTION`, `BEHAVIOR`, ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import fcntl
import math
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from types import SimpleNamespace
from typing import IO, Any

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))  # helper modules shared by the tests here

REQUIRE = os.environ.get('ST_F2M_REQUIRE_ROS') == '1'
PERCEPTION = 'st_f2m_perception'
BEHAVIOR = 'st_f2m_behavior'


# --- environment: before anything initialises rclpy ------------------------------------------


def _claim_domain() -> tuple[int, IO[str] | None]:
    """A DDS domain id no other run on this machine holds (ST_F2M_ROS_DOMAIN_ID forces one)."""
    forced = os.environ.get('ST_F2M_ROS_DOMAIN_ID')
    if forced:
        return int(forced), None
    folder = Path(tempfile.gettempdir()) / 'st_f2m_ros_domains'
    folder.mkdir(exist_ok=True)
    first = os.getpid() % 100
    for k in range(100):
        domain = 1 + (first + k) % 100  # 1..100: Fast DDS ports stay below the ephemeral range
        lock = open(folder / f'{domain}.lock', 'w')  # held (open) for the whole run
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        return domain, lock
    raise RuntimeError(f'all DDS domain ids 1..100 are taken (locks in {folder})')


# Once per process: `from conftest import ...` imports this file a second time (as another
# module), which must not claim a second domain.
_FIRST = os.environ.get('_ST_F2M_ROS_LIVE_PID') != str(os.getpid())
if _FIRST:
    DOMAIN_ID, _DOMAIN_LOCK = _claim_domain()
    LOG_DIR = tempfile.mkdtemp(prefix='st_f2m_ros_log_')
    os.environ['_ST_F2M_ROS_LIVE_PID'] = str(os.getpid())
else:
    DOMAIN_ID, _DOMAIN_LOCK = int(os.environ['ROS_DOMAIN_ID']), None
    LOG_DIR = os.environ['ROS_LOG_DIR']
os.environ['ROS_DOMAIN_ID'] = str(DOMAIN_ID)
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'  # Jazzy and later
os.environ['ROS_LOCALHOST_ONLY'] = '1'  # Humble; ignored by Kilted
os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
os.environ['ROS_LOG_DIR'] = LOG_DIR  # not ~/.ros/log
os.environ.setdefault('RCUTILS_LOGGING_BUFFERED_STREAM', '0')
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')  # before torch: two shared cores


def _ros_problem() -> str | None:
    """Why the live tests cannot run here, or None."""
    try:
        import rclpy  # noqa: F401
    except ImportError as err:
        return f'rclpy is not importable ({err}); `make test-ros` runs these in .venv-ros'
    try:
        from st_f2m_ros.msg import EmotionSequence  # noqa: F401
    except ImportError as err:
        return (
            f'the st_f2m_ros interfaces are not built for this Python ({err}); '
            'run tools/ros_venv.sh'
        )
    return None


PROBLEM = _ros_problem()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _FIRST:
        shutil.rmtree(LOG_DIR, ignore_errors=True)
    if _DOMAIN_LOCK is not None:
        _DOMAIN_LOCK.close()


def pytest_report_header(config: pytest.Config) -> str:
    if PROBLEM:
        return f'ros_live: unavailable: {PROBLEM}'
    import rclpy

    return (
        f'ros_live: rclpy from {Path(rclpy.__file__).parent}, ROS_DOMAIN_ID={DOMAIN_ID}, '
        f'{os.environ["RMW_IMPLEMENTATION"]}, discovery LOCALHOST'
    )


if PROBLEM is not None:

    class _Unavailable(pytest.Module):
        """A test module of this folder where rclpy is missing: skipped (or an error in CI)."""

        def collect(self) -> list[Any]:
            if REQUIRE:
                raise self.CollectError(f'ST_F2M_REQUIRE_ROS=1 but {PROBLEM}')
            pytest.skip(PROBLEM)

    def pytest_pycollect_makemodule(module_path: Path, parent: Any) -> Any:
        return _Unavailable.from_parent(parent, path=module_path)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.ros)


# --- polling -----------------------------------------------------------------------------------


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll `predicate` until it is true or `timeout` s passed; its last value as a bool."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


# --- camera frames and the checks of an EmotionSequence --------------------------------------
FPS = 15.0
WIDTH, HEIGHT = 320, 240


def rendered_frames(seconds: float = 3.0, seed: int = 1) -> list[np.ndarray]:
    """`seconds` of a synthetic person (uint8 BGR, WIDTH x HEIGHT) at FPS."""
    from st_f2m_ros.data.synthetic import SyntheticConfig, SyntheticSession, make_subjects

    cfg = SyntheticConfig(fps=FPS, width=WIDTH, height=HEIGHT, duration=seconds)
    session = SyntheticSession(make_subjects(1, seed=seed)[0], cfg, seed=seed)
    return [f.image for f in session.frames()]


def image_msg(bgr: np.ndarray, stamp: Any) -> Any:
    """A bgr8 sensor_msgs/Image."""
    from sensor_msgs.msg import Image

    h, w = bgr.shape[:2]
    msg = Image(height=h, width=w, encoding='bgr8', is_bigendian=0, step=3 * w)
    msg.data = bgr.tobytes()
    msg.header.stamp = stamp
    msg.header.frame_id = 'camera'
    return msg


def compressed_msg(bgr: np.ndarray, stamp: Any) -> Any:
    """A JPEG sensor_msgs/CompressedImage."""
    import cv2
    from sensor_msgs.msg import CompressedImage

    ok, buf = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    msg = CompressedImage(format='jpeg', data=buf.tobytes())
    msg.header.stamp = stamp
    msg.header.frame_id = 'camera'
    return msg


def stamp_seconds(t: Any) -> float:
    """A builtin_interfaces/Time in seconds."""
    return t.sec + t.nanosec * 1e-9


def play(ros: Any, publisher: Any, frames: list[np.ndarray], make_msg: Any,
         until: Any = None) -> list[float]:  # fmt: skip
    """Publish `frames` at FPS stamped with the current ROS time; the stamps (s) published.

    Stops early once `until()` is true (checked after each frame).
    """
    stamps = []
    next_at = time.monotonic()
    for bgr in frames:
        stamp = ros.now()
        publisher.publish(make_msg(bgr, stamp))
        stamps.append(stamp_seconds(stamp))
        if until is not None and until():
            break
        next_at += 1.0 / FPS
        time.sleep(max(0.0, next_at - time.monotonic()))
    return stamps


def check_sequence(msg: Any, stamps: list[float]) -> None:
    """A well-formed EmotionSequence computed from one of the published frames."""
    from st_f2m_ros.msg import EmotionState
    from st_f2m_ros.taxonomy import CLASS_LABELS

    stamp = stamp_seconds(msg.header.stamp)
    # The node carries the stamp as float seconds: equal to a frame's stamp within a microsecond.
    assert min(abs(stamp - s) for s in stamps) < 1e-6, (stamp, stamps[0], stamps[-1])
    assert list(msg.class_labels) == list(CLASS_LABELS)
    assert msg.model_id
    assert msg.window_size > 0 and msg.window_hop > 0
    assert msg.processing_latency >= 0
    assert msg.states, 'no states'
    n = len(CLASS_LABELS)
    statuses = {
        EmotionState.STATUS_OK,
        EmotionState.STATUS_LOW_CONFIDENCE,
        EmotionState.STATUS_STALE,
        EmotionState.STATUS_NO_FACE,
    }
    last_end = -math.inf
    for s in msg.states:
        start, end = stamp_seconds(s.start), stamp_seconds(s.end)
        assert start <= end <= stamp + 1e-6, (start, end, stamp)
        assert end >= last_end, 'states out of time order'
        last_end = end
        assert 0 <= s.class_id < n
        assert s.class_label == CLASS_LABELS[s.class_id]
        assert 0.0 <= s.confidence <= 1.0
        assert s.status in statuses
        assert len(s.components) == EmotionState.NUM_COMPONENTS
        assert all(math.isfinite(c) for c in s.components)
        if len(s.class_probabilities):
            probs = np.asarray(s.class_probabilities)
            assert probs.shape == (n,) and np.all(probs >= 0)
            assert abs(float(probs.sum()) - 1.0) < 1e-3
        assert s.emotion == EmotionState.UNKNOWN or s.emotion <= EmotionState.SURPRISE
        assert s.intensity <= EmotionState.INTENSITY_HIGH


# --- in-process graph ------------------------------------------------------------------------


class Recorder:
    """Messages of one topic as they arrive (appended by executor threads)."""

    def __init__(self, graph: RosGraph, msg_type: Any, topic: str, qos: Any) -> None:
        self.topic = topic
        self.messages: list[Any] = []
        self._graph = graph
        self.subscription = graph.probe.create_subscription(
            msg_type, topic, self.messages.append, qos
        )

    def wait(self, n: int = 1, timeout: float = 10.0) -> list[Any]:
        """At least `n` messages (all received so far), or AssertionError after `timeout` s."""
        if not wait_for(lambda: len(self.messages) >= n, timeout):
            raise AssertionError(
                f'{len(self.messages)} of {n} message(s) on {self.topic} in {timeout} s'
            )
        return list(self.messages)

    def close(self) -> None:
        self._graph.probe.destroy_subscription(self.subscription)


class RosGraph:
    """rclpy's default context, a MultiThreadedExecutor in a thread, and a probe node.

    The nodes under test are added with `add_node`; the probe publishes, subscribes and calls
    services for the test. `close` shuts everything down and checks no thread is left.
    """

    def __init__(self, args: list[str], num_threads: int = 4) -> None:
        import rclpy
        from rclpy.executors import MultiThreadedExecutor
        from rclpy.node import Node
        from rclpy.signals import SignalHandlerOptions
        from rclpy.utilities import get_default_context

        # No signal handlers: Ctrl-C must still stop pytest.
        rclpy.init(
            args=['st_f2m_ros_live', *args],
            domain_id=DOMAIN_ID,
            signal_handler_options=SignalHandlerOptions.NO,
        )
        self.context = get_default_context()
        self.nodes: list[Any] = []
        self.executor = MultiThreadedExecutor(num_threads=num_threads, context=self.context)
        self.probe = Node('st_f2m_test_probe', context=self.context)
        self.executor.add_node(self.probe)
        self.thread = threading.Thread(target=self._spin, name='ros_live executor', daemon=True)
        self.error: BaseException | None = None
        self._destroying = False
        self.thread.start()

    def _spin(self) -> None:
        from rclpy.exceptions import InvalidHandle
        from rclpy.executors import ExternalShutdownException

        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass
        except InvalidHandle as err:
            # The spin thread's in-flight wait can still touch a node that remove_node has
            # just destroyed (rclpy's own teardown race); only then is it not a failure.
            if not self._destroying:
                self.error = err
        except BaseException as err:  # reported by close(): a callback raised
            self.error = err

    # nodes

    def add_node(self, node: Any) -> Any:
        """Spin `node` in the executor; closed and destroyed by `remove_node` or `close`."""
        self.executor.add_node(node)
        self.nodes.append(node)
        return node

    def remove_node(self, node: Any, timeout: float = 5.0) -> None:
        self.executor.remove_node(node)
        self.nodes.remove(node)
        if hasattr(node, 'close'):
            node.close(timeout)
        self._destroying = True  # set for good: the graph is being taken apart node by node
        node.destroy_node()

    # topics

    def publisher(self, msg_type: Any, topic: str, qos: Any = None) -> Any:
        """A probe publisher (reliable, depth 10, unless `qos` is given)."""
        return self.probe.create_publisher(msg_type, topic, qos or _reliable())

    def wait_for_subscribers(self, publisher: Any, n: int = 1, timeout: float = 10.0) -> None:
        if not wait_for(lambda: publisher.get_subscription_count() >= n, timeout):
            raise AssertionError(
                f'{publisher.get_subscription_count()} of {n} subscriber(s) on '
                f'{publisher.topic_name} in {timeout} s; nodes seen: '
                f'{self.probe.get_node_names_and_namespaces()}'
            )

    def record(self, msg_type: Any, topic: str, qos: Any = None) -> Recorder:
        """Start recording a topic now; `.messages`, `.wait(n, timeout)`, `.close()`."""
        return Recorder(self, msg_type, topic, qos or _reliable())

    def collect(
        self, topic: str, msg_type: Any, n: int = 1, timeout: float = 10.0, qos: Any = None
    ) -> list[Any]:
        """The first `n` (or more) messages published on `topic` from now on."""
        rec = self.record(msg_type, topic, qos)
        try:
            return rec.wait(n, timeout)
        finally:
            rec.close()

    # services

    def client(self, srv_type: Any, name: str) -> Any:
        return self.probe.create_client(srv_type, name)

    def call_service(self, client: Any, request: Any, timeout: float = 30.0) -> Any:
        """Call through the spinning executor; the response (AssertionError if none comes)."""
        if not client.wait_for_service(timeout_sec=min(timeout, 10.0)):
            raise AssertionError(f'service {client.srv_name} not available')
        future = client.call_async(request)
        if not wait_for(future.done, timeout):
            client.remove_pending_request(future)
            raise AssertionError(f'no response from {client.srv_name} in {timeout} s')
        return future.result()

    # time

    def now(self) -> Any:
        """The probe's current ROS time as a builtin_interfaces/Time."""
        return self.probe.get_clock().now().to_msg()

    # teardown

    def close(self, timeout: float = 5.0) -> None:
        import rclpy

        try:
            # Stop spinning before anything is destroyed: destroying a node the executor still
            # waits on raises InvalidHandle in the spin thread.
            self.executor.shutdown(timeout_sec=timeout)
            for node in list(self.nodes):
                self.remove_node(node, timeout)
            self.probe.destroy_node()
        finally:
            # Without context=: only then does rclpy replace its default context, so that
            # the next module can rclpy.init() again (a shut-down context cannot be re-used).
            rclpy.try_shutdown()
            self.thread.join(timeout)
        assert not self.thread.is_alive(), 'the executor thread did not stop'
        if self.error is not None:
            raise AssertionError(f'the executor raised: {self.error!r}') from self.error


def _reliable() -> Any:
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    return QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def ros_param(node: str, name: str, value: Any) -> list[str]:
    """`-p node:name:=value` (YAML value syntax) for one node's parameter override."""
    if isinstance(value, bool):
        text = 'true' if value else 'false'
    elif isinstance(value, (list, tuple)):
        text = '[' + ', '.join(str(v) for v in value) + ']'
    else:
        text = str(value)
    return ['-p', f'{node}:{name}:={text}']


def perception_args(checkpoint: Path, folder: Path, **params: Any) -> list[str]:
    """`--ros-args` of a PerceptionNode on `checkpoint`, its files under `folder`.

    The adaptation store and the only clip root are inside `folder` (never ~/.ros), one CPU
    thread; `params` override or add parameters (e.g. use_compressed=True).
    """
    values: dict[str, Any] = {
        'checkpoint': str(checkpoint),
        'adaptation_store': str(folder / 'adaptations'),
        'clip_roots': [str(folder)],
        'num_threads': 1,
        **params,
    }
    args = ['--ros-args']
    for name, value in values.items():
        args += ros_param(PERCEPTION, name, value)
    return args


@pytest.fixture(scope='session')
def live() -> SimpleNamespace:
    """The helpers of this file (perception_args, play, check_sequence, ...), without an import.

    `from conftest import ...` would import this file a second time under another name.
    """
    return SimpleNamespace(**{k: v for k, v in globals().items() if not k.startswith('_')})


@pytest.fixture(scope='module')
def ros_args() -> list[str]:
    """`--ros-args ...` for the module's context; override it in a test module."""
    return []


@pytest.fixture(scope='module')
def ros(ros_args: list[str]) -> Iterator[RosGraph]:
    """The module's RosGraph (rclpy default context, spinning executor, probe node)."""
    graph = RosGraph(ros_args)
    try:
        yield graph
    finally:
        graph.close()


@pytest.fixture(scope='module')
def perception(ros: RosGraph) -> Any:
    """A PerceptionNode (parameters from the module's `ros_args`) spinning in `ros`."""
    from st_f2m_ros.ros.perception_node import PerceptionNode

    node = ros.add_node(PerceptionNode())
    yield node
    if node in ros.nodes:
        ros.remove_node(node)


# --- node processes --------------------------------------------------------------------------


class NodeProcess:
    """`scripts/<name>` run by this Python with the repository first on PYTHONPATH."""

    def __init__(self, name: str, cwd: Path, ros_arguments: list[str]) -> None:
        self.name = name
        self.log_path = cwd / f'{name}.log'
        env = {
            **os.environ,
            'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]),
            'PYTHONUNBUFFERED': '1',
            # The harness's domain, whatever an earlier test left in os.environ
            # (pipeline_support.use_own_domain sets a random one for in-process graphs).
            'ROS_DOMAIN_ID': str(DOMAIN_ID),
        }
        with open(self.log_path, 'wb') as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / 'scripts' / name), *ros_arguments],
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log_path.read_text(errors='replace')

    def wait_for_output(self, text: str, timeout: float = 60.0) -> None:
        """Wait for `text` in the process's log (AssertionError if it exits or times out)."""
        ok = wait_for(lambda: text in self.output() or self.proc.poll() is not None, timeout, 0.1)
        if not ok or text not in self.output():
            raise AssertionError(
                f'{self.name}: no {text!r} (exit code {self.proc.poll()}):\n{self.output()}'
            )

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0) -> tuple[int, float]:
        """Send `sig`; (exit code, seconds it took). Killed and AssertionError after `timeout`."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f'{self.name} still running {timeout} s after signal {sig}:\n{self.output()}'
            ) from None
        return code, time.monotonic() - t0

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def node_process(tmp_path: Path) -> Iterator[Callable[..., NodeProcess]]:
    """Factory: `node_process('perception_node', *ros_arguments)`; killed at teardown."""
    started: list[NodeProcess] = []

    def start(name: str, *ros_arguments: str) -> NodeProcess:
        proc = NodeProcess(name, tmp_path, list(ros_arguments))
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
