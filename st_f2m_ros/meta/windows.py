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
"""Training data views over clips: per-frame samples, and windows over cached frame features.

The paper pre-trains the backbone and keeps it fixed (VI-A1), so after the frame stage every
frame is encoded once and all window and meta-learning work runs on cached [R, D] features
(`FeatureBank`). Windows come from the task groups of V-A (meta/tasks.py): one group is one
labelled multi-modal sample; its text embedding is computed once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.meta.maml import WindowBatch
from st_f2m_ros.meta.tasks import Episode, Group, build_groups, window_indices
from st_f2m_ros.taxonomy import NUM_COMPONENTS


def frame_samples(clips: list[Clip], stride: int = 1) -> np.ndarray:
    """int64 [N, 2] (clip, frame) pairs of labelled frames, every `stride`-th frame."""
    pairs = [
        (ci, fi)
        for ci, clip in enumerate(clips)
        for fi in range(0, len(clip), stride)
        if clip.labels[fi] >= 0
    ]
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def clip_measured(clip: Clip, idx: np.ndarray | slice | list[int]) -> tuple[Any, Any]:
    """(components [n, 12], reliable [n, 12]) the front end measured at frames `idx` of a clip
    (`Clip.measured` / `measured_ok`), or (None, None) when it has none: the extra arguments of
    `STF2MModel.encode_frames` for those frames."""
    if clip.measured is None or clip.measured_ok is None:
        return None, None
    return clip.measured[idx], clip.measured_ok[idx]


def encode_clip_frames(encode: Callable[..., Any], clip: Clip, idx: Any) -> Any:
    """`encode(crops)` of frames `idx` of a clip, with its measured components when it has any."""
    comps, ok = clip_measured(clip, idx)
    if comps is None:
        return encode(clip.crops[idx])
    return encode(clip.crops[idx], comps, ok)


def frame_measured(clips: list[Clip], pairs: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(measured [n, 12] float, reliable [n, 12] bool) of (clip, frame) pairs; 0 / False where
    a clip has no front-end measurements."""
    comps = torch.zeros(len(pairs), 12)
    ok = torch.zeros(len(pairs), 12, dtype=torch.bool)
    for i, (c, f) in enumerate(pairs):
        m, r = clip_measured(clips[c], [f])
        if m is not None:
            comps[i] = torch.from_numpy(np.asarray(m[0], dtype=np.float32))
            ok[i] = torch.from_numpy(np.asarray(r[0], dtype=bool))
    return comps, ok


def frame_batch(
    clips: list[Clip], pairs: np.ndarray
) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
    """(crops uint8 [n, S, S, 3], labels [n], components [n, 12]; NaN where unknown)."""
    crops = np.stack([clips[c].crops[f] for c, f in pairs])
    labels = torch.tensor([int(clips[c].labels[f]) for c, f in pairs], dtype=torch.int64)
    comps = torch.full((len(pairs), 12), float('nan'))
    for i, (c, f) in enumerate(pairs):
        if clips[c].components is not None:
            comps[i] = torch.from_numpy(np.asarray(clips[c].components[f], dtype=np.float32))
    return crops, labels, comps


def encode_all(
    encode: Callable[..., torch.Tensor],
    clips: list[Clip],
    batch: int = 128,
    progress: Callable[[int], None] | None = None,
) -> list[torch.Tensor]:
    """Encode every frame of every clip once: a [len(clip), R, D] tensor per clip.

    `encode(crops)`, or `encode(crops, components, reliable)` for clips with front-end
    measurements (`STF2MModel.encode_frames`'s signature).
    """
    out = []
    for clip in clips:
        parts = []
        for i in range(0, len(clip), batch):
            with torch.inference_mode():
                parts.append(encode_clip_frames(encode, clip, slice(i, i + batch)).float())
            if progress:
                progress(min(batch, len(clip) - i))
        out.append(torch.cat(parts))
    return out


def drop_projected(feats: torch.Tensor, channels: int, drop: np.ndarray) -> torch.Tensor:
    """Windows `drop` (bool [n]) of feats [n, T, R, D] with their first `channels` channels
    replaced by the batch mean over windows and frames (per region and channel).

    Projected-channel dropout: with a frozen real-face backbone the projection above it is
    learnt on drawn faces only, and layers that read only it ignore the fixed channels (the
    backbone's own expression probabilities) that carry over to real faces. Hiding it in some
    windows makes the layers learn to read the fixed channels (and text) as well; the mean
    keeps the scale they see. Measured on the default's features: the fixed-channel path is
    learnt, but where the projection is present it still dominates the decision.
    """
    if not drop.any():
        return feats
    out = feats.clone()
    mask = torch.from_numpy(np.asarray(drop, dtype=bool))
    out[mask, ..., :channels] = feats[..., :channels].mean((0, 1))
    return out


