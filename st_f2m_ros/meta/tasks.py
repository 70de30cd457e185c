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
"""Meta-learning task construction, exactly in the steps of paper section V-A.

1. Modalities are separated: the vision stream (face-crop frames) and the text stream
   (transcript utterances) of each long video (a `Clip`).
2. Every element gets a position label: a fixed MLP applied to a sinusoidal encoding of the
   element's time in the video (`PositionEncoder`). No manual annotation is involved; the MLP
   is deterministic (seeded) and its codes separate positions that are apart in time.
3. Each modality is segmented by the emotion label sequence: every run of one label is a view
   (vision view = the frames of the run; text view = the utterances overlapping it).
4. Views at the same position are grouped: each text view joins the vision view whose position
   code is nearest (`group_views`). A group is one multi-modal sample; a segment without speech
   gives a group with the text masked.
5. A task samples groups with the same emotion labels into support and query sets: an N-way
   K-shot episode over the fine-grained classes (`EpisodeSampler`), by default within one
   subject (a long video's person, which is what /adapt later faces), with subjects disjoint
   between meta-train and meta-test (`split_subjects`).

Groups refer to frames by index into their clip so that the trainer encodes every frame once
(frozen backbone, VI-A1) and builds windows of `window` frames sampled at `feature_rate`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
import math

import numpy as np

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.errors import DataError


@dataclass(frozen=True)
class View:
    """One modality's data for one emotion segment of one video."""

    modality: str  # 'vision' or 'text'
    video: int  # index of the clip
    label: int
    start: float
    end: float
    frames: tuple[int, int] = (0, 0)  # [first, last + 1) frame indices (vision)
    text: str = ''  # joined utterances (text)


@dataclass(frozen=True)
class Group:
    """Views at the same position: one multi-modal sample of a task."""

    video: int
    subject: str
    label: int
    position: int  # order of the segment in its video
    frames: tuple[int, int]  # [first, last + 1) frame indices in the clip
    text: str  # '' when no utterance overlaps the segment (text masked)


