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

Only what the support shows is adapted: the head rows (head.weight / head.bias) of classes
without a support window stay the base head's at every inner step, so a support set that
misses a class cannot teach the head to suppress it. Support accuracy after the inner loop says how
well the support was fitted, not how well the person will be read, so `adapt` also estimates
held-out accuracy by k-fold cross-validation over the support clips (stratified by class,
whole clips held out, on the same computed representation: no re-encoding).

The model is never modified: the result is a dict of adapted tensors for
`model.classify(..., params=...)`, which the runtime swaps in with one reference assignment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
HEAD_ROWS = ('head.weight', 'head.bias')  # one row per class: absent classes keep the base's
MAX_FOLDS = 5
CV_TOO_SMALL = 'n/a: fewer than 2 clips per class'


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
    adapted_classes: list[int] = field(default_factory=list)
    kept_classes: list[int] = field(default_factory=list)
    heldout_acc: float | None = None  # cross-validated estimate; None when not estimable
    heldout_note: str = ''  # '5-fold over 30 clips' or 'n/a: <why>'
    heldout_duration: float = 0.0


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
                out.append(_Window(ci, idx, label, clip.text_between(w0, w1), clip.face_seen(idx)))
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
    cv: bool = True,
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
        cv: also estimate held-out accuracy by cross-validation (`cross_validate`).

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
    fit = _Fit(loop, base, lrs, steps, should_stop)
    params = fit(x, y)
    with torch.no_grad():
        logits = loop.logits(params, x)
    cv_start = time.perf_counter()
    heldout, note = cross_validate(fit, x, y, wins, seed) if cv else (None, 'n/a: not asked')
    present = sorted(set(y.tolist()))
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
        adapted_classes=present,
        kept_classes=[c for c in range(int(logits.shape[-1])) if c not in present],
        heldout_acc=heldout,
        heldout_note=note,
        heldout_duration=time.perf_counter() - cv_start,
    )


class _Fit:
    """The inner loop from the base parameters on (x, y); absent classes keep the base rows."""

    def __init__(
        self,
        loop: InnerLoop,
        base: dict[str, torch.Tensor],
        lrs: dict,
        steps: int,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        self.loop, self.base, self.lrs, self.steps = loop, base, lrs, steps
        self.should_stop = should_stop
        self.grad_fn = torch.func.grad(loop.loss)
        model_names = loop.to_model_names(dict.fromkeys(base))  # same order as `base`
        self.head_keys = [k for k, m in zip(base, model_names) if m in HEAD_ROWS]

    def __call__(self, x: object, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Adapted parameters; rows of classes absent from `y` stay the base's at every step.

        Freezing them (rather than restoring them afterwards) makes the shown classes learn to
        beat the base scores of the absent ones instead of relying on their suppression.
        """
        keep: dict[str, torch.Tensor] = {}
        if self.head_keys:
            seen = torch.zeros(self.base[self.head_keys[0]].shape[0], dtype=torch.bool)
            seen[y] = True
            for k in self.head_keys:
                keep[k] = seen.view(-1, *([1] * (self.base[k].dim() - 1)))
        params = dict(self.base)
        for _ in range(self.steps):
            if self.should_stop is not None and self.should_stop():
                raise AdaptationError(
                    'adaptation cancelled between inner steps; nothing was changed'
                )
            g = self.grad_fn(params, x, y)
            new = {k: (params[k] - self.lrs[k] * g[k]).detach() for k in params}
            for k, mask in keep.items():
                new[k] = torch.where(mask, new[k], self.base[k])
            params = new
        return params


def _take(x: object, idx: torch.Tensor) -> object:
    """Rows `idx` of the inner loop's input (a tensor, or a tuple of them for scope 'all')."""
    if isinstance(x, tuple):
        return tuple(t[idx] for t in x)
    assert torch.is_tensor(x)
    return x[idx]


def cv_folds(wins: list[_Window], seed: int = 0) -> tuple[np.ndarray | None, int, str]:
    """Fold id per window (-1: always trained on), the number of folds, and a note.

    Whole clips are held out (windows of one clip are not independent), stratified by the
    clip's majority class; k = min(MAX_FOLDS, most clips of one class). Clips of a class with
    a single clip are never held out (nothing would be left to learn it from). None when fewer
    than 2 classes have at least 2 clips.
    """
    per_clip: dict[int, list[int]] = {}
    for w in wins:
        per_clip.setdefault(w.clip, []).append(w.label)
    by_class: dict[int, list[int]] = {}
    for clip, labels in sorted(per_clip.items()):
        by_class.setdefault(int(np.bincount(labels).argmax()), []).append(clip)
    eligible = {c: clips for c, clips in by_class.items() if len(clips) >= 2}
    if len(eligible) < 2:
        return None, 0, CV_TOO_SMALL
    k = min(MAX_FOLDS, max(len(v) for v in eligible.values()))
    rng = np.random.default_rng(seed)
    fold_of: dict[int, int] = {}
    offset = 0
    for c in sorted(eligible):
        for i, clip in enumerate(rng.permutation(eligible[c]).tolist()):
            fold_of[clip] = (offset + i) % k
        offset += len(eligible[c])  # the next class starts where this one stopped: even folds
    folds = np.array([fold_of.get(w.clip, -1) for w in wins])
    held = sum(len(v) for v in eligible.values())
    return folds, k, f'{k}-fold over {held} clips'


def cross_validate(
    fit: _Fit, x: object, y: torch.Tensor, wins: list[_Window], seed: int = 0
) -> tuple[float | None, str]:
    """Held-out accuracy of the adaptation: adapt on k-1 folds, score the left-out clips.

    Runs on the representation `x` already computed for the support (no re-encoding), with
    the same inner loop and steps as the adaptation itself. Returns (accuracy over all
    held-out windows, note) or (None, 'n/a: <why>').
    """
    folds, k, note = cv_folds(wins, seed)
    if folds is None:
        return None, note
    correct = total = 0
    fold_t = torch.from_numpy(folds)
    for f in range(k):
        test = torch.nonzero(fold_t == f).flatten()
        train = torch.nonzero(fold_t != f).flatten()
        if len(test) == 0:
            continue
        params = fit(_take(x, train), y[train])
        with torch.no_grad():
            pred = fit.loop.logits(params, _take(x, test)).argmax(-1)
        correct += int((pred == y[test]).sum())
        total += len(test)
    return correct / total, note
