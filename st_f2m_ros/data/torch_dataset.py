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
"""`torch.utils.data.Dataset` views over a dataset folder or a list of clips.

* `ClipDataset`: item = one `Clip` (for the meta-learning task builder, paper V-A, which cuts
  clips into views by their label sequence). Clips are loaded lazily, one file per item, so a
  DataLoader with workers streams them.
* `FrameDataset`: item = one frame as tensors (for frame-level pre-training or the component
  head): ``{'crop': uint8 [3,S,S] BGR, 'label': int64, 'components': float32 [12],
  'measured': float32 [12], 'measured_ok': bool [12], 'subject': str, 'time': float64}``
  (`measured` is 0 and `measured_ok` False where the clip has no front-end measurements).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.data.dataset import DatasetIndex, load_clip, read_index
from st_f2m_ros.taxonomy import NUM_COMPONENTS


class ClipDataset(Dataset):
    """Clips of a dataset folder (lazy) or of an in-memory list."""

    def __init__(self, source: str | Path | list[Clip], subjects: list[str] | None = None) -> None:
        self._clips: list[Clip] | None = None
        self._index: DatasetIndex | None = None
        if isinstance(source, list):
            self._clips = [c for c in source if subjects is None or c.subject in subjects]
            self._subjects = [c.subject for c in self._clips]
        else:
            index = read_index(source)
            entries = tuple(e for e in index.entries if subjects is None or e.subject in subjects)
            self._index = DatasetIndex(index.root, entries, index.meta)
            self._subjects = [e.subject for e in entries]

    def __len__(self) -> int:
        return len(self._subjects)

    def __getitem__(self, i: int) -> Clip:
        if self._index is not None:
            return load_clip(self._index.root / self._index.entries[i].file)
        return self._clips[i]  # type: ignore[index]

    @property
    def subjects(self) -> list[str]:
        """Distinct subject ids, in order."""
        return list(dict.fromkeys(self._subjects))

    def indices_of(self, subject: str) -> list[int]:
        """Item indices of one subject's clips (e.g. to split support/query by person)."""
        return [i for i, s in enumerate(self._subjects) if s == subject]


class FrameDataset(Dataset):
    """Every frame of a set of clips (held in memory) as tensors."""

    def __init__(self, clips: ClipDataset | list[Clip], labelled_only: bool = True) -> None:
        self.clips = [clips[i] for i in range(len(clips))]
        rows = []
        for ci, clip in enumerate(self.clips):
            keep = np.flatnonzero(clip.labels >= 0) if labelled_only else np.arange(len(clip))
            rows.append(np.stack([np.full(keep.size, ci), keep], axis=1))
        self._rows = np.concatenate(rows) if rows else np.zeros((0, 2), dtype=np.int64)

    def __len__(self) -> int:
        return int(self._rows.shape[0])

    def __getitem__(self, i: int) -> dict[str, object]:
        ci, fi = (int(v) for v in self._rows[i])
        clip = self.clips[ci]
        comps = (
            clip.components[fi]
            if clip.components is not None
            else np.full(NUM_COMPONENTS, np.nan, dtype=np.float32)
        )
        if clip.measured is not None and clip.measured_ok is not None:
            measured, ok = clip.measured[fi], clip.measured_ok[fi]
        else:
            measured, ok = np.zeros(NUM_COMPONENTS), np.zeros(NUM_COMPONENTS, dtype=bool)
        return {
            'crop': torch.from_numpy(np.ascontiguousarray(clip.crops[fi].transpose(2, 0, 1))),
            'label': torch.tensor(int(clip.labels[fi]), dtype=torch.int64),
            'components': torch.from_numpy(np.asarray(comps, dtype=np.float32)),
            'measured': torch.from_numpy(np.asarray(measured, dtype=np.float32)),
            'measured_ok': torch.from_numpy(np.asarray(ok, dtype=bool)),
            'subject': clip.subject,
            'time': float(clip.times[fi]),
        }
