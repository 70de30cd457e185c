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
"""The one adaptation worker thread: busy refusal, cancellation, bounded close.

One adaptation at a time: the inner loop takes seconds of CPU and a second one would only halve
the speed of both while frames keep competing for the cores, so a request that arrives while
one runs is answered `busy` at once (not queued: a queued service call would hang the caller
for an unknown time). The worker is a daemon thread, so `close(timeout)` can return on time
and the process can exit even when an inner loop is in the middle of a step; the job checks
`cancelled()` between phases and inner steps and the manager commits (swap + persist) only
when not cancelled, so a cancelled adaptation writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
import os
import threading
from typing import TypeVar

from st_f2m_ros.errors import AdaptationError

T = TypeVar('T')


class CancelledError(AdaptationError):
    """The adaptation was cancelled (the node is shutting down); nothing was written."""


class AdaptWorker:
    """Runs one job at a time on a low-priority daemon thread; `close` is bounded."""

    def __init__(self, nice: int = 5, name: str = 'st_f2m_adapt') -> None:
        self.nice = int(nice)
        self.name = name
        self._running = threading.Lock()  # held for the whole job (async or inline)
        self._cancel = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        # Held while an adaptation is committed (head swap + store write): close() lets a
        # commit finish rather than cut a finished adaptation off from its file.
        self.commit_lock = threading.Lock()

    @property
    def busy(self) -> bool:
        """True while a job runs."""
        return self._running.locked()

    @property
    def closed(self) -> bool:
        """True after `close`: new jobs are refused."""
        return self._closed

    def cancelled(self) -> bool:
        """True once `close` was called (jobs poll this between steps)."""
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise Cancelled when `close` was called (call between phases and steps)."""
        if self._cancel.is_set():
            raise CancelledError(
                'adaptation cancelled: the node is shutting down; nothing was stored'
            )

    def try_begin(self) -> bool:
        """Take the worker for one job; False when busy or closed."""
        if self._closed or not self._running.acquire(blocking=False):
            return False
        if self._closed:  # closed between the check and the acquire
            self._running.release()
            return False
        return True

    def end(self) -> None:
        """Release the worker after a job started with `try_begin` ran inline."""
        self._running.release()

    def start(self, job: Callable[[], T]) -> Future[T]:
        """Run `job` on the worker thread; the caller must hold the worker (`try_begin`)."""
        future: Future[T] = Future()
        future.set_running_or_notify_cancel()

        def run() -> None:
            _lower_priority(self.nice)
            try:
                future.set_result(job())
            except BaseException as err:  # handed to the waiting caller
                future.set_exception(err)
            finally:
                self._running.release()

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        return future

    def close(self, timeout: float = 5.0) -> bool:
        """Refuse new jobs, cancel the running one and wait at most `timeout` s for it.

        Returns True when no job runs any more. A job still in its inner loop at the deadline
        is left to a daemon thread that will commit nothing.
        """
        self._closed = True
        self._cancel.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, float(timeout)))
            return not thread.is_alive()
        return not self.busy


def _lower_priority(nice: int) -> None:
    """Lower the calling thread's CPU priority (Linux: per-thread niceness); else no-op."""
    if nice <= 0 or not hasattr(os, 'setpriority'):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:
        pass
