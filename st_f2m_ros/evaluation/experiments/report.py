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
"""Markdown tables of a paper experiment's result JSON, and its block in RESULTS.md.

Every cell is mean ± std over seeds (population std: the seeds are all the runs there are, not
a sample to generalise from), with null values left out and counted, so a method that has no
value (protonet before adaptation) reads "-" rather than a misleading 0. RESULTS.md is edited
only between the experiment's own markers, so hand-written text around it survives a rerun.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
import math
import os
from pathlib import Path
import re
import shutil
from typing import Any

import numpy as np

from st_f2m_ros.runtime.adaptation.store import atomic_write_bytes

PHASES = ('before', 'after')
# (metric key in before/after, column label)
TABLE3_METRICS = (
    ('acc19', '19-cl ACC'),
    ('recall19', '19-cl RECALL'),
    ('acc7', '7-cl ACC'),
    ('recall7', '7-cl RECALL'),
)
LEVELS = (('19', '19-class'), ('7', '7-class'))
_NAME_RE = re.compile(r'^[A-Za-z0-9_.-]+$')

# (method, condition, alpha, beta); alpha and beta are None outside alpha_beta rows
Key = tuple[str, str, Any, Any]


@dataclass(frozen=True)
class Stat:
    """Mean and population std of the non-null values of one cell, and how many there were."""

    mean: float | None
    std: float | None
    n: int

    def format(self, seeds: int | None = None) -> str:
        """'0.412 ± 0.031'; '-' without values; '(n=k)' when fewer values than seeds."""
        if self.n == 0:
            return '-'
        text = f'{self.mean:.3f} ± {self.std:.3f}'
        if seeds is not None and self.n < seeds:
            text += f' (n={self.n})'
        return text


EMPTY = Stat(None, None, 0)


def stat(values: Iterable[float | None]) -> Stat:
    """Stat of the finite values among `values` (null and NaN are left out)."""
    v = np.array([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return EMPTY
    return Stat(float(v.mean()), float(v.std(ddof=0)), int(v.size))


def row_key(row: dict[str, Any]) -> Key:
    return (row['method'], row['condition'], row.get('alpha'), row.get('beta'))


def summarize(result: dict[str, Any]) -> dict[Key, dict[str, Stat]]:
    """Per (method, condition, alpha, beta): a Stat of every metric over seeds.

    Metric names are 'before.<key>' and 'after.<key>' for the keys of the rows' before/after
    dicts, and 'train_s'.
    """
    values: dict[Key, dict[str, list[float | None]]] = {}
    for row in result['rows']:
        cell = values.setdefault(row_key(row), {})
        for phase in PHASES:
            for k, v in (row.get(phase) or {}).items():
                cell.setdefault(f'{phase}.{k}', []).append(v)
        cell.setdefault('train_s', []).append(row.get('train_s'))
        for k, v in (row.get('worse_after') or {}).items():
            cell.setdefault(f'worse_after.{k}', []).append(v)
    return {key: {m: stat(v) for m, v in cell.items()} for key, cell in values.items()}


def cell(
    summary: dict[Key, dict[str, Stat]],
    method: str,
    condition: str,
    metric: str,
    alpha: Any = None,
    beta: Any = None,
) -> Stat:
    """One Stat of `summarize`'s output; EMPTY when the cell has no rows or no such metric."""
    return summary.get((method, condition, alpha, beta), {}).get(metric, EMPTY)


def label(result: dict[str, Any], method: str) -> str:
    return (result.get('method_labels') or {}).get(method, method)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return '| ' + ' | '.join(str(c).replace('|', '\\|') for c in cells) + ' |'

    return [line(header), '|' + '|'.join(['---'] * len(header)) + '|', *map(line, rows), '']


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return '?'
    return f'{seconds:.0f} s' if seconds < 120 else f'{seconds / 60:.1f} min'


def _protocol(protocol: dict[str, Any]) -> str:
    main = [f'{protocol[k]} {k}' for k in ('people', 'seconds', 'shots') if k in protocol]
    rest = [
        f'{k}={v}'
        for k, v in protocol.items()
        if k not in ('people', 'seconds', 'shots') and isinstance(v, (int, float, str, bool))
    ]
    text = ', '.join(main) if main else 'no people/seconds/shots given'
    return text + (f' ({", ".join(rest)})' if rest else '')


def header(result: dict[str, Any]) -> list[str]:
    """Title, what was run where and for how long, and the runner's notes."""
    seeds = result.get('seeds', [])
    lines = [
        f'## {result.get("title") or result["experiment"]}',
        '',
        f'Budget `{result.get("budget", "?")}`; seeds {", ".join(map(str, seeds))} '
        f'(n={len(seeds)}); frozen encoder `{result.get("encoder_model", "?")}`; '
        f'machine {result.get("machine", "?")}; wall {_duration(result.get("wall_s"))}, '
        f'CPU {_duration(result.get("cpu_s"))}'
        + (f'; started {result["started"]}' if result.get('started') else '')
        + '.',
        '',
        f'Protocol: {_protocol(result.get("protocol") or {})}.',
        '',
        'Cells: mean ± std over seeds (population std); "(n=k)": only k seeds gave a value; '
        '"-": no value (e.g. a method without adaptation, or needing a support set).',
        '',
    ]
    notes = result.get('notes') or []
    lines += [f'- {n}' for n in notes] + ([''] if notes else [])
    return lines


