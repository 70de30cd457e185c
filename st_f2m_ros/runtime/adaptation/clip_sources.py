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
"""Support clips for /adapt from where they come: inline frames, rosbag2 files, video files.

Everything ends as `data.clip.Clip` (face crops + per-frame labels, and the front end's
measured components), cut by the live pipeline's face stage (`support_faces`) so that
adaptation sees what inference sees.

Labels of file clips come from, in order:
* the bag's ground-truth topic (`/emotion/ground_truth`, st_f2m_ros/EmotionSequence): each
  frame takes the class of the state whose half-open [start, end) holds its stamp
  (`data.bag_reader.labels_at`, the rule the evaluation uses too);
* a sidecar `<file>.labels.yaml` beside the bag or video: either `label: anger_high` for the
  whole file, or `segments: [{start: 0.0, end: 1.5, label: anger_high}, ...]` with times in
  seconds from the first frame, half-open [start, end) like the ground truth.
A long file is split into one clip per run of equal labels (unlabelled frames dropped), so one
recording can hold the whole support set.

Files are read as streams of (time, frame): the loader crops each kept frame and drops it, so
a long recording never sits in memory at full resolution. Paths are confined by `paths`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from st_f2m_ros.data.clip import Clip, Utterance
from st_f2m_ros.errors import AdaptationError, StF2MError
from st_f2m_ros.runtime.adaptation.paths import ClipLimits as ClipLimits  # re-exported
from st_f2m_ros.runtime.adaptation.paths import resolve_clip_uri as resolve_clip_uri
from st_f2m_ros.taxonomy import CLASS_LABELS

GROUND_TRUTH_TOPIC = '/emotion/ground_truth'
VIDEO_SUFFIXES = ('.mp4', '.avi', '.mkv', '.mov', '.webm', '.m4v')
BAG_SUFFIXES = ('.mcap', '.db3')

# bgr frame -> face crop (uint8 [S, S, 3]) or None when no face is found.
CropFn = Callable[[np.ndarray], 'np.ndarray | None']


def kind_of(path: Path) -> str:
    """'bag' (rosbag2 folder, .mcap or .db3) or 'video'; raise for anything else."""
    if path.is_dir() and (path / 'metadata.yaml').is_file():
        return 'bag'
    suffix = path.suffix.lower()
    if suffix in BAG_SUFFIXES:
        return 'bag'
    if suffix in VIDEO_SUFFIXES:
        return 'video'
    raise AdaptationError(
        f'{path.name}: unsupported clip file; use a rosbag2 folder, .mcap, .db3 or a video '
        f'({", ".join(VIDEO_SUFFIXES)}) with a sidecar .labels.yaml'
    )


def sidecar_labels(side: Path | None) -> dict[str, Any] | None:
    """Read a (confined, see paths.Confinement.sidecar) `.labels.yaml`, validated; None: none."""
    if side is None:
        return None
    try:
        doc = yaml.safe_load(side.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise AdaptationError(f'cannot read {side.name}: {err}') from err
    if not isinstance(doc, dict) or ('label' not in doc and 'segments' not in doc):
        raise AdaptationError(f'{side.name} needs "label: <class>" or a "segments:" list')
    segments = doc.get('segments')
    if 'label' not in doc and (
        not isinstance(segments, list) or not all(isinstance(x, dict) for x in segments)
    ):
        raise AdaptationError(f'{side.name}: "segments" must be a list of {{start, end, label}}')
    labels = [doc['label']] if 'label' in doc else [x.get('label') for x in segments]
    for label in labels:
        check_label(label, side.name)
    return doc


def check_label(label: Any, where: str) -> int:
    """Return the class id of `label` or raise AdaptationError listing the valid labels."""
    if label not in CLASS_LABELS:
        raise AdaptationError(
            f'{where}: unknown label {label!r}; use one of {", ".join(CLASS_LABELS)}'
        )
    return CLASS_LABELS.index(label)


def labels_from_sidecar(doc: dict[str, Any], times: np.ndarray) -> np.ndarray:
    """Per-frame class ids from a sidecar document (segment times relative to the first frame)."""
    if 'label' in doc:
        return np.full(times.shape, CLASS_LABELS.index(doc['label']), dtype=np.int64)
    from types import SimpleNamespace

    from st_f2m_ros.data.bag_reader import labels_at  # the one [start, end) rule

    rel = times - times[0] if times.size else times
    spans = []
    for seg in doc['segments']:
        try:
            start, end = float(seg['start']), float(seg['end'])
        except (KeyError, TypeError, ValueError) as err:
            raise AdaptationError('each sidecar segment needs numeric start and end') from err
        spans.append(
            SimpleNamespace(start=start, end=end, class_id=CLASS_LABELS.index(seg['label']))
        )
    return labels_at(spans, rel)


def split_by_label(
    subject: str,
    crops: np.ndarray,
    times: np.ndarray,
    labels: np.ndarray,
    found: np.ndarray,
    source: str,
    max_frames: int,
    measured: np.ndarray | None = None,
    measured_ok: np.ndarray | None = None,
) -> list[Clip]:
    """Cut a labelled frame stream into one Clip per run of equal labels (-1 dropped).

    `measured` / `measured_ok` [N, 12] (the front end's components and reliable mask) are cut
    with the frames.
    """
    clips: list[Clip] = []
    start = 0
    n = len(labels)
    for i in range(1, n + 1):
        if i == n or labels[i] != labels[start]:
            if labels[start] >= 0:
                for a in range(start, i, max_frames):
                    b = min(i, a + max_frames)
                    clips.append(
                        Clip(
                            subject,
                            crops[a:b],
                            times[a:b],
                            labels[a:b].copy(),
                            face_found=found[a:b],
                            measured=None if measured is None else measured[a:b],
                            measured_ok=None if measured_ok is None else measured_ok[a:b],
                            source=f'{source}[{a}:{b}]',
                        )
                    )
            start = i
    return clips


def crop_frames(
    frames: Sequence[np.ndarray], crop_fn: CropFn, size: int
) -> tuple[np.ndarray, ...]:
    """Apply the face cropper to BGR frames; frames without a face get a zero crop."""
    crops = np.zeros((len(frames), size, size, 3), dtype=np.uint8)
    found = np.zeros(len(frames), dtype=bool)
    for i, frame in enumerate(frames):
        c = crop_fn(frame)
        if c is not None:
            crops[i] = c
            found[i] = True
    return crops, found


class RateFilter:
    """Keeps the first frame at or after each point of a grid `interval` seconds apart.

    On a grid rather than "interval after the last kept frame", so that 30 fps thinned to 8 Hz
    keeps 8 frames a second (not 7.5) and windows sampled on the model's grid find a frame
    near each of their points.
    """

    def __init__(self, interval: float) -> None:
        self.interval = float(interval)
        self.due = -np.inf

    def __call__(self, t: float) -> bool:
        """True if the frame at time `t` is kept."""
        if self.interval <= 0:
            return True
        if t < self.due - 1e-6:
            return False
        # next grid point after t (skipping points a gap in the stream jumped over)
        start = t if self.due == -np.inf else self.due
        self.due = start + self.interval * (np.floor((t - start) / self.interval) + 1)
        return True


def bag_image_stream(
    path: Path,
    image_topic: str | None,
    min_interval: float = 0.0,
    truth_out: list[Any] | None = None,
) -> Iterator[tuple[float, Any]]:
    """Yield (header stamp, image message) of a bag's one camera topic, one at a time.

    Read with the shared `data.bag_reader.BagReader`. `min_interval` (s) keeps only frames on
    that grid of log times: the model samples windows at its feature rate, so the frames in
    between would only cost decoding and face detection. The ground-truth states (if the bag
    has the topic) are appended to `truth_out`.
    """
    from st_f2m_ros.data.bag_reader import IMAGE_TYPES as TYPES
    from st_f2m_ros.data.bag_reader import BagReader

    try:
        with BagReader(path) as bag:
            topics = bag.topics
            images = sorted(t for t, ty in topics.items() if ty in TYPES)
            if image_topic:
                images = [t for t in images if t == image_topic]
            if len(images) != 1:
                raise AdaptationError(
                    f'{path.name}: need exactly one image topic (found '
                    f'{sorted(t for t, ty in topics.items() if ty in TYPES)}); set the camera '
                    'topic'
                )
            if truth_out is not None and GROUND_TRUTH_TOPIC in topics:
                truth_out.extend(bag.ground_truth(GROUND_TRUTH_TOPIC))
            keep = RateFilter(min_interval)
            for m in bag.messages(images):
                if keep(m.log_time):
                    yield m.stamp, m.msg
    except StF2MError as err:
        if isinstance(err, AdaptationError):
            raise
        raise AdaptationError(f'cannot read bag {path.name}: {err}') from err
    except Exception as err:  # rosbags raises many unrelated types for a broken file
        raise AdaptationError(f'cannot read bag {path.name}: {type(err).__name__}: {err}') from err


def labels_from_truth(truth: Sequence[Any], times: np.ndarray) -> np.ndarray:
    """Per-frame class ids from ground-truth states: the shared half-open [start, end) rule."""
    from st_f2m_ros.data.bag_reader import labels_at

    return labels_at(list(truth), np.asarray(times, dtype=np.float64))


def video_stream(path: Path, min_interval: float = 0.0) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (time from the container's frame rate, BGR frame) of a video, one at a time.

    Frames off the `min_interval` grid are grabbed but not decoded.
    """
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise AdaptationError(f'OpenCV cannot open video {path.name}')
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    keep = RateFilter(min_interval)
    try:
        for i in itertools.count():
            if not cap.grab():
                break
            t = i / float(fps)
            if not keep(t):
                continue
            ok, frame = cap.retrieve()
            if not ok:
                break
            yield t, frame
    finally:
        cap.release()


def read_bag_frames(
    path: Path,
    image_topic: str | None,
    max_frames: int,
    decode: Callable[[Any], np.ndarray],
    min_interval: float = 0.0,
) -> tuple[list[Any], np.ndarray, list[Any]]:
    """(decoded frames, stamps, ground-truth states) in stamp order, for tools and tests.

    Holds every decoded frame: /adapt streams with `bag_image_stream` instead.
    """
    truth: list[Any] = []
    frames: list[Any] = []
    stamps: list[float] = []
    for stamp, msg in bag_image_stream(path, image_topic, min_interval, truth):
        if len(frames) >= max_frames:
            raise AdaptationError(
                f'{path.name} holds more than {max_frames} frames; cut it shorter'
            )
        frames.append(decode(msg))
        stamps.append(stamp)
    order = np.argsort(np.asarray(stamps, dtype=np.float64), kind='stable')
    return [frames[i] for i in order], np.asarray(stamps, dtype=np.float64)[order], truth


def read_video_frames(
    path: Path, max_frames: int, min_interval: float = 0.0
) -> tuple[list[np.ndarray], np.ndarray]:
    """(BGR frames, times) of a video, for tools and tests (/adapt streams instead)."""
    frames: list[np.ndarray] = []
    times: list[float] = []
    for t, frame in video_stream(path, min_interval):
        if len(frames) >= max_frames:
            raise AdaptationError(f'{path.name} has more than {max_frames} frames')
        frames.append(frame)
        times.append(t)
    if not frames:
        raise AdaptationError(f'video {path.name} has no decodable frames')
    return frames, np.asarray(times, dtype=np.float64)


def unique_times(times: np.ndarray) -> np.ndarray:
    """Make frame times strictly increasing (duplicate stamps nudged by 1 us)."""
    t = np.asarray(times, dtype=np.float64).copy()
    for i in range(1, len(t)):
        if t[i] <= t[i - 1]:
            t[i] = t[i - 1] + 1e-6
    return t


def utterances_of(text: str, times: np.ndarray) -> list[Utterance]:
    """A clip's transcript as one utterance spanning the clip (patient data: never logged)."""
    if not text or not len(times):
        return []
    return [Utterance(float(times[0]), float(times[-1]), text)]


def default_crop_fn(size: int, clips_are_crops: bool = False, face: Any = None) -> CropFn:
    """Face cropper for single images: the live pipeline's face stage and crop box.

    Built on `support_faces.SupportFaces` (what /adapt uses) with `face` (a
    perception.face.FaceConfig; None: the default, the real-face front end with its Haar
    fallback); each call is a fresh stream, so unrelated images do not follow each other's
    face. A frame without a face yields None. With `clips_are_crops` (support clips that
    already are face crops, e.g. the generator's) the whole frame is the face box.
    """
    from st_f2m_ros.perception.face import FaceConfig
    from st_f2m_ros.runtime.adaptation.support_faces import SupportFaces, whole_frame_crop

    if clips_are_crops:
        return lambda bgr: whole_frame_crop(bgr, size)
    faces = SupportFaces(face or FaceConfig(), size)

    def detected(bgr: np.ndarray) -> np.ndarray | None:
        faces.begin()
        return faces(0.0, bgr).crop

    return detected
