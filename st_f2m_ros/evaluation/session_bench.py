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
"""The session benchmark: the project's headline number (issue 10 item 1).

`st-f2m demo` for many people: N synthetic people the model never saw (ids and seed disjoint
from the training draw, checked against the checkpoint's recorded training config), each with
a session bag and a separate support recording. Each session is replayed once through the
perception pipeline the node runs (runtime/replay.py); each support bag goes through the
AdaptationManager exactly as a /adapt request with a file URI and a labels sidecar; the session
is then scored under the base head and under every adapted head
(evaluation/session_trace.py: what the node would publish, without replaying again).

A model whose encoder takes the front end's measured components is replayed once per head
instead, with the neutral face its adaptation handed over (the node's behaviour). Support face
tracking and encoding are memoised exactly across one person's nested support bags
(evaluation/support_memo.py); decoding and everything after the features run per request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
import shutil
import time
from typing import Any

from st_f2m_ros.errors import AdaptationError, ConfigError

Log = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    """What the benchmark records and how (every field is a CLI option)."""

    people: int = 20
    prefix: str = 'u'  # ids u000, u001, ...: training draws s000...
    seed: int = 1000  # the training draw's seed is 0
    session_seconds: float = 30.0
    fps: float = 10.0  # a low-rate robot camera; windows sample 8 Hz anyway
    support_fps: float = 8.0  # /adapt keeps frames on the model's 8 Hz grid anyway
    clip_seconds: tuple[float, float] = (1.0, 1.5)
    shots: tuple[int, ...] = (1, 3, 5)
    noise: float = 0.3  # fraction of support clips labelled wrong in the noisy conditions
    noise_shots: tuple[int, ...] = (5,)  # support sizes that also get a noisy variant
    width: int = 640
    height: int = 480
    model: str = ''  # checkpoint path; '' = the shipped default
    backend: str = 'torch'
    threads: int = 1
    inner_steps: int = 0  # 0 = the node's default_inner_steps
    keep_bags: bool = False
    replay_each: bool = False  # replay the session under every head instead of re-scoring

    def validate(self) -> None:
        """Raise ConfigError naming the bad setting."""
        if self.people < 1 or self.session_seconds < 2 or self.threads < 1:
            raise ConfigError('need people >= 1, session_seconds >= 2 and threads >= 1')
        if not self.shots or min(self.shots) < 1:
            raise ConfigError(f'shots must be positive, got {self.shots}')
        if not 0 <= self.noise < 1:
            raise ConfigError(f'noise must be in [0, 1), got {self.noise}')
        if self.noise > 0 and not set(self.noise_shots) <= set(self.shots):
            raise ConfigError(
                f'noise_shots {self.noise_shots} must be among shots {self.shots} '
                '(or pass noise 0)'
            )
        if self.inner_steps < 0:
            raise ConfigError('inner_steps must be >= 0')

    @property
    def variants(self) -> list[tuple[int, float]]:
        """(shots, label noise) of every adapted condition, in report order."""
        out = [(k, 0.0) for k in sorted(self.shots)]
        if self.noise > 0:
            out += [(k, self.noise) for k in sorted(self.noise_shots)]
        return out

    @property
    def conditions(self) -> list[str]:
        """Names of the adapted conditions, e.g. 'k3' and 'k5_noise30'."""
        return [condition_name(k, x) for k, x in self.variants]


def condition_name(shots: int, noise: float) -> str:
    """'k5' for clean labels, 'k5_noise30' with 30 % wrong."""
    return f'k{shots}' + (f'_noise{round(100 * noise)}' if noise > 0 else '')


def headline_condition(cfg: BenchConfig) -> str:
    """The condition shown in progress lines: most shots, least label noise."""
    return condition_name(max(cfg.shots), 0.0)


def person_ids(cfg: BenchConfig) -> list[str]:
    """The benchmark's subject ids."""
    return [f'{cfg.prefix}{i:03d}' for i in range(cfg.people)]


def check_unseen(cfg: BenchConfig, model: Any) -> str:
    """Refuse people the checkpoint trained on; return how the training people were drawn."""
    import json

    from st_f2m_ros.model.checkpoint import DEFAULT_CHECKPOINT, read_metadata

    meta = read_metadata(Path(cfg.model) if cfg.model else DEFAULT_CHECKPOINT)
    try:
        data = json.loads(meta.get('train_config', '{}')).get('data', {})
    except ValueError:
        data = {}
    if data.get('root'):
        return f'trained on the data set {data["root"]} (not synthetic people)'
    n, seed = int(data.get('n_subjects', 0)), int(data.get('seed', 0))
    train = {f's{i:03d}' for i in range(n)}
    clash = sorted(set(person_ids(cfg)) & train)
    if clash and seed == cfg.seed:
        raise ConfigError(
            f'people {clash[:3]} with seed {seed} are in the training draw of this model; '
            'choose another --prefix or --seed'
        )
    return f'trained on s000..s{n - 1:03d} with seed {seed}' if n else 'training draw unknown'