class PositionEncoder:
    """Fixed MLP over a sinusoidal time encoding: position codes without annotation (V-A)."""

    def __init__(self, dim: int = 16, hidden: int = 32, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.freqs = 2.0 ** np.arange(-4, 4, dtype=np.float64)  # periods 0.8 s .. 100 s
        n_in = 2 * len(self.freqs)
        self.w1 = rng.normal(0, 1 / math.sqrt(n_in), (n_in, hidden))
        self.w2 = rng.normal(0, 1 / math.sqrt(hidden), (hidden, dim))

    def __call__(self, times: np.ndarray) -> np.ndarray:
        """Return float [N, dim] position codes of times (seconds)."""
        ang = np.asarray(times, dtype=np.float64)[:, None] * self.freqs[None, :] * 2 * np.pi / 8
        enc = np.concatenate([np.sin(ang), np.cos(ang)], axis=1)
        return np.tanh(np.tanh(enc @ self.w1) @ self.w2)


def segment_runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """Return (first, end, label) for each run of one label; label -1 (unlabelled) is skipped."""
    runs: list[tuple[int, int, int]] = []
    n = len(labels)
    i = 0
    while i < n:
        j = i
        while j < n and labels[j] == labels[i]:
            j += 1
        if labels[i] >= 0:
            runs.append((i, j, int(labels[i])))
        i = j
    return runs


def make_views(clip: Clip, video: int, min_frames: int = 2) -> tuple[list[View], list[View]]:
    """Segment one clip's two modalities by its label sequence: (vision views, text views)."""
    vision: list[View] = []
    text: list[View] = []
    times = clip.times
    dt = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    for first, end, label in segment_runs(clip.labels):
        if end - first < min_frames:
            continue
        t0, t1 = float(times[first]), float(times[end - 1]) + dt
        vision.append(View('vision', video, label, t0, t1, frames=(first, end)))
        said = [u.text for u in clip.utterances if u.end > t0 and u.start < t1]
        if said:
            text.append(View('text', video, label, t0, t1, text=' '.join(said)))
    return vision, text


def group_views(
    clip: Clip, video: int, encoder: PositionEncoder, min_frames: int = 2
) -> list[Group]:
    """Group each clip's vision and text views by nearest position code (V-A step 4)."""
    vision, text = make_views(clip, video, min_frames)
    if not vision:
        return []
    vcode = encoder(np.array([(v.start + v.end) / 2 for v in vision]))
    texts = [''] * len(vision)
    if text:
        tcode = encoder(np.array([(v.start + v.end) / 2 for v in text]))
        dist = ((tcode[:, None, :] - vcode[None, :, :]) ** 2).sum(-1)
        for ti, vi in enumerate(dist.argmin(axis=1)):
            texts[vi] = f'{texts[vi]} {text[ti].text}'.strip()
    return [
        Group(video, clip.subject, v.label, pos, v.frames, texts[pos])
        for pos, v in enumerate(vision)
    ]


def build_groups(clips: list[Clip], min_frames: int = 2, seed: int = 0) -> list[Group]:
    """All groups of all clips (video index = position of the clip in `clips`)."""
    encoder = PositionEncoder(seed=seed)
    groups: list[Group] = []
    for i, clip in enumerate(clips):
        groups.extend(group_views(clip, i, encoder, min_frames))
    return groups


def split_subjects(subjects: list[str], n_test: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Split subject ids into disjoint (meta-train, meta-test) lists, deterministically."""
    uniq = sorted(set(subjects))
    if not 0 < n_test < len(uniq):
        raise DataError(
            f'cannot hold out {n_test} of {len(uniq)} subjects: need 0 < n_test < subjects'
        )
    order = np.random.default_rng(seed).permutation(len(uniq))
    test = sorted(uniq[i] for i in order[:n_test])
    return sorted(set(uniq) - set(test)), test


def window_indices(
    frames: tuple[int, int],
    times: np.ndarray,
    window: int,
    rate: float,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Pick `window` frame indices inside a segment, spaced 1/rate s apart (V-B2 input).

    Shorter segments repeat frames (nearest in time); longer ones take a random span with
    `rng`, or the centred span without it (evaluation).
    """
    first, end = frames
    seg = times[first:end]
    span = (window - 1) / rate
    slack = max(0.0, float(seg[-1] - seg[0]) - span)
    offset = float(rng.uniform(0, slack)) if rng is not None else slack / 2
    wanted = seg[0] + offset + np.arange(window) / rate
    idx = np.clip(np.searchsorted(seg, wanted), 0, len(seg) - 1)
    prev = np.clip(idx - 1, 0, len(seg) - 1)
    closer = np.abs(seg[prev] - wanted) < np.abs(seg[idx] - wanted)
    return first + np.where(closer, prev, idx)


@dataclass
class Episode:
    """One N-way K-shot task: indices into the group list for support and query."""

    support: list[int]
    query: list[int]
    classes: list[int]


class EpisodeSampler:
    """Sample N-way K-shot episodes (V-A step 5) from groups, optionally within one subject."""

    def __init__(
        self,
        groups: list[Group],
        n_way: int,
        k_shot: int,
        q_query: int,
        per_subject: bool = True,
        seed: int = 0,
    ) -> None:
        if min(n_way, k_shot, q_query) < 1:
            raise DataError('n_way, k_shot and q_query must all be >= 1')
        self.n_way, self.k_shot, self.q_query = n_way, k_shot, q_query
        self.rng = np.random.default_rng(seed)
        pools: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        for i, g in enumerate(groups):
            pools[g.subject if per_subject else '*'][g.label].append(i)
        need = k_shot + q_query
        self.pools = {
            key: {c: idx for c, idx in by_class.items() if len(idx) >= need}
            for key, by_class in pools.items()
        }
        self.pools = {k: v for k, v in self.pools.items() if len(v) >= n_way}
        if not self.pools:
            raise DataError(
                f'no subject has {n_way} classes with {need} segments each: lower n_way, '
                'k_shot or q_query, or generate longer sessions'
            )
        self.keys = sorted(self.pools)

    def sample(self) -> Episode:
        """Draw one episode."""
        pool = self.pools[self.keys[self.rng.integers(len(self.keys))]]
        classes = sorted(self.rng.choice(sorted(pool), self.n_way, replace=False).tolist())
        support: list[int] = []
        query: list[int] = []
        for c in classes:
            pick = self.rng.choice(pool[c], self.k_shot + self.q_query, replace=False).tolist()
            support += pick[: self.k_shot]
            query += pick[self.k_shot :]
        return Episode(support, query, classes)
