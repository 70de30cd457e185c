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
"""Real photographs as still-camera bags, replayed the way a user meets the package.

No labelled real expression video is reachable here, so the evidence that the shipped model
reads real faces comes from permissively licensed photographs found in installed packages,
each placed into a 640x480 camera frame at a realistic face size (variants: mirrored,
smaller, dark, rolled, turned, masked), written as a short rosbag2 with per-frame sensor
noise (and optionally one spoken sentence), and replayed through `runtime.replay.replay_bag`
with the node's own parameter defaults (`runtime.session.pipeline_config`): what
`st-f2m run --config config/perception.yaml` and the node do. The real-face expression net
and the fuzzy rules on the front end's measured components give an independent reading of
each frame.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
import functools
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.taxonomy import CLASS_LABELS, EMOTIONS, NEUTRAL

FRAME_W, FRAME_H = 640, 480
HAPPY_SENTENCE = 'I am so happy to see you today, this is wonderful!'
# Photo -> where it comes from and its licence (every one ships inside an installed package).
SOURCES: dict[str, str] = {
    'astronaut': 'scikit-image data.astronaut(): Eileen Collins, NASA, public domain',
    'grace_hopper': 'matplotlib sample_data grace_hopper.jpg: US Navy portrait, public domain',
    'camera': 'scikit-image data.camera(): CC0 (Lav Varshney); a man behind a camera, turned',
    'lfw': 'scikit-image data.lfw_subset() faces: 25x25 crops of LFW (research data set)',
}
# A surgical-mask outline over nose and mouth: the lower face oval and the nose bridge (197)
# of the 468-point mesh (the polygon test/realface uses).
MASK_OUTLINE = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365,
                397, 288, 361, 323, 454, 197)  # fmt: skip
MASK_BGR = (225, 205, 170)  # data/synthetic/corruptions.py's mask colour


def load_photo(name: str, index: int = 0) -> np.ndarray:
    """A source photograph as uint8 BGR; `index` picks the LFW face (0-99)."""
    try:
        from skimage import data
    except ImportError as err:  # a test/benchmark dependency (the `dev` extra), not a run-time one
        raise ConfigError(
            f'the real test photographs come from scikit-image ({err}): pip install scikit-image'
        ) from err

    if name == 'astronaut':
        return np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    if name == 'camera':
        return np.ascontiguousarray(np.repeat(data.camera()[:, :, None], 3, axis=2))
    if name == 'lfw':
        face = np.asarray(data.lfw_subset()[index])
        grey = np.round(face * 255).astype(np.uint8) if face.dtype != np.uint8 else face
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if name == 'grace_hopper':
        from matplotlib import cbook

        img = cv2.imread(str(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False)))
        if img is None:
            raise ConfigError('matplotlib sample_data grace_hopper.jpg could not be read')
        return img
    raise ConfigError(f'unknown photo {name!r}; choose one of {sorted(SOURCES)}')


@dataclass(frozen=True)
class Variant:
    """How a photo is put in front of the camera.

    Attributes:
        name: row label.
        face_px: height of the face (mesh box) in the 640x480 frame (150: about 0.7 m from
            a 60-degree webcam; 80: about 1.4 m).
        mirror, brightness, roll_deg: horizontal flip, gain (0.25 = dark room), in-plane
            rotation about the face centre.
        mask: a surgical-mask polygon over nose and mouth.
        text: one sentence heard 1.5 s into the bag (std_msgs/String, as the node takes).
    """

    name: str
    face_px: int = 150
    mirror: bool = False
    brightness: float = 1.0
    roll_deg: float = 0.0
    mask: bool = False
    text: str = ''


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant('still'),
        Variant('mirrored', mirror=True),
        Variant('small', face_px=80),
        Variant('dark', brightness=0.25),
        Variant('rolled', roll_deg=25.0),
        Variant('masked', mask=True),
        Variant('speech', text=HAPPY_SENTENCE),
        Variant('small+speech', face_px=80, text=HAPPY_SENTENCE),
    )
}


@functools.lru_cache(maxsize=1)
def _front_end() -> Any:
    """One front end for still looks (track=False, learn=False keep it stateless)."""
    from st_f2m_ros.perception.face_frontend import FaceFrontEnd

    return FaceFrontEnd()


@functools.lru_cache(maxsize=1)
def _readers() -> tuple[Any, Any]:
    """The expression net and the rule explainer, loaded once."""
    from st_f2m_ros.evaluation.explain import RuleExplainer
    from st_f2m_ros.perception.expression_net import ExpressionNet

    return ExpressionNet.load(), RuleExplainer()


def observe(bgr: np.ndarray, front: Any = None) -> Any:
    """The front end's fresh look at one image (no tracking, no baseline learning)."""
    return (front or _front_end()).process(np.ascontiguousarray(bgr), track=False, learn=False)


