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
"""The people of an experiment run, rendered once and encoded once into cached frame features.

Every method of every experiment trains and is scored on these features: the frozen per-frame
encoder (the FER mini-Xception and the region projection of a shipped checkpoint) is the only
part that reads pixels, so a person's frames are encoded once per condition and cached as a
safetensors file (atomic write, no pickle). Clips are kept without their crops (1x1 stand-ins:
the features replace them), with labels, times, components and transcripts, so the trainer's
`FeatureBank` and /adapt's `meta.adapt.adapt` run on them unchanged.

People: training `s000`.. (seed 0, the shipped model's draw), meta-training `m000`.. (seed
2000, seen by no earlier stage), test `u000`.. (seed 1000, as the session benchmark). A test
person has a session (query) clip and a separate support recording: every class once per
round, 1-2 s a clip, `shots` rounds (the recording /adapt gets, evaluation/support_recording).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
import hashlib
import json
from pathlib import Path
import time
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file
import torch

from st_f2m_ros.data.clip import Clip, Utterance
from st_f2m_ros.data.io_utils import atomic_path
from st_f2m_ros.errors import DataError
from st_f2m_ros.evaluation.support_recording import support_order
from st_f2m_ros.meta.maml import WindowBatch
from st_f2m_ros.meta.windows import FeatureBank, encode_clip_frames
from st_f2m_ros.model.stf2m import STF2MModel

TRAIN_SEED, TEST_SEED, META_SEED = 0, 1000, 2000
SUPPORT_CLIP_SECONDS = (1.0, 2.0)
CACHE_VERSION = 1


@dataclass
class FeatureSet:
    """Light clips (no crops) and their cached frame features [T, R, D], clip by clip."""

    clips: list[Clip]
    features: list[torch.Tensor]

    def __post_init__(self) -> None:
        if len(self.clips) != len(self.features):
            raise DataError(f'{len(self.clips)} clips but {len(self.features)} feature arrays')

    @property
    def subjects(self) -> list[str]:
        """Person ids in clip order, each once."""
        return list(dict.fromkeys(c.subject for c in self.clips))

    def only(self, subjects: set[str] | list[str]) -> FeatureSet:
        """The clips of these people."""
        keep = [i for i, c in enumerate(self.clips) if c.subject in set(subjects)]
        return FeatureSet([self.clips[i] for i in keep], [self.features[i] for i in keep])

    def bank(self, model: STF2MModel) -> FeatureBank:
        """The trainer's window bank over these clips, for `model`'s window and text encoder."""
        cfg = model.config
        text = model.text_encoder.encode if model.text_usable else None
        return FeatureBank(
            self.clips, self.features, text, cfg.window, cfg.feature_rate, cfg.text_dim
        )


class MemoText:
    """A sentence encoder that embeds each distinct sentence once (shared by every model of a
    run: the transcripts repeat across methods, seeds and conditions)."""

    def __init__(self, encoder: Any) -> None:
        self.encoder, self.name = encoder, encoder.name
        self._memo: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str]) -> np.ndarray:
        """[len(texts), dim] float32 embeddings, as the wrapped encoder gives them."""
        todo = sorted({t for t in texts if t not in self._memo})
        if todo:
            self._memo.update(zip(todo, np.asarray(self.encoder.encode(todo), np.float32)))
        return np.stack([self._memo[t] for t in texts]) if texts else np.zeros((0, 0), np.float32)


@dataclass(frozen=True)
class TestPerson:
    """One test person under one condition: session (query) and support recording."""

    subject: str
    query: FeatureSet
    support: FeatureSet


def light_clip(clip: Clip) -> Clip:
    """The clip with 1x1 black crops: everything but the pixels (features stand for them)."""
    blank = np.zeros((len(clip), 1, 1, 3), dtype=np.uint8)
    return replace(clip, crops=blank, measured=None, measured_ok=None)


def synthetic_config(fps: float, corruption: str = '') -> Any:
    """The camera of every experiment clip: the generator's realism at the feature rate."""
    from st_f2m_ros.data.synthetic.corruptions import parse_corruptions
    from st_f2m_ros.data.synthetic.generator import SyntheticConfig

    return SyntheticConfig(fps=fps, corruptions=parse_corruptions(corruption))


def _render(job: tuple) -> Clip:
    """One clip (worker process): session (classes None) or support recording (classes set)."""
    from st_f2m_ros.data.synthetic.generator import SyntheticSession, face_stage
    from st_f2m_ros.data.synthetic.subjects import make_subject
    from st_f2m_ros.evaluation.support_recording import support_session

    sid, seed, cfg, clip_index, classes, crop, seconds, face = job
    stage = face_stage(face)
    if classes is None:
        session = SyntheticSession(make_subject(sid, seed), replace(cfg, duration=seconds), seed,
                                   clip_index)  # fmt: skip
        return session.to_clip(crop, front_end=stage)
    session = support_session(sid, seed, cfg, classes, SUPPORT_CLIP_SECONDS)
    end = session.script.segments[len(classes) - 1].end
    clip = session.to_clip(crop, front_end=stage)
    n = int(np.searchsorted(clip.times - clip.times[0], end))
    measured = (clip.measured[:n], clip.measured_ok[:n]) if clip.measured is not None else None
    return Clip(
        clip.subject, clip.crops[:n], clip.times[:n], clip.labels[:n], clip.components[:n],
        clip.face_found[:n], *(measured or (None, None)), source=clip.source + ':support',
        utterances=[u for u in clip.utterances if u.start < clip.times[n - 1]],
    )  # fmt: skip


