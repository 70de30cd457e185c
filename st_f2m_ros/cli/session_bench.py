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
"""`st-f2m session-bench`: the session benchmark, the project's headline number."""

from __future__ import annotations

import argparse
from pathlib import Path


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(',') if x.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f'expected comma-separated integers, got {text!r}'
        ) from err


def _rerender(out: Path) -> int:
    """Analysis, Markdown and figures again from a finished run's files."""
    import json

    from st_f2m_ros.errors import DataError
    from st_f2m_ros.evaluation.session_report import analysis, load_windows, write_report

    src, npz = out / 'session_bench.json', out / 'session_bench_windows.npz'
    if not src.is_file() or not npz.is_file():
        raise DataError(f'{out} holds no finished run ({src.name} and {npz.name}); run it first')
    report = json.loads(src.read_text(encoding='utf-8'))
    window_s = float(report['run'].get('window_s', 1.0))
    report['analysis'] = analysis(load_windows(npz), list(report['analysis']), window_s)
    for name, path in write_report(report, out).items():
        print(f'{name:28} {path}')
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `session-bench` subcommand."""
    from st_f2m_ros.evaluation.session_bench import BenchConfig

    d = BenchConfig()
    p = sub.add_parser(
        'session-bench',
        help='before/after /adapt on N unseen synthetic people, replayed like the node',
        description=(
            'For each of N synthetic people the model never saw: record a session bag and a '
            'separate support recording (bag + labels sidecar), replay the session through the '
            'perception pipeline, adapt through the AdaptationManager as /adapt does with 1, 3 '
            'and 5 clips per class and with a share of wrong labels, and score the session '
            'before and after. Writes session_bench.json, session_bench.md and PNG figures.'
        ),
    )
    p.add_argument('--out', type=Path, default=Path('session_bench_out'), help='output folder')
    p.add_argument('--model', default='', metavar='PATH',
                   help='checkpoint to benchmark (default: the shipped one)')  # fmt: skip
    p.add_argument('--people', type=int, default=d.people, help=f'people (default {d.people})')
    p.add_argument('--seconds', type=float, default=d.session_seconds,
                   help=f'session length in s (default {d.session_seconds:g})')  # fmt: skip
    p.add_argument('--fps', type=float, default=d.fps, help=f'session camera fps ({d.fps:g})')
    p.add_argument('--support-fps', type=float, default=d.support_fps,
                   help=f'support camera fps (default {d.support_fps:g})')  # fmt: skip
    p.add_argument(
        '--clip-seconds',
        type=float,
        nargs=2,
        default=d.clip_seconds,
        metavar=('MIN', 'MAX'),
        help='support clip length range in s (default 1 1.5)',
    )
    p.add_argument('--shots', type=_ints, default=d.shots,
                   help='support clips per class, e.g. 1,3,5 (default)')  # fmt: skip
    p.add_argument(
        '--noise',
        type=float,
        default=d.noise,
        help=f'share of support clips labelled wrong (default {d.noise:g}; 0: none)',
    )
    p.add_argument(
        '--noise-shots',
        type=_ints,
        default=d.noise_shots,
        help='support sizes that also get a noisy variant (default 5)',
    )
    p.add_argument('--seed', type=int, default=d.seed, help=f'people seed (default {d.seed})')
    p.add_argument('--prefix', default=d.prefix, help=f'id prefix (default {d.prefix!r})')
    p.add_argument('--size', type=int, nargs=2, default=(d.width, d.height),
                   metavar=('W', 'H'), help='camera resolution (default 640 480)')  # fmt: skip
    p.add_argument('--backend', choices=('torch', 'onnx'), default=d.backend)
    p.add_argument(
        '--threads',
        type=int,
        default=d.threads,
        help='inference threads (default 1: best on a shared 2-core machine)',
    )
    p.add_argument('--inner-steps', type=int, default=0,
                   help='/adapt inner steps (default: the node default)')  # fmt: skip
    p.add_argument(
        '--replay-each',
        action='store_true',
        help='replay the session under every head instead of re-scoring one replay',
    )
    p.add_argument('--keep-bags', action='store_true', help='keep the recorded bags')
    p.add_argument(
        '--rerender',
        action='store_true',
        help='redo the analysis, Markdown and figures of an earlier run in --out '
        '(from its session_bench.json and session_bench_windows.npz), replay nothing',
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print the headline table, write the report."""
    import os
    import platform
    import sys
    import time

    from st_f2m_ros.evaluation.session_bench import BenchConfig, run_bench
    from st_f2m_ros.evaluation.session_report import build_report, markdown, write_report
    from st_f2m_ros.runtime.bench_stages import cpu_name

    if args.rerender:
        return _rerender(args.out)

    cfg = BenchConfig(
        people=args.people, prefix=args.prefix, seed=args.seed, session_seconds=args.seconds,
        fps=args.fps, support_fps=args.support_fps, clip_seconds=tuple(args.clip_seconds),
        shots=args.shots, noise=args.noise, noise_shots=args.noise_shots,
        width=args.size[0], height=args.size[1], model=args.model, backend=args.backend,
        threads=args.threads, inner_steps=args.inner_steps, keep_bags=args.keep_bags,
        replay_each=args.replay_each,
    )  # fmt: skip
    cfg.validate()
    load0, wall0, cpu0 = os.getloadavg(), time.perf_counter(), time.process_time()
    info: dict = {}
    results = run_bench(cfg, args.out, log=lambda s: print(f'[session-bench] {s}', flush=True),
                        info=info)  # fmt: skip
    run_facts = {
        **info,
        'wall_s': time.perf_counter() - wall0,
        'cpu_s': time.process_time() - cpu0,
        'load_average_start': list(load0),
        'load_average_end': list(os.getloadavg()),
        'machine': f'{cpu_name()}, {os.cpu_count()} CPUs, Python {platform.python_version()}',
        'command': 'st-f2m session-bench ' + ' '.join(sys.argv[2:] if len(sys.argv) > 1 else []),
        'date_utc': time.strftime('%Y-%m-%d %H:%M', time.gmtime()),
    }
    report = build_report(cfg, results, run_facts)
    files = write_report(report, args.out, results)
    print()
    print(markdown(report).split('\n\n#### ')[0])
    print()
    for name, path in files.items():
        print(f'{name:28} {path}')
    return 0