def find_face(photo: np.ndarray, front: Any = None) -> tuple[float, float, float, float]:
    """The face box (x, y, w, h) in `photo`, looked for as a camera would see the photo.

    The photo is placed centred in a 640x480 frame at several sizes (its height 1, 1/4, 1/2
    and 2 times the frame's) until the front end finds a face: BlazeFace sees the whole frame
    at 192x192, so a 25x25 LFW crop or the camera man's small face is found only at some
    sizes. Raises ConfigError when none works.
    """
    front = front or _front_end()
    h, w = photo.shape[:2]
    for frac in (1.0, 0.25, 0.5, 2.0):
        s = frac * FRAME_H / h
        m = np.float32([[s, 0, FRAME_W / 2 - s * w / 2], [0, s, FRAME_H / 2 - s * h / 2]])
        img = cv2.warpAffine(photo, m, (FRAME_W, FRAME_H), flags=cv2.INTER_CUBIC)
        obs = observe(img, front)
        if obs is not None:
            bx, by, bw, bh = obs.box
            return ((bx - m[0, 2]) / s, (by - m[1, 2]) / s, bw / s, bh / s)
    raise ConfigError('no face found in the photo at any size')


def compose_frame(photo: np.ndarray, variant: Variant, front: Any = None) -> np.ndarray:
    """A 640x480 camera frame showing `photo`'s face as `variant` asks.

    The face (found on the photo by the front end) is scaled to `face_px` high and centred a
    little above the frame's middle, on a plain wall of the photo's mean colour.
    """
    front = front or _front_end()
    x, y, w, h = find_face(photo, front)
    scale = variant.face_px / h
    centre = (FRAME_W / 2, FRAME_H * 0.45)
    tx, ty = centre[0] - scale * (x + w / 2), centre[1] - scale * (y + h / 2)
    m = np.float32([[scale, 0, tx], [0, scale, ty]])
    if variant.roll_deg:
        rot = cv2.getRotationMatrix2D(centre, variant.roll_deg, 1.0)
        m = (np.vstack([rot, [0, 0, 1]]) @ np.vstack([m, [0, 0, 1]]))[:2].astype(np.float32)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    frame = cv2.warpAffine(photo.astype(np.float32), m, (FRAME_W, FRAME_H), flags=interp)
    inside = cv2.warpAffine(np.ones(photo.shape[:2], np.float32), m, (FRAME_W, FRAME_H)) > 0.5
    wall = photo.reshape(-1, 3).mean(0).astype(np.float32)
    frame = np.where(inside[:, :, None], frame, wall)
    if variant.mirror:
        frame = frame[:, ::-1]
    out = np.ascontiguousarray(np.clip(frame * variant.brightness, 0, 255).astype(np.uint8))
    if variant.mask:
        draw_mask(out, front)
    return out


def draw_mask(frame: np.ndarray, front: Any = None) -> np.ndarray:
    """Draw a surgical mask over nose and mouth in place (landmarks of the unmasked face)."""
    obs = observe(frame, front)
    if obs is None:
        raise ConfigError('no face found to put a mask on')
    poly = np.round(obs.landmarks[list(MASK_OUTLINE), :2]).astype(np.int32)
    cv2.fillPoly(frame, [poly], MASK_BGR, cv2.LINE_AA)
    x0, y0 = poly.min(0)
    x1, y1 = poly.max(0)
    for k in (1, 2, 3):  # pleats, as the synthetic mask has
        yy = int(y0 + (y1 - y0) * (0.3 + 0.15 * k))
        cv2.line(frame, (int(x0), yy), (int(x1), yy), (200, 180, 150), 1, cv2.LINE_AA)
    return frame


