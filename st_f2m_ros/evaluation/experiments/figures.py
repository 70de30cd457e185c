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
"""PNG figures of a paper experiment's result JSON, one kind of plot per paper table.

Every bar and point is the mean over seeds with a population-std error bar, from the same
`report.summarize` as the markdown tables, so figure and table cannot disagree. A missing value
is drawn as "n/a" rather than a zero-height bar. Legends sit outside the axes and the figure
grows with the number of methods, so labels stay readable up to ten methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
import re
import textwrap
from typing import Any

import numpy as np

from st_f2m_ros.evaluation import plots
from st_f2m_ros.evaluation.experiments import report

DPI = 110
Series = tuple[str, list[report.Stat]]  # legend label, one Stat per group


def _arrays(stats: Sequence[report.Stat]) -> tuple[np.ndarray, np.ndarray]:
    mean = np.array([np.nan if s.n == 0 else s.mean for s in stats], dtype=np.float64)
    std = np.array([np.nan if s.n == 0 else s.std for s in stats], dtype=np.float64)
    return mean, std


def _colors(n: int) -> list[Any]:
    cmap = plots._pyplot().get_cmap('tab10' if n <= 10 else 'tab20')
    return [cmap(i % cmap.N) for i in range(n)]


def _wrap(text: str, width: int = 26) -> str:
    return '\n'.join(textwrap.wrap(text, width)) or text


def _grouped_bars(ax: Any, groups: Sequence[str], series: Sequence[Series], title: str) -> None:
    """Horizontal bars (labels stay level and never collide), the series side by side within
    each group, top to bottom in the given order; std error bars; "n/a" for a missing value."""
    y = np.arange(len(groups), dtype=np.float64)
    height = 0.8 / max(len(series), 1)
    for i, ((name, stats), color) in enumerate(zip(series, _colors(len(series)))):
        mean, std = _arrays(stats)
        ys = y + (i - (len(series) - 1) / 2) * height
        ax.barh(ys, np.nan_to_num(mean), height, xerr=np.nan_to_num(std), label=name,
                color=color, capsize=2, error_kw={'elinewidth': 0.8})  # fmt: skip
        for yi in ys[np.isnan(mean)]:
            ax.text(0.01, yi, 'n/a', ha='left', va='center', fontsize=6)
    ax.set_yticks(y, [_wrap(g) for g in groups], fontsize=8)
    ax.set_ylim(len(groups) - 0.5, -0.5)  # first group on top
    ax.set_xlim(0, 1.05)
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.set_xlabel('accuracy / recall', fontsize=8)
    ax.set_title(_wrap(title, 48), fontsize=9)
    ax.grid(axis='x', alpha=0.3)


def _legend(fig: Any, ax: Any) -> None:
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc='upper left', bbox_to_anchor=(1.0, 1.0), fontsize=8,
               frameon=False)  # fmt: skip


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, bbox_inches='tight')  # 'tight' keeps the outside legend
    plots._pyplot().close(fig)
    return Path(path)


def _suptitle(fig: Any, result: dict[str, Any], what: str) -> None:
    n = len(result.get('seeds', []))
    fig.suptitle(f'{result.get("title") or result["experiment"]}\n{what} '
                 f'(mean ± std over {n} seed{"s" * (n != 1)})', fontsize=10)  # fmt: skip


def _slug(text: str) -> str:
    return re.sub(r'[^A-Za-z0-9_.-]+', '_', text).strip('_') or 'x'


PANEL_W = 4.2  # inches; the methods' labels take the left column's margin


def _panel_height(groups: int, series: int) -> float:
    """Tall enough that every bar is at least ~9 pt and every group label has its own line."""
    return 1.2 + groups * max(0.45, 0.14 * series)


def table3_figure(result: dict[str, Any], condition: str) -> Any:
    s = report.summarize(result)
    methods = result['methods']
    labels = [report.label(result, m) for m in methods]
    plt = plots._pyplot()
    h = _panel_height(len(methods), 2)
    fig, axes = plt.subplots(2, 2, figsize=(2 * PANEL_W + 1.5, 2 * h), sharey=True)
    for ax, (key, name) in zip(axes.flat, report.TABLE3_METRICS):
        series = [
            (phase, [report.cell(s, m, condition, f'{phase}.{key}') for m in methods])
            for phase in report.PHASES
        ]
        _grouped_bars(ax, labels, series, name)
    _legend(fig, axes.flat[0])
    _suptitle(fig, result, f'before vs after adaptation, {condition}')
    return fig


def plot_table3(result: dict[str, Any], path: Path, condition: str | None = None) -> Path:
    """Per method, before- and after-adaptation ACC and RECALL (19- and 7-class)."""
    return _save(table3_figure(result, condition or result['conditions'][0]), path)


def corruption_levels(conditions: Sequence[str]) -> dict[str, list[tuple[float, str]]]:
    """kind -> [(level, condition)] sorted by level; 'kind:level' conditions, and a condition
    without ':' (clean) as level 0 of every kind."""
    kinds: dict[str, list[tuple[float, str]]] = {}
    clean = [c for c in conditions if ':' not in c]
    for c in conditions:
        if ':' in c:
            kind, level = c.split(':', 1)
            kinds.setdefault(kind, []).append((float(level), c))
    for levels in kinds.values():
        levels += [(0.0, c) for c in clean]
        levels.sort()
    return kinds or {'condition': [(float(i), c) for i, c in enumerate(conditions)]}


def table4_figure(result: dict[str, Any]) -> Any:
    s = report.summarize(result)
    kinds = corruption_levels(result['conditions'])
    methods = result['methods']
    plt = plots._pyplot()
    fig, axes = plt.subplots(2, len(kinds), figsize=(3.8 * len(kinds), 6.5), squeeze=False,
                             sharey=True)  # fmt: skip
    colors = _colors(len(methods))
    for col, (kind, levels) in enumerate(kinds.items()):
        x = np.array([lv for lv, _ in levels])
        dodge = 0.006 * (np.ptp(x) or 1.0)  # error bars of methods side by side, not stacked
        for row, (lv, title) in enumerate(report.LEVELS):
            ax = axes[row, col]
            for i, (m, color) in enumerate(zip(methods, colors)):
                mean, std = _arrays([report.cell(s, m, c, f'after.acc{lv}') for _, c in levels])
                xs = x + (i - (len(methods) - 1) / 2) * dodge
                ax.errorbar(xs, mean, yerr=std, marker='o', ms=3, capsize=2, lw=1, color=color,
                            label=report.label(result, m))  # fmt: skip
            ax.set_title(f'{kind}: {title} accuracy', fontsize=9)
            ax.set_xticks(x, [f'{v:g}' for v in x], fontsize=8)
            ax.set_ylim(0, 1.05)
            ax.set_yticks(np.linspace(0, 1, 6))
            ax.grid(alpha=0.3)
            if row == 1:
                ax.set_xlabel(f'{kind} level', fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel('accuracy after adaptation', fontsize=8)
    _legend(fig, axes[0, 0])
    _suptitle(fig, result, 'accuracy after adaptation vs corruption level')
    return fig


def plot_table4(result: dict[str, Any], path: Path) -> Path:
    """Per corruption kind, accuracy after adaptation vs level, a line per method."""
    return _save(table4_figure(result), path)


def table5_figure(result: dict[str, Any]) -> Any:
    s = report.summarize(result)
    methods = result['methods']
    labels = [report.label(result, m) for m in methods]
    conds = result['conditions']
    plt = plots._pyplot()
    h = _panel_height(len(methods), 2)
    fig, axes = plt.subplots(2, len(conds), figsize=(PANEL_W * len(conds) + 1.5, 2 * h),
                             squeeze=False, sharey=True)  # fmt: skip
    for col, c in enumerate(conds):
        for row, (lv, title) in enumerate(report.LEVELS):
            series = [
                (name, [report.cell(s, m, c, f'after.{key}{lv}') for m in methods])
                for key, name in (('acc', 'average ACC'), ('worst_acc', 'worst person ACC'))
            ]
            _grouped_bars(axes[row, col], labels, series, f'{c}: {title}')
    _legend(fig, axes[0, 0])
    _suptitle(fig, result, 'average vs worst-person accuracy after adaptation')
    return fig


def plot_table5(result: dict[str, Any], path: Path) -> Path:
    """Per condition, average and worst-person accuracy after adaptation of each method."""
    return _save(table5_figure(result), path)


def ablation_figure(result: dict[str, Any]) -> Any:
    s = report.summarize(result)
    conds = result['conditions']
    plt = plots._pyplot()
    h = _panel_height(len(conds), len(result['methods']))
    fig, axes = plt.subplots(1, 2, figsize=(2 * PANEL_W + 1.5, h + 0.6), sharey=True)
    for ax, (lv, title) in zip(axes, report.LEVELS):
        series = [
            (report.label(result, m), [report.cell(s, m, c, f'after.acc{lv}') for c in conds])
            for m in result['methods']
        ]
        _grouped_bars(ax, conds, series, f'{title} accuracy')
    _legend(fig, axes[0])
    _suptitle(fig, result, 'accuracy after adaptation per variant')
    return fig


def plot_ablation(result: dict[str, Any], path: Path) -> Path:
    """Per condition group, a bar per variant (accuracy after adaptation)."""
    return _save(ablation_figure(result), path)


def alpha_beta_figure(result: dict[str, Any], method: str, condition: str) -> Any:
    s = report.summarize(result)
    alphas, betas = report.grid_axes(result, method)
    plt = plots._pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(2 * (1.6 + 0.75 * len(betas)),
                                            1.6 + 0.6 * len(alphas)))  # fmt: skip
    for ax, (key, name) in zip(axes, (('acc19', 'ACC'), ('recall19', 'RECALL'))):
        stats = [[report.cell(s, method, condition, f'after.{key}', a, b) for b in betas]
                 for a in alphas]  # fmt: skip
        grid = np.array([_arrays(r)[0] for r in stats]).reshape(len(alphas), len(betas))
        finite = grid[np.isfinite(grid)]
        lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        cmap = plt.get_cmap('viridis').with_extremes(bad='0.85')  # no value: grey, 'n/a'
        im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=lo, vmax=max(hi, lo + 1e-6),
                       aspect='auto')  # fmt: skip
        for i, row in enumerate(stats):
            for j, st in enumerate(row):
                dark = st.n and (st.mean - lo) / max(hi - lo, 1e-6) < 0.6
                ax.text(j, i, 'n/a' if st.n == 0 else f'{st.mean:.3f}\n±{st.std:.3f}',
                        ha='center', va='center', fontsize=6.5,
                        color='white' if dark else 'black')  # fmt: skip
        ax.set_xticks(range(len(betas)), [f'{b:g}' for b in betas], fontsize=8)
        ax.set_yticks(range(len(alphas)), [f'{a:g}' for a in alphas], fontsize=8)
        ax.set_xlabel('β', fontsize=9)
        ax.set_ylabel('α', fontsize=9)
        ax.set_title(f'19-class {name} after adaptation', fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.05).set_label(name, fontsize=8)
    _suptitle(fig, result, f'{report.label(result, method)}, {condition}')
    return fig


def plot_alpha_beta(
    result: dict[str, Any], path: Path, method: str | None = None, condition: str | None = None
) -> Path:
    """Heatmaps of 19-class ACC and RECALL after adaptation over the (α, β) grid."""
    method = method or result['methods'][0]
    return _save(alpha_beta_figure(result, method, condition or result['conditions'][0]), path)


def write_figures(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """Every figure of the result's experiment kind under `out_dir` as <name>_*.png."""
    kind = result['experiment']
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    conds, methods = result['conditions'], result['methods']
    if kind == 'table3':
        if len(conds) == 1:
            return [plot_table3(result, out / 'table3_before_after.png')]
        return [plot_table3(result, out / f'table3_before_after_{_slug(c)}.png', c) for c in conds]
    if kind == 'table4':
        return [plot_table4(result, out / 'table4_corruption.png')]
    if kind == 'table5':
        return [plot_table5(result, out / 'table5_average_worst.png')]
    if kind in ('ablation', 'fuzzy_components'):
        return [plot_ablation(result, out / f'{kind}_bars.png')]
    if kind == 'alpha_beta':
        if len(methods) == 1 and len(conds) == 1:
            return [plot_alpha_beta(result, out / 'alpha_beta_heatmap.png')]
        return [
            plot_alpha_beta(result, out / f'alpha_beta_heatmap_{_slug(m)}_{_slug(c)}.png', m, c)
            for m in methods
            for c in conds
        ]
    raise ValueError(f'unknown experiment {kind!r}')