def _per_condition(
    result: dict[str, Any],
    metrics: Sequence[tuple[str, str]],
    columns: Sequence[str],
    first: str = 'method',
) -> list[str]:
    """Rows = methods, one column per (condition, metric). A method that never adapts (the
    FER net per frame) shows its 'before' value in 'after' columns, marked with a dagger."""
    s = summarize(result)
    n = len(result.get('seeds', []))

    def value(m: str, c: str, metric: str) -> str:
        st = cell(s, m, c, metric)
        if st.n == 0 and metric.startswith('after.'):
            before = cell(s, m, c, 'before.' + metric.split('.', 1)[1])
            if before.n:
                return before.format(n) + ' †'
        return st.format(n)

    rows = [
        [label(result, m)]
        + [value(m, c, metric) for c in result['conditions'] for metric, _ in metrics]
        for m in result['methods']
    ]
    table = _table([first, *columns], rows)
    if any('†' in x for r in rows for x in r):
        table += ['', '† no adaptation: the method as it is (no support set used).', '']
    return table


def table3(result: dict[str, Any]) -> list[str]:
    s = summarize(result)
    n = len(result.get('seeds', []))
    lines: list[str] = []
    cols = [f'{lab} {p}' for p in PHASES for _, lab in TABLE3_METRICS]
    for c in result['conditions']:
        if len(result['conditions']) > 1:
            lines += [f'### {c}', '']
        rows = [
            [label(result, m)]
            + [cell(s, m, c, f'{p}.{k}').format(n) for p in PHASES for k, _ in TABLE3_METRICS]
            for m in result['methods']
        ]
        lines += _table(['method', *cols], rows)
        lines += _sliding_and_worse(result, s, c, n)
    return lines


def _sliding_and_worse(result: dict[str, Any], s: Any, c: str, n: int) -> list[str]:
    """Segment vs sliding-window accuracy, and the people adaptation made worse."""
    phases = [r.get('after') or r.get('before') or {} for r in result['rows']]
    if not any('sliding_acc19' in p for p in phases):
        return []
    cols = [
        '19-cl segments before', '19-cl sliding before', '19-cl segments after',
        '19-cl sliding after', '7-cl segments after', '7-cl sliding after',
        'people worse after (19 / 7)',
    ]  # fmt: skip
    keys = ('before.acc19', 'before.sliding_acc19', 'after.acc19', 'after.sliding_acc19',
            'after.acc7', 'after.sliding_acc7')  # fmt: skip
    rows = []
    for m in result['methods']:
        worse = [cell(s, m, c, f'worse_after.{k}') for k in ('acc19', 'acc7', 'people')]
        w = '-' if worse[0].n == 0 else (
            f'{worse[0].mean:.1f} / {worse[1].mean:.1f} of {worse[2].mean:.0f}'
        )  # fmt: skip
        rows.append([label(result, m), *(cell(s, m, c, k).format(n) for k in keys), w])
    return [
        '',
        'Segment windows (one centred window per labelled segment) against sliding windows (a '
        'window ending at every frame, scored against the label at its end, as the node stamps '
        'its decisions; no smoothing or abstention); "people worse": mean over seeds of the '
        'people whose segment accuracy fell after adaptation.',
        '',
        *_table(['method', *cols], rows),
    ]


def condition_label(condition: str) -> str:
    """'fog:0.1' -> 'fog 0.1' (a table4 condition is kind:level)."""
    return condition.replace(':', ' ')


