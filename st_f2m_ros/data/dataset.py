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
"""On-disk training datasets: one .npz per clip plus an index.json (no pickle anywhere).

Layout of a dataset folder::

    index.json            format, class labels, components, generator config, one entry per clip
    clips/<name>.npz      crops uint8 [T,S,S,3] BGR, times, labels, components, face_found,
                          measured, measured_ok (optional), utt_start, utt_end, utt_text,
                          subject, source

Uncompressed .npz by default: a 10 s clip of 112 px crops is ~11 MB and loads at disk speed
(`compress=True` trades write/read time for ~3x less space). `make_synthetic_dataset` writes
the synthetic benchmark, in parallel processes if asked; the result does not depend on the
number of workers. Every write is atomic, and the index is written last, so an interrupted run
leaves no index that points at missing clips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from st_f2m_ros.data.clip import Clip, Utterance
from st_f2m_ros.data.io_utils import read_json, read_npz, write_json, write_npz
from st_f2m_ros.errors import DataError
from st_f2m_ros.taxonomy import CLASS_LABELS, COMPONENTS, NUM_CLASSES

FORMAT = 'st_f2m_ros.dataset/1'
INDEX_NAME = 'index.json'
CLIP_DIR = 'clips'
_REQUIRED = ('crops', 'times', 'labels', 'utt_start', 'utt_end', 'utt_text', 'subject')


def clip_to_arrays(clip: Clip) -> dict[str, np.ndarray]:
    """The arrays stored for a clip (see the module docstring)."""
    arrays: dict[str, np.ndarray] = {
        'crops': clip.crops,
        'times': np.asarray(clip.times, dtype=np.float64),
        'labels': np.asarray(clip.labels, dtype=np.int64),
        'utt_start': np.array([u.start for u in clip.utterances], dtype=np.float64),
        'utt_end': np.array([u.end for u in clip.utterances], dtype=np.float64),
        'utt_text': np.array([u.text for u in clip.utterances], dtype=np.str_),
        'subject': np.array(clip.subject),
        'source': np.array(clip.source),
    }
    if clip.components is not None:
        arrays['components'] = np.asarray(clip.components, dtype=np.float32)
    if clip.face_found is not None:
        arrays['face_found'] = np.asarray(clip.face_found, dtype=bool)
    if clip.measured is not None and clip.measured_ok is not None:
        arrays['measured'] = np.asarray(clip.measured, dtype=np.float32)
        arrays['measured_ok'] = np.asarray(clip.measured_ok, dtype=bool)
    return arrays


def save_clip(path: str | Path, clip: Clip, compress: bool = False) -> None:
    """Write one clip as .npz, atomically."""
    write_npz(path, clip_to_arrays(clip), compress=compress)


def load_clip(path: str | Path) -> Clip:
    """Read a clip written by `save_clip`; DataError names the file and what is wrong."""
    what = 'a clip written by st-f2m make-dataset (save_clip)'
    d = read_npz(path, _REQUIRED, what)
    starts, ends, texts = d['utt_start'], d['utt_end'], d['utt_text']
    if not starts.shape == ends.shape == texts.shape:
        raise DataError(f'{path}: utt_start, utt_end and utt_text differ in length')
    try:
        return Clip(
            subject=str(d['subject']),
            crops=d['crops'],
            times=d['times'],
            labels=d['labels'].astype(np.int64),
            components=d.get('components'),
            face_found=d.get('face_found'),
            measured=d.get('measured'),
            measured_ok=d.get('measured_ok'),
            utterances=[
                Utterance(float(s), float(e), str(t)) for s, e, t in zip(starts, ends, texts)
            ],
            source=str(d['source']) if 'source' in d else str(path),
        )
    except DataError as err:
        raise DataError(f'{path}: {err}') from err


@dataclass(frozen=True)
class ClipEntry:
    """One clip of a dataset index."""

    file: str  # relative to the dataset root
    subject: str
    frames: int
    duration: float
    source: str
    class_counts: tuple[int, ...]  # frames per class id

    def to_dict(self) -> dict[str, Any]:
        return {
            'file': self.file,
            'subject': self.subject,
            'frames': self.frames,
            'duration': self.duration,
            'source': self.source,
            'class_counts': list(self.class_counts),
        }


def entry_for(file: str, clip: Clip) -> ClipEntry:
    """Index entry of a clip stored at `file`."""
    labels = clip.labels[clip.labels >= 0]
    counts = np.bincount(labels, minlength=NUM_CLASSES) if labels.size else np.zeros(NUM_CLASSES)
    duration = float(clip.times[-1] - clip.times[0]) if len(clip) > 1 else 0.0
    return ClipEntry(
        file, clip.subject, len(clip), duration, clip.source, tuple(int(c) for c in counts)
    )


@dataclass(frozen=True)
class DatasetIndex:
    """The parsed index.json of a dataset folder."""

    root: Path
    entries: tuple[ClipEntry, ...]
    meta: dict[str, Any]

    @property
    def subjects(self) -> list[str]:
        """Subject ids in first-appearance order."""
        return list(dict.fromkeys(e.subject for e in self.entries))

    def __len__(self) -> int:
        return len(self.entries)


def write_index(root: str | Path, entries: Sequence[ClipEntry], meta: dict[str, Any]) -> Path:
    """Write index.json (atomically) for `entries`; `meta` is stored alongside."""
    path = Path(root) / INDEX_NAME
    write_json(
        path,
        {
            'format': FORMAT,
            'class_labels': list(CLASS_LABELS),
            'components': list(COMPONENTS),
            **meta,
            'clips': [e.to_dict() for e in entries],
        },
    )
    return path


def read_index(root: str | Path) -> DatasetIndex:
    """Parse `<root>/index.json`; DataError says how to create one when it is missing."""
    root = Path(root)
    path = root / INDEX_NAME
    if not path.is_file():
        raise DataError(
            f'{path} not found: {root} is not a dataset folder; '
            'create one with "st-f2m make-dataset --out DIR"'
        )
    doc = read_json(path, f'a dataset index ({FORMAT})')
    if not isinstance(doc, dict) or doc.get('format') != FORMAT:
        raise DataError(f'{path}: expected "format": "{FORMAT}"')
    if list(doc.get('class_labels', [])) != list(CLASS_LABELS):
        raise DataError(
            f"{path}: class_labels differ from this package's taxonomy; "
            'regenerate the dataset with this version'
        )
    try:
        entries = tuple(
            ClipEntry(
                str(c['file']),
                str(c['subject']),
                int(c['frames']),
                float(c['duration']),
                str(c.get('source', '')),
                tuple(int(x) for x in c.get('class_counts', ())),
            )
            for c in doc['clips']
        )
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(
            f'{path}: malformed clip entry ({err!r}); expected file, subject, frames, duration'
        ) from err
    meta = {k: v for k, v in doc.items() if k != 'clips'}
    return DatasetIndex(root, entries, meta)


def load_clips(
    root: str | Path, subjects: Iterable[str] | None = None, limit: int | None = None
) -> list[Clip]:
    """Load a dataset's clips (optionally only some subjects, at most `limit` clips)."""
    index = read_index(root)
    wanted = set(subjects) if subjects is not None else None
    entries = [e for e in index.entries if wanted is None or e.subject in wanted]
    if limit is not None:
        entries = entries[:limit]
    return [load_clip(index.root / e.file) for e in entries]


