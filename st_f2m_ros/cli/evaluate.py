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
"""`st-f2m evaluate`: score a recorded EmotionSequence stream against a bag's ground truth."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `evaluate` subcommand."""
    p = sub.add_parser(
        'evaluate',
        help='score recognizer output in a bag against ground truth (accuracy, recall, F1)',
        description=(
            'Read the ground-truth EmotionSequence stream (as written by st-f2m make-bag) and '
            'a prediction stream (as written by st-f2m run or recorded from a live node with '
            'ros2 bag record) from rosbag2 files (MCAP or sqlite3) and report accuracy, macro '
            'recall, macro-F1 (19 fine-grained classes and 7 basic), segment timing error and '
            'latency. Writes report.json and confusion/timeline plots to --out.'
        ),
    )
    p.add_argument('--truth', type=Path, required=True, help='bag with the ground truth')
    p.add_argument('--pred', type=Path, help='bag with the predictions (default: --truth)')
    p.add_argument('--truth-topic', default='/emotion/ground_truth')
    p.add_argument('--pred-topic', default='/emotion/sequence')
    p.add_argument('--out', type=Path, help='folder for report.json and plots')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print a short table."""
    from st_f2m_ros.evaluation import plots, replay

    ev = replay.evaluate_bags(args.truth, args.pred, args.truth_topic, args.pred_topic)
    print(f'messages scored: {ev.messages}')
    print(f'{"":8} {"acc":>6} {"recall":>7} {"macroF1":>8} {"coverage":>9}')
    for name, r in (('fine-19', ev.fine), ('basic-7', ev.basic)):
        print(f'{name:8} {r.accuracy:6.3f} {r.recall:7.3f} {r.macro_f1:8.3f} {r.coverage:9.3f}')
    print(f'segment timing error: {ev.timing_error:.3f} s; '
          f'latency p50/p95: {ev.latency_p50 * 1e3:.1f}/{ev.latency_p95 * 1e3:.1f} ms')
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        tmp = args.out / 'report.json.tmp'
        tmp.write_text(json.dumps(ev.summary(), indent=2))
        tmp.replace(args.out / 'report.json')
        plots.plot_confusion(ev.fine, args.out / 'confusion_fine.png', 'fine-grained (19)')
        plots.plot_confusion(ev.basic, args.out / 'confusion_basic.png', 'basic emotions (7)')
        plots.plot_timeline({'prediction': ev}, args.out / 'timeline.png')
        print(f'report and plots in {args.out}')
    return 0