def write_still_bag(
    path: str | Path, frame: np.ndarray, seconds: float = 8.0, fps: float = 15.0,
    text: str = '', text_at: float = 1.5, noise: int = 3, seed: int = 0,
) -> Path:  # fmt: skip
    """A still camera filming `frame`: JPEG CompressedImage at `fps` with sensor noise.

    `text` (if any) is logged as std_msgs/String at `text_at` s, as a speech recogniser
    publishes a final sentence. Header stamps equal the log times.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer

    from st_f2m_ros.data.bag_messages import MessageFactory
    from st_f2m_ros.data.bag_writer import BAG_VERSION, DEFAULT_START, BagTopics
    from st_f2m_ros.interfaces import typestore

    store = typestore('humble')
    factory = MessageFactory(store)
    topics = BagTopics()
    rng = np.random.default_rng(seed)
    ctype, stype = 'sensor_msgs/msg/CompressedImage', 'std_msgs/msg/String'
    path = Path(path)
    with Writer(path, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP) as writer:
        cam = writer.add_connection(topics.compressed, ctype, typestore=store)
        speech = writer.add_connection(topics.transcript, stype, typestore=store) if text else None
        said = False
        for i in range(round(seconds * fps)):
            t = DEFAULT_START + i / fps
            if speech is not None and not said and i / fps >= text_at:
                msg = factory.string(text)
                writer.write(speech, round(t * 1e9) - 1000, store.serialize_cdr(msg, stype))
                said = True
            jitter = rng.integers(-noise, noise + 1, frame.shape, dtype=np.int16)
            noisy = np.clip(frame.astype(np.int16) + jitter, 0, 255).astype(np.uint8)
            msg = factory.compressed(t, noisy)
            writer.write(cam, round(t * 1e9), store.serialize_cdr(msg, ctype))
    return path


def emotion_probs(class_probs: np.ndarray) -> dict[str, float]:
    """Basic-emotion probabilities (neutral + 6) summed over the fine classes."""
    return dict(zip((NEUTRAL, *EMOTIONS), map(float, basic_probs(class_probs))))


@dataclass
class ReplayOutcome:
    """What one replay of a still bag produced (the newest state of every published result)."""

    detector: str
    model_id: str
    frames: int
    found: float  # share of frames with a face
    windows: int = 0
    labels: Counter[str] = field(default_factory=Counter)  # emotion or status per result
    probs: list[dict[str, float]] = field(default_factory=list)  # decided windows only
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def decision(self) -> str:
        """The most frequent state over the bag ('' when nothing was published)."""
        return self.labels.most_common(1)[0][0] if self.labels else ''

    @property
    def share(self) -> float:
        """Share of the published states that are `decision`."""
        return self.labels[self.decision] / self.windows if self.windows else 0.0

    def mean_prob(self, emotion: str) -> float:
        """Mean probability of `emotion` over the states that carry probabilities."""
        return float(np.mean([p[emotion] for p in self.probs])) if self.probs else 0.0


@dataclass
class WindowTrace:
    """What the model itself said on each classified window, before the post-processor.

    `feats` [T, R, D]: the window's cached frame features; with the FER backbone the last 7
    channels are the expression net's probabilities. `probs` [C]: the head's softmax.
    """

    feats: np.ndarray
    probs: np.ndarray
    text: bool


class TracingRecognizer:
    """A recognizer that records every window it classifies (`trace`); else the same one."""

    def __init__(self, recognizer: Any) -> None:
        self._rec = recognizer
        self.trace: list[WindowTrace] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rec, name)

    def classify(self, frame_feats: Any, text_emb: Any, vision_mask: Any, text_mask: Any) -> Any:
        """The wrapped recognizer's classify; each window's features and probabilities kept."""
        scores, model_id = self._rec.classify(frame_feats, text_emb, vision_mask, text_mask)
        for i in range(len(frame_feats)):
            self.trace.append(WindowTrace(
                np.array(frame_feats[i]), np.array(scores.probs[i]), bool(text_mask[i] > 0),
            ))  # fmt: skip
        return scores, model_id


def replay_still(
    bag: str | Path, recognizer: Any, values: Mapping[str, Any] | None = None,
    skip_first: float = 1.0,
) -> ReplayOutcome:  # fmt: skip
    """Replay `bag` through a fresh pipeline with the node's parameters (`values` override).

    States published in the first `skip_first` s (the first window filling) are not counted.
    A `TracingRecognizer` keeps the raw window outputs for a diagnosis.
    """
    from st_f2m_ros.runtime.pipeline.pipeline import PerceptionPipeline
    from st_f2m_ros.runtime.pipeline.results import STATUS_NAMES, STATUS_OK
    from st_f2m_ros.runtime.replay import replay_bag
    from st_f2m_ros.runtime.session import pipeline_config

    params = dict(values or {})
    pipe = PerceptionPipeline(recognizer, pipeline_config(params, 'evidence'))
    pipe.log_skips = False
    states: list[Any] = []
    first: list[float] = []

    def keep(result: Any) -> None:
        first.append(result.stamp) if not first else None
        if result.current is not None and result.stamp - first[0] >= skip_first:
            states.append(result.current)

    summary = replay_bag(pipe, bag, on_result=keep)
    out = ReplayOutcome(
        detector=pipe.tracker.active if hasattr(pipe, 'tracker') else '',
        model_id=recognizer.model_id,
        frames=summary.frames,
        found=float(summary.stats.get('face_found_rate_total', 0.0)),
    )
    for s in states:
        out.windows += 1
        out.labels[s.emotion_label if s.status == STATUS_OK else STATUS_NAMES[s.status]] += 1
        if s.reason:
            out.reasons[s.reason] += 1
        if float(np.sum(s.class_probabilities)) > 0:
            out.probs.append(emotion_probs(s.class_probabilities))
    return out


@dataclass(frozen=True)
class Reading:
    """The independent reading of one frame: expression net top-1 and the fuzzy rules."""

    found: bool
    expression: str = ''
    expression_prob: float = 0.0
    rules: str = ''
    yaw: float = 0.0
    face_px: float = 0.0


def read_frame(frame: np.ndarray) -> Reading:
    """Expression net and rule decision on the front end's measurement of one frame."""
    obs = observe(frame)
    if obs is None:
        return Reading(False)
    net, explainer = _readers()
    probs = net.predict(obs.crop[None])[0]
    top = int(np.argmax(probs))
    rules = explainer.explain(obs.components, obs.reliable)
    return Reading(
        True, net.labels[top], float(probs[top]), CLASS_LABELS[rules['decision']],
        float(obs.pose.yaw), float(max(obs.box[2:])),
    )  # fmt: skip


