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

Everything ends as `data.clip.Clip` (face crops + per-frame labels), cut with the same
`perception.crop.crop_face` as the live frames so that adaptation sees what inference sees.

Labels of file clips come from, in order:
* the bag's ground-truth topic (`/emotion/ground_truth`, st_f2m_ros/EmotionSequence): each
  frame takes the class of the state whose [start, end] holds its stamp;
* a sidecar `<file>.labels.yaml` beside the bag or video: either `label: anger_high` for the
  whole file, or `segments: [{start: 0.0, end: 1.5, label: anger_high}, ...]` with times in
  seconds from the first frame.
A long file is split into one clip per run of equal labels (unlabelled frames dropped), so one
recording can hold the whole support set.

Paths are confined: a URI must resolve (symlinks followed) inside one of the configured roots,
may not contain '..', and may not exceed the size limit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from st_f2m_ros.data.clip import Clip, Utterance
from st_f2m_ros.errors import AdaptationError, StF2MError
from st_f2m_ros.taxonomy import CLASS_LABELS

GROUND_TRUTH_TOPIC = '/emotion/ground_truth'
IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
VIDEO_SUFFIXES = ('.mp4', '.avi', '.mkv', '.mov', '.webm', '.m4v')
BAG_SUFFIXES = ('.mcap', '.db3')

# bgr frame -> face crop (uint8 [S, S, 3]) or None when no face is found.
CropFn = Callable[[np.ndarray], 'np.ndarray | None']


@dataclass(frozen=True)
class ClipLimits:
    """What a support clip may be (protects the node from huge or hostile requests)."""

    roots: tuple[Path, ...] = ()
    max_file_bytes: int = 512 * 1024 * 1024
    max_frames_per_clip: int = 600
    max_frame_side: int = 4096


def resolve_clip_uri(uri: str, limits: ClipLimits) -> Path:
    """Return the real path of a clip URI if it lies under a configured root, else raise."""
    raw = uri[len('file://') :] if uri.startswith('file://') else uri
    if not raw:
        raise AdaptationError('empty clip URI')
    p = Path(raw).expanduser()
    if '..' in p.parts:
        raise AdaptationError(f'clip URI {uri!r} contains "..": give a plain absolute path')
    if not p.is_absolute():
        raise AdaptationError(f'clip URI {uri!r} is relative: give an absolute path')
    if not limits.roots:
        raise AdaptationError(
            'no clip roots are configured (parameter clip_roots): file clips '
            'are refused; send inline clips or configure a root'
        )
    try:
        real = p.resolve(strict=True)
    except (OSError, RuntimeError) as err:
        raise AdaptationError(f'clip file {uri!r} does not exist or cannot be read') from err
    for root in limits.roots:
        if real.is_relative_to(Path(root).expanduser().resolve()):
            break
    else:
        allowed = ', '.join(str(r) for r in limits.roots)
        raise AdaptationError(f'clip file {uri!r} is outside the allowed clip roots ({allowed})')
    size = _size_of(real)
    if size > limits.max_file_bytes:
        raise AdaptationError(
            f'clip file {uri!r} has {size} bytes, over the limit of {limits.max_file_bytes}; '
            'cut it shorter or raise max_clip_bytes'
        )
    return real


def _size_of(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob('*') if f.is_file())
    return path.stat().st_size


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


def sidecar_labels(path: Path) -> dict[str, Any] | None:
    """Read `<path>.labels.yaml` if present (safe_load), validated."""
    side = path.with_name(path.name + '.labels.yaml')
    if not side.is_file():
        return None
    try:
        doc = yaml.safe_load(side.read_text(encoding='utf-8'))
    except (OSError, yaml.YAMLError) as err:
        raise AdaptationError(f'cannot read {side.name}: {err}') from err
    if not isinstance(doc, dict) or ('label' not in doc and 'segments' not in doc):
        raise AdaptationError(f'{side.name} needs "label: <class>" or a "segments:" list')
    labels = [doc['label']] if 'label' in doc else [s.get('label') for s in doc['segments']]
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
    rel = times - times[0] if times.size else times
    out = np.full(times.shape, -1, dtype=np.int64)
    for seg in doc['segments']:
        try:
            start, end = float(seg['start']), float(seg['end'])
        except (KeyError, TypeError, ValueError) as err:
            raise AdaptationError('each sidecar segment needs numeric start and end') from err
        out[(rel >= start) & (rel <= end)] = CLASS_LABELS.index(seg['label'])
    return out


def split_by_label(
    subject: str,
    crops: np.ndarray,
    times: np.ndarray,
    labels: np.ndarray,
    found: np.ndarray,
    source: str,
    max_frames: int,
) -> list[Clip]:
    """Cut a labelled frame stream into one Clip per run of equal labels (-1 dropped)."""
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


