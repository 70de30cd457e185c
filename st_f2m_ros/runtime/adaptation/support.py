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
(96x96x3 = 27 kB) and, with the real-face front end, its twelve measured components. So each
frame is decoded, cropped, measured and dropped before the next is read: memory grows with the
crops only, never with the frames. The face work is `support_faces.SupportFaces` (the live
pipeline's face stage); neutral support frames give the person's neutral baseline, and every
clip's `measured` components are then taken against it, as the live pipeline will measure
them after the adaptation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.errors import AdaptationError
from st_f2m_ros.runtime.adaptation import clip_sources as cs
from st_f2m_ros.runtime.adaptation.paths import Confinement
from st_f2m_ros.runtime.adaptation.request import InlineClip
from st_f2m_ros.runtime.adaptation.settings import AdaptationSettings
from st_f2m_ros.runtime.adaptation.support_faces import CropOnly, SupportFaces
from st_f2m_ros.runtime.adaptation.validation import FileSource, Source
from st_f2m_ros.taxonomy import CLASS_LABELS, NUM_COMPONENTS

NEUTRAL_ID = CLASS_LABELS.index('neutral')
Faces = SupportFaces | CropOnly


@dataclass
class Frames:
    """One source's frames: times, crops, face found and (front end) measures, per frame."""

    times: np.ndarray  # float64 [N]
    crops: np.ndarray  # uint8 [N, S, S, 3]
    found: np.ndarray  # bool [N]
    raw: np.ndarray | None = None  # float64 [N, 12], NaN where no face was measured
    measured: np.ndarray | None = None  # float32 [N, 12], 0 where not measured
    measured_ok: np.ndarray | None = None  # bool [N, 12] what the model reads (below)
    # bool [N, 12] the frame supports the value (quality); measured_ok is this AND the value
    # is measured against the person's neutral (FaceObservation.model_reliable)
    reliable: np.ndarray | None = None


class CropStream:
    """Collects (time, crop, found, measures) of frames fed one at a time; holds no frame."""

    def __init__(
        self, faces: Faces, size: int, max_frames: int, name: str, check: Callable[[], None]
    ) -> None:
        self.faces, self.size, self.max_frames, self.name = faces, size, max_frames, name
        self.check = check
        self.times: list[float] = []
        self.crops: list[np.ndarray] = []
        self.found: list[bool] = []
        self.raw: list[np.ndarray | None] = []
        self.measured: list[np.ndarray | None] = []
        self.ok: list[np.ndarray | None] = []
        self.model_ok: list[np.ndarray | None] = []
        self._blank = np.zeros((size, size, 3), dtype=np.uint8)
        faces.begin()  # each source is a new stream (and, for the front end, a new person)

    def add(self, t: float, bgr: np.ndarray) -> None:
        """Crop and measure one decoded frame (which the caller then drops)."""
        if len(self.times) >= self.max_frames:
            raise AdaptationError(f'{self.name} holds more than {self.max_frames} frames; cut it')
        self.check()  # close() cancels between frames too: a long file can take seconds
        face = self.faces(t, bgr)
        self.times.append(float(t))
        self.found.append(face.crop is not None)
        self.crops.append(self._blank if face.crop is None else np.ascontiguousarray(face.crop))
        self.raw.append(face.raw)
        self.measured.append(face.components)
        self.ok.append(face.reliable)
        self.model_ok.append(face.model_reliable)

    def feed(self, frames: Iterable[tuple[float, Any]], decode: Callable[[Any], Any]) -> None:
        """`add` every (time, item) of a stream, decoding each item just before its crop."""
        for t, item in frames:
            self.add(t, decode(item))

    def arrays(self, sort: bool = True) -> Frames:
        """The collected frames (in time order with `sort`, else as fed)."""
        n = len(self.times)
        times = np.asarray(self.times, dtype=np.float64)
        order = np.argsort(times, kind='stable') if sort else np.arange(n)
        crops = np.zeros((n, self.size, self.size, 3), dtype=np.uint8)
        for k, i in enumerate(order):
            crops[k] = self.crops[i]
            self.crops[i] = self._blank  # drop each crop once copied: one copy at a time
        out = Frames(times[order], crops, np.asarray(self.found, dtype=bool)[order])
        if self.faces.measuring:
            raw = np.full((n, NUM_COMPONENTS), np.nan)
            measured = np.zeros((n, NUM_COMPONENTS), dtype=np.float32)
            ok = np.zeros((n, NUM_COMPONENTS), dtype=bool)
            model_ok = np.zeros((n, NUM_COMPONENTS), dtype=bool)
            for k, i in enumerate(order):
                if self.raw[i] is not None:
                    raw[k], measured[k], ok[k] = self.raw[i], self.measured[i], self.ok[i]
                    model_ok[k] = self.model_ok[i]
            out = replace(out, raw=raw, measured=measured, measured_ok=model_ok, reliable=ok)
        return out


@dataclass
class Piece:
    """One source loaded: its frames, per-frame labels, and how to cut it into clips."""

    frames: Frames
    labels: np.ndarray  # int64 [N]
    name: str
    inline_text: str | None = None  # an inline clip (one clip, as sent), else a file


class SupportLoader:
    """Turns validated sources into Clips (face crops, per-frame labels, measures).

    After `load`, `neutral` holds the neutral baseline state (`NeutralBaseline.state()`) that
    the neutral support frames give, or None (no neutral frame measured, or no front end).
    Every clip's `measured` is then taken against it; without one it stays what the stage
    measured (each source a fresh person: prior, then the online estimate, as live).
    """

    def __init__(
        self,
        settings: AdaptationSettings,
        faces: Faces | cs.CropFn,
        check: Callable[[], None],
    ) -> None:
        from st_f2m_ros.perception.image_convert import ImageLimits, msg_to_bgr

        self.s = settings
        self.faces = faces if isinstance(faces, (SupportFaces, CropOnly)) else CropOnly(faces)
        self.check = check
        self.neutral: dict[str, Any] | None = None
        limits = ImageLimits(max_side=settings.limits.max_frame_side)
        self.decode = lambda msg: msg_to_bgr(msg, limits)

    def load(self, subject: str, sources: list[Source]) -> list[Clip]:
        """All clips of the sources; raise when none has a face."""
        pieces: list[Piece] = []
        for src in sources:
            self.check()
            if isinstance(src, FileSource):
                pieces.append(self._file(src))
            else:
                pieces.append(self._inline(src))
        self.neutral = self._neutral(pieces)
        clips: list[Clip] = []
        for piece in pieces:
            clips.extend(self._clips(subject, piece))
        usable = [c for c in clips if c.face_found is None or c.face_found.any()]
        if not usable:
            raise AdaptationError('no face was found in any support clip; check the clips')
        return usable

    def _neutral(self, pieces: list[Piece]) -> dict[str, Any] | None:
        """The neutral frames' baseline; every piece's components are re-taken against it."""
        if not isinstance(self.faces, SupportFaces) or not self.faces.measuring:
            return None
        raws, oks = [], []
        for p in pieces:
            f = p.frames
            keep = (p.labels == NEUTRAL_ID) & f.found & np.isfinite(f.raw).all(axis=1)
            raws.append(f.raw[keep])
            oks.append(f.reliable[keep])
        raw, ok = np.concatenate(raws), np.concatenate(oks)
        if not ok.any():
            return None
        state = self.faces.neutral_state(raw, ok)
        known = np.asarray(state['ready'], dtype=bool)
        for p in pieces:
            f = p.frames
            seen = np.isfinite(f.raw).all(axis=1)
            if seen.any():
                f.measured[seen] = self.faces.relative(f.raw[seen], state)
                f.measured_ok[seen] = f.reliable[seen] & known
        return state

    def _stream(self, name: str, max_frames: int) -> CropStream:
        return CropStream(self.faces, self.s.crop_size, max_frames, name, self.check)

    def _inline(self, src: InlineClip) -> Piece:
        label = cs.check_label(src.label, 'inline clip')
        stream = self._stream('inline clip', self.s.limits.max_frames_per_clip)
        stream.feed(((f.stamp, f) for f in src.frames), self.decode)
        frames = stream.arrays(sort=False)  # in message order, as sent
        raw = frames.times
        if len(raw) == 1 or np.all(raw == raw[0]):  # unstamped frames: assume 30 fps
            frames.times = np.arange(len(raw), dtype=np.float64) / 30.0
        else:
            frames.times = cs.unique_times(raw)
        labels = np.full(len(raw), label, np.int64)
        return Piece(frames, labels, 'inline', inline_text=src.transcript or '')

    def _clips(self, subject: str, piece: Piece) -> list[Clip]:
        f = piece.frames
        if piece.inline_text is not None:
            return [
                Clip(
                    subject, f.crops, f.times, piece.labels, face_found=f.found,
                    measured=f.measured, measured_ok=f.measured_ok,
                    utterances=cs.utterances_of(piece.inline_text, f.times), source='inline',
                )
            ]  # fmt: skip
        clips = cs.split_by_label(
            subject, f.crops, cs.unique_times(f.times), piece.labels, f.found, piece.name,
            self.s.limits.max_frames_per_clip, measured=f.measured, measured_ok=f.measured_ok,
        )  # fmt: skip
        if not clips:
            raise AdaptationError(f'{piece.name}: no labelled frames')
        return clips

    def _file(self, src: FileSource) -> Piece:
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
            frames = stream.arrays()
            if truth and not label:
                labels = cs.labels_from_truth(truth, frames.times)
            elif side is not None:
                labels = cs.labels_from_sidecar(side, frames.times)
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
            frames = stream.arrays()
            labels = cs.labels_from_sidecar(side, frames.times)
        if not (labels >= 0).any():
            raise AdaptationError(f'{path.name}: no labelled frames')
        return Piece(frames, labels, path.name)
