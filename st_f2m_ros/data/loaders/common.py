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
"""Shared pieces of the real-dataset loaders: face boxes, frame lists -> Clip, label functions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from st_f2m_ros.data.clip import Clip, Utterance
from st_f2m_ros.errors import DataError
from st_f2m_ros.perception.crop import crop_face

Box = tuple[float, float, float, float]
LabelFn = Callable[[np.ndarray], np.ndarray]


class FaceBoxer:
    """Face box per frame with OpenCV's bundled Haar cascade, holding the last box over misses.

    Real datasets come without boxes (except WFLW); the live pipeline finds faces with the same
    cascade, so crops match what the robot sees.
    """

    def __init__(self, min_size: int = 40, scale_factor: float = 1.1, neighbours: int = 4) -> None:
        path = Path(cv2.data.haarcascades) / 'haarcascade_frontalface_default.xml'
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise DataError(
                f'cannot load the Haar cascade {path}; install opencv-python-headless<5'
            )
        self.min_size, self.scale_factor, self.neighbours = min_size, scale_factor, neighbours
        self.last: Box | None = None

    def __call__(self, bgr: np.ndarray) -> tuple[Box | None, bool]:
        """(box, found now); the box is the last one found when this frame has none."""
        gray = bgr if bgr.ndim == 2 else cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        det = self.cascade.detectMultiScale(
            gray, self.scale_factor, self.neighbours, minSize=(self.min_size, self.min_size)
        )
        if len(det):
            x, y, w, h = max(det, key=lambda d: d[2] * d[3])
            self.last = (float(x), float(y), float(w), float(h))
            return self.last, True
        return self.last, False


def to_bgr(img: np.ndarray) -> np.ndarray:
    """Grey or BGRA images -> BGR uint8."""
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return img


def read_image(path: Path) -> np.ndarray:
    """Read an image as BGR; DataError names an unreadable file."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DataError(f'{path} is not a readable image')
    if img.dtype != np.uint8:
        img = cv2.convertScaleAbs(img, alpha=255.0 / max(float(img.max()), 1.0))
    return to_bgr(img)


def frames_to_clip(
    frames: Iterable[np.ndarray],
    times: np.ndarray,
    labels: np.ndarray,
    subject: str,
    source: str,
    crop_size: int,
    boxes: Iterable[Box | None] | None = None,
    components: np.ndarray | None = None,
    utterances: list[Utterance] | None = None,
    allow_short: bool = False,
) -> Clip:
    """Crop faces (given boxes, else Haar per frame) and build a Clip.

    Frames before the first detection, and frames where no face was ever found, get an
    all-zero crop and face_found False, as the Clip contract says. With `allow_short`, a
    stream that ends early (a video decoding fewer frames than its header states) cuts the
    times, labels and components to the frames read instead of raising.
    """
    boxer = FaceBoxer() if boxes is None else None
    box_iter = iter(boxes) if boxes is not None else None
    crops, found = [], []
    for img in frames:
        if box_iter is not None:
            box = next(box_iter, None)
            ok = box is not None
        else:
            box, ok = boxer(img)  # type: ignore[misc]
        if box is None:
            crops.append(np.zeros((crop_size, crop_size, 3), np.uint8))
            found.append(False)
        else:
            crops.append(crop_face(img, box, crop_size))
            found.append(bool(ok))
    if allow_short and 0 < len(crops) < len(times):
        n = len(crops)
        times, labels = times[:n], labels[:n]
        components = None if components is None else components[:n]
    if len(crops) != len(times):
        raise DataError(f'{source}: {len(crops)} frames but {len(times)} time stamps')
    return Clip(
        subject=subject,
        crops=np.stack(crops) if crops else np.zeros((0, crop_size, crop_size, 3), np.uint8),
        times=np.asarray(times, dtype=np.float64),
        labels=np.asarray(labels, dtype=np.int64),
        components=None if components is None else np.asarray(components, dtype=np.float32),
        face_found=np.array(found, dtype=bool),
        utterances=utterances or [],
        source=source,
    )


def rate_indices(times: np.ndarray, rate: float | None) -> np.ndarray:
    """Indices of the frames nearest a `rate` Hz grid over `times`; all frames when `rate` is
    None or not below the video's own rate.

    The model reads windows at its `feature_rate` (8 Hz), so frames in between add memory
    (a 30 fps CREMA-D release is ~15 GB of 96 px crops) and face-finding time, not windows.
    """
    times = np.asarray(times, dtype=np.float64)
    n = len(times)
    if rate is None or n < 2:
        return np.arange(n)
    if rate <= 0:
        raise DataError(f'frame rate must be > 0, got {rate}')
    grid = np.arange(times[0], times[-1] + 0.5 / rate, 1.0 / rate)
    idx = np.clip(np.searchsorted(times, grid), 0, n - 1)
    prev = np.clip(idx - 1, 0, n - 1)
    idx = np.where(np.abs(times[prev] - grid) <= np.abs(times[idx] - grid), prev, idx)
    return np.unique(idx)


def take_frames(frames: Iterable[np.ndarray], keep: np.ndarray) -> Iterator[np.ndarray]:
    """The frames at the sorted indices `keep`, streamed (frames after the last are not read)."""
    wanted = iter(keep.tolist())
    nxt = next(wanted, None)
    if nxt is None:
        return
    for i, frame in enumerate(frames):
        if i == nxt:
            yield frame
            nxt = next(wanted, None)
            if nxt is None:
                return


def default_label_fn() -> LabelFn:
    """The fuzzy rule base's labelling (`fuzzy.label_from_components`), as the paper does."""
    try:
        from st_f2m_ros.fuzzy import label_from_components
    except ImportError as err:
        raise DataError(
            'st_f2m_ros.fuzzy.label_from_components is not available; pass '
            'label_fn= to label components'
        ) from err
    return label_from_components


def require_dir(path: Path, what: str) -> Path:
    """Return `path` if it is a folder, else DataError naming it and what was expected."""
    if not path.is_dir():
        raise DataError(f'{path} not found: expected {what}')
    return path
