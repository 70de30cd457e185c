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
"""`st-f2m explain` on a still image or a rosbag2: faces in, PNG + JSON per face out.

A still image is measured face by face from scratch (no tracking, no neutral of the person:
components are read against the canonical neutral face). A bag is read like the node reads
a camera: every frame goes through the front end, so the mesh is tracked and the person's
neutral is learnt online from calm stretches, and one frame per `every` seconds is
explained. The model's decision comes from the real pipeline (`explain_model`). The front
end and the expression net are loaded before the checkpoint, so that missing model files
fail in a second with the install command rather than after the model has loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from pathlib import Path
import time
from typing import Any

import numpy as np

from st_f2m_ros.errors import ConfigError, DataError, PerceptionError
from st_f2m_ros.evaluation.explain import TOP_RULES, FaceExplanation, RuleExplainer
from st_f2m_ros.taxonomy import CLASS_LABELS

BAG_SUFFIXES = ('.mcap', '.db3', '.bag')
IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
_TIME_TOL = 1e-3  # seconds: a frame this close to the next sampling time is taken


@dataclass(frozen=True)
class ExplainOptions:
    """What `st-f2m explain` was asked for (see its --help)."""

    out: Path
    max_frames: int = 20
    every: float = 1.0
    topic: str | None = None
    checkpoint: str | None = None
    use_model: bool = True
    models_dir: str | None = None
    top_rules: int = TOP_RULES

    def validate(self) -> None:
        if self.max_frames < 1:
            raise ConfigError(f'--max-frames must be >= 1, got {self.max_frames}')
        if not self.every > 0:
            raise ConfigError(f'--every must be > 0 seconds, got {self.every}')


def input_kind(path: Path) -> str:
    """'bag' for a rosbag2 folder or a .mcap/.db3/.bag file, else 'image'."""
    if not path.exists():
        raise DataError(f'{path} not found: the path does not exist')
    return 'bag' if path.is_dir() or path.suffix.lower() in BAG_SUFFIXES else 'image'


def read_image(path: Path) -> np.ndarray:
    """uint8 BGR [H, W, 3] of an image file (any format OpenCV decodes)."""
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise DataError(
            f'cannot read {path} as an image: OpenCV could not decode it (png, jpg, bmp, tiff '
            'are read; a bag is a rosbag2 folder or a .mcap / .db3 file)'
        )
    return np.ascontiguousarray(bgr)


def _iou(a: Any, b: Any) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


class _OneDetection:
    """Stands in for the detector so that the front end measures one given face."""

    def __init__(self, detection: Any) -> None:
        self.detection = detection

    def detect(self, bgr: np.ndarray) -> list[Any]:
        return [self.detection]


class Explainer:
    """Front end + expression net + rules (+ the model), and the figures they make."""

    def __init__(self, options: ExplainOptions) -> None:
        from st_f2m_ros.perception.expression_net import ExpressionNet
        from st_f2m_ros.perception.face_frontend import FaceFrontEnd, FrontEndConfig

        options.validate()
        self.options = options
        t0 = time.perf_counter()
        self.frontend = FaceFrontEnd(FrontEndConfig(models_dir=options.models_dir))
        self.net = ExpressionNet.load(models_dir=options.models_dir)
        self.rules = RuleExplainer()
        self.timings_s = {'load_face_models': time.perf_counter() - t0}
        self.runner: Any = None
        if options.use_model:
            from st_f2m_ros.evaluation.explain_model import ModelRunner

            t1 = time.perf_counter()
            self.runner = ModelRunner(options.checkpoint)
            self.timings_s['load_model'] = time.perf_counter() - t1

    # -- one face ------------------------------------------------------------------------
    def analyse(self, fx: FaceExplanation) -> FaceExplanation:
        """Fill in the expression net's and the rules' part of a found face."""
        fx.rule_threshold = self.rules.threshold
        fx.num_rules = len(self.rules.classes)
        if fx.obs is None:
            return fx
        fx.timings_ms['frontend'] = float(fx.obs.timings_ms.get('total', 0.0))
        t0 = time.perf_counter()
        fx.expression = self.net.predict(fx.obs.crop[None])[0]
        fx.expression_labels = tuple(self.net.labels)
        t1 = time.perf_counter()
        r = self.rules.explain(fx.obs.components, fx.obs.reliable, self.options.top_rules)
        fx.rules = r['rules']
        fx.class_strengths = r['class_strengths']
        fx.rule_class = CLASS_LABELS[r['decision']]
        fx.rule_class_all = CLASS_LABELS[r['all_measured']]
        t2 = time.perf_counter()
        fx.timings_ms['expression'] = (t1 - t0) * 1e3
        fx.timings_ms['rules'] = (t2 - t1) * 1e3
        return fx

    # -- inputs --------------------------------------------------------------------------
    def faces_in_image(self, bgr: np.ndarray) -> list[Any]:
        """Observations of every face the detector finds, largest first, one per person."""
        fe = self.frontend
        dets = sorted(fe.detector.detect(bgr), key=lambda d: -d.box[2] * d.box[3])
        detector, found = fe.detector, []
        try:
            for det in dets:
                fe.detector = _OneDetection(det)
                obs = fe.process(bgr, track=False, learn=False)
                if obs is not None and all(_iou(obs.box, o.box) < 0.5 for o in found):
                    found.append(obs)
                if len(found) >= self.options.max_frames:
                    break
        finally:
            fe.detector = detector
        return found

    def image(self, path: Path) -> list[FaceExplanation]:
        bgr = read_image(path)
        self.frontend.reset()
        faces = self.faces_in_image(bgr)
        out = [FaceExplanation(path.name, 'image', i, bgr, obs=o) for i, o in enumerate(faces)]
        if not out:
            out = [FaceExplanation(path.name, 'image', 0, bgr)]
        for fx in out:
            self.analyse(fx)
        if self.runner is None:
            return out
        t0 = time.perf_counter()
        decision = self.runner.still(bgr)
        self.timings_s['model'] = time.perf_counter() - t0
        if decision is None:
            for fx in out:
                fx.model_note = 'no window completed on copies of this image'
            return out
        owner = out[0]
        if decision.face_box is not None and faces:
            best = max(out, key=lambda fx: _iou(fx.obs.box, decision.face_box))
            owner = best if _iou(best.obs.box, decision.face_box) >= 0.3 else owner
        for fx in out:
            fx.model = decision if fx is owner else None
            if fx is not owner:
                fx.model_note = "the model's pipeline followed another face"
        return out

    def bag(self, path: Path) -> list[FaceExplanation]:
        from st_f2m_ros.data.bag_reader import BagReader
        from st_f2m_ros.perception.image_convert import msg_to_bgr

        o = self.options
        stem = path.name if path.is_dir() else path.stem
        samples: list[FaceExplanation] = []
        undecodable = 0
        self.frontend.reset()
        with BagReader(path) as reader:
            topic = reader.find_topic(IMAGE_TYPES, o.topic)
            first = last = next_due = None
            for m in reader.images(topic):
                if len(samples) >= o.max_frames:
                    break
                try:
                    bgr = msg_to_bgr(m.msg)
                except PerceptionError:
                    undecodable += 1
                    continue
                t = float(m.stamp)
                if first is None:
                    first = next_due = t
                elif t < last - _TIME_TOL:
                    next_due = t  # the camera's clock went back (restart, looped bag)
                last = t
                obs = self.frontend.process(bgr, track=True, learn=True)
                if t >= next_due - _TIME_TOL:
                    fx = FaceExplanation(stem, 'bag', len(samples), bgr, t, t - first, obs)
                    samples.append(self.analyse(fx))
                    next_due = t + o.every
        if not samples:
            why = f' ({undecodable} could not be decoded)' if undecodable else ''
            raise DataError(f'{path}: no usable image on topic {topic}{why}')
        if self.runner is not None:
            t0 = time.perf_counter()
            decisions = self.runner.bag(path, topic, [fx.stamp for fx in samples])
            self.timings_s['model'] = time.perf_counter() - t0
            secs = self.runner.window_seconds
            for fx, d in zip(samples, decisions):
                fx.model = d
                if d is None:
                    fx.model_note = f'no window yet (a window needs {secs:.1f} s of frames)'
        return samples

    # -- everything ----------------------------------------------------------------------
    def run(self, path: str | Path) -> list[FaceExplanation]:
        """Explain every face of an image or every sampled frame of a bag; write PNG + JSON."""
        from st_f2m_ros.evaluation.explain_figure import render

        path = Path(path)
        kind = input_kind(path)
        faces = self.bag(path) if kind == 'bag' else self.image(path)
        out = Path(self.options.out)
        out.mkdir(parents=True, exist_ok=True)
        model_id = self.runner.backend.model_id if self.runner is not None else ''
        for fx in faces:
            if self.runner is None:
                fx.model_note = 'not run: --no-model'
            png = out / f'{fx.name}.png'
            fx.png = str(png)
            t0 = time.perf_counter()
            render(fx, png, occlusion_points=self.frontend.cset.occlusion, model_id=model_id)
            fx.timings_ms['figure'] = (time.perf_counter() - t0) * 1e3
            (out / f'{fx.name}.json').write_text(json.dumps(fx.to_json(), indent=2) + '\n')
        return faces