def table4(result: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    cols = [condition_label(c) for c in result['conditions']]
    for lv, title in LEVELS:
        lines += [f'### {title} accuracy after adaptation', '']
        lines += _per_condition(result, [(f'after.acc{lv}', '')], cols)
    return lines


def table5(result: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for lv, title in LEVELS:
        metrics = [(f'after.acc{lv}', 'average ACC'), (f'after.worst_acc{lv}', 'worst ACC')]
        cols = [f'{c}: {lab}' for c in result['conditions'] for _, lab in metrics]
        lines += [f'### {title}, after adaptation (worst: the worst person)', '']
        lines += _per_condition(result, metrics, cols)
    return lines


def ablation(result: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for lv, title in LEVELS:
        lines += [f'### {title} accuracy after adaptation', '']
        cols = list(result['conditions'])
        lines += _per_condition(result, [(f'after.acc{lv}', '')], cols, first='variant')
    return lines


def grid_axes(result: dict[str, Any], method: str) -> tuple[list[Any], list[Any]]:
    """Sorted alphas and betas that `method` has rows for."""
    rows = [r for r in result['rows'] if r['method'] == method]
    return sorted({r['alpha'] for r in rows}), sorted({r['beta'] for r in rows})


def alpha_beta(result: dict[str, Any]) -> list[str]:
    s = summarize(result)
    n = len(result.get('seeds', []))
    lines: list[str] = []
    for m in result['methods']:
        alphas, betas = grid_axes(result, m)
        for c in result['conditions']:
            for key, title in (('acc19', 'ACC'), ('recall19', 'RECALL')):
                where = f'{label(result, m)}, {c}'
                lines += [f'### 19-class {title} after adaptation ({where})', '']
                rows = [
                    [f'α={a:g}'] + [cell(s, m, c, f'after.{key}', a, b).format(n) for b in betas]
                    for a in alphas
                ]
                lines += _table(['α \\ β', *(f'β={b:g}' for b in betas)], rows)
    return lines


TABLES = {
    'table3': table3,
    'table4': table4,
    'table5': table5,
    'ablation': ablation,
    'alpha_beta': alpha_beta,
    'fuzzy_components': ablation,  # variants x conditions, like the ablation
}


def render_markdown(result: dict[str, Any], images: Sequence[str] = ()) -> str:
    """The experiment's header and tables, then `images` (links) as markdown images."""
    kind = result['experiment']
    if kind not in TABLES:
        raise ValueError(f'unknown experiment {kind!r}; expected one of {", ".join(TABLES)}')
    lines = header(result) + TABLES[kind](result)
    for i in images:
        lines += [f'![{Path(i).stem}]({i})', '']
    return '\n'.join(lines).rstrip('\n') + '\n'


def markers(name: str) -> tuple[str, str]:
    if not _NAME_RE.match(name):
        raise ValueError(f'experiment name {name!r}: use letters, digits, _ . - only')
    return f'<!-- experiment:{name}:start -->', f'<!-- experiment:{name}:end -->'


def replace_block(text: str, name: str, markdown: str) -> str:
    """`text` with the block between NAME's markers set to `markdown` (appended when absent).

    Everything outside the markers is kept byte for byte. Raises ValueError when only one
    marker is there, a marker is there twice, or end comes before start: the file was edited
    by hand and guessing which part to replace could delete someone's text.
    """
    start, end = markers(name)
    if start in markdown or end in markdown:
        raise ValueError(f'the markdown for {name!r} contains its own block marker')
    ns, ne = text.count(start), text.count(end)
    body = '\n' + markdown.rstrip('\n') + '\n'
    if ns == ne == 0:
        sep = '' if not text else ('\n' if text.endswith('\n') else '\n\n')
        return f'{text}{sep}{start}{body}{end}\n'
    if ns != 1 or ne != 1:
        raise ValueError(
            f'RESULTS block {name!r}: found {ns} start and {ne} end markers ({start} ... {end}); '
            'expected exactly one of each or none: fix the file by hand'
        )
    i, j = text.index(start), text.index(end)
    if j < i:
        raise ValueError(f'RESULTS block {name!r}: the end marker comes before the start marker')
    return text[: i + len(start)] + body + text[j:]


def _write_text(path: Path, text: str) -> None:
    """Atomic write that keeps the file's mode (the temp file is 0600; RESULTS.md is not)."""
    if path.exists():
        mode = path.stat().st_mode & 0o777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    atomic_write_bytes(path, text.encode('utf-8'))
    os.chmod(path, mode)


def update_results_md(path: Path, name: str, markdown: str) -> None:
    """Replace (or append) NAME's block in the file at `path`, atomically; created if absent."""
    path = Path(path)
    text = path.read_bytes().decode('utf-8') if path.exists() else ''
    _write_text(path, replace_block(text, name, markdown))


def write_report(
    result: dict[str, Any], out_dir: Path, results_md: Path | None = None
) -> list[Path]:
    """Write <name>.md and the figures into `out_dir`; with `results_md`, copy the figures to
    <its folder>/img/experiments/ and update its block. Returns every path written."""
    from st_f2m_ros.evaluation.experiments import figures

    name = result['experiment']
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pngs = figures.write_figures(result, out_dir)
    md = out_dir / f'{name}.md'
    _write_text(md, render_markdown(result, [p.name for p in pngs]))
    written = [md, *pngs]
    if results_md is not None:
        results_md = Path(results_md)
        img = results_md.parent / 'img' / 'experiments'
        img.mkdir(parents=True, exist_ok=True)
        links = []
        for p in pngs:
            shutil.copyfile(p, img / p.name)
            written.append(img / p.name)
            links.append(Path(os.path.relpath(img / p.name, results_md.parent)).as_posix())
        block = demote_headings(render_markdown(result, links))
        update_results_md(results_md, name, block)
        written.append(results_md)
    return written


def demote_headings(markdown: str, levels: int = 1) -> str:
    """Headings one level deeper: in RESULTS.md an experiment sits under a section of its own."""
    out, fenced = [], False
    for line in markdown.split('\n'):
        if line.startswith('```'):
            fenced = not fenced
        if not fenced and line.startswith('#'):
            line = '#' * levels + line
        out.append(line)
    return '\n'.join(out)
