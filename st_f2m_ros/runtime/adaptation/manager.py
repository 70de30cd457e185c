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
"""The adaptation manager behind /adapt, /reset_adaptation and `st-f2m adapt`.

Personalisation is the meta-learning inner loop (paper eq. 6) run on a person's few labelled
support clips. The manager ties the concerns together: `validation` (refuse early),
`support` (clips -> face crops through the live face stage, streamed), `worker` (one
low-priority thread, busy refusal, bounded close), `store` (versioned atomic files); here: the
commit (swap the head with one reference assignment, persist) and which person's head serves
(`activate`, `reset`). A person's neutral face (from neutral support clips) travels with their
head: stored in the same file, handed to the pipeline's front end (`FaceTarget`) whenever the
head is made live, reloaded or dropped.
Any failure before the swap leaves the running model untouched and comes back as
`AdaptOutcome(success=False, message=<reason>)`: the service never raises.

Concurrency (documented contract): one adaptation at a time; a second request while one runs
is answered at once with success=False and a message starting with "busy:".
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
import dataclasses
import functools
import inspect
import threading
import time
from typing import Any, Protocol

import numpy as np

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.errors import AdaptationError, StF2MError
from st_f2m_ros.runtime.adaptation import clip_sources as cs
from st_f2m_ros.runtime.adaptation.request import (
    AdaptOutcome,
    AdaptRequest,
    InlineClip,
    request_from_msg,
)
from st_f2m_ros.runtime.adaptation.settings import AdaptationSettings, updated_settings
from st_f2m_ros.runtime.adaptation.store import AdaptationStore, check_subject
from st_f2m_ros.runtime.adaptation.support import SupportLoader
from st_f2m_ros.runtime.adaptation.support_faces import (
    NEUTRAL_KEY,
    CropOnly,
    FaceTarget,
    SupportFaces,
    stored_neutral,
    whole_frame_crop,
)
from st_f2m_ros.runtime.adaptation.validation import Source, validate_request
from st_f2m_ros.runtime.adaptation.worker import AdaptWorker


class AdaptTarget(Protocol):
    """What the manager needs of the recognizer (runtime.inference.recognizer.Recognizer)."""

    @property
    def model_id(self) -> str: ...

    def set_adaptation(self, subject: str, params: Any, version: int) -> None: ...

    def reset(self, subject: str | None = None) -> bool:
        """Base head; with `subject`, only when that subject's head is the live one."""
        ...


# (clips, steps[, should_stop]) -> object with params, support_acc_before, support_acc_after
# (meta.adapt). A function that takes `should_stop` is cancelled between inner steps.
AdaptFn = Callable[..., Any]


