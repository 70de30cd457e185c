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
"""Check an /adapt request before any work, and name the support sources it holds.

Everything that can be refused cheaply is refused here, before a frame is decoded or a
file is opened for reading: the caller gets the reason at once and the running model is never
touched by a request that was going to fail.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from st_f2m_ros.errors import AdaptationError
from st_f2m_ros.runtime.adaptation import clip_sources as cs
from st_f2m_ros.runtime.adaptation.request import AdaptRequest, InlineClip
from st_f2m_ros.runtime.adaptation.settings import AdaptationSettings
from st_f2m_ros.runtime.messages.inputs import RawCompressedImage, RawImage
from st_f2m_ros.runtime.subjects import validate_subject_id


@dataclass(frozen=True)
class FileSource:
    """A checked clip file (real path under a clip root) and its label ('' = from the file)."""

    path: Path
    label: str = ''


Source = InlineClip | FileSource


def _frame_size(frame: RawImage | RawCompressedImage) -> tuple[int, int] | None:
    """(height, width) of a support frame without decoding it (None: unknown format)."""
    if isinstance(frame, RawImage):
        return frame.height, frame.width
    import numpy as np

    from st_f2m_ros.perception.image_convert import peek_size  # PNG / JPEG header only

    return peek_size(np.frombuffer(frame.data, dtype=np.uint8))


def _check_inline(i: int, clip: InlineClip, s: AdaptationSettings) -> None:
    cs.check_label(clip.label, f'clip {i}')
    if not clip.frames:
        raise AdaptationError(f'clip {i} ({clip.label}) has no frames')
    if len(clip.frames) > s.limits.max_frames_per_clip:
        raise AdaptationError(
            f'clip {i} has {len(clip.frames)} frames; at most '
            f'{s.limits.max_frames_per_clip} per clip'
        )
    side = s.limits.max_frame_side
    for f in clip.frames:
        size = _frame_size(f)
        if size is not None and not (0 < size[0] <= side and 0 < size[1] <= side):
            raise AdaptationError(
                f'clip {i}: frame of {size[1]}x{size[0]} is empty or larger than '
                f'{side} px per side'
            )


def validate_request(req: AdaptRequest, s: AdaptationSettings) -> list[Source]:
    """The request's sources in order, or AdaptationError with the first reason to refuse."""
    validate_subject_id(req.subject_id)
    n = len(req.clips) + len(req.clip_uris)
    if n == 0:
        raise AdaptationError('no support clips: send inline clips and/or clip_uris')
    if n > s.max_clips:
        raise AdaptationError(f'{n} clips requested, at most {s.max_clips} are accepted')
    if req.inner_steps < 0 or req.inner_steps > s.max_inner_steps:
        raise AdaptationError(f'inner_steps must be in 0..{s.max_inner_steps}')
    per_class: Counter[str] = Counter()
    sources: list[Source] = []
    for i, clip in enumerate(req.clips):
        _check_inline(i, clip, s)
        per_class[clip.label] += 1
        sources.append(clip)
    if req.uri_labels and len(req.uri_labels) != len(req.clip_uris):
        raise AdaptationError(
            f'{len(req.uri_labels)} labels for {len(req.clip_uris)} clip files: give one '
            'label per file'
        )
    labels = req.uri_labels or [''] * len(req.clip_uris)
    for uri, label in zip(req.clip_uris, labels):
        if label:
            cs.check_label(label, uri)
            per_class[label] += 1
        sources.append(FileSource(cs.resolve_clip_uri(uri, s.limits), label))
    over = sorted(k for k, v in per_class.items() if v > s.max_clips_per_class)
    if over:
        raise AdaptationError(
            f'too many clips for {over}: at most {s.max_clips_per_class} per class'
        )
    return sources