@dataclass
class PersonResult:
    """One person: their scores under each head and what the adaptations did."""

    subject: str
    evaluations: dict[str, Any]  # 'base' and condition name -> evaluation.replay.Evaluation
    adaptations: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    replay_lines: list[str] = field(default_factory=list)


def _values(cfg: BenchConfig, out: Path) -> dict[str, Any]:
    """Node parameters of the benchmark's session (runtime/session.py)."""
    values: dict[str, Any] = {
        'checkpoint': cfg.model,
        'backend': cfg.backend,
        'export_dir': str(out / 'onnx') if cfg.backend != 'torch' else '',
        'adaptation_store': str(out / 'adaptations'),
        'clip_roots': [str(out.resolve())],
        'num_threads': cfg.threads,
        # the 5-shot bag is one file of 95 clips: lift the per-request clip cap above it
        'max_clips': max(64, 19 * max(cfg.shots) + 19),
    }
    if cfg.inner_steps:
        values['default_inner_steps'] = cfg.inner_steps
    return values


class _NeutralCatcher:
    """Stands in for the pipeline as the manager's face target: keeps the neutral it hands."""

    def __init__(self, face_config: Any) -> None:
        self.face_config = face_config
        self.state: Any = None

    def set_neutral(self, subject: str, state: Any) -> None:
        self.state = state


def _record(cfg: BenchConfig, pid: str, work: Path) -> tuple[Path, list[Any]]:
    """The session bag and the support bags (most shots first) of one person."""
    from st_f2m_ros.data.bag_writer import write_synthetic_bag
    from st_f2m_ros.data.synthetic import SyntheticConfig
    from st_f2m_ros.evaluation.support_recording import write_support_bags

    camera = SyntheticConfig(fps=cfg.fps, width=cfg.width, height=cfg.height)
    bag = write_synthetic_bag(
        work / 'session', subject_ids=[pid], duration=cfg.session_seconds, seed=cfg.seed,
        config=camera, overwrite=True, encoding='jpeg',
    ).path  # fmt: skip
    support_camera = SyntheticConfig(fps=cfg.support_fps, width=cfg.width, height=cfg.height)
    support = write_support_bags(work, pid, cfg.seed, cfg.variants, support_camera,
                                 cfg.clip_seconds)  # fmt: skip
    return bag, support


def _replay(session: Any, values: dict, pid: str, bag: Path, head: Any = None,
            neutral: Any = None) -> tuple[Any, Any]:  # fmt: skip
    """Replay `bag` through a fresh pipeline with `head` (None: base) and `neutral` live."""
    from st_f2m_ros.evaluation.session_trace import trace_replay
    from st_f2m_ros.runtime.pipeline.pipeline import PerceptionPipeline
    from st_f2m_ros.runtime.session import pipeline_config

    pipeline = PerceptionPipeline(session.recognizer, pipeline_config(values, pid))
    if neutral is not None:
        pipeline.set_neutral(pid, neutral)
    if head is not None:
        session.recognizer.set_adaptation(head.subject, head.params, head.version)
    try:
        pipeline.warm_up()
        return trace_replay(pipeline, bag)
    finally:
        session.recognizer.reset()