def basic_probs(class_probs: np.ndarray) -> np.ndarray:
    """[..., 7] basic-emotion probabilities (taxonomy order: neutral, then EMOTIONS)."""
    p = np.asarray(class_probs)
    return np.stack([p[..., 0]] + [
        p[..., [i for i, lab in enumerate(CLASS_LABELS) if lab.startswith(e)]].sum(-1)
        for e in EMOTIONS
    ], -1)  # fmt: skip


def feature_ablation(
    model: Any, feats: np.ndarray, fer_probs: np.ndarray | None = None,
    projected: np.ndarray | None = None, text: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """Mean basic-emotion probabilities [7] of windows `feats` [B, T, R, D] after replacing
    the FER-backbone features' last 7 channels (the expression net's probabilities) by
    `fer_probs` [7] and/or the projected embedding channels before them by `projected`
    [R, D - 7]: which part of the per-frame feature carries the model's decision. `text`
    [text_dim]: a sentence embedding heard in every window (None: vision only).
    """
    import torch

    from st_f2m_ros.model.fer_backbone import NUM_PROBS

    f = torch.as_tensor(np.array(feats, dtype=np.float32))
    k = f.shape[-1] - NUM_PROBS
    if fer_probs is not None:
        f[..., k:] = torch.as_tensor(np.asarray(fer_probs, np.float32))
    if projected is not None:
        f[..., :k] = torch.as_tensor(np.asarray(projected, np.float32))
    n = len(f)
    with torch.inference_mode():
        emb = torch.zeros(n, model.config.text_dim)
        if text is not None:
            emb[:] = torch.as_tensor(np.asarray(text, np.float32))
        out = model.classify(f, emb, torch.ones(n), torch.full((n,), float(text is not None)))
    return basic_probs(out.probs.mean(0).numpy())