class AdaptationManager:
    """Validate, load, adapt on a worker thread, swap atomically, persist, reload, reset."""

    def __init__(
        self,
        target: AdaptTarget,
        adapt_fn: AdaptFn,
        settings: AdaptationSettings,
        store: AdaptationStore | None = None,
        crop_fn: cs.CropFn | None = None,
        clock: Callable[[], float] = time.monotonic,
        faces: FaceTarget | None = None,
        face_config: Any = None,
    ) -> None:
        """`faces`: the pipeline whose face stage support frames go through and which gets
        the neutral baselines; without one, `face_config` (perception.face.FaceConfig; None:
        the default) is used. `crop_fn` replaces the face stage (crops only, nothing measured).
        """
        self.target = target
        self.adapt_fn = adapt_fn
        if store is not None:  # the store's keep is the one configured (session passes it)
            settings = dataclasses.replace(settings, keep_versions=store.keep)
        self.settings = settings
        self.store = store
        self._crop_fn = crop_fn
        self.faces = faces
        self.face_config = face_config
        self._support_faces: tuple[Any, SupportFaces] | None = None  # (key, stage) of the last
        self.clock = clock
        self.worker = AdaptWorker(settings.worker_nice)
        # Serialises head changes (activate, reset, the swap after an adaptation) so the
        # subject that was activated last is the one whose head serves.
        self._head_lock = threading.Lock()
        self._generation = 0  # bumped by activate: an adaptation started before is not swapped in
        self._subject = ''
        self._state = 'base model'
        self._versions: dict[str, int] = {}

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> str:
        """Human-readable adaptation state for diagnostics."""
        return self._state

    @property
    def busy(self) -> bool:
        """True while an adaptation runs."""
        return self.worker.busy

    @property
    def crop_fn(self) -> cs.CropFn | None:
        """A cropper that replaces the face stage for support frames (None: the stage)."""
        return self._crop_fn

    @crop_fn.setter
    def crop_fn(self, fn: cs.CropFn | None) -> None:
        self._crop_fn = fn

    def support_faces(self, settings: AdaptationSettings | None = None) -> SupportFaces | CropOnly:
        """The face stage for support frames: the pipeline's FaceConfig as it is now.

        Built once per (crop size, face config) and kept (loading the front end's models takes
        a moment); only the worker uses it, one request at a time. Support clips that already
        are crops (`clips_are_crops`) skip the face stage (support_faces.CropOnly).
        """
        if self._crop_fn is not None:
            return CropOnly(self._crop_fn)
        from st_f2m_ros.perception.face import FaceConfig

        s = settings or self.settings
        if s.clips_are_crops:
            return CropOnly(functools.partial(whole_frame_crop, size=s.crop_size))
        face = self.faces.face_config if self.faces is not None else self.face_config
        key = (s.crop_size, face or FaceConfig())
        if self._support_faces is None or self._support_faces[0] != key:
            self._support_faces = (key, SupportFaces(key[1], key[0]))
        return self._support_faces[1]

    def _hand_neutral(self, subject: str, state: dict[str, Any] | None) -> None:
        """Give the pipeline `subject`'s neutral baseline (called with the head lock held)."""
        if self.faces is not None:
            self.faces.set_neutral(subject, state)

    def close(self, timeout: float = 5.0) -> bool:
        """Refuse new requests, cancel a running one, return within `timeout` s.

        A cancelled adaptation is neither swapped in nor stored; one already committing is let
        finish (the store write is atomic either way). True when no adaptation runs any more.
        """
        return self.worker.close(timeout)

    def update_settings(self, **changes: Any) -> AdaptationSettings:
        """Apply live parameters (settings.LIVE_SETTINGS) from the next request on.

        Validated all or nothing (AdaptationError with the reason), then swapped in with one
        assignment: a running request keeps the settings it started with.
        """
        new = updated_settings(self.settings, changes)
        if self.store is not None and 'keep_versions' in changes:
            self.store.keep = new.keep_versions
        self.settings = new
        return new

    # ------------------------------------------------------------------ request -> clips

    def validate(
        self, req: AdaptRequest, settings: AdaptationSettings | None = None
    ) -> list[Source]:
        """Check a request before any work; return its sources; raise AdaptationError."""
        return validate_request(req, settings or self.settings)

    def load_clips(
        self, subject: str, sources: list[Source], settings: AdaptationSettings | None = None
    ) -> list[Clip]:
        """Turn validated sources into Clips (face crops, labels, measures), frame by frame."""
        return self.load_support(subject, sources, settings)[0]

    def load_support(
        self, subject: str, sources: list[Source], settings: AdaptationSettings | None = None
    ) -> tuple[list[Clip], dict[str, Any] | None]:
        """(clips, neutral baseline state of the neutral clips or None)."""
        s = settings or self.settings
        loader = SupportLoader(s, self.support_faces(s), self.worker.check)
        clips = loader.load(subject, sources)
        return clips, loader.neutral

    # ------------------------------------------------------------------ adapt

    def submit(self, req: AdaptRequest) -> Future[AdaptOutcome]:
        """Run `adapt(req)` on the worker thread; a busy or closed manager answers at once.

        The future never raises: every failure is an AdaptOutcome with success=False.
        """
        if not self.worker.try_begin():
            done: Future[AdaptOutcome] = Future()
            done.set_result(self._refusal())
            return done
        return self.worker.start(lambda: self._run(req))

    def adapt(self, req: AdaptRequest) -> AdaptOutcome:
        """Validate, load, adapt, swap and persist in the calling thread (the CLI)."""
        if not self.worker.try_begin():
            return self._refusal()
        try:
            return self._run(req)
        finally:
            self.worker.end()

    def _refusal(self) -> AdaptOutcome:
        if self.worker.closed:
            why = 'refused: the adaptation manager is shut down'
        else:
            why = 'busy: another adaptation is running; retry when it is done'
        return AdaptOutcome(False, why, self.target.model_id)

    def _run(self, req: AdaptRequest) -> AdaptOutcome:
        """One request with the worker held; on failure the model is left untouched."""
        t0 = self.clock()
        previous_state = self._state
        try:
            self._state = f'adapting {req.subject_id}'
            return self._adapt_locked(req, t0)
        except StF2MError as err:
            self._state = previous_state
            return AdaptOutcome(False, str(err), self.target.model_id, duration=self.clock() - t0)
        except Exception as err:  # a model bug must not kill the service thread
            self._state = previous_state
            return AdaptOutcome(
                False,
                f'adaptation failed: {type(err).__name__}: {err}',
                self.target.model_id,
                duration=self.clock() - t0,
            )

    def _call_adapt_fn(self, clips: list[Clip], steps: int) -> Any:
        try:
            takes_stop = 'should_stop' in inspect.signature(self.adapt_fn).parameters
        except (TypeError, ValueError):
            takes_stop = False
        if takes_stop:
            return self.adapt_fn(clips, steps, should_stop=self.worker.cancelled)
        return self.adapt_fn(clips, steps)

    def _adapt_locked(self, req: AdaptRequest, t0: float) -> AdaptOutcome:
        s = self.settings  # read once: a live update applies to the next request
        generation = self._generation
        sources = self.validate(req, s)
        clips, neutral = self.load_support(req.subject_id, sources, s)
        steps = req.inner_steps or s.default_inner_steps
        self.worker.check()
        result = self._call_adapt_fn(clips, steps)
        self.worker.check()
        before = float(result.support_acc_before)
        after = float(result.support_acc_after)
        scope = _scope_of(result)
        params = result.params
        if not all(np.isfinite(_as_numpy(v)).all() for v in params.values()):
            raise AdaptationError(
                'adaptation produced non-finite parameters; the model is '
                'unchanged; try fewer inner steps'
            )
        with self.worker.commit_lock:  # close() waits for a commit rather than cut it off
            self.worker.check()
            version = self._versions.get(req.subject_id, 0) + 1
            note = ''
            if req.persist and self.store is not None:
                meta = {'checkpoint_id': s.checkpoint_id, 'support_acc_before': before,
                        'support_acc_after': after, 'steps': steps, 'clips': len(clips),
                        'heldout_accuracy': scope.heldout_accuracy,
                        'created': time.time()}  # fmt: skip
                if neutral is not None:  # one file: the head and its neutral face together
                    meta[NEUTRAL_KEY] = neutral
                try:
                    version = self.store.save(req.subject_id, params, meta)
                except StF2MError as err:
                    note = f'; NOT persisted: {err}'
            with self._head_lock:
                # A subject switch while this ran: the person in front of the camera changed,
                # so this head must not serve (it is stored for when they come back).
                switched = self._generation != generation and self._subject != req.subject_id
                # The neutral face belongs to this adaptation (None: the request had no
                # neutral clip, so the front end learns it online, as after a reload).
                self._hand_neutral(req.subject_id, neutral)
                if not switched:
                    self.target.set_adaptation(req.subject_id, params, version)  # atomic swap
                    self._subject = req.subject_id
                    self._state = f'adapted {req.subject_id}@v{version}'
                else:
                    self._state = f'{self._subject}: {self.target.model_id}'
                    note += f'; not made live: the subject changed to {self._subject}'
                self._versions[req.subject_id] = version
        duration = self.clock() - t0
        return AdaptOutcome(
            True,
            f'adapted {req.subject_id} from {len(clips)} clips in {steps} steps: support '
            f'accuracy {before:.2f} -> {after:.2f}{_scope_text(scope)}{note}',
            self.target.model_id,
            len(clips),
            before,
            after,
            duration,
            version,
            scope.heldout_accuracy,
            scope.heldout_note,
            scope.adapted_classes,
            scope.kept_classes,
        )

    # ------------------------------------------------------------------ persistence

    def activate(self, subject: str) -> str:
        """Serve `subject`'s newest loadable stored adaptation, else the base head; report it.

        Never leaves another person's head serving: whatever happens (no store, no file, every
        file corrupt, an invalid id) the head that serves afterwards is `subject`'s or the
        base model's, and `model_id` says which. Corrupt versions are reported and skipped
        (newest to oldest). Never raises.
        """
        with self._head_lock:
            self._generation += 1
            self._subject = subject
            try:
                check_subject(subject)
            except AdaptationError as err:
                self.target.reset()
                self._state = 'base model'
                return f'{err}: base model'
            if self.store is None:
                self.target.reset()
                self._hand_neutral(subject, None)
                self._state = 'base model'
                return f'{subject}: no adaptation store configured: base model'
            stored, problems = self.store.newest_loadable(subject, self.settings.checkpoint_id)
            rejected = ''.join(f'; rejected: {p}' for p in problems)
            if stored is None:
                self.target.reset()
                self._hand_neutral(subject, None)
                if problems:
                    self._state = f'base model ({subject}: persisted adaptation rejected)'
                    return f'{subject}: no loadable persisted adaptation: base model{rejected}'
                self._state = 'base model'
                return f'no persisted adaptation for {subject}: base model'
            neutral, problem = stored_neutral(stored.meta)
            rejected += problem
            self.target.set_adaptation(subject, stored.params, stored.version)
            self._hand_neutral(subject, neutral)
            self._versions[subject] = max(self._versions.get(subject, 0), stored.version)
            self._state = f'adapted {subject}@v{stored.version} (reloaded)'
            face = ' with its neutral face' if neutral is not None else ''
            return (
                f'reloaded adaptation {subject}@v{stored.version}{face} from {stored.path}'
                f'{rejected}'
            )

    def reset(self, subject: str, delete_persisted: bool = False) -> AdaptOutcome:
        """Drop `subject`'s adaptation (and optionally its files); never raises.

        The base head serves afterwards if `subject`'s head was serving; another person's
        live head is not touched (the reset is for `subject`).
        """
        try:
            check_subject(subject)
            with self._head_lock:
                self.target.reset(subject)
                self._hand_neutral(subject, None)  # its neutral face goes with the head
                self._versions.pop(subject, None)
                if self._subject == subject or not self._subject:
                    self._state = 'base model'
            deleted = 0
            if delete_persisted and self.store is not None:
                deleted = self.store.delete(subject)
            extra = f'; deleted {deleted} persisted version(s)' if delete_persisted else ''
            return AdaptOutcome(
                True, f'{subject}: adaptation dropped, serving {self.target.model_id}{extra}',
                self.target.model_id,
            )  # fmt: skip
        except (StF2MError, OSError) as err:
            return AdaptOutcome(False, str(err), self.target.model_id)