def absorb_components(feats: torch.Tensor, start: int, drop: np.ndarray) -> torch.Tensor:
    """Windows `drop` (bool [n]) of feats [n, T, R, D] with their 12 measured-component
    channels (from `start`) set to 0, the reliable flags kept.

    What the front end gives when its online neutral has absorbed a held expression (a still
    smile is "neutral" after about 2 s of calm frames): the components say nothing changed
    and only the other channels (the expression net's probabilities, text) tell. Without it
    the layers learn "components 0 = neutral" from drawn faces, where the neutral is known.
    """
    if not drop.any():
        return feats
    out = feats.clone()
    mask = torch.from_numpy(np.asarray(drop, dtype=bool))
    out[mask, ..., start : start + NUM_COMPONENTS] = 0.0
    return out


class FeatureBank:
    """Labelled windows (V-A groups) over cached frame features, batched for training."""

    def __init__(
        self,
        clips: list[Clip],
        features: list[torch.Tensor],
        text_encode: Callable[[list[str]], np.ndarray] | None,
        window: int,
        rate: float,
        text_dim: int = 384,
    ) -> None:
        self.clips, self.features = clips, features
        self.window, self.rate = window, rate
        self.groups: list[Group] = build_groups(clips)
        texts = sorted({g.text for g in self.groups if g.text})
        emb = {}
        if texts and text_encode is not None:
            emb = dict(zip(texts, torch.from_numpy(text_encode(texts)).float()))
        zero = torch.zeros(text_dim)
        self.text = torch.stack([emb.get(g.text, zero) for g in self.groups] or [zero])
        self.has_text = torch.tensor([g.text in emb for g in self.groups], dtype=torch.float32)
        self.labels = torch.tensor([g.label for g in self.groups], dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.groups)

    @property
    def subjects(self) -> list[str]:
        """Subject ids present."""
        return sorted({g.subject for g in self.groups})

    def batch(
        self,
        idx: list[int] | np.ndarray,
        rng: np.random.Generator | None = None,
        drop_text: float = 0.0,
        drop_vision: float = 0.0,
        drop_proj: float = 0.0,
        proj_channels: int = 0,
        absorb: float = 0.0,
    ) -> tuple[WindowBatch, torch.Tensor]:
        """(windows, component targets [n, 12] (NaN where unknown)) for groups `idx`.

        With `rng`, window placement is random and modalities are dropped with the given
        probabilities (modality dropout teaches the model to work with one missing). A window
        whose frames mostly have no face (`Clip.face_found`) has its vision masked, as in
        /adapt (meta/adapt.support_windows) and at run time. `drop_proj`: the fraction of
        windows whose first `proj_channels` feature channels (the learnt region projection)
        are replaced by their batch mean (`drop_projected`). `absorb`: the fraction of
        windows whose measured components (the 12 channels after the first `proj_channels`)
        are 0 (`absorb_components`; models with `component_input` only).
        """
        feats, comps, faces = [], [], []
        for i in idx:
            g = self.groups[i]
            clip = self.clips[g.video]
            frames = window_indices(g.frames, clip.times, self.window, self.rate, rng)
            feats.append(self.features[g.video][frames])
            faces.append(float(clip.face_seen(frames)))
            if clip.components is not None:
                comps.append(
                    torch.from_numpy(np.asarray(clip.components[frames], np.float32)).mean(0)
                )
            else:
                comps.append(torch.full((12,), float('nan')))
        idx_t = torch.as_tensor(np.asarray(idx, dtype=np.int64))
        n = len(idx_t)
        vm = torch.tensor(faces, dtype=torch.float32).reshape(n)
        tm = self.has_text[idx_t].clone()
        if rng is not None:
            keep_t = torch.from_numpy(rng.random(n) >= drop_text).float()
            keep_v = torch.from_numpy(rng.random(n) >= drop_vision).float()
            # dropout removes a modality only where the other one is there
            tm = torch.where(vm > 0, tm * keep_t, tm)
            vm = torch.where(tm > 0, vm * keep_v, vm)
        feats_t = torch.stack(feats)
        if rng is not None and drop_proj > 0 and proj_channels > 0:
            feats_t = drop_projected(feats_t, proj_channels, rng.random(n) < drop_proj)
        if rng is not None and absorb > 0:
            feats_t = absorb_components(feats_t, proj_channels, rng.random(n) < absorb)
        wb = WindowBatch(feats_t, self.text[idx_t], vm, tm, self.labels[idx_t])
        return wb, torch.stack(comps)

    def episode_batch(
        self,
        episodes: list[Episode],
        rng: np.random.Generator | None = None,
        absorb: float = 0.0,
        proj_channels: int = 0,
    ) -> tuple[WindowBatch, WindowBatch]:
        """Stack episodes into (support, query) batches of shape [tasks, n, ...]
        (`absorb`, `proj_channels`: as in `batch`)."""

        def stack(parts: list[WindowBatch]) -> WindowBatch:
            return WindowBatch(*(torch.stack(t) for t in zip(*(p.astuple() for p in parts))))

        aug = {'absorb': absorb, 'proj_channels': proj_channels}
        sup = [self.batch(e.support, rng, **aug)[0] for e in episodes]
        qry = [self.batch(e.query, rng, **aug)[0] for e in episodes]
        return stack(sup), stack(qry)
