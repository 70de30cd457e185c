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
"""The embedded default job: record, replay, adapt to the person, replay again, compare.

What `make demo` / `st-f2m demo` runs on a machine without ROS 2, with the same core the
perception node runs: a synthetic session of a person the model never saw (`p07`) and a
separate support recording of that person are written as rosbag2 files; the session is
replayed through the recognizer at its timestamps; the model is adapted from the support bag
exactly as `/adapt` does (AdaptationManager, persisted); the session is replayed again with the
adapted head; both runs are scored against the bag's ground truth and drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
import shutil
from typing import Any

import numpy as np

from st_f2m_ros.evaluation import plots
from st_f2m_ros.evaluation.replay import Evaluation, evaluate_bags

Log = Callable[[str], None]


@dataclass(frozen=True)
class DemoConfig:
    """What the demo records and how it runs."""

    subject: str = 'p07'
    seed: int = 7
    session_seconds: float = 40.0
    support_seconds: float = 60.0
    backend: str = 'torch'
    checkpoint: str = ''
    corrupt: str = ''  # e.g. 'fog:0.3': the paper's corruptions on the session (not support)
    # Camera transport of the session: jpeg (CompressedImage) keeps a 40 s bag near 30 MB
    # instead of 1.1 GB of bgr8; the support recording is always jpeg (the /adapt size limit).
    encoding: str = 'jpeg'


@dataclass
class RunResult:
    """One replay of the session bag."""

    name: str
    model_id: str
    evaluation: Evaluation
    summary_lines: list[str]
    realtime_factor: float
    states: list[tuple[float, Any]] = field(repr=False, default_factory=list)


@dataclass
class DemoResult:
    """Both runs, the adaptation outcome and the files written."""

    base: RunResult
    adapted: RunResult
    adaptation: Any
    files: dict[str, Path]


def _record(cfg: DemoConfig, out: Path, log: Log) -> tuple[Path, Path]:
    from st_f2m_ros.data.bag_writer import write_synthetic_bag
    from st_f2m_ros.data.synthetic import SyntheticConfig, parse_corruptions

    session_cfg = SyntheticConfig(corruptions=parse_corruptions(cfg.corrupt))
    session = write_synthetic_bag(
        out / 'session', subject_ids=[cfg.subject], duration=cfg.session_seconds,
        seed=cfg.seed, config=session_cfg, overwrite=True, encoding=cfg.encoding,
    )  # fmt: skip
    log(f'recorded {session.path}: {session.frames} {cfg.encoding} frames of {cfg.subject}, '
        f'{session.transcripts} transcripts, {session.ground_truth} labelled segments')
    support = write_synthetic_bag(
        out / 'support', subject_ids=[cfg.subject], duration=cfg.support_seconds,
        seed=cfg.seed, clip_index=1, overwrite=True, encoding='jpeg',
    )  # fmt: skip
    log(f'recorded {support.path}: a separate {cfg.support_seconds:g} s support recording '
        f'({support.ground_truth} labelled segments)')
    return session.path, support.path


def _replay(session: Any, values: dict, bag: Path, out: Path, name: str, log: Log) -> RunResult:
    from st_f2m_ros.runtime.pipeline.pipeline import PerceptionPipeline
    from st_f2m_ros.runtime.replay import SequenceBagWriter, replay_bag
    from st_f2m_ros.runtime.session import pipeline_config

    pipeline = PerceptionPipeline(session.recognizer, pipeline_config(values, values['subject']))
    pipeline.warm_up()
    writer = SequenceBagWriter(out / f'run_{name}', overwrite=True)
    states: list[tuple[float, Any]] = []

    def keep(result: Any) -> None:
        writer.write(result)
        states.append((result.stamp, result.current))

    try:
        summary = replay_bag(pipeline, bag, on_result=keep)
    finally:
        writer.close()
    ev = evaluate_bags(bag, out / f'run_{name}')
    log(f'{name}: {summary.frames} frames at {summary.realtime_factor:.2f}x real time, '
        f'fine accuracy {ev.fine.accuracy:.3f}')
    return RunResult(name, session.recognizer.model_id, ev, summary.lines(),
                     summary.realtime_factor, states)


def _contact_sheet(bag: Path, run: RunResult, adaptation: str, path: Path, n: int = 12) -> Path:
    """Annotated frames of the session (face box, decision, confidence) on one PNG."""
    import cv2

    from st_f2m_ros.data.bag_reader import BagReader
    from st_f2m_ros.perception.face import FaceDetector
    from st_f2m_ros.perception.image_convert import msg_to_bgr
    from st_f2m_ros.runtime.messages.debug_draw import draw_debug

    with BagReader(bag) as reader:
        frames = list(reader.images())
    picks = np.linspace(len(frames) * 0.05, len(frames) - 1, n).astype(int)
    stamps = np.array([s for s, _ in run.states])
    detector = FaceDetector()
    tiles = []
    for i in picks:
        bgr = msg_to_bgr(frames[i].msg)
        faces = detector.detect(bgr)
        box = max(faces, key=lambda d: d.box[2] * d.box[3]).box if faces else None
        k = int(np.searchsorted(stamps, frames[i].stamp, side='right')) - 1
        state = run.states[k][1] if k >= 0 else None
        tile = draw_debug(bgr, box, state, adaptation)
        tiles.append(cv2.resize(tile, (320, 240), interpolation=cv2.INTER_AREA))
    rows = [np.hstack(tiles[r:r + 4]) for r in range(0, len(tiles), 4)]
    cv2.imwrite(str(path), np.vstack(rows))
    return path


def run_demo(cfg: DemoConfig, out: Path, log: Log = print) -> DemoResult:
    """Record, replay, adapt, replay, evaluate and plot; every file goes under `out`."""
    from st_f2m_ros.runtime.adaptation.request import AdaptRequest
    from st_f2m_ros.runtime.session import build_session

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store = out / 'adaptations'
    shutil.rmtree(store, ignore_errors=True)  # each demo starts from the base model
    session_bag, support_bag = _record(cfg, out, log)
    values = {
        'subject': cfg.subject,
        'checkpoint': cfg.checkpoint,
        'backend': cfg.backend,
        'export_dir': str(out / 'onnx') if cfg.backend != 'torch' else '',
        'adaptation_store': str(store),
        'clip_roots': [str(out.resolve())],
    }
    session = build_session(values, cfg.subject, with_pipeline=False)
    try:
        base = _replay(session, values, session_bag, out, 'base', log)
        outcome = session.manager.adapt(
            AdaptRequest(subject_id=cfg.subject, clip_uris=[str(support_bag.resolve())])
        )
        if not outcome.success:
            from st_f2m_ros.errors import AdaptationError

            raise AdaptationError(f'adaptation failed: {outcome.message}')
        log(f'adapted to {cfg.subject} in {outcome.duration:.2f} s on {outcome.clips_used} '
            f'clips: support accuracy {outcome.support_accuracy_before:.2f} -> '
            f'{outcome.support_accuracy_after:.2f} ({outcome.model_id})')
        adapted = _replay(session, values, session_bag, out, 'adapted', log)
    finally:
        session.close()
    files = {
        'confusion_base': plots.plot_confusion(
            base.evaluation.fine, out / 'confusion_base.png', f'base model on {cfg.subject}'),
        'confusion_adapted': plots.plot_confusion(
            adapted.evaluation.fine, out / 'confusion_adapted.png',
            f'adapted to {cfg.subject}'),
        'timeline': plots.plot_timeline(
            {'base': base.evaluation, 'adapted': adapted.evaluation}, out / 'timeline.png'),
        'contact_sheet': _contact_sheet(
            session_bag, adapted, f'adapted {cfg.subject}', out / 'contact_sheet.png'),
    }
    return DemoResult(base, adapted, outcome, files)


def comparison_table(result: DemoResult) -> list[str]:
    """The before/after table the demo prints."""
    rows = [
        f'{"":22} {"base":>9} {"adapted":>9}',
    ]
    b, a = result.base.evaluation, result.adapted.evaluation
    pairs = [
        ('fine accuracy (19)', b.fine.accuracy, a.fine.accuracy),
        ('fine macro recall', b.fine.recall, a.fine.recall),
        ('fine macro-F1', b.fine.macro_f1, a.fine.macro_f1),
        ('basic accuracy (7)', b.basic.accuracy, a.basic.accuracy),
        ('basic macro-F1', b.basic.macro_f1, a.basic.macro_f1),
        ('coverage (no abstain)', b.fine.coverage, a.fine.coverage),
        ('segment timing err (s)', b.timing_error, a.timing_error),
        ('latency p95 (ms)', b.latency_p95 * 1e3, a.latency_p95 * 1e3),
        ('x real time', result.base.realtime_factor, result.adapted.realtime_factor),
    ]
    rows += [f'{name:22} {x:9.3f} {y:9.3f}' for name, x, y in pairs]
    return rows
