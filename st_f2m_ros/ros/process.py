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
"""The node process: start, spin, and stop cleanly on SIGINT/SIGTERM at any point.

`ros2 launch` sends SIGINT to each node (and a terminal's Ctrl-C sends a second one to the
whole process group). Python's default SIGINT handler raises KeyboardInterrupt wherever the
main thread is; one raised during clean-up escapes `main()`, and Python then dies by SIGINT
("process has died ... exit code -2"). So a Python-level handler that only records the signal
is installed BEFORE `rclpy.init` (by the scripts, before the heavy imports; at the latest by
`run_node`): rclpy's own handler (which shuts the context down and wakes
the executor) chains to it, and no KeyboardInterrupt is ever raised. A signal during start-up
makes the next rclpy call fail on the shut-down context; that is a clean stop too.
Clean-up always runs, each step bounded: the node's `close(timeout)`, the executor's shutdown,
`destroy_node`, `rclpy.try_shutdown`; then stop signals are ignored while Python finalises.
"""

from __future__ import annotations

from collections.abc import Callable
import signal
import sys
import traceback
from typing import Any

from st_f2m_ros.errors import StF2MError


class StartupInterruptedError(Exception):
    """Raised by `StopSignals.check` between start-up steps once a stop signal arrived."""


class StopSignals:
    """Records SIGINT/SIGTERM instead of raising (install before rclpy.init)."""

    def __init__(self) -> None:
        self.received: list[int] = []

    def install(self) -> StopSignals:
        """Install once (idempotent), from the main thread."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(sig) != self._on_signal:
                signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.received.append(signum)

    @property
    def stopping(self) -> bool:
        """True once a stop signal arrived."""
        return bool(self.received)

    def check(self) -> None:
        """Raise StartupInterruptedError when stopping (a node calls it between start-up steps)."""
        if self.received:
            raise StartupInterruptedError(f'signal {self.received[0]} during start-up')


# The process's recorder: the node scripts install it before importing anything heavy, so a
# Ctrl-C while torch or rclpy are imported is recorded too (run_node then exits 0 at once).
STOP = StopSignals()
EXECUTOR_TIMEOUT = 1.5  # s for the executor's threads to leave their callbacks


def run_node(
    name: str,
    make_node: Callable[[], Any],
    make_executor: Callable[[], Any],
    args: list[str] | None = None,
    close_timeout: float = 3.0,
) -> int:
    """Run one node until shutdown; return the exit code (0 on a signal, 1 on a start error).

    `close_timeout` bounds the node's close; the executor gets EXECUTOR_TIMEOUT more. Together
    they stay under `ros2 launch`'s default sigterm_timeout (5 s), so launch never escalates.
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException

    stop = STOP.install()
    node = executor = None
    code = 0
    try:
        rclpy.init(args=args)
        if not stop.stopping:
            node = make_node()
            executor = make_executor()
            executor.add_node(node)
        if executor is not None and not stop.stopping:
            executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException, StartupInterruptedError):
        pass
    except StF2MError as err:
        if not stop.stopping:
            print(f'{name}: {err}', file=sys.stderr)
            code = 1
    except Exception:  # after a signal any rclpy call may fail: still a clean stop
        if not stop.stopping:
            traceback.print_exc()
            code = 1
    finally:
        _cleanup(node, executor, close_timeout)
        # Python resets its signal handlers to SIG_DFL while the interpreter finalises (after
        # main returns, torch's teardown included): a late second Ctrl-C would then kill the
        # process with -2. We are exiting anyway, so stop signals are ignored from here on.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
    return code


def _cleanup(node: Any, executor: Any, timeout: float) -> None:
    """Each step guarded, so that one failing (or a late signal) does not skip the others."""
    import rclpy

    steps: list[Callable[[], Any]] = []
    if node is not None and hasattr(node, 'close'):
        steps.append(lambda: node.close(timeout))
    if executor is not None:
        steps.append(lambda: executor.shutdown(timeout_sec=EXECUTOR_TIMEOUT))
    if node is not None:
        steps.append(node.destroy_node)
    steps.append(rclpy.try_shutdown)
    for step in steps:
        try:
            step()
        except BaseException:  # shutting down: report it and go on
            traceback.print_exc()


def start_or_destroy(node: Any, start: Callable[[], None]) -> None:
    """Run a node's start-up; when it raises (a bad parameter, Ctrl-C), close and destroy the
    half-built node before re-raising. An rcl node left to the garbage collector after
    `rclpy.try_shutdown` kept the interpreter spinning at exit (measured: > 15 s, no end).
    """
    try:
        start()
    except BaseException:
        close = getattr(node, 'close', None)
        for step in ((lambda: close(1.0)) if close else None, node.destroy_node):
            if step is None:
                continue
            try:
                step()
            except Exception:  # the start-up error is the one to report
                pass
        raise