def _scope_of(result: Any) -> AdaptOutcome:
    """The held-out estimate and class scope of an adapt_fn result (meta.adapt.Adaptation).

    An adapt_fn that reports neither (a test double) gives None / empty.
    """
    from st_f2m_ros.taxonomy import CLASS_LABELS

    def names(ids: Any) -> tuple[str, ...]:
        return tuple(CLASS_LABELS[int(c)] for c in ids or ())

    acc = getattr(result, 'heldout_acc', None)
    return AdaptOutcome(
        True, '', '',
        heldout_accuracy=None if acc is None else float(acc),
        heldout_note=str(getattr(result, 'heldout_note', '') or ''),
        adapted_classes=names(getattr(result, 'adapted_classes', None)),
        kept_classes=names(getattr(result, 'kept_classes', None)),
    )  # fmt: skip


def _scope_text(scope: AdaptOutcome) -> str:
    """'; held-out estimate 0.62 (5-fold over 30 clips); adapted: ...; base head kept: ...'."""
    text = ''
    if scope.heldout_accuracy is not None:
        text += f'; held-out estimate {scope.heldout_accuracy:.2f} ({scope.heldout_note})'
    elif scope.heldout_note:
        text += f'; held-out estimate {scope.heldout_note}'
    if scope.adapted_classes:
        text += f'; adapted {len(scope.adapted_classes)}: {", ".join(scope.adapted_classes)}'
    if scope.kept_classes:
        kept = ', '.join(scope.kept_classes)
        text += f'; base head kept for {len(scope.kept_classes)}: {kept}'
    return text


def _as_numpy(v: Any) -> np.ndarray:
    if hasattr(v, 'detach'):
        return v.detach().cpu().numpy()
    return np.asarray(v)


__all__ = [
    'AdaptFn',
    'AdaptOutcome',
    'AdaptRequest',
    'AdaptTarget',
    'AdaptationManager',
    'AdaptationSettings',
    'FaceTarget',
    'InlineClip',
    'request_from_msg',
]