class FeatureStore:
    """Renders, encodes and caches feature sets under `root` with one frozen encoder."""

    def __init__(self, encoder: STF2MModel, root: Path, workers: int = 1, log: Any = print):
        self.encoder, self.root, self.workers, self.log = encoder, Path(root), workers, log
        self.encoder.eval()
        # An encoder that reads measured components gets every frame through the runtime face
        # stage (the real-face front end), as /adapt and the node do; others the generator's box.
        self.face = None
        if encoder.config.component_input:
            from st_f2m_ros.meta.train_setup import training_face_config

            self.face = training_face_config()
        self.fps = encoder.config.feature_rate
        self.crop = encoder.config.crop_size

    # -- the people of a run ------------------------------------------------------------
    def train_set(self, n: int, seconds: float) -> FeatureSet:
        """Training people s000.. (seed 0), one clip each."""
        ids = [f's{i:03d}' for i in range(n)]
        jobs = [(s, TRAIN_SEED, synthetic_config(self.fps), 0, None, self.crop, seconds,
                 self.face) for s in ids]  # fmt: skip
        return self._cached('train', jobs)

    def meta_set(self, n: int, seconds: float) -> FeatureSet:
        """Meta-training people m000.. (seed 2000), whom no other stage sees."""
        ids = [f'm{i:03d}' for i in range(n)]
        jobs = [(s, META_SEED, synthetic_config(self.fps), 0, None, self.crop, seconds,
                 self.face) for s in ids]  # fmt: skip
        return self._cached('meta', jobs)

    def test_people(
        self, n: int, seconds: float, shots: int, corruption: str = ''
    ) -> list[TestPerson]:
        """Test people u000.. (seed 1000) under `corruption` (e.g. 'fog:0.3'; '' clean)."""
        cfg = synthetic_config(self.fps, corruption)
        ids = [f'u{i:03d}' for i in range(n)]
        jobs = []
        for s in ids:
            jobs.append((s, TEST_SEED, cfg, 0, None, self.crop, seconds, self.face))
            order = support_order(s, TEST_SEED, shots)
            jobs.append((s, TEST_SEED, cfg, 1, order, self.crop, seconds, self.face))
        fs = self._cached(f'test[{corruption or "clean"}]', jobs)
        return [
            TestPerson(s, FeatureSet([fs.clips[2 * i]], [fs.features[2 * i]]),
                       FeatureSet([fs.clips[2 * i + 1]], [fs.features[2 * i + 1]]))
            for i, s in enumerate(ids)
        ]  # fmt: skip

    # -- rendering, encoding, cache -------------------------------------------------------
    def _key(self, what: str, jobs: list[tuple]) -> str:
        desc = {
            'v': CACHE_VERSION,
            'what': what,
            'encoder': self.encoder.model_id,
            'jobs': [
                [sid, seed, json.dumps(cfg.to_dict(), sort_keys=True), k, cls, crop, sec]
                + ([repr(face)] if face is not None else [])  # front end: its settings
                for sid, seed, cfg, k, cls, crop, sec, face in jobs
            ],
        }
        digest = hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:16]
        return f'{what.split("[")[0]}-{digest}'

    def _cached(self, what: str, jobs: list[tuple]) -> FeatureSet:
        path = self.root / f'{self._key(what, jobs)}.safetensors'
        if path.is_file():
            return read_feature_set(path)
        t0 = time.perf_counter()
        clips = self._render_all(jobs)
        feats = [self._encode(c) for c in clips]
        fs = FeatureSet([light_clip(c) for c in clips], feats)
        write_feature_set(path, fs)
        frames = sum(len(c) for c in clips)
        self.log(f'  {what}: {len(clips)} clips, {frames} frames rendered and encoded in '
                 f'{time.perf_counter() - t0:.0f} s -> {path.name}')  # fmt: skip
        return fs

    def _render_all(self, jobs: list[tuple]) -> list[Clip]:
        if self.workers <= 1 or len(jobs) <= 1:
            return [_render(j) for j in jobs]
        with ProcessPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(_render, jobs))

    def _encode(self, clip: Clip) -> torch.Tensor:
        parts = []
        with torch.inference_mode():
            for i in range(0, len(clip), 256):
                parts.append(encode_clip_frames(self.encoder.encode_frames, clip,
                                                slice(i, i + 256)).float())  # fmt: skip
        return torch.cat(parts)


