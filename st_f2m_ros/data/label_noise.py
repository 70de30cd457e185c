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
"""Frame-label noise at the Clip level: the paper's Table V "30 % shuffled frame labels".

Noise is applied to clips, not inside a generator, so the same option serves synthetic and
real data, the trainer (`data.frame_label_noise`, training subjects only: validation must
measure against true labels) and `st-f2m make-dataset --frame-label-noise`. Exactly
round(fraction * labelled frames) frames of each clip get a different class drawn uniformly
from the other 18; unlabelled frames (-1) stay unlabelled. Each clip's draw depends only on
the seed and the clip's position, so it is reproducible and independent of other clips.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.errors import DataError
from st_f2m_ros.taxonomy import NUM_CLASSES


def noisy_labels(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A copy of `labels` with round(fraction * labelled) frames moved to another class."""
    if not 0.0 <= fraction <= 1.0:
        raise DataError(f'frame label noise must be in [0, 1], got {fraction}')
    out = np.array(labels, dtype=np.int64, copy=True)
    labelled = np.flatnonzero(out >= 0)
    n = round(fraction * labelled.size)
    if n == 0:
        return out
    pick = rng.choice(labelled, size=n, replace=False)
    # an offset of 1..C-1 classes (mod C) is never the same class and uniform over the others
    out[pick] = (out[pick] + rng.integers(1, NUM_CLASSES, size=n)) % NUM_CLASSES
    return out


def noisy_clip(clip: Clip, fraction: float, seed: int, position: int) -> Clip:
    """`clip` with noisy labels drawn with SeedSequence(seed, spawn_key=(position,))."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(position,)))
    return replace(clip, labels=noisy_labels(clip.labels, fraction, rng))


def add_frame_label_noise(
    clips: Sequence[Clip],
    fraction: float,
    seed: int = 0,
    only_subjects: Collection[str] | None = None,
) -> list[Clip]:
    """Clips with frame-label noise; the input clips are not modified.

    Args:
        fraction: share of each clip's labelled frames given another class (0 = none).
        seed: the clip at position k is noised by `noisy_clip(clip, fraction, seed, k)`.
        only_subjects: noise only clips of these subjects (the training ones); the others are
            returned as they are (the same objects).

    """
    if not 0.0 <= fraction <= 1.0:
        raise DataError(f'frame label noise must be in [0, 1], got {fraction}')
    out = []
    for k, clip in enumerate(clips):
        if fraction == 0.0 or (only_subjects is not None and clip.subject not in only_subjects):
            out.append(clip)
            continue
        out.append(noisy_clip(clip, fraction, seed, k))
    return out


def noise_dataset_folder(
    root: str | Path, fraction: float, seed: int = 0, compress: bool = False
) -> int:
    """Rewrite a dataset folder's clips with frame-label noise; return the frames changed.

    For `st-f2m make-dataset --frame-label-noise`: every clip of the folder is noised (the
    folder does not know which subjects a trainer will hold out) and index.json records
    `frame_label_noise` and `frame_label_noise_seed`. Each clip file and the index are
    replaced atomically, the index last; clip k gets the draw `add_frame_label_noise` gives
    the k-th of the folder's clips.
    """
    from st_f2m_ros.data.dataset import entry_for, load_clip, read_index, save_clip, write_index

    index = read_index(root)
    if index.meta.get('frame_label_noise'):
        raise DataError(f'{index.root} already has frame label noise; write a fresh folder')
    changed, entries = 0, []
    for k, entry in enumerate(index.entries):
        clip = load_clip(index.root / entry.file)
        noisy = noisy_clip(clip, fraction, seed, k)
        changed += int((noisy.labels != clip.labels).sum())
        save_clip(index.root / entry.file, noisy, compress)
        entries.append(entry_for(entry.file, noisy))
    keep = ('format', 'class_labels', 'components')
    meta = {k: v for k, v in index.meta.items() if k not in keep}
    meta.update(frame_label_noise=float(fraction), frame_label_noise_seed=int(seed))
    write_index(index.root, entries, meta)
    return changed
