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
"""The checkpoint-backed model's decision for `st-f2m explain`, from the real pipeline.

The model classifies windows of frames, never single frames, so its decision for a sampled
frame is the one of the window that contains that frame. To show what the node would have
published, and not a re-implementation of it, the frames go through the same
`PerceptionPipeline` the node and `st-f2m run` use: a bag is replayed at its stamps with
`runtime.replay.replay_bag` (transcripts included, as the node would hear them; their text
never leaves the pipeline), and a still image is fed as copies of itself on the model's
feature grid until the first window completes. A window of copies has no motion, so that
decision is labelled as such wherever it is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from st_f2m_ros.taxonomy import MODALITY_TEXT

_EPS = 1e-6
_STILL_START = 1.0  # first stamp of a replicated still (0 is refused as an unset stamp)


@dataclass(frozen=True)
class ModelDecision:
    """The newest state of the window that covers a frame, as the node would publish it.

    Attributes:
        class_label: fine-grained class of the state (the model's best class even when the
            state abstains).
        emotion_label: basic emotion, 'unknown' when the state abstains.
        confidence: the probability of `class_label`.
        status: 'ok', 'low_confidence', 'no_face' or 'stale'.
        window: (start, end) seconds of the window (stamps of the input).
        model_id: checkpoint id (with the adaptation, if any).
        copies: a still image copied this many times to fill the window (0 for a bag).
        text_used: the transcript modality contributed to this state.
        covers: False when no window contains the frame and the one before it is shown.
        face_box: the pipeline's own face box for a still (to match it to a face), else None.
    """

    class_label: str
    emotion_label: str
    confidence: float
    status: str
    window: tuple[float, float]
    model_id: str
    copies: int = 0
    text_used: bool = False
    covers: bool = True
    face_box: tuple[float, float, float, float] | None = None

    def text(self) -> str:
        """One short phrase: 'happiness_high 0.59' or 'abstains (low_confidence; ...)'."""
        best = f'{self.class_label} {self.confidence:.2f}'
        if self.status == 'ok':
            return best
        if self.status == 'no_face':
            return 'no face in the window'
        return f'abstains ({self.status}; best {best})'

    def how(self, origin: float = 0.0) -> str:
        """Where the window came from; times in seconds since `origin` (the first frame)."""
        if self.copies:
            return f'still image copied {self.copies}x into one window (no motion)'
        a, b = self.window[0] - origin, self.window[1] - origin
        if origin:
            a = max(a, 0.0)  # nothing before the first frame
        where = 'window' if self.covers else 'last window before this frame'
        return f'{where} {a:.2f} to {b:.2f} s' + (', with speech' if self.text_used else '')

    def to_json(self) -> dict[str, Any]:
        """Plain numbers and strings."""
        return {
            'class': self.class_label,
            'emotion': self.emotion_label,
            'confidence': round(self.confidence, 4),
            'status': self.status,
            'window': [round(self.window[0], 4), round(self.window[1], 4)],
            'model_id': self.model_id,
            'still_copies': self.copies,
            'text_used': self.text_used,
            'window_covers_frame': self.covers,
        }


class _EnoughError(Exception):
    """Stops a replay once every sampled frame has its window (a private control signal)."""


def _decision(result: Any, copies: int = 0, covers: bool = True, box: Any = None):
    from st_f2m_ros.runtime.pipeline.results import STATUS_NAMES

    cur = result.current
    if cur is None:
        return None
    return ModelDecision(
        class_label=str(cur.class_label),
        emotion_label=str(cur.emotion_label),
        confidence=float(cur.confidence),
        status=STATUS_NAMES.get(int(cur.status), str(cur.status)),
        window=(float(result.stamp - result.window_size), float(result.stamp)),
        model_id=str(result.model_id),
        copies=int(copies),
        text_used=bool(int(cur.modalities) & MODALITY_TEXT),
        covers=covers,
        face_box=None if box is None else tuple(float(v) for v in box),
    )


def match_windows(results: Sequence[Any], times: Sequence[float]) -> list[ModelDecision | None]:
    """For each frame time, the earliest window that contains it, else the last one before.

    The earliest covering window is the one decided closest to the frame: later windows
    overlap it but are dominated by what happened after. STALE results (no input) are never
    matched: they say nothing about a frame.
    """
    from st_f2m_ros.runtime.pipeline.results import STATUS_STALE

    live = [r for r in results if r.current is not None and r.current.status != STATUS_STALE]
    out: list[ModelDecision | None] = []
    for t in times:
        cover = [r for r in live if r.stamp - r.window_size - _EPS <= t <= r.stamp + _EPS]
        if cover:
            out.append(_decision(min(cover, key=lambda r: r.stamp)))
            continue
        before = [r for r in live if r.stamp <= t + _EPS]
        out.append(_decision(before[-1], covers=False) if before else None)
    return out


class ModelRunner:
    """A checkpoint, its torch recognizer and a fresh pipeline per input.

    Args:
        checkpoint: a `.safetensors` checkpoint; None for the shipped default model.
        num_threads: torch threads for the recognizer.
    """

    def __init__(self, checkpoint: str | None = None, num_threads: int = 1) -> None:
        from st_f2m_ros.model.checkpoint import load_checkpoint
        from st_f2m_ros.runtime.inference.factory import build_recognizer

        self.model = load_checkpoint(checkpoint)
        self.recognizer = build_recognizer('torch', model=self.model, num_threads=num_threads)
        self.backend = self.recognizer.backend

    @property
    def window_seconds(self) -> float:
        """Length of one model window in seconds (T frames on the feature grid)."""
        return self.backend.window / self.backend.feature_rate

    def _pipeline(self) -> Any:
        from st_f2m_ros.runtime.pipeline.pipeline import PerceptionPipeline
        from st_f2m_ros.runtime.session import pipeline_config

        pipe = PerceptionPipeline(self.recognizer, pipeline_config({}, 'explain'))
        pipe.log_skips = False  # skips are counted; explain reports what it shows
        return pipe

    def still(self, bgr: np.ndarray) -> ModelDecision | None:
        """Decision for one image copied onto the feature grid until a window completes."""
        pipe = self._pipeline()
        rate = float(self.backend.feature_rate)
        for k in range(3 * int(self.backend.window) + 1):
            out = pipe.process_bgr(_STILL_START + k / rate, bgr)
            if out.result is not None and out.result.current is not None:
                obs = out.observation
                box = getattr(obs, 'box', None)
                return _decision(out.result, copies=k + 1, box=box)
        return None

    def bag(
        self, path: str | Path, topic: str, times: Sequence[float]
    ) -> list[ModelDecision | None]:
        """Decisions for a bag's frames at `times` (stamps), replaying only as far as needed."""
        from st_f2m_ros.runtime.replay import replay_bag

        if not times:
            return []
        results: list[Any] = []
        last = max(times)

        def keep(result: Any) -> None:
            results.append(result)
            if result.stamp - result.window_size - _EPS <= last <= result.stamp + _EPS:
                raise _EnoughError

        try:
            replay_bag(self._pipeline(), path, keep, camera_topic=topic)
        except _EnoughError:
            pass
        return match_windows(results, times)
