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
"""The adaptation store under concurrent writers, crashes, corrupt files and hostile files.

Real processes (the node and `st-f2m adapt` share a store), real SIGKILL, real files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import torch

from st_f2m_ros.errors import AdaptationError
from st_f2m_ros.runtime.adaptation.store import AdaptationStore

PARAMS = {'head.weight': torch.ones(4, 4)}


def _meta(**kw) -> dict:
    return {'checkpoint_id': 'tiny', **kw}


WRITER = textwrap.dedent(
    """
    import sys, time, torch
    from st_f2m_ros.runtime.adaptation.store import AdaptationStore
    root, tag, n, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    store = AdaptationStore(root, keep=1000)
    while time.time() < start_at:  # both processes start writing at the same moment
        time.sleep(0.001)
    for i in range(n):
        v = store.save('p07', {'w': torch.full((1 << 18,), float(i))}, {'checkpoint_id': 'tiny',
                       'writer': tag, 'i': i})
        print(v, flush=True)
    """
)


def test_two_processes_never_take_the_same_version(tmp_path: Path) -> None:
    n = 15
    start_at = time.time() + 6.0  # after both have imported torch
    procs = [
        subprocess.Popen(
            [sys.executable, '-c', WRITER, str(tmp_path), tag, str(n), str(start_at)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for tag in ('node', 'cli')
    ]
    got = {}
    for tag, p in zip(('node', 'cli'), procs):
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        got[tag] = [int(v) for v in out.split()]
    store = AdaptationStore(tmp_path, keep=1000)
    assert sorted(got['node'] + got['cli']) == list(range(1, 2 * n + 1))  # none shared
    assert store.versions('p07') == list(range(1, 2 * n + 1))  # none overwritten
    for tag, versions in got.items():
        for i, v in enumerate(versions):
            meta = store.load('p07', v).meta
            assert (meta['writer'], meta['i'], meta['version']) == (tag, i, v)


def test_threads_never_take_the_same_version(tmp_path: Path) -> None:
    store = AdaptationStore(tmp_path, keep=1000)
    got: list[int] = []
    lock = threading.Lock()

    def write() -> None:
        for _ in range(10):
            v = store.save('p07', PARAMS, _meta())
            with lock:
                got.append(v)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 41)) == store.versions('p07')


def test_corrupt_versions_are_skipped_newest_to_oldest(tmp_path: Path) -> None:
    store = AdaptationStore(tmp_path, keep=5)
    for _ in range(4):
        store.save('p07', PARAMS, _meta())
    path = store.path_of
    path('p07', 4).write_bytes(path('p07', 4).read_bytes()[:50])  # truncated
    path('p07', 3).write_bytes(b'\xff' * 200)  # garbage
    stored, problems = store.newest_loadable('p07', 'tiny')
    assert stored is not None and stored.version == 2
    assert len(problems) == 2 and all('corrupt' in p for p in problems)
    assert 'v0004' in problems[0] and 'v0003' in problems[1]
    for v in (1, 2):
        path('p07', v).write_bytes(b'')
    assert store.newest_loadable('p07', 'tiny') == (None, store.newest_loadable('p07')[1])
    assert len(store.newest_loadable('p07')[1]) == 4


def test_keep_versions_applies_at_the_next_save(tmp_path: Path) -> None:
    store = AdaptationStore(tmp_path, keep=5)
    for _ in range(5):
        store.save('p07', PARAMS, _meta())
    store.keep = 2
    assert store.save('p07', PARAMS, _meta()) == 6
    assert store.versions('p07') == [5, 6]


class _Bomb:
    """Unpickling this creates the marker file: proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _pickle_bomb(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps({'head.weight': _Bomb(marker)}))
    torch.save({'head.weight': _Bomb(marker)}, path.with_suffix('.pt'))
    return path


def test_a_pickle_in_the_store_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / 'PWNED'
    store = AdaptationStore(tmp_path / 'store', keep=5)
    store.save('p07', PARAMS, _meta())
    d = store.subject_dir('p07')
    _pickle_bomb(d / 'v0002.safetensors', marker)  # a pickle named like a version
    _pickle_bomb(d / 'v0003.pkl', marker)
    (d / 'v0003.pt').rename(d / 'v0004.pt')
    stored, problems = store.newest_loadable('p07', 'tiny')
    assert stored is not None and stored.version == 1
    assert len(problems) == 1 and 'v0002.safetensors is corrupt' in problems[0]
    assert store.versions('p07') == [1, 2]  # .pt / .pkl are not versions
    assert not marker.exists()


