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
"""`st-f2m evaluate`: score a recorded EmotionSequence stream against a bag's ground truth,
or a checkpoint on a named data set's windows (`--dataset name:PATH`, named_datasets.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `evaluate` subcommand."""
    from st_f2m_ros.named_datasets import describe

    p = sub.add_parser(
        'evaluate',
        help='score recognizer output in a bag, or a checkpoint on a data set (accuracy, F1)',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            'With --truth: read the ground-truth EmotionSequence stream (as written by st-f2m\n'
            'make-bag) and a prediction stream (as written by st-f2m run or recorded from a\n'
            'live node with ros2 bag record) from rosbag2 files (MCAP or sqlite3) and report\n'
            'accuracy, macro recall, macro-F1 (19 fine-grained classes and 7 basic), segment\n'
            'timing error and latency.\n\n'
            'With --dataset NAME:PATH: run a checkpoint on every labelled window of a data set\n'
            "(the trainer's validation windows) and report the same scores, plus accuracy\n"
            'before and after adapting to each subject on --k-shot support windows per class.\n'
            'Data sets:\n' + describe() + '\n\n'
            'Writes report.json and confusion (and, for bags, timeline) plots to --out.'
        ),
        epilog=(
            'examples:\n'
            '  st-f2m evaluate --truth session.mcap --pred predictions.mcap --out eval\n'
            '  st-f2m evaluate --dataset ckplus:/data/CK+ --checkpoint runs/ck/final.safetensors\n'
            '  st-f2m evaluate --dataset disfa:/data/DISFA --subjects SN001 SN002 --out eval\n'
            '  st-f2m evaluate --dataset ckplus:/data/CK+ --checkpoint runs/ck/final.safetensors '
            '--held-out'
        ),
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument('--truth', type=Path, help='bag with the ground truth')
    src.add_argument('--dataset', metavar='NAME:PATH', help='named data set to score a model on')
    p.add_argument('--pred', type=Path, help='bag with the predictions (default: --truth)')
    p.add_argument('--truth-topic', default='/emotion/ground_truth')
    p.add_argument('--pred-topic', default='/emotion/sequence')
    p.add_argument('--out', type=Path, help='folder for report.json and plots')
    p.add_argument(
        '--checkpoint', type=Path, help='--dataset: model to score (default: the packaged one)'
    )
    who = p.add_mutually_exclusive_group()
    who.add_argument('--subjects', nargs='+', help='--dataset: score only these subjects')
    who.add_argument(
        '--held-out',
        action='store_true',
        help="--dataset: score only the checkpoint's validation subjects (st-f2m train stores "
        'them), i.e. people it was not trained on',
    )
    p.add_argument(
        '--k-shot', type=int, default=2, help='--dataset: support windows per class (default 2)'
    )
    p.add_argument('--seed', type=int, default=0, help='--dataset: support draw seed')
    p.set_defaults(func=run)


def _print_scores(rows: list[tuple[str, object]]) -> None:
    print(f'{"":8} {"acc":>6} {"recall":>7} {"macroF1":>8} {"coverage":>9}')
    for name, r in rows:
        print(f'{name:8} {r.accuracy:6.3f} {r.recall:7.3f} {r.macro_f1:8.3f} {r.coverage:9.3f}')


def _write_report(out: Path, summary: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / 'report.json.tmp'
    tmp.write_text(json.dumps(summary, indent=2))
    tmp.replace(out / 'report.json')


def run_dataset(args: argparse.Namespace) -> int:
    """Score a checkpoint on a named data set's windows."""
    from st_f2m_ros.errors import ConfigError, DataError
    from st_f2m_ros.evaluation import plots
    from st_f2m_ros.evaluation.clip_eval import evaluate_clips
    from st_f2m_ros.model.checkpoint import load_checkpoint
    from st_f2m_ros.named_datasets import load_dataset

    if args.k_shot < 1:
        raise ConfigError('--k-shot must be >= 1')
    model = load_checkpoint(args.checkpoint)
    subjects = args.subjects
    if args.held_out:
        from st_f2m_ros.model.checkpoint import DEFAULT_CHECKPOINT, read_metadata

        held = read_metadata(args.checkpoint or DEFAULT_CHECKPOINT).get('val_subjects', '')
        if not held:
            raise ConfigError(
                f'{args.checkpoint or "the packaged checkpoint"} records no validation subjects '
                '(only final checkpoints of st-f2m train do); use --subjects'
            )
        subjects = held.split(',')
    clips = load_dataset(args.dataset, model.config.crop_size, model.config.feature_rate)
    if subjects:
        clips = [c for c in clips if c.subject in set(subjects)]
        if not clips:
            raise DataError(f'{args.dataset}: none of the subjects {subjects}')
    ev = evaluate_clips(model, clips, args.k_shot, args.seed)
    print(f'{args.dataset}: {len(clips)} clips, {ev.windows} windows, '
          f'{len(ev.subjects)} subjects; model {args.checkpoint or "(packaged)"}')  # fmt: skip
    _print_scores([('fine-19', ev.fine), ('basic-7', ev.basic)])
    if ev.adapt:
        print(f'per-subject adaptation ({args.k_shot} support windows per class): '
              f'{ev.adapt["val_adapt_before"]:.3f} before, '
              f'{ev.adapt["val_adapt_after"]:.3f} after')  # fmt: skip
    else:
        print(f'adaptation not measured: no subject has more than {args.k_shot} windows '
              'of a class')  # fmt: skip
    if args.out:
        _write_report(args.out, {'dataset': args.dataset, **ev.summary()})
        plots.plot_confusion(ev.fine, args.out / 'confusion_fine.png', 'fine-grained (19)')
        plots.plot_confusion(ev.basic, args.out / 'confusion_basic.png', 'basic emotions (7)')
        print(f'report and plots in {args.out}')
    return 0


def run(args: argparse.Namespace) -> int:
    """Evaluate and print a short table."""
    if args.dataset:
        return run_dataset(args)
    from st_f2m_ros.evaluation import plots, replay

    ev = replay.evaluate_bags(args.truth, args.pred, args.truth_topic, args.pred_topic)
    print(f'messages scored: {ev.messages}')
    _print_scores([('fine-19', ev.fine), ('basic-7', ev.basic)])
    print(
        f'segment timing error: {ev.timing_error:.3f} s; '
        f'latency p50/p95: {ev.latency_p50 * 1e3:.1f}/{ev.latency_p95 * 1e3:.1f} ms'
    )
    if args.out:
        _write_report(args.out, ev.summary())
        plots.plot_confusion(ev.fine, args.out / 'confusion_fine.png', 'fine-grained (19)')
        plots.plot_confusion(ev.basic, args.out / 'confusion_basic.png', 'basic emotions (7)')
        plots.plot_timeline({'prediction': ev}, args.out / 'timeline.png')
        print(f'report and plots in {args.out}')
    return 0
