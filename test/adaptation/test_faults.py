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
"""Faults around /adapt: full disk, read-only store, corrupt files, shutdown mid-adaptation.

The full disk is a real 1 MB tmpfs and the read-only store a real read-only bind mount when
the test runs as root with mount permission; elsewhere the same OSError (ENOSPC / EROFS) is
raised at the store's write call.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
import subprocess
import threading
import time

import pytest

from st_f2m_ros.runtime.adaptation import store as store_mod


def _mount(args: list[str]) -> bool:
    if os.geteuid() != 0:
        return False
    return subprocess.run(['mount', *args], capture_output=True).returncode == 0


@pytest.fixture
def broken_store(tmp_path: Path, monkeypatch):
    """`make(kind, store_root)`: make the store read-only ('ro'), or inject ENOSPC ('full')."""
    mounted: list[Path] = []

    def make(kind: str, root: Path) -> str:
        if kind == 'ro' and _mount(['--bind', '-o', 'ro', str(root), str(root)]):
            mounted.append(root)
            return 'real'
        code = errno.ENOSPC if kind == 'full' else errno.EROFS

        def fail(path, data):
            raise OSError(code, os.strerror(code), str(path))

        monkeypatch.setattr(store_mod, 'atomic_write_bytes', fail)
        return 'injected'

    yield make
    for root in mounted:
        subprocess.run(['umount', '-l', str(root)], check=False)


def _fill(root: Path) -> None:
    """Fill a (tmpfs) file system to the last byte."""
    fd = os.open(root / 'filler', os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b'\0' * 4096)
    except OSError as err:
        assert err.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_full_disk_is_reported_and_the_adapted_head_serves(
    make_manager, recognizer, helpers, tmp_path: Path, broken_store
) -> None:
    root = tmp_path / 'store'
    root.mkdir()
    real = _mount(['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', str(root)])
    try:
        mgr = make_manager()
        assert mgr.adapt(helpers.request()).success  # v1 fits
        if real:
            _fill(root)
        else:
            broken_store('full', root)
        out = mgr.adapt(helpers.request(inner_steps=20))
        versions = mgr.store.versions('p07')
        leftovers = list(mgr.store.subject_dir('p07').glob('.*.tmp'))
        report = mgr.activate('p07')
    finally:
        if real:
            subprocess.run(['umount', '-l', str(root)], check=False)
    assert out.success and 'NOT persisted' in out.message, out.message
    assert 'No space left on device' in out.message
    assert out.model_id == 'tiny+p07@v2'  # the adapted head served
    assert versions == [1] and not leftovers  # no half file left
    assert 'reloaded adaptation p07@v1' in report


def test_read_only_store_is_reported_and_the_adapted_head_serves(
    make_manager, recognizer, helpers, tmp_path: Path, broken_store
) -> None:
    mgr = make_manager()
    assert mgr.adapt(helpers.request()).success
    broken_store('ro', tmp_path / 'store')
    out = mgr.adapt(helpers.request(inner_steps=20))
    assert out.success and 'NOT persisted' in out.message, out.message
    assert 'Read-only file system' in out.message
    assert recognizer.model_id == 'tiny+p07@v2'
    assert 'reloaded adaptation p07@v1' in mgr.activate('p07')  # reading still works
    assert mgr.adapt(helpers.request(subject='p08')).success  # and the node goes on


def test_injected_write_failure_at_the_write_call(
    make_manager, recognizer, helpers, monkeypatch
) -> None:
    """The fallback path of the fixtures above, exercised everywhere (also as root)."""
    mgr = make_manager()
    assert mgr.adapt(helpers.request()).success

    def fail(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(store_mod, 'atomic_write_bytes', fail)
    out = mgr.adapt(helpers.request())
    assert out.success and 'No space left on device' in out.message
    assert recognizer.model_id == 'tiny+p07@v2' and mgr.store.versions('p07') == [1]


def test_corrupt_newest_version_falls_back_to_the_older_one(
    make_manager, recognizer, helpers
) -> None:
    mgr = make_manager()
    for _ in range(2):
        assert mgr.adapt(helpers.request()).success
    v2 = mgr.store.path_of('p07', 2)
    v2.write_bytes(v2.read_bytes()[:100])
    mgr.activate('p08')
    report = mgr.activate('p07')
    assert 'reloaded adaptation p07@v1' in report and 'v0002.safetensors is corrupt' in report
    assert recognizer.model_id == 'tiny+p07@v1'


def test_exception_inside_adaptation_keeps_the_old_head(make_manager, recognizer, helpers) -> None:
    mgr = make_manager()
    assert mgr.adapt(helpers.request()).success
    before = recognizer.state

    def boom(clips, steps):
        raise MemoryError('out of memory in the inner loop')

    real, mgr.adapt_fn = mgr.adapt_fn, boom
    out = mgr.submit(helpers.request()).result(30)
    assert not out.success and 'MemoryError' in out.message
    assert recognizer.state is before and mgr.store.versions('p07') == [1]
    mgr.adapt_fn = real
    assert mgr.submit(helpers.request()).result(30).version == 2  # worker free again


def test_second_request_is_answered_busy_at_once(make_manager, helpers) -> None:
    mgr = make_manager()
    entered, gate = threading.Event(), threading.Event()
    real = mgr.adapt_fn

    def slow(clips, steps):
        entered.set()
        gate.wait(30)
        return real(clips, steps)

    mgr.adapt_fn = slow
    first = mgr.submit(helpers.request())
    assert entered.wait(30)
    t0 = time.monotonic()
    second = mgr.submit(helpers.request(subject='p08'))
    assert second.done() and time.monotonic() - t0 < 1.0  # not queued behind the first
    assert second.result().message.startswith('busy:')
    gate.set()
    assert first.result(30).success
    assert mgr.store.versions('p08') == []


def test_close_cancels_between_inner_steps_and_writes_nothing(
    make_manager, recognizer, helpers
) -> None:
    mgr = make_manager()
    steps_done = []
    entered = threading.Event()

    def cancellable(clips, steps, should_stop):
        entered.set()
        for i in range(100_000):
            if should_stop():
                from st_f2m_ros.errors import AdaptationError

                raise AdaptationError('adaptation cancelled between inner steps')
            steps_done.append(i)
            time.sleep(0.01)
        raise AssertionError('never cancelled')

    mgr.adapt_fn = cancellable
    future = mgr.submit(helpers.request())
    assert entered.wait(30)
    t0 = time.monotonic()
    assert mgr.close(timeout=2.0) is True
    assert time.monotonic() - t0 < 2.0
    out = future.result(1)
    assert not out.success and 'cancelled' in out.message
    assert recognizer.model_id == 'tiny' and mgr.store.versions('p07') == []
    assert mgr.submit(helpers.request()).result().message.startswith('refused')


def test_close_returns_on_time_when_a_step_does_not_poll(
    make_manager, recognizer, helpers
) -> None:
    """A long uninterruptible step: close returns at its timeout; the result is never committed."""
    mgr = make_manager()
    entered, release = threading.Event(), threading.Event()
    real = mgr.adapt_fn

    def stubborn(clips, steps):
        entered.set()
        release.wait(30)
        return real(clips, steps)

    mgr.adapt_fn = stubborn
    future = mgr.submit(helpers.request())
    assert entered.wait(30)
    t0 = time.monotonic()
    assert mgr.close(timeout=0.5) is False
    assert 0.4 < time.monotonic() - t0 < 1.5
    release.set()  # the step ends after shutdown began
    out = future.result(30)
    assert not out.success and 'cancelled' in out.message
    assert recognizer.model_id == 'tiny' and mgr.store.versions('p07') == []


def test_close_lets_a_finished_adaptation_be_stored(make_manager, recognizer, helpers) -> None:
    """Zero adaptations lost: one that reached its commit is stored, even while closing."""
    mgr = make_manager()
    in_save, release = threading.Event(), threading.Event()
    real_save = mgr.store.save

    def slow_save(*a, **kw):
        in_save.set()
        release.wait(30)
        return real_save(*a, **kw)

    mgr.store.save = slow_save
    future = mgr.submit(helpers.request())
    assert in_save.wait(30)
    closer = threading.Thread(target=mgr.close, kwargs={'timeout': 10.0})
    closer.start()
    time.sleep(0.2)
    release.set()
    closer.join(15)
    out = future.result(5)
    assert out.success and mgr.store.versions('p07') == [1]
