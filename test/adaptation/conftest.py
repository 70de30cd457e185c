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
"""A small real model for the adaptation tests: colour features, a linear head, SGD adaptation.

The manager is model-agnostic (it calls `adapt_fn(clips, steps)` and the recognizer's
`set_adaptation` / `reset`), so these tests use a tiny but real torch model whose inner loop
runs real gradient steps; the ST-F2M model plugs in the same way (see test_real_model.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import threading
import time
from typing import Any

import numpy as np
import pytest
import torch

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.interfaces import typestore
from st_f2m_ros.runtime.adaptation.clip_sources import ClipLimits
from st_f2m_ros.runtime.adaptation.manager import (
    AdaptationManager,
    AdaptationSettings,
    AdaptRequest,
    InlineClip,
)
from st_f2m_ros.runtime.adaptation.store import AdaptationStore
from st_f2m_ros.runtime.inference.recognizer import Recognizer
from st_f2m_ros.runtime.messages import convert as m
from st_f2m_ros.runtime.messages.inputs import RawImage
from st_f2m_ros.taxonomy import NUM_CLASSES, class_id_from_label

CROP = 16
# Each support class has its own colour, so a head can learn it from a few frames.
COLOURS = {
    'happiness_high': (20, 200, 40),
    'anger_high': (30, 30, 220),
    'neutral': (128, 128, 128),
}


def features(crops: np.ndarray) -> torch.Tensor:
    """Mean BGR of each crop, scaled to [0, 1], plus a bias feature."""
    x = torch.as_tensor(crops, dtype=torch.float32).mean(dim=(1, 2)) / 255.0
    return torch.cat([x, torch.ones(x.shape[0], 1)], dim=1)


@dataclass
class TinyAdaptation:
    params: dict[str, torch.Tensor]
    support_acc_before: float
    support_acc_after: float
    duration: float


class TinyBackend:
    """Only what the real Recognizer reads of a backend for its head bookkeeping."""

    model_id = 'tiny'


class TinyRecognizer(Recognizer):
    """The real Recognizer (same set_adaptation / reset / model_id) with a colour head.

    A subclass, not a look-alike: a double that reimplements the head bookkeeping hid that
    `activate` of a person without an adaptation left the previous person's head serving.
    """

    def __init__(self) -> None:
        super().__init__(TinyBackend())  # type: ignore[arg-type]
        g = torch.Generator().manual_seed(0)
        self.base = {'head.weight': torch.randn(NUM_CLASSES, 4, generator=g) * 0.01}
        self.calls = 0

    def params(self) -> dict[str, torch.Tensor]:
        return self.state.params or self.base

    def classify_crops(self, crops: np.ndarray) -> np.ndarray:
        p = self.params()  # one read: a window sees the old or the new head, never a mix
        with torch.no_grad():
            out = features(crops) @ p['head.weight'].T
        self.calls += 1
        return out.argmax(dim=1).numpy()


def make_adapt_fn(recognizer: TinyRecognizer, lr: float = 2.0):
    def adapt_fn(clips: list[Clip], steps: int) -> TinyAdaptation:
        t0 = time.perf_counter()
        crops = np.concatenate([c.crops for c in clips])
        labels = torch.as_tensor(np.concatenate([c.labels for c in clips]))
        x = features(crops)
        w = recognizer.base['head.weight'].clone().requires_grad_(True)

        def acc(weight: torch.Tensor) -> float:
            return float(((x @ weight.T).argmax(1) == labels).float().mean())

        before = acc(w.detach())
        for _ in range(steps):
            loss = torch.nn.functional.cross_entropy(x @ w.T, labels)
            (g,) = torch.autograd.grad(loss, w)
            with torch.no_grad():
                w -= lr * g
        return TinyAdaptation(
            {'head.weight': w.detach()}, before, acc(w.detach()), time.perf_counter() - t0
        )

    return adapt_fn


def frame(label: str, size: int = 24, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.empty((size, size, 3), dtype=np.uint8)
    img[:] = COLOURS[label]
    noise = rng.integers(-10, 10, img.shape)
    return np.clip(img.astype(int) + noise, 0, 255).astype(np.uint8)


SUPPORT_LABELS = ('happiness_high', 'anger_high', 'neutral')


def inline_request(subject: str = 'p07', labels=SUPPORT_LABELS, **kw) -> AdaptRequest:
    """An AdaptRequest of inline clips: 4 frames per label, one class colour each."""
    clips = [
        InlineClip(label, [raw_image(frame(label, seed=i), i / 10) for i in range(4)])
        for label in labels
    ]
    return AdaptRequest(subject, clips, **kw)


def raw_image(bgr: np.ndarray, stamp: float) -> RawImage:
    h, w = bgr.shape[:2]
    return RawImage(stamp, h, w, 'bgr8', 0, w * 3, bgr.tobytes())


def write_bag(
    path: Path,
    segments: list[tuple[str, int]],
    with_truth: bool = True,
    fps: float = 10.0,
    storage: str = 'mcap',
) -> Path:
    """A rosbag2 of BGR frames with a ground-truth EmotionSequence per segment."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    store = typestore('humble')
    kit = m.MessageKit.from_typestore(store)
    image_t = store.types['sensor_msgs/msg/Image']
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    t = 100.0
    with Writer(path, version=8, storage_plugin=plugin) as w:
        cam = w.add_connection('/camera/image_raw', image_t.__msgtype__, typestore=store)
        gt = w.add_connection(
            '/emotion/ground_truth', 'st_f2m_ros/msg/EmotionSequence', typestore=store
        )
        for label, n in segments:
            start = t
            for i in range(n):
                bgr = frame(label, seed=i)
                msg = image_t(
                    header=kit.header(t, 'cam'),
                    height=24,
                    width=24,
                    encoding='bgr8',
                    is_bigendian=0,
                    step=72,
                    data=bgr.reshape(-1),
                )
                w.write(cam, int(t * 1e9), store.serialize_cdr(msg, image_t.__msgtype__))
                t += 1.0 / fps
            if with_truth:
                cid = class_id_from_label(label)
                probs = np.eye(NUM_CLASSES, dtype=np.float32)[cid]
                state = m.EmotionStateRecord(
                    start, t - 0.5 / fps, cid, 1.0, probs, np.zeros(12, np.float32)
                )
                seq = m.EmotionSequenceRecord(t, 'p07', 'truth', [state])
                msg = m.sequence_to_msg(kit, seq)
                w.write(
                    gt, int(t * 1e9), store.serialize_cdr(msg, 'st_f2m_ros/msg/EmotionSequence')
                )
    return path