def test_a_pickle_checkpoint_is_refused_without_unpickling(tmp_path: Path) -> None:
    from st_f2m_ros.errors import ModelError
    from st_f2m_ros.model.checkpoint import load_checkpoint

    marker = tmp_path / 'PWNED'
    bomb = _pickle_bomb(tmp_path / 'model.safetensors', marker)
    for path in (bomb, bomb.with_suffix('.pt'), tmp_path / 'model.pkl'):
        if not path.exists():
            path.write_bytes(bomb.read_bytes())
        with pytest.raises((ModelError, AdaptationError)):
            load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize('damage', ['truncated', 'garbage', 'empty'])
def test_a_corrupt_checkpoint_is_a_clear_model_error(
    tiny_checkpoint: Path, tmp_path: Path, damage: str
) -> None:
    from st_f2m_ros.errors import ModelError
    from st_f2m_ros.model.checkpoint import load_checkpoint

    data = tiny_checkpoint.read_bytes()
    bad = tmp_path / 'bad.safetensors'
    bad.write_bytes(
        {'truncated': data[: len(data) // 2], 'garbage': os.urandom(4096), 'empty': b''}[damage]
    )
    with pytest.raises(ModelError, match=r'bad\.safetensors'):
        load_checkpoint(bad)


KILLED_WRITER = textwrap.dedent(
    """
    import os, sys, time, torch
    from st_f2m_ros.runtime.adaptation import store as st
    root, ready = sys.argv[1], sys.argv[2]
    s = st.AdaptationStore(root, keep=10)
    real_fsync = os.fsync
    def stalled_fsync(fd):  # the hook: the temp file is written, not yet renamed
        open(ready, 'w').close()
        time.sleep(120)
    os.fsync = stalled_fsync
    s.save('p07', {'head.weight': torch.full((512, 512), 2.0)}, {'checkpoint_id': 'tiny'})
    """
)

LOOPING_WRITER = textwrap.dedent(
    """
    import sys, torch
    from st_f2m_ros.runtime.adaptation.store import AdaptationStore
    s = AdaptationStore(sys.argv[1], keep=1000)
    big = torch.randn(2048, 2048)  # 16 MB: a kill often lands inside a write
    print('ready', flush=True)
    while True:
        s.save('p07', {'head.weight': big}, {'checkpoint_id': 'tiny'})
    """
)


def test_sigkill_during_a_write_leaves_the_previous_version(tmp_path: Path) -> None:
    store = AdaptationStore(tmp_path, keep=10)
    assert store.save('p07', PARAMS, _meta()) == 1
    ready = tmp_path / 'ready'
    proc = subprocess.Popen([sys.executable, '-c', KILLED_WRITER, str(tmp_path), str(ready)])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        temps = list(store.subject_dir('p07').glob('.v0002*.tmp'))
        assert temps and temps[0].stat().st_size > 1_000_000  # the half-done write is there
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert store.versions('p07') == [1]  # the temp file is not a version
    stored, problems = store.newest_loadable('p07', 'tiny')
    assert stored is not None and stored.version == 1 and not problems
    assert store.save('p07', PARAMS, _meta()) == 2  # next writer cleans up and goes on
    assert not list(store.subject_dir('p07').glob('.*.tmp'))


@pytest.mark.slow
def test_random_sigkills_never_leave_a_partial_version(tmp_path: Path) -> None:
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, '-c', LOOPING_WRITER, str(tmp_path)], stdout=subprocess.PIPE
        )
        assert proc.stdout.readline().strip() == b'ready'
        time.sleep(0.5 + 0.4 * round_)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    store = AdaptationStore(tmp_path, keep=1000)
    versions = store.versions('p07')
    assert versions == list(range(1, len(versions) + 1)) and versions
    for v in versions:  # every named version is whole
        assert json.loads(json.dumps(store.load('p07', v).meta))['version'] == v