def run_person(cfg: BenchConfig, session: Any, values: dict, pid: str, work: Path,
               rescoring: bool) -> PersonResult:  # fmt: skip
    """Record, replay, adapt under every condition, score every head.

    With `rescoring` the session is replayed once and scored under each head
    (session_trace.rescore); otherwise it is replayed again under each head, with the neutral
    face the adaptation brought (needed when E takes measured components).
    """
    from st_f2m_ros.evaluation.session_trace import Scorer, rescore
    from st_f2m_ros.evaluation.support_memo import support_memo
    from st_f2m_ros.runtime.adaptation.request import AdaptRequest
    from st_f2m_ros.runtime.session import pipeline_config

    clock: dict[str, float] = {}
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    bag, support = _record(cfg, pid, work)
    clock['record_s'] = time.perf_counter() - t0

    t0 = time.perf_counter()
    session.recognizer.reset()
    trace, summary = _replay(session, values, pid, bag)
    clock['replay_s'] = time.perf_counter() - t0
    clock['replay_x_realtime'] = summary.realtime_factor

    t0 = time.perf_counter()
    manager = session.manager
    catcher = _NeutralCatcher(pipeline_config(values, pid).face)
    if hasattr(manager, 'faces'):  # the real-face front end: /adapt hands the pipeline a neutral
        manager.faces = catcher
    heads: dict[str, tuple[Any, Any]] = {}
    adaptations: dict[str, dict[str, Any]] = {}
    with support_memo(manager, session.model) as memo:
        for sb in support:
            name = condition_name(sb.shots, sb.noise)
            catcher.state = None
            outcome = manager.adapt(AdaptRequest(pid, clip_uris=[str(sb.path.resolve())]))
            if not outcome.success:
                raise AdaptationError(f'{pid} {name}: /adapt failed: {outcome.message}')
            heads[name] = (session.recognizer.state, catcher.state)
            adaptations[name] = {
                'clips_used': outcome.clips_used, 'wrong_labels': sb.wrong,
                'support_seconds': sb.seconds, 'duration_s': outcome.duration,
                'support_accuracy_before': outcome.support_accuracy_before,
                'support_accuracy_after': outcome.support_accuracy_after,
                'neutral_from_support': catcher.state is not None,
            }  # fmt: skip
            manager.reset(pid)
    clock['adapt_s'] = time.perf_counter() - t0
    clock.update({f'support_{k}': float(v) for k, v in memo.items()})

    t0 = time.perf_counter()
    score = Scorer(bag)
    evaluations = {'base': score(trace.results)}
    for name in cfg.conditions:
        head, neutral = heads[name]
        if rescoring:
            results = rescore(trace, session.recognizer, head)
        else:
            results = _replay(session, values, pid, bag, head, neutral)[0].results
        evaluations[name] = score(results)
    clock['score_s'] = time.perf_counter() - t0
    clock['cpu_s'] = time.process_time() - cpu0
    if not cfg.keep_bags:
        for p in [bag, *(s.path for s in support)]:
            shutil.rmtree(p, ignore_errors=True)
    return PersonResult(pid, evaluations, adaptations, clock, summary.lines())


def run_bench(
    cfg: BenchConfig, out: Path, log: Log = print, info: dict[str, Any] | None = None
) -> list[PersonResult]:
    """Every person in turn; the session (model, recognizer, manager) is loaded once.

    `info` (if given) receives the model id, how the training people were drawn and the mode.
    """
    from st_f2m_ros.runtime.session import build_session

    cfg.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / 'adaptations', ignore_errors=True)
    values = _values(cfg, out)
    pids = person_ids(cfg)
    session = build_session(values, pids[0], with_pipeline=False)
    rescoring = not cfg.replay_each and not getattr(session.model.config, 'component_input', False)
    facts = {
        'model_id': session.recognizer.model_id,
        'training_people': check_unseen(cfg, session.model),
        'window_s': session.recognizer.backend.window / session.recognizer.backend.feature_rate,
        'mode': 'each session replayed once and re-scored under every head'
        if rescoring
        else 'each session replayed under every head',
    }
    if info is not None:
        info.update(facts)
    log(f'model {facts["model_id"]}; {facts["training_people"]}; people {pids[0]}..{pids[-1]} '
        f'seed {cfg.seed}; {facts["mode"]}')  # fmt: skip
    results: list[PersonResult] = []
    t_start = time.perf_counter()
    try:
        for i, pid in enumerate(pids):
            r = run_person(cfg, session, values, pid, out / 'bags' / pid, rescoring)
            results.append(r)
            b, a = r.evaluations['base'], r.evaluations[headline_condition(cfg)]
            elapsed = time.perf_counter() - t_start
            left = elapsed / (i + 1) * (len(pids) - i - 1)
            log(
                f'[{i + 1}/{len(pids)}] {pid}: 19-class {b.fine.accuracy:.2f} -> '
                f'{a.fine.accuracy:.2f}, 7-class {b.basic.accuracy:.2f} -> {a.basic.accuracy:.2f} '
                f'({headline_condition(cfg)}); replay {r.timings["replay_x_realtime"]:.2f}x real '
                f'time; {elapsed:.0f} s so far, ~{left:.0f} s left'
            )
    finally:
        session.close()
        if not cfg.keep_bags:
            shutil.rmtree(out / 'bags', ignore_errors=True)
    return results


def config_dict(cfg: BenchConfig) -> dict[str, Any]:
    """Plain-JSON form of the config."""
    d = asdict(cfg)
    for k in ('clip_seconds', 'shots', 'noise_shots'):
        d[k] = list(d[k])
    return d