@pytest.fixture
def recognizer() -> TinyRecognizer:
    return TinyRecognizer()


@pytest.fixture
def clip_root(tmp_path: Path) -> Path:
    root = tmp_path / 'clips'
    root.mkdir()
    return root


@pytest.fixture
def make_manager(recognizer: TinyRecognizer, clip_root: Path, tmp_path: Path):
    managers = []

    def build(store: bool = True, **overrides: Any) -> AdaptationManager:
        limits = ClipLimits(roots=(clip_root,), max_file_bytes=overrides.pop('max_bytes', 10**7))
        settings = AdaptationSettings(
            checkpoint_id='tiny',
            crop_size=CROP,
            limits=limits,
            default_inner_steps=50,
            **{'clips_are_crops': True, **overrides},
        )
        st = AdaptationStore(tmp_path / 'store', keep=3) if store else None
        mgr = AdaptationManager(recognizer, make_adapt_fn(recognizer), settings, st)
        managers.append(mgr)
        return mgr

    yield build
    for mgr in managers:
        mgr.close()


@pytest.fixture
def helpers():
    class H:
        pass

    h = H()
    h.frame, h.raw_image, h.write_bag, h.features = frame, raw_image, write_bag, features
    h.request = inline_request
    h.lock = threading.Lock()
    return h


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The tiny model's ops are microseconds: extra intra-op threads only add contention."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
