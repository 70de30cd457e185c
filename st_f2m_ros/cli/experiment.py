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
"""`st-f2m experiment`: the paper's experiments (Tables III-V, ablation, Fig. 10) on our data."""

from __future__ import annotations

import argparse
from pathlib import Path

NAMES = ('table3', 'table4', 'table5', 'ablation', 'alpha_beta', 'fuzzy_components')


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `experiment` subcommand."""
    p = sub.add_parser(
        'experiment',
        help="the paper's experiments: Tables III-V, ablation, alpha/beta (Fig. 10)",
        description=(
            "Runs the paper's experiments on synthetic people the models never saw, with "
            'seeds and mean +- std over repeats: table3 (clean, all methods and baselines), '
            'table4 (fog / mask / distortion levels), table5 (20 %% of the training data with '
            '30 %% noisy labels), ablation (section VI-E: no spatio-temporal layers, no fuzzy '
            'module, no meta-learning, meta-training on unseen people; clean, 30 %% '
            'interference, altered speed), alpha_beta (section VI-F); all runs these five. '
            'fuzzy_components (needs a component-input encoder: the shipped default, or one '
            'from config/train_components.yaml): ST-F2M with and without the fuzzy module when E '
            'reads the measured facial components. Every method trains '
            'only the layers above the frozen per-frame encoder of --encoder, on features '
            'computed once and cached in OUT/cache; trained methods are cached in OUT/models, '
            'so later experiments reuse them. Writes OUT/NAME.json, OUT/NAME.md and PNG '
            "figures; --results updates that experiment's block in a RESULTS.md."
        ),
        epilog=(
            'Budgets (config/experiments.yaml): tiny runs everything in minutes (what CI '
            'runs; the numbers mean nothing), reduced is what docs/RESULTS.md reports from '
            "a 2-core machine, full is the shipped recipe's data size."
        ),
    )
    p.add_argument('name', choices=(*NAMES, 'all'),
                   help='which experiment (all: the first five)')  # fmt: skip
    p.add_argument('--budget', default='tiny', help='tiny | reduced | full (default tiny)')
    p.add_argument('--budgets', type=Path, default=None, metavar='YAML',
                   help='budgets file (default config/experiments.yaml)')  # fmt: skip
    p.add_argument('--repeats', type=int, default=None,
                   help="training seeds 0..N-1 (default: the budget's)")  # fmt: skip
    p.add_argument('--out', type=Path, default=Path('runs/experiments'), help='output folder')
    p.add_argument('--encoder', default='', metavar='PATH',
                   help='checkpoint whose frozen per-frame encoder every method shares '
                   '(default: the shipped model)')  # fmt: skip
    p.add_argument('--results', type=Path, default=None, metavar='RESULTS_MD',
                   help="also replace this experiment's block in a RESULTS.md")  # fmt: skip
    p.add_argument('--threads', type=int, default=2, help='torch threads (default 2)')
    p.add_argument('--rerender', action='store_true',
                   help='only redo the Markdown, figures and --results block from OUT/NAME.json '
                   'of an earlier run (nothing is trained or evaluated)')  # fmt: skip
    p.set_defaults(func=run)


def _rerender(names: tuple[str, ...], out: Path, results: Path | None) -> int:
    from st_f2m_ros.data.io_utils import read_json
    from st_f2m_ros.errors import DataError
    from st_f2m_ros.evaluation.experiments.report import write_report

    missing = [n for n in names if not (out / f'{n}.json').is_file()]
    if missing:
        raise DataError(f'no finished run of {", ".join(missing)} in {out}: run it first')
    for name in names:
        for path in write_report(read_json(out / f'{name}.json', 'an experiment result'), out,
                                 results):  # fmt: skip
            print(f'  wrote {path}')
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the experiments one after the other, writing each report as it finishes."""
    import torch

    from st_f2m_ros.data.io_utils import write_json
    from st_f2m_ros.evaluation.experiments.budget import load_budget
    from st_f2m_ros.evaluation.experiments.report import write_report
    from st_f2m_ros.evaluation.experiments.runner import ExperimentRun
    from st_f2m_ros.model.checkpoint import DEFAULT_CHECKPOINT

    names = NAMES[:5] if args.name == 'all' else (args.name,)
    if args.rerender:
        return _rerender(names, args.out, args.results)
    torch.set_num_threads(max(1, args.threads))
    budget = load_budget(args.budget, args.budgets)
    encoder = args.encoder or DEFAULT_CHECKPOINT
    runner = ExperimentRun(budget, args.out, encoder, args.repeats,
                           log=lambda s: print(s, flush=True))  # fmt: skip
    for name in names:
        result = runner.run(name)
        write_json(args.out / f'{name}.json', result)
        for path in write_report(result, args.out, args.results):
            print(f'  wrote {path}')
        print(f'{name}: {result["wall_s"]:.0f} s wall, {result["cpu_s"]:.0f} s CPU', flush=True)
    return 0
