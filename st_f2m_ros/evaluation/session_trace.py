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
"""Replay a session once, score it under many heads: what the node would publish with each.

Why this is exact, not an approximation: in the perception pipeline the head enters only in
`Recognizer.classify` (probabilities, components, intensity) and in what the temporal
post-processor makes of them. Everything before it (decoding, the face front end, the feature
cache, whose per-frame features are head-independent, the window grid, transcripts, camera
gaps and STALE reports) depends on the input alone. So one replay records, in order, every call
the pipeline makes to its post-processor (`update`, `stale`, `interrupt`) together with the
classifier inputs of each classified window. Scoring another head replays that call sequence
through a fresh `TemporalPostprocessor` with the head's scores: the EmotionSequence stream the
node would have published had that head been live from the first frame. Windows are classified
in batches (float results equal to a per-window call up to rounding; test_session_bench
checks the decisions against a real replay with the adapted head live).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from st_f2m_ros.errors import DataError
from st_f2m_ros.evaluation.replay import GROUND_TRUTH_TOPIC, Evaluation, evaluate, read_sequences
from st_f2m_ros.runtime.pipeline.postprocess import TemporalPostprocessor, WindowDecisionInput

BATCH = 256  # windows per classify call when re-scoring


@dataclass
class SessionTrace:
    """The post-processor calls of one replay, the classifier inputs, the published results."""

    post_config: Any
    num_classes: int
    events: list[tuple[str, Any, int]] = field(default_factory=list)  # (kind, args, input row)
    inputs: list[tuple[np.ndarray, ...]] = field(default_factory=list)  # feats, text, masks
    results: list[Any] = field(default_factory=list)  # EmotionSequenceResult, base head
    _pending: tuple[np.ndarray, ...] | None = None
    _pending_probs: np.ndarray | None = None

    @property
    def windows(self) -> int:
        """Classified windows (rows of `inputs`)."""
        return len(self.inputs)


class _TracingRecognizer:
    """The pipeline's recognizer, recording the inputs of each classify call (delegates all)."""

    def __init__(self, inner: Any, trace: SessionTrace) -> None:
        self._inner = inner
        self._trace = trace

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def classify(self, feats: Any, text: Any, vision: Any, has_text: Any) -> Any:
        scores, model_id = self._inner.classify(feats, text, vision, has_text)
        self._trace._pending = tuple(
            np.array(a, copy=True) for a in (feats, text, vision, has_text)
        )
        self._trace._pending_probs = scores.probs[0]
        return scores, model_id


class _TracingPostprocessor(TemporalPostprocessor):
    """The node's post-processor, recording each call before doing it."""

    def __init__(self, config: Any, num_classes: int, trace: SessionTrace) -> None:
        super().__init__(config, num_classes)
        self._trace = trace

    def update(self, window: WindowDecisionInput) -> list[Any]:
        t = self._trace
        row = -1
        if window.probs is not None:
            pending = t._pending_probs
            if pending is None or not np.array_equal(pending, window.probs, equal_nan=True):
                raise DataError('a classified window reached the post-processor unrecorded')
            row = len(t.inputs)
            t.inputs.append(t._pending)
            t._pending = t._pending_probs = None
        t.events.append(('update', window, row))
        return super().update(window)

    def stale(self, start: float, now: float) -> list[Any]:
        self._trace.events.append(('stale', (start, now), -1))
        return super().stale(start, now)

    def interrupt(self, at: float) -> None:
        self._trace.events.append(('interrupt', at, -1))
        super().interrupt(at)


def trace_replay(pipeline: Any, bag: Path, **replay_kw: Any) -> tuple[SessionTrace, Any]:
    """Replay `bag` through `pipeline` (runtime.replay.replay_bag) recording its trace.

    The pipeline must be fresh (no frame yet): its recognizer and post-processor are wrapped.
    Returns (trace, replay summary); the results are those of the head live during the replay.
    """
    from st_f2m_ros.runtime.replay import replay_bag

    post = pipeline.post
    trace = SessionTrace(post.config, post.num_classes)
    pipeline.recognizer = _TracingRecognizer(pipeline.recognizer, trace)
    pipeline.post = _TracingPostprocessor(post.config, post.num_classes, trace)
    try:
        summary = replay_bag(pipeline, bag, on_result=trace.results.append, **replay_kw)
    finally:
        pipeline.recognizer = pipeline.recognizer._inner
    published = sum(kind != 'interrupt' for kind, _, _ in trace.events)
    if published != len(trace.results):
        raise DataError(
            f'trace holds {published} published calls for {len(trace.results)} results'
        )
    return trace, summary


def _scores(trace: SessionTrace, backend: Any, params: Any) -> tuple[np.ndarray, ...]:
    """(probs, components, intensity) of every classified window under `params`."""
    probs, comps, inten = [], [], []
    for a in range(0, trace.windows, BATCH):
        rows = trace.inputs[a : a + BATCH]
        f, t, v, h = (np.concatenate([r[i] for r in rows]) for i in range(4))
        s = backend.classify(f, t, v, h, params or None)
        probs.append(s.probs)
        comps.append(s.components)
        inten.append(s.intensity)
    if not probs:
        return np.zeros((0, trace.num_classes)), np.zeros((0, 12)), np.zeros(0)
    return np.concatenate(probs), np.concatenate(comps), np.concatenate(inten)


def rescore(trace: SessionTrace, recognizer: Any, head: Any) -> list[Any]:
    """The results the pipeline would have published with `head` (a HeadState) live.

    As in `runtime.pipeline.window_classifier`: the window's probabilities and intensity come
    from the head; its components too unless the front end measured them.
    """
    probs, comps, inten = _scores(trace, recognizer.backend, head.params)
    post = TemporalPostprocessor(trace.post_config, trace.num_classes)
    model_id = recognizer.model_id_of(head)
    out: list[Any] = []
    published = iter(trace.results)
    for kind, args, row in trace.events:
        if kind == 'interrupt':
            post.interrupt(args)
            continue
        if kind == 'stale':
            states = post.stale(*args)
        else:
            window = args
            if row >= 0:
                window = dataclasses.replace(
                    window,
                    probs=probs[row],
                    intensity=float(np.nan_to_num(inten[row])),
                    components=window.components if window.measured else comps[row],
                )
            states = post.update(window)
        base = next(published)
        out.append(
            dataclasses.replace(base, states=[copy.copy(s) for s in states], model_id=model_id)
        )
    return out


class Scorer:
    """Scores result streams against a session bag's ground truth (evaluation.replay rules)."""

    def __init__(self, session_bag: Path) -> None:
        from st_f2m_ros.interfaces import typestore
        from st_f2m_ros.runtime.messages.convert import MessageKit

        self.truth = read_sequences(Path(session_bag), GROUND_TRUTH_TOPIC)
        self._kit = MessageKit.from_typestore(typestore('humble'))

    def __call__(self, results: list[Any]) -> Evaluation:
        """The Evaluation of `results` as if read back from a recorded /emotion/sequence."""
        from st_f2m_ros.runtime.messages.convert import sequence_to_msg

        return evaluate(self.truth, [sequence_to_msg(self._kit, r) for r in results])