def write_feature_set(path: Path, fs: FeatureSet) -> None:
    """One safetensors file: per clip its features and arrays; ids and transcripts as JSON."""
    arrays: dict[str, np.ndarray] = {}
    meta = []
    for i, (c, f) in enumerate(zip(fs.clips, fs.features)):
        arrays[f'feat{i}'] = f.numpy().astype(np.float32)
        arrays[f'times{i}'] = c.times.astype(np.float64)
        arrays[f'labels{i}'] = c.labels.astype(np.int64)
        arrays[f'face{i}'] = np.asarray(c.face_found, dtype=np.uint8)
        if c.components is not None:
            arrays[f'comp{i}'] = c.components.astype(np.float32)
        meta.append({'subject': c.subject, 'source': c.source,
                     'utterances': [[u.start, u.end, u.text] for u in c.utterances]})  # fmt: skip
    with atomic_path(path) as tmp:
        save_file(arrays, str(tmp), metadata={'clips': json.dumps(meta)})


def read_feature_set(path: Path) -> FeatureSet:
    """Inverse of `write_feature_set`; DataError naming the file when it is not one."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework='numpy') as f:
            meta = json.loads((f.metadata() or {})['clips'])
        arrays = load_file(str(path))
    except (OSError, KeyError, ValueError, SafetensorError) as err:
        raise DataError(f'{path} is not a feature cache of st-f2m experiment ({err}); delete '
                        'it to recompute') from err  # fmt: skip
    clips, feats = [], []
    for i, m in enumerate(meta):
        n = len(arrays[f'times{i}'])
        clips.append(Clip(
            m['subject'], np.zeros((n, 1, 1, 3), np.uint8), arrays[f'times{i}'],
            arrays[f'labels{i}'], arrays.get(f'comp{i}'), arrays[f'face{i}'].astype(bool),
            utterances=[Utterance(float(a), float(b), str(t)) for a, b, t in m['utterances']],
            source=m['source'],
        ))  # fmt: skip
        feats.append(torch.from_numpy(arrays[f'feat{i}']))
    return FeatureSet(clips, feats)


def sliding_batch(fs: FeatureSet, model: STF2MModel) -> WindowBatch:
    """A window ending at every labelled frame, labelled by that frame: what the node publishes.

    The segment protocol (one centred window per labelled segment) asks what the classifier
    can read; this one asks what a decision stamped at the end of its window gets right,
    including the first second of every new expression, where the window still shows the
    previous one. Clips are at the model's feature rate, so a window is T consecutive frames.
    """
    cfg = model.config
    t_len, rate = cfg.window, cfg.feature_rate
    feats, texts, vm, labels = [], [], [], []
    for clip, f in zip(fs.clips, fs.features):
        for t in range(t_len - 1, len(clip)):
            if clip.labels[t] < 0:
                continue
            idx = np.arange(t - t_len + 1, t + 1)
            w0, w1 = float(clip.times[idx[0]]), float(clip.times[t]) + 1.0 / rate
            feats.append(f[torch.as_tensor(idx)])
            texts.append(clip.text_between(w0, w1))
            vm.append(float(clip.face_seen(idx)))
            labels.append(int(clip.labels[t]))
    n = len(labels)
    text = torch.zeros(n, cfg.text_dim)
    has = [i for i, t in enumerate(texts) if t]
    if has and model.text_usable:
        emb = model.text_encoder.encode([texts[i] for i in has])
        text[torch.as_tensor(has)] = torch.from_numpy(np.asarray(emb, np.float32))
    tm = torch.zeros(n)
    if model.text_usable:
        tm[torch.as_tensor(has, dtype=torch.int64)] = 1.0
    shape = (0, t_len, *model.feature_shape)
    return WindowBatch(
        torch.stack(feats) if feats else torch.zeros(shape), text,
        torch.tensor(vm, dtype=torch.float32), tm, torch.tensor(labels, dtype=torch.int64),
    )  # fmt: skip


def speed_altered(fs: FeatureSet, lo: float, hi: float, seed: int) -> FeatureSet:
    """Ablation group C: each clip played at a random speed in [lo, hi] (log-uniform).

    The person's expressions run faster or slower while the camera keeps its rate: frames are
    re-sampled (nearest) onto the original time grid, labels, components and transcript times
    with them. Only features move, so nothing is re-encoded.
    """
    rng = np.random.default_rng([seed, 31])
    clips, feats = [], []
    for clip, f in zip(fs.clips, fs.features):
        speed = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        t0 = float(clip.times[0])
        rel = clip.times - t0
        dt = float(np.median(np.diff(rel))) if len(rel) > 1 else 1.0
        n = max(2, int(np.floor(rel[-1] / speed / dt)) + 1)
        new_rel = np.arange(n) * dt
        src = np.clip(np.searchsorted(rel, new_rel * speed), 0, len(rel) - 1)
        comps = clip.components[src] if clip.components is not None else None
        face = clip.face_found[src] if clip.face_found is not None else None
        utts = [Utterance(t0 + (u.start - t0) / speed, t0 + (u.end - t0) / speed, u.text)
                for u in clip.utterances]  # fmt: skip
        clips.append(
            Clip(
                clip.subject,
                clip.crops[src],
                t0 + new_rel,
                clip.labels[src],
                comps,
                face,
                utterances=utts,
                source=f'{clip.source}:speed={speed:.2f}',
            )
        )
        feats.append(f[torch.as_tensor(src)])
    return FeatureSet(clips, feats)
