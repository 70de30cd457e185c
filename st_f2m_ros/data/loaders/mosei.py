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
"""CMU-MOSEI aligned features (Zadeh et al. 2018) from the CMU Multimodal SDK's .csd files.

A computational sequence (.csd) is HDF5: one top-level group named after the sequence
(e.g. ``FACET 4.2``, ``glove_vectors``, ``All Labels``) holding ``data/<video id>/features``
[N, D] and ``data/<video id>/intervals`` [N, 2] (seconds), plus ``metadata``. This loader reads
the FACET 4.2 visual features (35-d), the GloVe word vectors (300-d) and the labels
(``All Labels``, 7 columns: sentiment, happiness, sadness, anger, surprise, disgust, fear,
emotion scores in [0, 3]) and aligns the features to the label segments by averaging the
feature rows that overlap each segment (what the SDK's ``align`` does with an average
collapse). Files already aligned to the labels pass through unchanged.

Fine-grained labels (paper VI-B) from the emotion scores: the strongest emotion, with intensity
low (score <= 1), medium (<= 2) or high; neutral when no score exceeds `neutral_below`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from st_f2m_ros.errors import DataError
from st_f2m_ros.taxonomy import class_id

# Column order of the MOSEI emotion labels after the sentiment column.
MOSEI_EMOTIONS: tuple[str, ...] = ('happiness', 'sadness', 'anger', 'surprise', 'disgust', 'fear')
VISUAL_DIM, TEXT_DIM = 35, 300


@dataclass
class FeatureSequence:
    """One MOSEI video: label segments with aligned features."""

    video_id: str
    intervals: np.ndarray  # float64 [N, 2] seconds
    visual: np.ndarray  # float32 [N, 35] FACET 4.2
    text: np.ndarray  # float32 [N, 300] GloVe
    scores: np.ndarray  # float32 [N, 6] emotion scores (MOSEI_EMOTIONS order)
    labels: np.ndarray  # int64 [N] fine-grained class ids


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as err:
        raise DataError('reading CMU-MOSEI .csd files needs h5py: pip install h5py') from err
    return h5py


def read_csd(path: str | Path, dim: int | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Video id -> (features [N, D], intervals [N, 2]) from a computational sequence file."""
    h5py = _h5py()
    path = Path(path)
    if not path.is_file():
        raise DataError(f'{path} not found: expected a CMU-MOSEI computational sequence (.csd)')
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        with h5py.File(path, 'r') as f:
            groups = [k for k in f if isinstance(f[k], h5py.Group) and 'data' in f[k]]
            if not groups:
                raise DataError(
                    f'{path}: expected a top-level group with a "data" group '
                    '(CMU Multimodal SDK computational sequence)'
                )
            data = f[groups[0]]['data']
            for vid in data:
                g = data[vid]
                if 'features' not in g or 'intervals' not in g:
                    raise DataError(f'{path}: data/{vid} lacks "features" or "intervals"')
                feats = np.asarray(g['features'][()], dtype=np.float32)
                ivals = np.asarray(g['intervals'][()], dtype=np.float64)
                if feats.ndim != 2 or ivals.shape != (feats.shape[0], 2):
                    raise DataError(
                        f'{path}: data/{vid}: features [N, D] and intervals [N, 2] '
                        f'expected, got {feats.shape} and {ivals.shape}'
                    )
                if dim is not None and feats.shape[1] != dim:
                    raise DataError(
                        f'{path}: data/{vid}: expected {dim}-d features, got {feats.shape[1]}'
                    )
                out[str(vid)] = (feats, ivals)
    except OSError as err:
        raise DataError(f'{path} is not an HDF5 computational sequence ({err})') from err
    return out


def align(features: np.ndarray, intervals: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Average of the feature rows overlapping each segment (zeros where none overlaps)."""
    out = np.zeros((segments.shape[0], features.shape[1]), dtype=np.float32)
    for i, (s, e) in enumerate(segments):
        hit = (intervals[:, 0] < e) & (intervals[:, 1] > s)
        if hit.any():
            out[i] = np.nan_to_num(features[hit]).mean(axis=0)
    return out


def labels_from_scores(scores: np.ndarray, neutral_below: float = 1.0 / 3.0 - 1e-6) -> np.ndarray:
    """Fine-grained class ids [N] from MOSEI emotion scores [N, 6] in [0, 3]."""
    scores = np.asarray(scores, dtype=np.float64)
    out = np.zeros(scores.shape[0], dtype=np.int64)
    for i, row in enumerate(scores):
        k = int(np.argmax(row))
        top = row[k]
        if top <= neutral_below:
            continue
        level = 'low' if top <= 1.0 else 'medium' if top <= 2.0 else 'high'
        out[i] = class_id(MOSEI_EMOTIONS[k], level)
    return out


def load_mosei(
    visual: str | Path, text: str | Path, labels: str | Path, videos: list[str] | None = None
) -> list[FeatureSequence]:
    """Load FACET 4.2 + GloVe + All Labels .csd files into aligned feature sequences."""
    lab = read_csd(labels)
    vis = read_csd(visual, VISUAL_DIM)
    txt = read_csd(text, TEXT_DIM)
    out = []
    for vid, (y, segs) in sorted(lab.items()):
        if videos is not None and vid not in videos:
            continue
        if y.shape[1] != 1 + len(MOSEI_EMOTIONS):
            raise DataError(
                f'{labels}: data/{vid}: expected 7 label columns (sentiment + 6 '
                f'emotions), got {y.shape[1]}'
            )
        if vid not in vis or vid not in txt:
            continue  # the SDK drops videos missing a modality the same way
        scores = y[:, 1:]
        out.append(
            FeatureSequence(
                vid,
                segs,
                align(*vis[vid], segs),
                align(*txt[vid], segs),
                scores.astype(np.float32),
                labels_from_scores(scores),
            )
        )
    if not out:
        raise DataError(f'{labels}: no video has labels, visual and text features')
    return out


class MoseiDataset:
    """`torch.utils.data.Dataset`-compatible view: item = one label segment as tensors.

    ``{'visual': float32 [35], 'text': float32 [300], 'label': int64, 'video': str,
    'interval': float64 [2]}``.
    """

    def __init__(self, sequences: list[FeatureSequence]) -> None:
        self.sequences = sequences
        self._rows = [(i, j) for i, s in enumerate(sequences) for j in range(len(s.labels))]

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, k: int) -> dict[str, Any]:
        import torch

        i, j = self._rows[k]
        s = self.sequences[i]
        return {
            'visual': torch.from_numpy(s.visual[j]),
            'text': torch.from_numpy(s.text[j]),
            'label': torch.tensor(int(s.labels[j])),
            'video': s.video_id,
            'interval': torch.from_numpy(s.intervals[j]),
        }
