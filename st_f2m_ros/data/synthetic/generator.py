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
"""A synthetic recording session: script + subject + pose + corruptions -> frames and labels.

`SyntheticSession` decides everything up front from (subject, config, seed, clip index): the
script, per-frame labels, measured components, pose and lighting trajectories and the
transcript. Frames are rendered lazily by `frames()`, so a one-minute 640x480 bag never holds
all its images in memory; `to_clip()` cuts the face crops with `perception.crop.crop_face`
(the same cut as at run time) into a `Clip`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any
import zlib

import cv2
import numpy as np

from st_f2m_ros.data.clip import Clip, Utterance
from st_f2m_ros.data.synthetic.corruptions import (
    Corruption,
    FrameCorrupter,
    format_corruptions,
    mask_text,
    parse_corruptions,
)
from st_f2m_ros.data.synthetic.landmarks import drawn_landmarks, to_pixels
from st_f2m_ros.data.synthetic.measure import measure_components
from st_f2m_ros.data.synthetic.render import (
    Geometry,
    Pose,
    draw_face,
    face_geometry,
    make_background,
)
from st_f2m_ros.data.synthetic.script import Script, ScriptConfig, make_script
from st_f2m_ros.data.synthetic.subjects import Subject, make_subjects
from st_f2m_ros.data.synthetic.transcripts import TranscriptConfig, make_transcript
from st_f2m_ros.errors import ConfigError
from st_f2m_ros.perception.crop import crop_face
from st_f2m_ros.taxonomy import NUM_COMPONENTS

_REF_WIDTH = 640.0


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that shapes a synthetic session except the subject and the seed."""

    fps: float = 30.0
    width: int = 640
    height: int = 480
    duration: float = 10.0
    script: ScriptConfig = field(default_factory=ScriptConfig)
    transcript: TranscriptConfig = field(default_factory=TranscriptConfig)
    # Realism: head roll (degrees), drift (fraction of the frame), scale change (fraction),
    # lighting gain change (fraction), sensor noise (grey levels, std), chance of a blurred
    # stretch per second.
    roll_deg: float = 6.0
    drift: float = 0.04
    scale_change: float = 0.1
    lighting: float = 0.15
    noise: float = 4.0
    blur_rate: float = 0.1
    expression_jitter: float = 0.04  # slow per-AU wander (micro-movements), AU intensity units
    corruptions: tuple[Corruption, ...] = ()

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the bad setting and what is expected."""
        if not 1.0 <= self.fps <= 240.0:
            raise ConfigError(f'fps must be in [1, 240], got {self.fps}')
        if self.width < 64 or self.height < 64:
            raise ConfigError(f'resolution must be at least 64x64, got {self.width}x{self.height}')
        if self.duration <= 0:
            raise ConfigError(f'duration must be > 0 s, got {self.duration}')
        for name in (
            'roll_deg',
            'drift',
            'scale_change',
            'lighting',
            'noise',
            'blur_rate',
            'expression_jitter',
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f'{name} must be >= 0, got {getattr(self, name)}')
        self.script.validate()
        self.transcript.validate()

    @property
    def n_frames(self) -> int:
        return max(1, round(self.duration * self.fps))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON/YAML-able); corruptions as a spec string."""
        d = asdict(self)
        d['corruptions'] = format_corruptions(self.corruptions)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SyntheticConfig:
        """Inverse of `to_dict`; unknown keys raise ConfigError."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(
                f'unknown synthetic config keys {sorted(unknown)}; known: {sorted(known)}'
            )
        d = dict(d)
        try:
            if 'script' in d and isinstance(d['script'], dict):
                d['script'] = ScriptConfig(**d['script'])
            if 'transcript' in d and isinstance(d['transcript'], dict):
                d['transcript'] = TranscriptConfig(**d['transcript'])
        except TypeError as err:
            raise ConfigError(f'bad synthetic config: {err}') from err
        if isinstance(d.get('corruptions'), str):
            d['corruptions'] = parse_corruptions(d['corruptions'])
        return cls(**d)


@dataclass
class SyntheticFrame:
    """One rendered frame with its ground truth."""

    index: int
    time: float
    image: np.ndarray  # uint8 [H, W, 3] BGR
    box: tuple[float, float, float, float]  # face box (x, y, w, h) in pixels
    label: int  # fine-grained class id
    components: np.ndarray  # float32 [12], measured from the drawn face


def _smooth_walk(rng: np.random.Generator, t: np.ndarray, amplitude: float) -> np.ndarray:
    """Sum of three slow sinusoids with random phases: a smooth bounded wander in [-a, a]."""
    out = np.zeros_like(t)
    for period in (rng.uniform(2.0, 4.0), rng.uniform(5.0, 9.0), rng.uniform(11.0, 20.0)):
        out += np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    return amplitude * out / 3.0


class SyntheticSession:
    """One subject recorded for `config.duration` seconds; deterministic by seed.

    Args:
        subject: the person.
        config: session settings.
        seed: dataset seed; together with the subject id and `clip_index` it decides everything.
        clip_index: index of this clip among the subject's clips.
        classes: optional fixed class order for the script (see `script.make_script`).
        start_time: time of the first frame (seconds), e.g. a bag's start stamp.

    """

    def __init__(
        self,
        subject: Subject,
        config: SyntheticConfig | None = None,
        seed: int = 0,
        clip_index: int = 0,
        classes: tuple[int, ...] | None = None,
        start_time: float = 0.0,
    ) -> None:
        self.subject = subject
        self.config = cfg = config or SyntheticConfig()
        self.seed, self.clip_index = seed, clip_index
        ss = np.random.SeedSequence([seed, zlib.crc32(subject.subject_id.encode()), clip_index])
        r_script, r_text, r_pose, r_render, r_corrupt = (
            np.random.default_rng(s) for s in ss.spawn(5)
        )
        n = cfg.n_frames
        self.rel_times = np.arange(n, dtype=np.float64) / cfg.fps
        self.times = start_time + self.rel_times
        self.script: Script = make_script(r_script, cfg.duration, cfg.script, classes)
        self.labels = self.script.labels_at(self.rel_times)
        act = self.script.activation_at(self.rel_times)
        if cfg.expression_jitter > 0:
            wander = np.stack(
                [
                    _smooth_walk(r_script, self.rel_times, cfg.expression_jitter)
                    for _ in range(act.shape[1])
                ],
                axis=1,
            )
            act = np.clip(act + wander, 0.0, 1.0)
        self.activations = act
        targets = subject.expression_components(self.activations)
        self._rest = face_geometry(subject, np.zeros(NUM_COMPONENTS))
        self._geoms = [face_geometry(subject, c) for c in targets]
        self.components = np.stack(
            [measure_components(g, self._rest) for g in self._geoms]
        ).astype(np.float32)
        text_level = next((c.level for c in cfg.corruptions if c.kind == 'text'), 0.0)
        self.utterances = [
            Utterance(
                u.start + start_time, u.end + start_time, mask_text(u.text, text_level, r_text)
            )
            for u in make_transcript(self.script, r_text, cfg.transcript)
        ]
        # Pose, lighting, blur trajectories.
        k = cfg.width / _REF_WIDTH
        t = self.rel_times
        self._cx = subject.center[0] * cfg.width + _smooth_walk(r_pose, t, cfg.drift * cfg.width)
        self._cy = subject.center[1] * cfg.height + _smooth_walk(r_pose, t, cfg.drift * cfg.height)
        self._scale = subject.half_width * k * (1.0 + _smooth_walk(r_pose, t, cfg.scale_change))
        self._roll = np.radians(_smooth_walk(r_pose, t, cfg.roll_deg))
        self._gain = 1.0 + _smooth_walk(r_pose, t, cfg.lighting)
        blur_seconds = r_pose.uniform(size=int(np.ceil(cfg.duration)) + 1) < cfg.blur_rate
        self._blur = blur_seconds[np.floor(t).astype(int)]
        self._background = make_background(subject, cfg.width, cfg.height, r_render)
        self._noise = self._noise_bank(r_render)
        self._corrupter = FrameCorrupter(cfg.corruptions, cfg.width, cfg.height, r_corrupt, n)

    def _noise_bank(self, rng: np.random.Generator) -> list[np.ndarray]:
        """A few noise images, reused in turn: noise without per-frame RNG.

        Stored offset by `_noise_offset` (about four standard deviations) as uint8, so that
        lighting gain and noise are one OpenCV pass per frame (`addWeighted`).
        """
        cfg = self.config
        off = self._noise_offset
        bank = []
        for _ in range(3 if cfg.noise > 0 else 0):
            z = rng.standard_normal((cfg.height, cfg.width, 3), dtype=np.float32) * cfg.noise
            bank.append(np.clip(np.rint(z + off), 0, 255).astype(np.uint8))
        return bank

    @property
    def _noise_offset(self) -> float:
        return float(min(128, int(np.ceil(4.0 * self.config.noise))))

    def __len__(self) -> int:
        return len(self.times)

    def pose(self, i: int) -> Pose:
        """Head pose of frame `i`."""
        return Pose(
            float(self._cx[i]), float(self._cy[i]), float(self._scale[i]), float(self._roll[i])
        )

    def geometry(self, i: int) -> Geometry:
        """Drawn geometry of frame `i` in face units: the truth behind its components."""
        return self._geoms[i]

    def landmarks(self, i: int) -> np.ndarray:
        """Drawn landmarks [L, 2] of frame `i` in image pixels (`landmarks.LANDMARK_NAMES`).

        Where the renderer put them, before corruptions: lens distortion moves the pixels but
        not these points, so score landmark meshes on frames without it.
        """
        return to_pixels(drawn_landmarks(self._geoms[i]), self.pose(i))

    def render(self, i: int) -> SyntheticFrame:
        """Render frame `i` (any order; the result depends only on i)."""
        pose = self.pose(i)
        img = self._background.copy()
        draw_face(img, self.subject, self._geoms[i], pose)
        box = pose.box(self.subject.aspect)
        if self._blur[i]:
            x, y, w, h = (int(v) for v in box)
            x0, y0 = max(x, 0), max(y, 0)
            roi = img[y0 : y + h, x0 : x + w]
            if roi.size:
                img[y0 : y + h, x0 : x + w] = cv2.GaussianBlur(roi, (7, 7), 0)
        g = float(self._gain[i])
        if self._noise:  # exposure and sensor noise in one pass
            noise = self._noise[i % len(self._noise)]
            img = cv2.addWeighted(img, g, noise, 1.0, -self._noise_offset)
        elif abs(g - 1.0) > 1e-3:
            img = cv2.convertScaleAbs(img, alpha=g, beta=0.0)
        img, box = self._corrupter.apply(img, box, i)
        return SyntheticFrame(
            i, float(self.times[i]), img, box, int(self.labels[i]), self.components[i]
        )

    def frames(self) -> Iterator[SyntheticFrame]:
        """Render every frame in time order."""
        for i in range(len(self)):
            yield self.render(i)

    def to_clip(self, crop_size: int = 112, front_end: Any = None) -> Clip:
        """Render and crop every frame into a `Clip`.

        Without `front_end` the crops are cut from the generator's known boxes (face_found all
        True, no `measured`). With one (a `perception.face_stage.FaceStage`, the runtime
        pipeline's face stage) every frame goes through it as at run time: the crop is cut
        from its box by `FaceStage.observe` and `measured` / `measured_ok` are the front end's
        components and the mask the model reads (`FaceObservation.model_reliable`: reliable and
        measured against the person's neutral, learnt online from the first frame,
        `new_person`). A frame it misses keeps the generator's box crop with
        `measured_ok` all False.
        """
        n = len(self)
        crops = np.empty((n, crop_size, crop_size, 3), dtype=np.uint8)
        measured = ok = None
        if front_end is not None:
            front_end.new_person()
            measured = np.zeros((n, NUM_COMPONENTS), dtype=np.float32)
            ok = np.zeros((n, NUM_COMPONENTS), dtype=bool)
        for f in self.frames():
            crop = None
            if front_end is not None:
                obs, crop = front_end.observe(f.time, f.image, crop_size)
                front = obs.frontend
                if front is not None:
                    measured[f.index] = front.components
                    ok[f.index] = front.model_reliable
            crops[f.index] = crop if crop is not None else crop_face(f.image, f.box, crop_size)
        return Clip(
            subject=self.subject.subject_id,
            crops=crops,
            times=self.times.copy(),
            labels=self.labels.astype(np.int64),
            components=self.components.copy(),
            face_found=np.ones(n, dtype=bool),
            measured=measured,
            measured_ok=ok,
            utterances=list(self.utterances),
            source=self.source,
        )

    @property
    def source(self) -> str:
        """Provenance string for error messages and dataset indexes."""
        extra = format_corruptions(self.config.corruptions)
        return f'synthetic:{self.subject.subject_id}:seed={self.seed}:clip={self.clip_index}' + (
            f':{extra}' if extra else ''
        )


def generate_clips(
    n_subjects: int,
    clips_per_subject: int = 1,
    duration: float = 10.0,
    seed: int = 0,
    crop_size: int = 112,
    config: SyntheticConfig | None = None,
    subjects: list[Subject] | None = None,
    front_end: Any = None,
    workers: int = 1,
    progress: Callable[[int, int, int], None] | None = None,
) -> list[Clip]:
    """Generate clips in memory: `clips_per_subject` clips of `duration` s for each subject.

    Subjects are `make_subjects(n_subjects, seed)` unless given. `config.duration` is
    replaced by `duration`. `front_end`: a `perception.face.FaceConfig`; each process then
    builds one `FaceStage` from it and every clip goes through it (`SyntheticSession.to_clip`).
    `workers` > 1 renders in that many processes (same clips, same order);
    `progress(done_clips, total_clips, done_frames)` is called after each clip.
    """
    from dataclasses import replace

    cfg = replace(config or SyntheticConfig(), duration=duration)
    people = subjects if subjects is not None else make_subjects(n_subjects, seed)
    jobs = [
        (s, cfg, seed, k, crop_size, front_end) for s in people for k in range(clips_per_subject)
    ]
    clips: list[Clip] = []
    frames = 0

    def _done(clip: Clip) -> None:
        nonlocal frames
        clips.append(clip)
        frames += len(clip)
        if progress is not None:
            progress(len(clips), len(jobs), frames)

    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            _done(_clip_job(job))
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            for clip in pool.map(_clip_job, jobs):
                _done(clip)
    return clips


_STAGES: dict[Any, Any] = {}  # one face stage per process and FaceConfig


def face_stage(face_config: Any) -> Any:
    """The runtime face stage for a FaceConfig, built once per (worker) process; None: None."""
    if face_config is None:
        return None
    stage = _STAGES.get(face_config)
    if stage is None:
        from st_f2m_ros.perception.face_stage import FaceStage

        cv2.setNumThreads(1)
        stage = _STAGES[face_config] = FaceStage(face_config)
    return stage


def _clip_job(job: tuple) -> Clip:
    subject, cfg, seed, k, crop_size, face_config = job
    stage = face_stage(face_config)
    return SyntheticSession(subject, cfg, seed, k).to_clip(crop_size, front_end=stage)
