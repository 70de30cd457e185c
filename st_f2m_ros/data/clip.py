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
"""The in-memory unit of labelled video that datasets, the trainer and /adapt exchange.

A `Clip` is one stretch of one person's video, already reduced to face crops, with per-frame
labels and (where known) the Table II component values, plus the transcript utterances that
fall inside it. Synthetic data, the real-dataset loaders and support clips all produce it, so
that task construction (paper V-A) and adaptation never care where frames came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from st_f2m_ros.errors import DataError
from st_f2m_ros.taxonomy import NUM_CLASSES, NUM_COMPONENTS


@dataclass(frozen=True)
class Utterance:
    """A transcript utterance with its time span in the clip's clock (seconds)."""

    start: float
    end: float
    text: str


@dataclass
class Clip:
    """Face crops of one person with frame-aligned labels.

    Attributes:
        subject: person id.
        crops: uint8 [T, S, S, 3] BGR face crops (OpenCV channel order).
        times: float64 [T] frame times in seconds, strictly increasing.
        labels: int64 [T] fine-grained class ids (taxonomy.CLASS_LABELS); -1 = unlabelled.
        components: float32 [T, 12] Table II component values, or None when unknown.
        face_found: bool [T]; False where no face was detected (crop is then all zeros).
        measured: float32 [T, 12] Table II components measured by the real-face front end
            against the person's neutral baseline (`face_frontend.FaceObservation.components`),
            or None when not measured (Haar fallback, a data set without faces). Unlike
            `components` (the generator's ground truth) this is what the robot sees at run time.
        measured_ok: bool [T, 12] which of `measured` a model reads (None with it): reliable
            in the frame and measured against the person's own neutral
            (`FaceObservation.model_reliable`).
        utterances: transcript utterances overlapping the clip.
        source: where the clip came from (file, generator seed), for error messages.

    """

    subject: str
    crops: np.ndarray
    times: np.ndarray
    labels: np.ndarray
    components: np.ndarray | None = None
    face_found: np.ndarray | None = None
    measured: np.ndarray | None = None
    measured_ok: np.ndarray | None = None
    utterances: list[Utterance] = field(default_factory=list)
    source: str = ''

    def __post_init__(self) -> None:
        self.validate()

    def __len__(self) -> int:
        return int(self.crops.shape[0])

    def validate(self) -> None:
        """Raise DataError naming the source and the field when shapes or values disagree."""
        where = f' in {self.source}' if self.source else ''
        c = self.crops
        if c.ndim != 4 or c.shape[3] != 3 or c.shape[1] != c.shape[2] or c.dtype != np.uint8:
            raise DataError(f'crops must be uint8 [T, S, S, 3]{where}, got {c.dtype} {c.shape}')
        t = c.shape[0]
        if self.times.shape != (t,):
            raise DataError(f'times must have shape ({t},){where}, got {self.times.shape}')
        if t > 1 and not np.all(np.diff(self.times) > 0):
            raise DataError(f'frame times must be strictly increasing{where}')
        if self.labels.shape != (t,):
            raise DataError(f'labels must have shape ({t},){where}, got {self.labels.shape}')
        if t and (self.labels.min() < -1 or self.labels.max() >= NUM_CLASSES):
            raise DataError(f'labels must be class ids in -1..{NUM_CLASSES - 1}{where}')
        if self.components is not None and self.components.shape != (t, NUM_COMPONENTS):
            raise DataError(
                f'components must have shape ({t}, {NUM_COMPONENTS}){where}, '
                f'got {self.components.shape}'
            )
        if self.face_found is not None and self.face_found.shape != (t,):
            raise DataError(f'face_found must have shape ({t},){where}')
        if (self.measured is None) != (self.measured_ok is None):
            raise DataError(f'measured and measured_ok must be given together{where}')
        if self.measured is not None:
            shape = (t, NUM_COMPONENTS)
            if self.measured.shape != shape or self.measured_ok.shape != shape:
                raise DataError(
                    f'measured and measured_ok must have shape {shape}{where}, '
                    f'got {self.measured.shape} and {self.measured_ok.shape}'
                )
            if self.measured_ok.dtype != np.bool_:
                raise DataError(f'measured_ok must be bool{where}, got {self.measured_ok.dtype}')

    def text_between(self, start: float, end: float) -> str:
        """The transcript text of the utterances overlapping [start, end): a window's text."""
        return ' '.join(u.text for u in self.utterances if u.end > start and u.start < end)

    def face_seen(self, idx: np.ndarray | list[int]) -> bool:
        """Whether a face was found in most of frames `idx` (a window's vision is usable)."""
        return True if self.face_found is None else bool(self.face_found[idx].mean() >= 0.5)

    @property
    def crop_size(self) -> int:
        """Side of the square face crops in pixels."""
        return int(self.crops.shape[1])