def read_bag_frames(
    path: Path,
    image_topic: str | None,
    max_frames: int,
    decode: Callable[[Any], np.ndarray],
    min_interval: float = 0.0,
) -> tuple[list[np.ndarray], np.ndarray, list[Any]]:
    """Return (bgr frames, stamps, ground-truth sequence messages) of a rosbag2 file.

    `min_interval` (s) keeps only frames at least that far apart (by log time) and skips the
    others before they are decoded: the model samples windows at its feature rate, so frames
    in between would only cost decoding and face detection.
    """
    from rosbags.highlevel import AnyReader

    from st_f2m_ros.interfaces import typestore
    from st_f2m_ros.runtime.messages.convert import stamp_to_seconds

    frames: list[np.ndarray] = []
    stamps: list[float] = []
    truth: list[Any] = []
    try:
        with AnyReader([path], default_typestore=typestore('humble')) as reader:
            images = [c for c in reader.connections if c.msgtype in IMAGE_TYPES]
            if image_topic:
                images = [c for c in images if c.topic == image_topic]
            if len({c.topic for c in images}) != 1:
                topics = sorted({c.topic for c in reader.connections if c.msgtype in IMAGE_TYPES})
                raise AdaptationError(
                    f'{path.name}: need exactly one image topic (found {topics}); set '
                    'the camera topic'
                )
            gt = [c for c in reader.connections if c.topic == GROUND_TRUTH_TOPIC]
            keep = RateFilter(min_interval)
            for con, log_ns, raw in reader.messages(connections=images + gt):
                if con.topic != GROUND_TRUTH_TOPIC and not keep(log_ns * 1e-9):
                    continue
                msg = reader.deserialize(raw, con.msgtype)
                if con.topic == GROUND_TRUTH_TOPIC:
                    truth.append(msg)
                    continue
                if len(frames) >= max_frames:
                    raise AdaptationError(
                        f'{path.name} holds more than {max_frames} frames; cut it shorter'
                    )
                frames.append(decode(msg))
                stamps.append(stamp_to_seconds(msg.header.stamp))
    except StF2MError:
        raise
    except Exception as err:  # rosbags raises many unrelated types for a broken file
        raise AdaptationError(f'cannot read bag {path.name}: {type(err).__name__}: {err}') from err
    order = np.argsort(np.asarray(stamps, dtype=np.float64), kind='stable')
    return [frames[i] for i in order], np.asarray(stamps, dtype=np.float64)[order], truth


def labels_from_truth(truth: Sequence[Any], times: np.ndarray) -> np.ndarray:
    """Per-frame class ids from ground-truth EmotionSequence messages (state spans)."""
    from st_f2m_ros.runtime.messages.convert import stamp_to_seconds

    out = np.full(times.shape, -1, dtype=np.int64)
    for seq in truth:
        for s in seq.states:
            a, b = stamp_to_seconds(s.start), stamp_to_seconds(s.end)
            out[(times >= a) & (times <= b)] = int(s.class_id)
    return out


def read_video_frames(
    path: Path, max_frames: int, min_interval: float = 0.0
) -> tuple[list[np.ndarray], np.ndarray]:
    """Decode a video file with OpenCV; times from the container's frame rate.

    Frames closer than `min_interval` (s) to the last kept one are grabbed but not decoded.
    """
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise AdaptationError(f'OpenCV cannot open video {path.name}')
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames: list[np.ndarray] = []
    times: list[float] = []
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
            if len(frames) >= max_frames:
                raise AdaptationError(f'{path.name} has more than {max_frames} frames')
            frames.append(frame)
            times.append(t)
    finally:
        cap.release()
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


def default_crop_fn(size: int, clips_are_crops: bool = False) -> CropFn:
    """Face cropper for support frames: the live pipeline's detector and `crop_face`.

    The largest detected face is cut exactly as live frames are (perception.crop.crop_face), so
    adaptation sees what inference sees; a frame without a face yields None (not used). With
    `clips_are_crops` (support clips that already are face crops, e.g. the generator's) the
    whole frame is the face box.
    """
    from st_f2m_ros.perception.crop import crop_face

    def whole_frame(bgr: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        return crop_face(bgr, (0.0, 0.0, float(w), float(h)), size, margin=0.0)

    if clips_are_crops:
        return whole_frame
    from st_f2m_ros.perception.face import FaceDetector

    detector = FaceDetector()

    def detected(bgr: np.ndarray) -> np.ndarray | None:
        faces = detector.detect(bgr)
        if not faces:
            return None
        best = max(faces, key=lambda d: d.box[2] * d.box[3])
        return crop_face(bgr, best.box, size)

    return detected
