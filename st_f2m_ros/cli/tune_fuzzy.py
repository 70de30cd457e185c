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
"""`st-f2m tune-fuzzy`: the eq. 5 fitness search over the membership ranges (alpha, beta)."""

from __future__ import annotations

import argparse
from pathlib import Path
import textwrap


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `tune-fuzzy` subcommand."""
    p = sub.add_parser(
        'tune-fuzzy',
        help='grid-search the fuzzy membership ranges alpha/beta (paper eq. 5, Fig. 10)',
        description=textwrap.fill(
            'Search the membership ranges alpha (FCIS components) and beta (FKIS intensity) on '
            'a grid, scoring each cell with a fixed model: fitness = w * accuracy + (1 - w) * '
            'macro recall (paper eq. 5; the paper found 0.4 / 0.4). With --checkpoint and '
            "--dataset the fixed meta-model classifies the dataset's windows (use held-out "
            'subjects). Without a model the rule base alone is scored: with --dataset on the '
            "measured component values of its frames (the paper's dataset labelling, "
            'DISFA-FER), otherwise on noisy Table II codings (a check of the rule file). '
            'Prints the grid, writes fuzzy_tuning.csv and a Fig. 10-style 3-D bar plot '
            'fuzzy_tuning.png.',
            width=79,
        ),
        epilog=(
            'examples:\n'
            '  st-f2m tune-fuzzy --out tune_out\n'
            '  st-f2m tune-fuzzy --dataset data/synth --out tune_out\n'
            '  st-f2m tune-fuzzy --checkpoint model.safetensors --dataset data/synth '
            '--subjects s006 s007 --out tune_out'
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument('--checkpoint', type=Path, help='fixed model (.safetensors) to score with')
    p.add_argument(
        '--default-checkpoint',
        action='store_true',
        help='score with the shipped default checkpoint (needs --dataset)',
    )
    p.add_argument('--dataset', type=Path, help='dataset folder (st-f2m make-dataset) to score')
    p.add_argument('--subjects', nargs='+', help='dataset subjects to use (held-out ones)')
    p.add_argument('--limit', type=int, help='use at most this many clips')
    p.add_argument(
        '--classes',
        nargs='+',
        help="score only samples of these classes, e.g. anger_high (as the paper's Fig. 10)",
    )
    p.add_argument('--rules', type=Path, help='rule base YAML (default: the packaged one)')
    p.add_argument('--alphas', default='0.1:0.9:0.1', help='alpha grid, "start:stop:step" or list')
    p.add_argument('--betas', default='0.1:0.9:0.1', help='beta grid, "start:stop:step" or list')
    p.add_argument(
        '--weight', type=float, default=0.5, help='weight w of accuracy in the fitness (0-1)'
    )
    p.add_argument(
        '--noise', type=float, default=0.3, help='rule-only mode: component noise sigma'
    )
    p.add_argument(
        '--samples-per-class', type=int, default=40, help='rule-only mode: samples per class'
    )
    p.add_argument('--seed', type=int, default=0, help='random seed (samples, windows)')
    p.add_argument('--out', type=Path, default=Path('tune_fuzzy_out'), help='output folder')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the search, print the table, write the CSV and the plot."""
    from st_f2m_ros.errors import ConfigError
    from st_f2m_ros.fuzzy.rules import load_rule_base
    from st_f2m_ros.fuzzy.tuning import (
        component_evaluator,
        fitness_search,
        format_table,
        model_evaluator,
        parse_grid,
        plot_grid,
        rule_evaluator,
        write_csv,
    )

    alphas, betas = parse_grid(args.alphas), parse_grid(args.betas)
    with_model = args.checkpoint is not None or args.default_checkpoint
    if with_model:
        if args.dataset is None:
            raise ConfigError('--checkpoint needs --dataset (the windows to score the model on)')
        if args.rules is not None:
            raise ConfigError(
                '--rules applies to the rule-only mode; the model builds F from the packaged '
                'rule base'
            )
        evaluate = model_evaluator(
            args.checkpoint,
            args.dataset,
            args.subjects,
            args.limit,
            seed=args.seed,
            classes=args.classes,
        )
        what = f'model {args.checkpoint or "(default)"} on {args.dataset}'
    elif args.dataset is not None:
        rule_base = load_rule_base(args.rules)
        evaluate = component_evaluator(
            args.dataset, rule_base, args.subjects, args.limit, args.classes
        )
        what = f'rule base {rule_base.path} on the components of {args.dataset}'
    else:
        if args.noise < 0 or args.samples_per_class < 1:
            raise ConfigError('--noise must be >= 0 and --samples-per-class >= 1')
        rule_base = load_rule_base(args.rules)
        evaluate = rule_evaluator(
            rule_base, args.samples_per_class, args.noise, args.seed, args.classes
        )
        what = f'rule base {rule_base.path} on noisy codings (sigma {args.noise:g})'
    result = fitness_search(evaluate, alphas, betas, args.weight, progress=True)
    print(f'eq. 5 fitness search: {what}')
    print('cells: accuracy/recall')
    print(format_table(result))
    args.out.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(result, args.out / 'fuzzy_tuning.csv')
    png_path = plot_grid(result, args.out / 'fuzzy_tuning.png', f'tune-fuzzy: {what}')
    print(f'wrote {csv_path} and {png_path}')
    return 0