def write_clips(
    root: str | Path,
    clips: Iterable[Clip],
    meta: dict[str, Any] | None = None,
    compress: bool = False,
) -> DatasetIndex:
    """Write in-memory clips as a dataset folder (e.g. a real dataset converted once)."""
    root = Path(root)
    entries = []
    counter: dict[str, int] = {}
    for clip in clips:
        k = counter.get(clip.subject, 0)
        counter[clip.subject] = k + 1
        name = f'{CLIP_DIR}/{_safe(clip.subject)}_{k:03d}.npz'
        save_clip(root / name, clip, compress)
        entries.append(entry_for(name, clip))
    write_index(root, entries, meta or {})
    return read_index(root)


def _safe(name: str) -> str:
    return ''.join(ch if ch.isalnum() or ch in '-_' else '_' for ch in name) or 'subject'


def _synth_job(args: tuple) -> dict[str, Any]:
    root, subject_id, k, seed, cfg_dict, crop_size, compress, idiosyncrasy = args
    from st_f2m_ros.data.synthetic import SyntheticConfig, SyntheticSession, make_subject

    cfg = SyntheticConfig.from_dict(cfg_dict)
    clip = SyntheticSession(make_subject(subject_id, seed, idiosyncrasy), cfg, seed, k).to_clip(
        crop_size
    )
    name = f'{CLIP_DIR}/{_safe(subject_id)}_{k:03d}.npz'
    save_clip(Path(root) / name, clip, compress)
    return entry_for(name, clip).to_dict()


def make_synthetic_dataset(
    root: str | Path,
    n_subjects: int = 8,
    clips_per_subject: int = 4,
    duration: float = 10.0,
    seed: int = 0,
    crop_size: int = 112,
    config: Any = None,
    workers: int = 1,
    compress: bool = False,
    idiosyncrasy: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
) -> DatasetIndex:
    """Generate the synthetic benchmark into `root` (see `st-f2m make-dataset`).

    Args:
        root: output folder (created; an existing index.json is replaced at the end).
        n_subjects: people `s000` ... ; clips_per_subject: clips each; duration: seconds each.
        seed: dataset seed; crop_size: side of the face crops.
        config: a `SyntheticConfig` (its duration is replaced by `duration`).
        workers: processes; the output is identical for any number.
        progress: called as progress(done, total) after each clip.

    """
    from st_f2m_ros.data.synthetic import SyntheticConfig

    if n_subjects < 1 or clips_per_subject < 1:
        raise DataError('need at least one subject and one clip per subject')
    if crop_size < 16:
        raise DataError(f'crop size must be >= 16 px, got {crop_size}')
    cfg = replace(config or SyntheticConfig(), duration=duration)
    root = Path(root)
    (root / CLIP_DIR).mkdir(parents=True, exist_ok=True)
    jobs = [
        (str(root), f's{i:03d}', k, seed, cfg.to_dict(), crop_size, compress, idiosyncrasy)
        for i in range(n_subjects)
        for k in range(clips_per_subject)
    ]
    results: list[dict[str, Any]] = []
    if workers <= 1:
        for job in jobs:
            results.append(_synth_job(job))
            if progress:
                progress(len(results), len(jobs))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for res in pool.map(_synth_job, jobs):
                results.append(res)
                if progress:
                    progress(len(results), len(jobs))
    entries = [
        ClipEntry(
            r['file'],
            r['subject'],
            r['frames'],
            r['duration'],
            r['source'],
            tuple(r['class_counts']),
        )
        for r in results
    ]
    meta = {
        'generator': 'synthetic',
        'seed': seed,
        'crop_size': crop_size,
        'idiosyncrasy': idiosyncrasy,
        'config': cfg.to_dict(),
    }
    write_index(root, entries, meta)
    return read_index(root)
