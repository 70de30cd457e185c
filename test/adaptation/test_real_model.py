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
"""The manager and `st-f2m adapt` with the real ST-F2M model, recognizer and inner loop.

A small randomly initialised checkpoint (quarter-width ResNet-18, 32 px crops) keeps this fast;
what is tested is the plumbing: clips from a real bag -> meta.adapt -> atomic swap into the
real Recognizer while another thread keeps classifying -> persisted -> reloaded by a new session.
"""

from __future__ import annotations

from pathlib import Path
import threading

import numpy as np
import pytest
import torch

from st_f2m_ros.cli.main import main
from st_f2m_ros.ros.params import defaults
from st_f2m_ros.runtime.adaptation.manager import AdaptRequest
from st_f2m_ros.runtime.session import build_session

SEGMENTS = [('happiness_high', 12), ('anger_high', 12), ('neutral', 12)]


@pytest.fixture
def checkpoint(tiny_checkpoint: Path) -> Path:
    """The shared small random checkpoint (test/conftest.py)."""
    return tiny_checkpoint


@pytest.mark.slow
def test_cli_adapt_prints_before_after_and_persists(
    checkpoint: Path, clip_root: Path, tmp_path: Path, helpers, capsys
) -> None:
    torch.set_num_threads(2)
    bag = helpers.write_bag(clip_root / 'support', SEGMENTS)
    store = tmp_path / 'store'
    args = [
        'adapt',
        '--subject',
        'p07',
        '--clips',
        str(bag),
        '--checkpoint',
        str(checkpoint),
        '--store',
        str(store),
        '--clips-are-crops',
        '--steps',
        '20',
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert 'support accuracy' in out and 'before' in out and 'after' in out
    assert '+p07@v1' in out
    assert (store / 'p07' / 'v0001.safetensors').is_file()
    assert (
        main(
            [
                'adapt',
                '--subject',
                'p07',
                '--clips',
                str(bag),
                '--labels',
                'x',
                'y',
                '--checkpoint',
                str(checkpoint),
                '--store',
                str(store),
            ]
        )
        == 1
    )
    assert 'one label per file' in capsys.readouterr().err


@pytest.mark.slow
def test_real_swap_while_classifying_then_reload(
    checkpoint: Path, clip_root: Path, tmp_path: Path, helpers
) -> None:
    torch.set_num_threads(2)
    bag = helpers.write_bag(clip_root / 'support', SEGMENTS)
    values = {
        **defaults(),
        'checkpoint': str(checkpoint),
        'clip_roots': [str(clip_root)],
        'adaptation_store': str(tmp_path / 'store'),
        'support_clips_are_crops': True,
    }
    session = build_session(values, 'p07', with_pipeline=False)
    rec = session.recognizer
    b = rec.backend
    crops = np.stack([helpers.frame(lab, size=32) for lab, _ in SEGMENTS for _ in range(3)])
    feats = rec.encode_frames(crops[: b.window])[None]
    text = np.zeros((1, b.text_dim), np.float32)
    served: list[str] = []
    stop = threading.Event()

    def camera() -> None:
        while not stop.is_set():
            _, model_id = rec.classify(feats, text, np.ones(1, bool), np.zeros(1, bool))
            served.append(model_id)

    cam = threading.Thread(target=camera)
    cam.start()
    try:
        out = session.manager.submit(
            AdaptRequest('p07', clip_uris=[str(bag)], inner_steps=20)
        ).result(120)
    finally:
        stop.set()
        cam.join()
        session.close()
    assert out.success, out.message
    base_id = b.model_id
    during = served.count(base_id)
    assert during >= 3, f'only {during} windows classified while adapting'
    assert set(served) <= {base_id, f'{base_id}+p07@v1'}
    adapted_scores, used = rec.classify(feats, text, np.ones(1, bool), np.zeros(1, bool))
    assert used == f'{base_id}+p07@v1'

    restarted = build_session(values, 'p07', with_pipeline=False)
    try:
        assert 'reloaded' in restarted.manager.activate('p07')
        assert restarted.recognizer.model_id == f'{base_id}+p07@v1'
        again, _ = restarted.recognizer.classify(feats, text, np.ones(1, bool), np.zeros(1, bool))
        np.testing.assert_allclose(again.probs, adapted_scores.probs, atol=1e-5)
    finally:
        restarted.close()


@pytest.mark.slow
def test_onnx_backend_takes_the_adapted_head(clip_root: Path, tmp_path: Path, helpers) -> None:
    """The inner loop runs in torch; the ONNX Runtime backend classifies with its result."""
    from st_f2m_ros.model.checkpoint import save_checkpoint
    from st_f2m_ros.model.config import STF2MConfig
    from st_f2m_ros.model.stf2m import STF2MModel
    from st_f2m_ros.taxonomy import class_id_from_label

    torch.manual_seed(0)
    torch.set_num_threads(2)
    ck = tmp_path / 'tiny96.safetensors'
    save_checkpoint(
        STF2MModel(STF2MConfig(backbone='resnet18_quarter', crop_size=96, text_encoder='hashing')),
        ck,
    )
    bag = helpers.write_bag(clip_root / 'support', SEGMENTS)
    values = {**defaults(), 'checkpoint': str(ck), 'backend': 'onnx',
              'export_dir': str(tmp_path / 'onnx'), 'clip_roots': [str(clip_root)],
              'adaptation_store': '', 'support_clips_are_crops': True}  # fmt: skip
    session = build_session(values, 'p07', with_pipeline=False)
    try:
        rec = session.recognizer
        b = rec.backend
        assert b.name == 'onnx'
        out = session.manager.adapt(AdaptRequest('p07', clip_uris=[str(bag)], inner_steps=20))
        assert out.success and out.support_accuracy_after == 1.0, out.message
        for label, _ in SEGMENTS:
            feats = rec.encode_frames(np.stack([helpers.frame(label, size=96)] * b.window))[None]
            scores, used = rec.classify(
                feats, np.zeros((1, b.text_dim), np.float32), np.ones(1, bool), np.zeros(1, bool)
            )
            assert used.endswith('+p07@v1')
            assert int(scores.probs.argmax()) == class_id_from_label(label)
    finally:
        session.close()


@pytest.mark.slow
def test_close_cancels_the_real_inner_loop_between_steps(
    checkpoint: Path, clip_root: Path, tmp_path: Path, helpers
) -> None:
    """meta.adapt polls should_stop before each step: close() stops a long real adaptation."""
    import time

    from st_f2m_ros.meta.adapt import adapt

    torch.set_num_threads(1)
    bag = helpers.write_bag(clip_root / 'support', SEGMENTS)
    values = {
        **defaults(),
        'checkpoint': str(checkpoint),
        'clip_roots': [str(clip_root)],
        'adaptation_store': str(tmp_path / 'store'),
        'support_clips_are_crops': True,
    }
    session = build_session(values, 'p07', with_pipeline=False)
    mgr, steps_seen = session.manager, []

    def adapt_fn(clips, steps, should_stop):
        def polled() -> bool:
            steps_seen.append(1)
            return should_stop()

        return adapt(session.model, clips, steps=steps, should_stop=polled)

    mgr.adapt_fn = adapt_fn
    future = mgr.submit(AdaptRequest('p07', clip_uris=[str(bag)], inner_steps=200))
    deadline = time.monotonic() + 120
    while len(steps_seen) < 3:  # inside the inner loop
        assert time.monotonic() < deadline and not future.done()
        time.sleep(0.01)
    t0 = time.monotonic()
    assert mgr.close(timeout=5.0)
    assert time.monotonic() - t0 < 5.0
    out = future.result(1)
    assert not out.success and 'cancelled between inner steps' in out.message
    assert len(steps_seen) < 200
    assert session.recognizer.model_id == session.recognizer.backend.model_id
    assert not (tmp_path / 'store' / 'p07').exists() or not list(
        (tmp_path / 'store' / 'p07').glob('v*.safetensors')
    )


@pytest.mark.slow
def test_sigint_to_st_f2m_adapt_leaves_the_store_whole(
    checkpoint: Path, clip_root: Path, tmp_path: Path, helpers
) -> None:
    """Ctrl-C during `st-f2m adapt`: exit 130, the earlier version loads, no half file."""
    import signal
    import subprocess
    import sys
    import time

    from st_f2m_ros.runtime.adaptation.store import AdaptationStore

    bag = helpers.write_bag(clip_root / 'support', SEGMENTS)
    store = tmp_path / 'store'
    base = ['adapt', '--subject', 'p07', '--clips', str(bag), '--checkpoint', str(checkpoint),
            '--store', str(store), '--clips-are-crops']  # fmt: skip
    code = 'import sys; from st_f2m_ros.cli.main import main; sys.exit(main())'
    assert subprocess.run([sys.executable, '-c', code, *base, '--steps', '2'], timeout=300,
                          capture_output=True).returncode == 0  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, '-c', code, *base, '--steps', '200'],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    for line in proc.stdout:  # wait until it is loading clips / adapting
        lines.append(line)
        if line.startswith('adapting'):
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=120)
    print(f'st-f2m adapt exit code after SIGINT: {proc.returncode}')
    st = AdaptationStore(store)
    versions = st.versions('p07')
    assert not list((store / 'p07').glob('.*.tmp')), 'a half-written file was left'
    for v in versions:
        st.load('p07', v, None)  # every named version is whole
    if proc.returncode == 130:
        assert 'interrupted' in rest and versions == [1]
    else:  # it finished before the signal: then it is stored, not lost
        assert proc.returncode == 0 and versions == [1, 2], ''.join(lines) + rest
