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
"""One due window through the recognizer and the temporal post-processor.

Split from pipeline.py by concern: the pipeline decides *when* a window is due (stamps,
gaps, staleness); this module decides *what* it says: the frames sampled on its grid (a frame
without a face borrows the nearest one with a face), the transcript embedding of its span,
the model, then the post-processor's states. With the real-face front end a window of mostly
low-quality frames is abstained without running the model, and the state carries the measured
components (runtime/pipeline/face_window.py). Called with the pipeline's lock held.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from st_f2m_ros.runtime.pipeline.face_window import window_face
from st_f2m_ros.runtime.pipeline.postprocess import WindowDecisionInput
from st_f2m_ros.runtime.pipeline.results import EmotionStateResult
from st_f2m_ros.runtime.pipeline.windows import Window
from st_f2m_ros.taxonomy import MODALITY_TEXT, MODALITY_VISION


def classify_window(pipe: Any, window: Window) -> tuple[list[EmotionStateResult], str, bool]:
    """Return (states, model_id, whether the model's output was non-finite) for `window`.

    Too few frames with a face give a NO_FACE decision without running the model.
    """
    c = pipe.config
    rec = pipe.recognizer
    backend = rec.backend
    records = pipe.cache.nearest(window.targets, max(pipe.windows.spacing, 0.1))
    have = [i for i, r in enumerate(records) if r is not None]
    model_id = rec.model_id
    nonfinite = False
    distinct = list({id(r): r for r in records if r is not None}.values())
    face = window_face([r.measured for r in distinct], c.max_low_quality_fraction)
    if not have or len(have) < c.min_face_fraction * len(records):
        decision = WindowDecisionInput(window.start, window.end, None)
    elif face.abstain is not None:
        pipe.stats.abstain(face.abstain)
        decision = WindowDecisionInput(window.start, window.end, None, abstain=face.abstain)
    else:
        filled = [r if r is not None else records[min(have, key=lambda k, i=i: abs(k - i))]
                  for i, r in enumerate(records)]  # fmt: skip
        feats = pipe.cache.features(filled, rec.encode_frames)
        emb = np.zeros(backend.text_dim, dtype=np.float32)
        has_text = False
        if c.use_text and backend.text_usable:
            emb, has_text = pipe.transcripts.embed(
                window.start, window.end, rec.encode_text, backend.text_dim
            )
        scores, model_id = rec.classify(
            feats[None], emb[None], np.ones(1, np.float32), np.full(1, float(has_text), np.float32)
        )
        probs = scores.probs[0]
        nonfinite = not bool(np.all(np.isfinite(probs)))
        mods = MODALITY_VISION | (MODALITY_TEXT if has_text else 0)
        measured = face.components is not None
        decision = WindowDecisionInput(
            window.start, window.end, probs,
            face.components if measured else scores.components[0],
            float(np.nan_to_num(scores.intensity[0])), mods, face.reliable, measured,
        )  # fmt: skip
    return pipe.post.update(decision), model_id, nonfinite
