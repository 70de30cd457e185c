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
"""Feature cache (each frame encoded once) and transcript buffer (alignment by time)."""

from __future__ import annotations

import numpy as np
import pytest

from st_f2m_ros.errors import PerceptionError
from st_f2m_ros.runtime.pipeline.feature_cache import FeatureCache
from st_f2m_ros.runtime.pipeline.transcripts import TranscriptBuffer, TranscriptConfig
from st_f2m_ros.runtime.pipeline.windows import WindowConfig, WindowScheduler


class CountingEncoder:
    """A real (trivial) encoder: the mean pixel of each crop; remembers what it encoded."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        self.seen.extend(int(c[0, 0, 0]) for c in crops)
        return crops.reshape(len(crops), -1).mean(axis=1, keepdims=True).astype(np.float32)


def _crop(i: int) -> np.ndarray:
    return np.full((4, 4, 3), i % 256, np.uint8)


def test_overlapping_windows_encode_each_frame_once():
    cache, enc = FeatureCache(), CountingEncoder()
    sched = WindowScheduler(WindowConfig(length=1.0, hop=0.25, frames=8))
    windows = 0
    for i in range(90):  # 3 s at 30 Hz
        t = i / 30
        cache.add(t, _crop(i))
        w = sched.push(t)
        if w is not None:
            recs = cache.nearest(w.targets, 0.1)
            feats = cache.features(recs, enc)
            assert feats.shape == (8, 1)
            np.testing.assert_allclose(np.diff(feats[:, 0]), 3.75, atol=1.01)
            windows += 1
    assert windows >= 8
    assert len(enc.seen) == len(set(enc.seen)) == cache.encoded
    assert cache.encoded < 90 / 2  # only frames a window needs are encoded


def test_nearest_skips_frames_without_a_face_and_respects_tolerance():
    cache = FeatureCache()
    for i, face in enumerate([True, False, False, True]):
        cache.add(i / 10, _crop(i) if face else None)
    recs = cache.nearest(np.array([0.0, 0.1, 0.2, 0.3, 1.0]), tolerance=0.15)
    assert [None if r is None else r.stamp for r in recs] == [0.0, 0.0, 0.3, 0.3, None]


def test_cache_bounds_and_order():
    cache = FeatureCache(capacity=5, horizon=1.0)
    for i in range(20):
        cache.add(i * 0.1, _crop(i))
    assert len(cache) == 5
    with pytest.raises(PerceptionError, match='not after'):
        cache.add(0.5, _crop(0))
    cache.add(100.0, _crop(1))
    assert len(cache) == 1  # older than the horizon


def _hash_encoder(texts: list[str]) -> np.ndarray:
    out = np.zeros((len(texts), 4), np.float32)
    for i, t in enumerate(texts):
        out[i, len(t) % 4] = 1.0
    return out


def test_transcripts_align_with_windows_and_lookback():
    buf = TranscriptBuffer(TranscriptConfig(lookback=1.0))
    buf.add(2.0, 'abc', start=1.0, end=2.0)
    buf.add(5.0, 'abcd', start=4.5, end=5.0)
    assert [u.text for u in buf.select(2.5, 3.5)] == ['abc']  # ended 0.5 s before: lookback
    assert [u.text for u in buf.select(3.5, 4.0)] == []
    assert [u.text for u in buf.select(4.0, 6.0)] == ['abcd']
    emb, has = buf.embed(1.5, 5.0, _hash_encoder, 4)
    assert has and emb.shape == (4,)
    assert np.linalg.norm(emb) == pytest.approx(1.0)
    emb, has = buf.embed(10.0, 11.0, _hash_encoder, 4)
    assert not has and not emb.any()


def test_unstamped_text_gets_a_span_from_its_words():
    buf = TranscriptBuffer(TranscriptConfig(seconds_per_word=0.5))
    u = buf.add(10.0, 'one two three four')
    assert (u.start, u.end) == (8.0, 10.0)


def test_each_utterance_is_embedded_once():
    buf = TranscriptBuffer()
    calls = []

    def enc(texts):
        calls.extend(texts)
        return _hash_encoder(texts)

    buf.add(1.0, 'hello')
    for k in range(5):
        buf.embed(0.5 + 0.1 * k, 1.5 + 0.1 * k, enc, 4)
    assert calls == ['hello'] and buf.encoded == 1


@pytest.mark.parametrize(
    ('args', 'match'),
    [((1.0, '   '), 'empty'), ((float('nan'), 'x'), 'finite'), ((1.0, 'x', 2.0, 1.0), 'invalid')],
)
def test_bad_transcripts(args, match):
    with pytest.raises(PerceptionError, match=match):
        TranscriptBuffer().add(*args)


def test_transcript_buffer_is_bounded():
    buf = TranscriptBuffer(TranscriptConfig(max_items=3, horizon=5.0))
    for i in range(10):
        buf.add(float(i), f'w{i}')
    assert len(buf) == 3
    buf.add(100.0, 'late')
    assert len(buf) == 1
