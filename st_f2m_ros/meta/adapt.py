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
"""Fast adaptation to one person: the inner loop (eq. 6) on their support clips, for /adapt.

Cost is dominated by encoding crops, so each support clip is reduced to the frames its windows
need: every run of one label becomes windows of `config.window` frames spaced 1/feature_rate
apart (meta/tasks.window_indices), and only those frames are encoded, in one batch. Features
the caller already has (the runtime's per-frame cache) can be passed in and are reused. The
inner loop then runs on the representation below the adapted parameters, computed once, so
its steps cost a few milliseconds for the head.

The model is never modified: the result is a dict of adapted tensors for
`model.classify(..., params=...)`, which the runtime swaps in with one reference assignment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import time

import numpy as np
import torch

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.errors import AdaptationError, ModelError
from st_f2m_ros.meta.maml import InnerLoop, WindowBatch
from st_f2m_ros.meta.tasks import segment_runs, window_indices
from st_f2m_ros.meta.windows import frame_measured
from st_f2m_ros.model.stf2m import STF2MModel

ENCODE_BATCH = 64


@dataclass
class Adaptation:
    """Result of `adapt`: adapted parameters and how well they fit the support set."""

    params: dict[str, torch.Tensor]
    support_acc_before: float
    support_acc_after: float
    duration: float
    clips_used: int
    windows: int
    loss_before: float
    loss_after: float
    scope: str
    steps: int


@dataclass
class _Window:
    clip: int
    frames: np.ndarray
    label: int
    text: str
    face: bool


def support_windows(
    clips: list[Clip], window: int, rate: float, max_per_run: int = 4, seed: int = 0
) -> list[_Window]:
    """Cut labelled windows out of support clips (one or more per run of one label)."""
    rng = np.random.default_rng(seed)
    out: list[_Window] = []
    span = window / rate
    for ci, clip in enumerate(clips):
        for first, end, label in segment_runs(clip.labels):
            t0, t1 = float(clip.times[first]), float(clip.times[end - 1])
            n = int(np.clip(round((t1 - t0) / span), 1, max_per_run))
            for _ in range(n):
                idx = window_indices(
                    (first, end), clip.times, window, rate, rng if n > 1 else None
                )
                w0, w1 = float(clip.times[idx[0]]), float(clip.times[idx[-1]]) + 1.0 / rate
                text = ' '.join(u.text for u in clip.utterances if u.end > w0 and u.start < w1)
                face = (
                    True if clip.face_found is None else bool(clip.face_found[idx].mean() >= 0.5)
                )
                out.append(_Window(ci, idx, label, text, face))
    return out


def _encode(
    model: STF2MModel, clips: list[Clip], wins: list[_Window], features: list | None
) -> list[torch.Tensor]:
    """Window features [T, R, D] for each window, encoding each needed frame once."""
    needed: dict[int, np.ndarray] = {}
    for w in wins:
        needed[w.clip] = np.union1d(needed.get(w.clip, np.zeros(0, np.int64)), w.frames)
    lookup: dict[tuple[int, int], torch.Tensor] = {}
    todo: list[tuple[int, int]] = []
    for ci, frames in needed.items():
        cached = features[ci] if features is not None else None
        for f in frames.tolist():
            if cached is not None:
                lookup[(ci, f)] = cached[f]
            else:
                todo.append((ci, f))
    for i in range(0, len(todo), ENCODE_BATCH):
        chunk = todo[i : i + ENCODE_BATCH]
        crops = np.stack([clips[ci].crops[f] for ci, f in chunk])
        comps, ok = frame_measured(clips, np.asarray(chunk, dtype=np.int64))
        feats = model.encode_frames(crops, comps, ok)
        for key, feat in zip(chunk, feats):
            lookup[key] = feat
    return [torch.stack([lookup[(w.clip, f)] for f in w.frames.tolist()]) for w in wins]


def adapt(
    model: STF2MModel,
    clips: list[Clip],
    steps: int | None = None,
    lr: float | None = None,
    scope: str | None = None,
    features: list[torch.Tensor] | None = None,
    max_windows_per_run: int = 4,
    seed: int = 0,
    should_stop: Callable[[], bool] | None = None,
) -> Adaptation:
    """Adapt the model's inner parameters to one person's labelled support clips.

    Args:
        model: the base model (not modified; should be in eval mode).
        clips: labelled support clips of one person (frames labelled -1 are skipped).
        steps, lr, scope: inner-loop settings; None takes `model.config.inner`.
        features: optional cached per-frame features, one [len(clip), R, D] per clip.
        max_windows_per_run: at most this many windows from one run of one label.
        seed: window placement seed (adaptation is deterministic for a given seed).
        should_stop: polled before each inner step; True cancels (the node is shutting down).

    Raises:
        AdaptationError: no labelled window, wrong crop size or features; model untouched.

    """
    start = time.perf_counter()
    cfg = model.config
    steps = cfg.inner.steps if steps is None else steps
    lr = cfg.inner.lr if lr is None else lr
    scope = scope or cfg.inner.scope
    if steps < 0 or not lr > 0:
        raise AdaptationError(f'steps must be >= 0 and lr > 0, got steps={steps}, lr={lr}')
    if features is not None and len(features) != len(clips):
        raise AdaptationError(f'features has {len(features)} entries for {len(clips)} clips')
    wins = support_windows(clips, cfg.window, cfg.feature_rate, max_windows_per_run, seed)
    if not wins:
        raise AdaptationError(
            'no labelled frames in the support clips: label at least one run of frames '
            'with a class id (not -1)'
        )
    try:
        with torch.no_grad():
            feats = torch.stack(_encode(model, clips, wins, features))
            if model.text_usable and any(w.text for w in wins):
                text = torch.from_numpy(model.text_encoder.encode([w.text for w in wins]))
            else:
                text = torch.zeros(len(wins), cfg.text_dim)
            batch = WindowBatch(
                feats,
                text.to(feats.dtype),
                torch.tensor([w.face for w in wins], dtype=torch.float32),
                torch.tensor([bool(w.text) and model.text_usable for w in wins]).float(),
                torch.tensor([w.label for w in wins], dtype=torch.int64),
            )
            loop = InnerLoop(model, scope)
            x = loop.prefix(batch)
            base = {k: v.detach().clone() for k, v in loop.initial().items()}
            logits = loop.logits(base, x)
    except ModelError as err:
        raise AdaptationError(f'cannot encode the support clips: {err}') from err
    y = batch.labels
    acc_before = float((logits.argmax(-1) == y).float().mean())
    loss_before = float(torch.nn.functional.cross_entropy(logits, y))
    lrs = {
        k: (v.detach() if torch.is_tensor(v) else v) for k, v in loop.learning_rates(lr).items()
    }
    params = base
    grad_fn = torch.func.grad(loop.loss)
    for _ in range(steps):
        if should_stop is not None and should_stop():
            raise AdaptationError('adaptation cancelled between inner steps; nothing was changed')
        g = grad_fn(params, x, y)
        params = {k: (params[k] - lrs[k] * g[k]).detach() for k in params}
    with torch.no_grad():
        logits = loop.logits(params, x)
    return Adaptation(
        params=loop.to_model_names(params),
        support_acc_before=acc_before,
        support_acc_after=float((logits.argmax(-1) == y).float().mean()),
        duration=time.perf_counter() - start,
        clips_used=len({w.clip for w in wins}),
        windows=len(wins),
        loss_before=loss_before,
        loss_after=float(torch.nn.functional.cross_entropy(logits, y)),
        scope=loop.scope,
        steps=steps,
    )
