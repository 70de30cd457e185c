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
"""Do one person's support work once across the benchmark's nested support bags.

The 1-, 3- and 5-shot bags of a person are prefixes of one recording and a noisy variant holds
the same frames, so /adapt would face-track and encode the same frames again for each. Two
deterministic steps are memoised, exactly:

* the support face stage is a tracked stream (a new person per source, then one frame at a
  time), so a frame's crop and measures depend on every frame before it: the memo key chains
  the hashes of the stream so far, and a bag processed after a longer one that it is a prefix of
  is answered entirely from the memo (a stream that diverges after a memoised prefix raises,
  since the real stage would have skipped frames);
* the encoder's feature of a crop depends on the crop (and, with `component_input`, its
  measured components) alone in eval mode, so it is keyed by them.

Decoding and everything after the features (labels from the sidecar, windows, the inner loop,
the swap) run for real on every request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import hashlib
import struct
from typing import Any

import numpy as np


def _digest(*parts: bytes) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        h.update(p)
    return h.digest()


class _StreamMemo:
    """Instance patches of a face stage's `new_person` and `observe`, answered from the memo."""

    def __init__(self, stage: Any, cache: dict[bytes, Any], counts: dict[str, int]) -> None:
        self.stage, self.cache, self.counts = stage, cache, counts
        self.new_person, self.observe = stage.new_person, stage.observe
        self.chain, self.hits = b'', 0
        stage.new_person, stage.observe = self._new_person, self._observe

    def restore(self) -> None:
        del self.stage.new_person, self.stage.observe  # the class's methods again

    def _new_person(self) -> None:
        self.chain, self.hits = b'', 0
        self.new_person()

    def _observe(self, t: float, bgr: np.ndarray, *args: Any, **kw: Any) -> Any:
        self.counts['frames'] += 1
        self.chain = _digest(self.chain, struct.pack('<d', float(t)), repr(args).encode(),
                             np.ascontiguousarray(bgr))  # fmt: skip
        if self.chain in self.cache:
            self.hits += 1
            return self.cache[self.chain]
        if self.hits:
            raise RuntimeError('support memo: a stream diverged after a memoised prefix')
        self.counts['tracked'] += 1
        out = self.cache[self.chain] = self.observe(t, bgr, *args, **kw)
        return out


@contextmanager
def support_memo(manager: Any, model: Any) -> Iterator[dict[str, int]]:
    """Within the block, `manager` tracks and `model` encodes each support frame once."""
    import torch

    counts = {'frames': 0, 'tracked': 0, 'crops': 0, 'encoded': 0}
    tracked: dict[bytes, Any] = {}
    feats: dict[bytes, Any] = {}
    encode = model.encode_frames
    uses = bool(getattr(model.config, 'component_input', False))  # else E ignores components
    faces = manager.support_faces() if hasattr(manager, 'support_faces') else None
    stage = getattr(faces, 'stage', None)  # the FaceStage of support_faces.SupportFaces
    memo = _StreamMemo(stage, tracked, counts) if stage is not None else None

    def memo_encode(batch: Any, components: Any = None, reliable: Any = None) -> Any:
        if not isinstance(batch, np.ndarray):
            return encode(batch, components, reliable)
        extra = [np.asarray(x) for x in (components, reliable) if x is not None and uses]
        counts['crops'] += len(batch)
        keys = [_digest(np.ascontiguousarray(c), *(x[i].tobytes() for x in extra))
                for i, c in enumerate(batch)]  # fmt: skip
        todo = sorted({keys.index(k) for k in keys if k not in feats})
        if todo:
            counts['encoded'] += len(todo)
            pick = [None if x is None else np.asarray(x)[todo] for x in (components, reliable)]
            for i, f in zip(todo, encode(batch[todo], *pick)):
                feats[keys[i]] = f
        return torch.stack([feats[k] for k in keys])

    model.encode_frames = memo_encode
    try:
        yield counts
    finally:
        if memo is not None:
            memo.restore()
        del model.encode_frames
