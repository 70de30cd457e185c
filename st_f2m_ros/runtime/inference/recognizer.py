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
"""The recognizer: a backend plus the current (base or adapted) head parameters.

/adapt (the meta-learning inner loop, paper eq. 6) produces new head parameters on a worker
thread while frames keep flowing. They are published with one reference assignment of an
immutable `HeadState`; a window reads the reference once, so it is classified entirely with the
old head or entirely with the new one, and no lock is held on the frame path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from st_f2m_ros.errors import AdaptationError
from st_f2m_ros.runtime.inference.backends import Backend, Params, WindowScores


@dataclass(frozen=True)
class HeadState:
    """Which head is live: the base model's (subject '') or a subject's adaptation."""

    subject: str = ''
    version: int = 0
    params: Params = field(default_factory=dict)

    @property
    def adapted(self) -> bool:
        """Whether an adaptation is active."""
        return bool(self.subject)


class Recognizer:
    """Backend + live head; `classify` is safe to call while another thread adapts."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._state = HeadState()

    @property
    def state(self) -> HeadState:
        """The live head (read once per use)."""
        return self._state

    @property
    def model_id(self) -> str:
        """'<checkpoint id>' or '<checkpoint id>+<subject>@v<version>' (EmotionSequence)."""
        return self.model_id_of(self._state)

    def model_id_of(self, state: HeadState) -> str:
        """The model id that a given head state reports."""
        base = self.backend.model_id
        return f'{base}+{state.subject}@v{state.version}' if state.adapted else base

    def set_adaptation(self, subject: str, params: Params, version: int) -> None:
        """Make `params` the live head for `subject` (one reference assignment)."""
        if not subject:
            raise AdaptationError('an adaptation needs a non-empty subject id')
        if not params:
            raise AdaptationError(f'the adaptation of {subject!r} holds no parameters')
        self._state = HeadState(subject, int(version), dict(params))

    def reset(self, subject: str | None = None) -> bool:
        """Return to the base head; with `subject`, only if that subject's head is live."""
        state = self._state
        if subject is not None and state.subject != subject:
            return False
        self._state = HeadState()
        return state.adapted

    def encode_frames(
        self,
        crops: np.ndarray,
        components: np.ndarray | None = None,
        reliable: np.ndarray | None = None,
    ) -> np.ndarray:
        """Per-frame features (head-independent: adaptations never invalidate the cache).

        `components` / `reliable` [N, 12]: the front end's measurements of the same frames
        (used by a model with `component_input`); None: nothing measured.
        """
        if components is None:
            return self.backend.encode_frames(crops)
        return self.backend.encode_frames(crops, components, reliable)

    def encode_text(self, texts: list[str]) -> np.ndarray:
        """Sentence embeddings for the text modality."""
        return self.backend.encode_text(texts)

    def classify(
        self,
        frame_feats: np.ndarray,
        text_emb: np.ndarray,
        vision_mask: np.ndarray,
        text_mask: np.ndarray,
    ) -> tuple[WindowScores, str]:
        """Classify windows with the live head; return the scores and the model id used."""
        state = self._state  # one read: the whole call sees one head
        params: Any = state.params or None
        scores = self.backend.classify(frame_feats, text_emb, vision_mask, text_mask, params)
        return scores, self.model_id_of(state)
