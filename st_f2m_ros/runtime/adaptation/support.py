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
"""Support clips as face crops: decode, detect and crop one frame at a time, keep the crop.

A support recording can hold tens of thousands of full-resolution frames (a 640x480 BGR frame
is 0.9 MB; 38,400 of them are 35 GB), while adaptation only needs the face crop of each
(96x96x3 = 27 kB). So each frame is decoded, cropped and dropped before the next is read:
memory grows with the crops only, never with the frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.errors import AdaptationError
from st_f2m_ros.runtime.adaptation import clip_sources as cs
from st_f2m_ros.runtime.adaptation.paths import Confinement
from st_f2m_ros.runtime.adaptation.request import InlineClip
from st_f2m_ros.runtime.adaptation.settings import AdaptationSettings
from st_f2m_ros.runtime.adaptation.validation import FileSource, Source


class CropStream:
    """Collects (time, crop, face found) of frames fed one at a time; holds no frame."""

    def __init__(
        self, crop_fn: cs.CropFn, size: int, max_frames: int, name: str, check: Callable[[], None]
    ) -> None:
        self.crop_fn, self.size, self.max_frames, self.name = crop_fn, size, max_frames, name
        self.check = check
        self.times: list[float] = []
        self.crops: list[np.ndarray] = []
        self.found: list[bool] = []
        self._blank = np.zeros((size, size, 3), dtype=np.uint8)

    def add(self, t: float, bgr: np.ndarray) -> None:
        """Crop one decoded frame (which the caller then drops)."""
        if len(self.times) >= self.max_frames:
            raise AdaptationError(f'{self.name} holds more than {self.max_frames} frames; cut it')
        self.check()  # close() cancels between frames too: a long file can take seconds
        crop = self.crop_fn(bgr)
        self.times.append(float(t))
        self.found.append(crop is not None)
        self.crops.append(self._blank if crop is None else np.ascontiguousarray(crop))

    def feed(self, frames: Iterable[tuple[float, Any]], decode: Callable[[Any], Any]) -> None:
        """`add` every (time, item) of a stream, decoding each item just before its crop."""
        for t, item in frames:
            self.add(t, decode(item))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(times, crops [N, S, S, 3], found) in time order."""
        order = np.argsort(np.asarray(self.times, dtype=np.float64), kind='stable')
        times = np.asarray(self.times, dtype=np.float64)[order]
        crops = np.zeros((len(order), self.size, self.size, 3), dtype=np.uint8)
        for k, i in enumerate(order):
            crops[k] = self.crops[i]
            self.crops[i] = self._blank  # drop each crop once copied: one copy at a time
        return times, crops, np.asarray(self.found, dtype=bool)[order]


class SupportLoader:
    """Turns validated sources into Clips (face crops + per-frame labels)."""

    def __init__(
        self, settings: AdaptationSettings, crop_fn: cs.CropFn, check: Callable[[], None]
    ) -> None:
        from st_f2m_ros.perception.image_convert import ImageLimits, msg_to_bgr

        self.s = settings
        self.crop_fn = crop_fn
        self.check = check
        limits = ImageLimits(max_side=settings.limits.max_frame_side)
        self.decode = lambda msg: msg_to_bgr(msg, limits)

    def load(self, subject: str, sources: list[Source]) -> list[Clip]:
        """All clips of the sources; raise when none has a face."""
        clips: list[Clip] = []
        for src in sources:
            self.check()
            if isinstance(src, FileSource):
                clips.extend(self._file(subject, src))
            else:
                clips.append(self._inline(subject, src))
        usable = [c for c in clips if c.face_found is None or c.face_found.any()]
        if not usable:
            raise AdaptationError('no face was found in any support clip; check the clips')
        return usable

    def _stream(self, name: str, max_frames: int) -> CropStream:
        return CropStream(self.crop_fn, self.s.crop_size, max_frames, name, self.check)

    def _inline(self, subject: str, src: InlineClip) -> Clip:
        label = cs.check_label(src.label, 'inline clip')
        stream = self._stream('inline clip', self.s.limits.max_frames_per_clip)
        stream.feed(((f.stamp, f) for f in src.frames), self.decode)
        raw = np.asarray(stream.times, dtype=np.float64)
        if len(raw) == 1 or np.all(raw == raw[0]):  # unstamped frames: assume 30 fps
            times = np.arange(len(raw), dtype=np.float64) / 30.0
        else:
            times = cs.unique_times(raw)
        crops = np.stack(stream.crops)  # in message order, as sent
        return Clip(
            subject,
            crops,
            times,
            np.full(len(crops), label, np.int64),
            face_found=np.asarray(stream.found, dtype=bool),
            utterances=cs.utterances_of(src.transcript, times),
            source='inline',
        )

    def _file(self, subject: str, src: FileSource) -> list[Clip]:
        path, label = src.path, src.label
        lim = self.s.limits
        side = {'label': label} if label else None
        if side is None:
            side = cs.sidecar_labels(Confinement(lim.roots).sidecar(path))
        rate = 1.0 / self.s.frame_rate if self.s.frame_rate > 0 else 0.0
        if cs.kind_of(path) == 'bag':
            truth: list[Any] = []
            stream = self._stream(path.name, lim.max_frames_per_clip * self.s.max_clips)
            stream.feed(cs.bag_image_stream(path, self.s.image_topic, rate, truth), self.decode)
            if not stream.times:
                raise AdaptationError(f'{path.name} holds no image frames')
            times, crops, found = stream.arrays()
            if truth and not label:
                labels = cs.labels_from_truth(truth, times)
            elif side is not None:
                labels = cs.labels_from_sidecar(side, times)
            else:
                raise AdaptationError(
                    f'{path.name} has no {cs.GROUND_TRUTH_TOPIC} topic and no sidecar '
                    f'{path.name}.labels.yaml: label the clip'
                )
        else:
            if side is None:
                raise AdaptationError(f'video {path.name} needs a sidecar {path.name}.labels.yaml')
            stream = self._stream(path.name, lim.max_frames_per_clip)
            stream.feed(cs.video_stream(path, rate), lambda bgr: bgr)
            if not stream.times:
                raise AdaptationError(f'video {path.name} has no decodable frames')
            times, crops, found = stream.arrays()
            labels = cs.labels_from_sidecar(side, times)
        clips = cs.split_by_label(
            subject, crops, cs.unique_times(times), labels, found, path.name,
            lim.max_frames_per_clip,
        )  # fmt: skip
        if not clips:
            raise AdaptationError(f'{path.name}: no labelled frames')
        return clips
