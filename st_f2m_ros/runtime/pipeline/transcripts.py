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
"""Transcript buffer aligned to vision windows by time (the text modality of paper V-A).

Final transcripts arrive as utterances with a time span (st_f2m_ros/Transcript) or as bare
strings stamped on arrival (std_msgs/String), whose span is estimated from the word count. A
window takes the utterances that overlap it or ended shortly before it (`lookback`: speech
often explains the face that follows it) and the mean of their sentence embeddings. Each
utterance is embedded once. Texts are patient data: nothing here logs them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
import math

import numpy as np

from st_f2m_ros.errors import ConfigError, PerceptionError


@dataclass(frozen=True)
class TranscriptConfig:
    """How long speech stays relevant and how bare strings are given a span.

    Attributes:
        lookback: seconds before a window's start whose utterances still count.
        horizon: seconds of history kept at all.
        max_items: bound on buffered utterances (a chatty recogniser cannot grow memory).
        seconds_per_word: span estimate for unstamped strings (~2.5 words/s speech).
        max_chars: longer texts are cut (a runaway recogniser cannot stall the encoder).

    """

    lookback: float = 2.0
    horizon: float = 30.0
    max_items: int = 64
    seconds_per_word: float = 0.4
    max_chars: int = 1000

    def validate(self) -> None:
        """Raise ConfigError naming the field when a value is out of range."""
        if self.lookback < 0 or not self.horizon > 0 or self.max_items < 1:
            raise ConfigError('transcripts: lookback >= 0, horizon > 0 and max_items >= 1')


def clean_text(text: object, limit: int = 4000) -> str:
    """Text fit for the sentence encoder: lone surrogates and control characters removed.

    rclpy hands over whatever the publisher sent; a lone surrogate (invalid UTF-16 half) would
    make the encoder raise on every window, so it is dropped here, once, on arrival.
    """
    if not isinstance(text, str):
        raise PerceptionError(f'transcript text must be a str, got {type(text).__name__}')
    text = text[: max(0, limit)]  # a 1 MB text costs no more than a long sentence
    text = text.encode('utf-8', 'ignore' if _has_surrogate(text) else 'strict').decode('utf-8')
    return ''.join(ch for ch in text if ch.isprintable() or ch in ' \n\t')


def _has_surrogate(text: str) -> bool:
    try:
        text.encode('utf-8')
    except UnicodeEncodeError:
        return True
    return False


@dataclass
class BufferedUtterance:
    """An utterance with its span (seconds) and its lazily computed embedding."""

    start: float
    end: float
    text: str
    embedding: np.ndarray | None = None


class TranscriptBuffer:
    """Holds recent final utterances and gives a window its text embedding."""

    def __init__(self, config: TranscriptConfig | None = None) -> None:
        self.config = config or TranscriptConfig()
        self.config.validate()
        self._items: deque[BufferedUtterance] = deque()
        self.encoded = 0

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        """Forget every utterance."""
        self._items.clear()

    def add(
        self, stamp: float, text: str, start: float | None = None, end: float | None = None
    ) -> BufferedUtterance:
        """Buffer an utterance heard until `stamp` (or over [start, end] when given).

        Raises PerceptionError for an empty text or non-finite / reversed times.
        """
        c = self.config
        if not isinstance(text, str) or not text.strip():
            raise PerceptionError('empty transcript')
        if not math.isfinite(stamp):
            raise PerceptionError('transcript stamp is not finite')
        text = text.strip()[: c.max_chars]
        if end is None:
            end = stamp
        if start is None:
            start = end - c.seconds_per_word * max(1, len(text.split()))
        if not (math.isfinite(start) and math.isfinite(end)) or start > end:
            raise PerceptionError(f'transcript span [{start}, {end}] is invalid (start > end?)')
        item = BufferedUtterance(float(start), float(end), text)
        self._items.append(item)
        newest = max(u.end for u in self._items)
        while len(self._items) > c.max_items or (
            self._items and newest - self._items[0].end > c.horizon
        ):
            self._items.popleft()
        return item

    def drop_after(self, t: float) -> None:
        """Forget utterances ending after `t` (the input timeline went back: a looped bag)."""
        self._items = deque(u for u in self._items if u.end <= t)

    def select(self, start: float, end: float) -> list[BufferedUtterance]:
        """Utterances overlapping [start - lookback, end], in arrival order."""
        lo = start - self.config.lookback
        return [u for u in self._items if u.end >= lo and u.start <= end]

    def encode_pending(self, encode: Callable[[list[str]], np.ndarray], dim: int) -> int:
        """Embed the utterances not embedded yet (call on arrival, off the window path)."""
        todo = [u for u in self._items if u.embedding is None]
        if todo:
            embs = np.asarray(encode([u.text for u in todo]), dtype=np.float32)
            if embs.shape != (len(todo), dim):
                raise PerceptionError(
                    f'text encoder returned {embs.shape}, expected ({len(todo)}, {dim})'
                )
            for u, e in zip(todo, embs):
                u.embedding = e
            self.encoded += len(todo)
        return len(todo)

    def embed(
        self,
        start: float,
        end: float,
        encode: Callable[[list[str]], np.ndarray],
        dim: int,
    ) -> tuple[np.ndarray, bool]:
        """Mean embedding [dim] of the window's utterances and whether there was any text."""
        items = self.select(start, end)
        if not items:
            return np.zeros(dim, dtype=np.float32), False
        if any(u.embedding is None for u in items):
            self.encode_pending(encode, dim)
        mean = np.mean([u.embedding for u in items], axis=0).astype(np.float32)
        norm = float(np.linalg.norm(mean))
        return (mean / norm if norm > 0 else mean), True
