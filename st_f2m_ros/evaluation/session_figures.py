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
"""PNG figures of the session benchmark: every person's scores, errors by time, confusions.

Per person rather than only the mean: the goal "no person worse after /adapt" is about the
individual, and a dot per person shows who the adaptation left behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from st_f2m_ros.evaluation import plots
from st_f2m_ros.evaluation.metrics import Report
from st_f2m_ros.evaluation.session_report import GOALS


def plot_people(report: dict[str, Any], path: Path) -> Path:
    """19-class and 7-class accuracy of each person under each condition, goals dashed."""
    plt = plots._pyplot()
    people = report['people']
    conds = ['base', *report['conditions']]
    x = np.arange(len(people))
    fig, axes = plt.subplots(2, 1, figsize=(max(7.0, 0.45 * len(people) + 3), 6.5), sharex=True)
    for ax, level, title in zip(axes, ('fine', 'basic'), ('19-class', '7-class (basic emotion)')):
        for j, c in enumerate(conds):
            y = [row[c][level]['accuracy'] for row in people]
            style = {'color': 'black', 'marker': 's'} if c == 'base' else {'marker': 'o'}
            ax.plot(x + (j - len(conds) / 2) * 0.08, y, linestyle='none', label=c, ms=5, **style)
        for lv, _, which, target in GOALS.values():
            if lv == level:
                ax.axhline(target, ls='--', lw=0.8, color='grey' if which == 'base' else 'red')
        ax.set_ylim(0, 1)
        ax.set_ylabel(f'{title}\naccuracy')
        ax.grid(axis='y', alpha=0.3)
    axes[0].legend(fontsize=7, ncol=len(conds), loc='lower left')
    axes[1].set_xticks(x, [row['subject'] for row in people], rotation=60, fontsize=7)
    axes[0].set_title('session accuracy per person (dashed: goals; red after /adapt, grey '
                      'before)', fontsize=9)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_since_start(report: dict[str, Any], path: Path) -> Path:
    """Pooled accuracy by time since the true segment began, per condition."""
    plt = plots._pyplot()
    an = report['analysis']
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    for ax, key, title in zip(axes, ('fine_accuracy', 'basic_accuracy'), ('19-class', '7-class')):
        for name, d in an.items():
            bins = d['by_time_since_segment_start']
            ax.plot(list(bins), [b[key] for b in bins.values()], marker='o', label=name)
        ax.set_title(f'{title} accuracy by time since the segment began', fontsize=8)
        ax.set_xlabel('window ends ... after the true segment start')
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def write_figures(report: dict[str, Any], out: Path) -> dict[str, Path]:
    """Every figure of the report under `out`; returns name -> path."""
    out = Path(out)
    files = {
        'people': plot_people(report, out / 'session_bench_people.png'),
        'since_start': plot_since_start(report, out / 'session_bench_since_start.png'),
    }
    for name, d in report['analysis'].items():
        for level in ('fine', 'basic'):
            rep = Report(**d[level])
            files[f'confusion_{name}_{level}'] = plots.plot_confusion(
                rep, out / f'session_bench_confusion_{name}_{level}.png',
                f'{name}, pooled over {len(report["people"])} people',
            )  # fmt: skip
    return files
