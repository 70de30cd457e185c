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
"""A generated bag replayed through the core at its timestamps, and `st-f2m run`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from st_f2m_ros.cli.main import main
from st_f2m_ros.runtime.inference.recognizer import Recognizer
from st_f2m_ros.runtime.pipeline.pipeline import PerceptionPipeline, PipelineConfig
from st_f2m_ros.runtime.pipeline.results import STATUS_OK
from st_f2m_ros.runtime.replay import SequenceBagWriter, replay_bag

bag_writer = pytest.importorskip('st_f2m_ros.data.bag_writer')
bag_reader = pytest.importorskip('st_f2m_ros.data.bag_reader')


@pytest.fixture(scope='module')
def bag(tmp_path_factory):
    """3 s of one synthetic subject: 90 bgr8 frames, Transcript messages, ground truth."""
    path = tmp_path_factory.mktemp('bags') / 'session'
    bag_writer.write_synthetic_bag(path, subjects=1, duration=3.0, seed=1)
    return path


def _frame_stamps(path) -> list[float]:
    with bag_reader.BagReader(path) as r:
        return [m.stamp for m in r.images()]


def _sequences(path) -> list:
    with bag_reader.BagReader(path) as r:
        return list(r.messages(['/emotion/sequence']))


def test_replay_writes_a_sensible_sequence_stream(bag, tmp_path, torch_backend, small_model):
    rec = Recognizer(torch_backend)
    head = small_model.head_params()
    head['head.weight'] = torch.zeros_like(head['head.weight'])
    head['head.bias'] = torch.zeros_like(head['head.bias'])
    head['head.bias'][4] = 20.0  # anger_low
    rec.set_adaptation('s000', head, 1)
    pipe = PerceptionPipeline(rec, PipelineConfig())
    writer = SequenceBagWriter(tmp_path / 'out')
    try:
        summary = replay_bag(pipe, bag, on_result=writer.write)
    finally:
        writer.close()
    assert summary.frames == 90 and summary.transcripts >= 1
    assert summary.results == writer.count >= 7
    assert summary.stats['face_found_rate_total'] > 0.8
    stamps = set(_frame_stamps(bag))
    msgs = _sequences(tmp_path / 'out')
    assert len(msgs) == summary.results
    prev = -np.inf
    for m in msgs:
        seq = m.msg
        assert m.stamp in stamps or any(abs(m.stamp - s) < 1e-6 for s in stamps)
        assert m.log_time == pytest.approx(m.stamp)  # written at the input's stamp
        assert m.stamp > prev
        prev = m.stamp
        assert seq.model_id.endswith('+s000@v1') and len(seq.class_labels) == 19
        starts = [s.start.sec + s.start.nanosec * 1e-9 for s in seq.states]
        assert starts == sorted(starts)
        cur = seq.states[-1]
        assert cur.status == STATUS_OK and cur.class_label == 'anger_low' and cur.emotion == 2
        assert abs(float(np.sum(cur.class_probabilities)) - 1.0) < 1e-4
    assert 'anger_low' in summary.decisions
    text = '\n'.join(summary.lines())
    assert 'x real time' in text and 'skipped' in text


def test_compressed_sqlite_bag_with_string_transcripts(tmp_path, torch_backend):
    path = tmp_path / 'jpeg'
    bag_writer.write_synthetic_bag(
        path, duration=1.5, seed=2, storage='sqlite3', encoding='jpeg', transcript_type='string'
    )
    pipe = PerceptionPipeline(Recognizer(torch_backend))
    summary = replay_bag(pipe, path)
    assert summary.camera_topic.endswith('compressed')  # found by type
    assert summary.frames == 45 and summary.results >= 2
    assert summary.stats['frames_processed'] == 45


def test_run_cli_end_to_end(bag, tmp_path, small_model, capsys):
    ckpt = pytest.importorskip('st_f2m_ros.model.checkpoint')
    path = tmp_path / 'small.safetensors'
    ckpt.save_checkpoint(small_model, path)
    out = tmp_path / 'out'
    argv = ['run', '--bag', str(bag), '--out', str(out), '--checkpoint', str(path)]
    assert main([*argv, '--backend', 'onnx', '--onnx-dir', str(tmp_path / 'onnx'), '--quiet']) == 0
    text = capsys.readouterr().out
    assert 'frames            90 received' in text and 'x real time' in text
    assert len(_sequences(out)) >= 7
    # The output exists now: refusing to overwrite is a one-line error, exit 1.
    assert main([*argv, '--quiet']) == 1
    assert 'exists' in capsys.readouterr().err
    assert main(['run', '--bag', str(tmp_path / 'nope'), '--out', str(tmp_path / 'o2'),
                 '--checkpoint', str(path), '--quiet']) == 1  # fmt: skip
    assert 'not found' in capsys.readouterr().err


def test_run_cli_with_node_parameters_and_wrong_topic(bag, tmp_path, small_model, capsys):
    ckpt = pytest.importorskip('st_f2m_ros.model.checkpoint')
    path = tmp_path / 'small.safetensors'
    ckpt.save_checkpoint(small_model, path)
    params = tmp_path / 'perception.yaml'
    params.write_text(
        '/**:\n  ros__parameters:\n    window_hop: 0.5\n    min_confidence: 0.2\n',
        encoding='utf-8',
    )
    out = tmp_path / 'out'
    argv = ['run', '--bag', str(bag), '--out', str(out), '--checkpoint', str(path), '--quiet']
    assert main([*argv, '--config', str(params), '--no-text']) == 0
    seqs = _sequences(out)
    assert 3 <= len(seqs) <= 5  # 0.5 s hop over 3 s, after the first 1 s window
    assert all(abs(m.msg.window_hop - 0.5) < 1e-6 for m in seqs)
    capsys.readouterr()
    assert main([*argv, '--overwrite', '--camera-topic', '/nope']) == 1
    assert 'pass --camera-topic' in capsys.readouterr().err
