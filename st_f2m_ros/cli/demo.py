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
"""`st-f2m demo`: the embedded default job (what `make demo` runs)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `demo` subcommand."""
    p = sub.add_parser(
        'demo',
        help='record a synthetic session, replay it, adapt to the person, replay, compare',
        description=(
            'Without ROS 2: write a rosbag2 session of a person the shipped model never saw '
            'and a separate support recording of them, replay the session through the '
            'recognizer at its timestamps, adapt to the person from the support bag exactly as '
            'the /adapt service does, replay again, and print and plot the before/after '
            'scores (confusion matrices, timeline, annotated contact sheet).'
        ),
    )
    p.add_argument('--out', type=Path, default=Path('demo_out'), help='output folder')
    p.add_argument('--subject', default='p07', help='id of the synthetic person (default p07)')
    p.add_argument('--seed', type=int, default=7, help='seed of the recordings (default 7)')
    p.add_argument('--seconds', type=float, default=40.0, help='session length (default 40)')
    p.add_argument('--support-seconds', type=float, default=60.0,
                   help='support recording length (default 60: about 28 labelled clips)')
    p.add_argument('--backend', choices=('torch', 'onnx'), default='torch',
                   help='inference backend (default torch)')
    p.add_argument('--checkpoint', default='', help='model checkpoint (default: shipped one)')
    p.add_argument('--encoding', choices=('jpeg', 'bgr8', 'rgb8'), default='jpeg',
                   help='camera transport of the session bag (default jpeg; bgr8 is 30x larger)')
    p.add_argument('--corrupt', default='',
                   help="corrupt the session, e.g. 'fog:0.3' or 'mask:0.3,distortion:0.1'")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print the comparison."""
    from st_f2m_ros.evaluation.demo import DemoConfig, comparison_table, run_demo

    cfg = DemoConfig(
        subject=args.subject, seed=args.seed, session_seconds=args.seconds,
        support_seconds=args.support_seconds, backend=args.backend,
        checkpoint=args.checkpoint, corrupt=args.corrupt, encoding=args.encoding,
    )  # fmt: skip
    result = run_demo(cfg, args.out, log=lambda line: print(f'[demo] {line}', flush=True))
    print()
    print('\n'.join(result.adapted.summary_lines))
    print()
    print('\n'.join(comparison_table(result)))
    report = {
        'config': cfg.__dict__,
        'base': result.base.evaluation.summary(),
        'adapted': result.adapted.evaluation.summary(),
        'adaptation': {
            'model_id': result.adaptation.model_id,
            'duration_s': result.adaptation.duration,
            'clips_used': result.adaptation.clips_used,
            'support_accuracy_before': result.adaptation.support_accuracy_before,
            'support_accuracy_after': result.adaptation.support_accuracy_after,
        },
    }
    tmp = args.out / 'report.json.tmp'
    tmp.write_text(json.dumps(report, indent=2))
    tmp.replace(args.out / 'report.json')
    print()
    for name, path in result.files.items():
        print(f'{name:16} {path}')
    print(f'{"report":16} {args.out / "report.json"}')
    return 0
