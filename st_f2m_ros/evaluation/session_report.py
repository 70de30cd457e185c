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
"""Figures of the session benchmark: per-person scores, their spread, the goals, and why.

A mean alone hides the person the robot fails, so every condition is reported as mean, standard
deviation and worst person, and the count of people worse after /adapt than before. Where the
goals are missed the analysis says where the errors are, pooled over people: which classes
(per-class recall, confusion), which kind (right emotion at the wrong intensity, wrong emotion,
neutral confusions, abstentions), when (time since the true segment began: a 1 s window that
ends less than 1 s into a segment still holds the previous expression) and at what intensity.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from st_f2m_ros import taxonomy
from st_f2m_ros.evaluation import metrics

METRICS = ('accuracy', 'recall', 'macro_f1', 'coverage')
GOALS = {  # issue 10 item 1
    'adapted 19-class accuracy': ('fine', 'accuracy', 'after', 0.80),
    'adapted 7-class accuracy': ('basic', 'accuracy', 'after', 0.90),
    'base 7-class accuracy': ('basic', 'accuracy', 'base', 0.80),
}
SINCE_BINS = (0.0, 0.5, 1.0, 2.0, np.inf)  # seconds since the true segment began
LEVELS = ('neutral', *taxonomy.INTENSITIES)


def person_rows(results: list[Any]) -> list[dict[str, Any]]:
    """One row per person: every condition's fine and basic scores, and the adaptations."""
    rows = []
    for r in results:
        row: dict[str, Any] = {'subject': r.subject, 'timings': r.timings}
        for name, ev in r.evaluations.items():
            row[name] = {
                level: {m: float(getattr(getattr(ev, level), m)) for m in METRICS}
                for level in ('fine', 'basic')
            }
            row[name]['timing_error_s'] = float(ev.timing_error)
        row['adaptations'] = r.adaptations
        rows.append(row)
    return rows


def aggregate(rows: list[dict[str, Any]], conditions: list[str]) -> dict[str, Any]:
    """Mean, std (ddof 1), worst value and person per condition, level and metric."""
    out: dict[str, Any] = {}
    for name in ['base', *conditions]:
        out[name] = {}
        for level in ('fine', 'basic'):
            out[name][level] = {}
            for m in METRICS:
                v = np.array([row[name][level][m] for row in rows], dtype=np.float64)
                worst = int(np.nanargmin(v)) if np.isfinite(v).any() else 0
                out[name][level][m] = {
                    'mean': float(np.nanmean(v)),
                    'std': float(np.nanstd(v, ddof=1)) if v.size > 1 else 0.0,
                    'worst': float(v[worst]),
                    'worst_subject': rows[worst]['subject'],
                }
        if name != 'base':
            out[name]['worse_than_base'] = {
                level: [
                    row['subject']
                    for row in rows
                    if row[name][level]['accuracy'] < row['base'][level]['accuracy']
                ]
                for level in ('fine', 'basic')
            }
    return out


def goals(summary: dict[str, Any], headline: str, conditions: list[str]) -> list[dict[str, Any]]:
    """The issue's goals against the measured means (adapted: the `headline` condition)."""
    out = []
    for name, (level, metric, which, target) in GOALS.items():
        cond = headline if which == 'after' else 'base'
        got = summary[cond][level][metric]['mean']
        out.append({'goal': f'{name} >= {target:.2f}', 'condition': cond, 'measured': got,
                    'met': bool(got >= target)})  # fmt: skip
    for cond in conditions:
        worse = summary[cond]['worse_than_base']['fine']
        out.append({'goal': 'no person worse after /adapt (19-class accuracy)', 'condition': cond,
                    'measured': len(worse), 'met': not worse})  # fmt: skip
    return out


def _pooled(results: list[Any], name: str, window_s: float) -> tuple[np.ndarray, ...]:
    """Over people: truth, prediction, seconds since the true segment began and until it ends,
    and whether the prediction names a class shown anywhere in the window's span."""
    truth, pred, since, until, shown = [], [], [], [], []
    for r in results:
        ev = r.evaluations[name]
        starts = np.array([s.start for s in ev.segments])
        ends = np.array([s.end for s in ev.segments])
        ids = np.array([s.class_id for s in ev.segments])
        k = np.clip(np.searchsorted(starts, ev.times, side='right') - 1, 0, len(starts) - 1)
        keep = ev.truth >= 0
        first = np.clip(np.searchsorted(ends, ev.times - window_s, side='right'), 0, k)
        hit = [ev.predicted[i] in ids[first[i] : k[i] + 1] for i in range(len(k))]
        truth.append(ev.truth[keep])
        pred.append(ev.predicted[keep])
        since.append((ev.times - starts[k])[keep])
        until.append((ends[k] - ev.times)[keep])
        shown.append(np.array(hit, dtype=bool)[keep])
    return tuple(np.concatenate(x) for x in (truth, pred, since, until, shown))


def error_kinds(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Fractions of all scored windows: correct and each kind of error (they sum to 1)."""
    if truth.size == 0:
        return {}
    basic_t, basic_p = metrics.to_basic(truth), metrics.to_basic(pred)
    kinds = {
        'correct': pred == truth,
        'abstained': pred < 0,
        'right emotion, wrong intensity': (pred >= 0) & (pred != truth) & (basic_p == basic_t),
        'emotion called neutral': (pred == 0) & (truth > 0),
        'neutral called an emotion': (pred > 0) & (truth == 0),
        'wrong emotion': (pred > 0) & (truth > 0) & (basic_p != basic_t),
    }
    return {k: float(v.mean()) for k, v in kinds.items()}


def analysis(results: list[Any], names: list[str], window_s: float = 1.0) -> dict[str, Any]:
    """Where the errors are, pooled over people, for each named condition.

    `window_s`: the model's window length; a decision naming a class that was on the face
    somewhere in its window is counted apart ('in-window accuracy'): the share of errors that
    are lag behind a change rather than misreadings.
    """
    out: dict[str, Any] = {}
    for name in names:
        truth, pred, since, until, shown = _pooled(results, name, window_s)
        fine = metrics.score(truth, pred, taxonomy.CLASS_LABELS)
        basic = metrics.score(
            metrics.to_basic(truth), metrics.to_basic(pred), metrics.BASIC_LABELS
        )
        by_since = {}
        for lo, hi in itertools.pairwise(SINCE_BINS):
            m = (since >= lo) & (since < hi)
            by_since[f'{lo:g}-{hi:g} s'] = _bin(truth, pred, m)
        near_end = until < 0.5
        inner = since >= window_s  # the window saw only this segment's frames
        level = np.array([0 if c == 0 else 1 + (c - 1) % 3 for c in truth.clip(0)])
        by_level = {LEVELS[i]: _bin(truth, pred, level == i) for i in range(4)}
        out[name] = {
            'windows': int(truth.size),
            'fine': fine.as_dict(),
            'basic': basic.as_dict(),
            'error_kinds': error_kinds(truth, pred),
            'transition_share': float((since < window_s).mean()) if since.size else float('nan'),
            'subsets': {
                'all windows': _bin(truth, pred, np.ones(truth.shape, bool)),
                'committed (not abstained)': _bin(truth, pred, pred >= 0),
                f'interior (>= {window_s:g} s into the segment)': _bin(truth, pred, inner),
                'interior and committed': _bin(truth, pred, inner & (pred >= 0)),
            },
            'in_window_accuracy': float(shown.mean()) if shown.size else float('nan'),
            'by_time_since_segment_start': by_since,
            'last_0.5_s_of_segment': _bin(truth, pred, near_end),
            'by_true_intensity': by_level,
        }
    return out


def _bin(truth: np.ndarray, pred: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    n = int(mask.sum())
    if n == 0:
        return {'windows': 0, 'fine_accuracy': float('nan'), 'basic_accuracy': float('nan')}
    t, p = truth[mask], pred[mask]
    return {
        'windows': n,
        'fine_accuracy': float((t == p).mean()),
        'basic_accuracy': float((metrics.to_basic(t) == metrics.to_basic(p)).mean()),
    }


def _ms(d: dict[str, float]) -> str:
    return f'{d["mean"]:.3f} ± {d["std"]:.3f} ({d["worst"]:.3f})'


def markdown(report: dict[str, Any]) -> str:
    """The benchmark's Markdown section (headline, goals, analysis, per person, how to run)."""
    s, cfg, run = report['summary'], report['config'], report['run']
    conds = ['base', *report['conditions']]
    lines = [
        f'Model `{run["model_id"]}` ({run["training_people"]}); {cfg["people"]} unseen people '
        f'(`{cfg["prefix"]}000`.., seed {cfg["seed"]}); sessions of {cfg["session_seconds"]:g} s '
        f'at {cfg["fps"]:g} fps, {cfg["width"]}x{cfg["height"]} JPEG; support clips of '
        f'{cfg["clip_seconds"][0]:g}-{cfg["clip_seconds"][1]:g} s at {cfg["support_fps"]:g} fps '
        f"(a separate recording, bag + labels sidecar, through /adapt's AdaptationManager); "
        f'{run["mode"]}. Cells: mean ± std over people (worst person).',
        '',
        '| condition | 19-class acc | 19-class recall | 19-class F1 | 7-class acc '
        '| 7-class recall | 7-class F1 | coverage | worse than base (19 / 7) |',
        '|---|---|---|---|---|---|---|---|---|',
    ]
    for c in conds:
        f, b = s[c]['fine'], s[c]['basic']
        worse = s[c].get('worse_than_base')
        w = f'{len(worse["fine"])} / {len(worse["basic"])}' if worse else '-'
        lines.append(
            f'| {c} | {_ms(f["accuracy"])} | {_ms(f["recall"])} | {_ms(f["macro_f1"])} '
            f'| {_ms(b["accuracy"])} | {_ms(b["recall"])} | {_ms(b["macro_f1"])} '
            f'| {f["coverage"]["mean"]:.3f} | {w} |'
        )
    lines += ['', '| goal | condition | measured | met |', '|---|---|---|---|']
    for g in report['goals']:
        v = g['measured']
        shown = f'{v:.3f}' if isinstance(v, float) else str(v)
        met = 'yes' if g['met'] else '**no**'
        lines.append(f'| {g["goal"]} | {g["condition"]} | {shown} | {met} |')
    lines += _adaptation_md(report)
    lines += _analysis_md(report['analysis'])
    lines += ['', '#### Per person (accuracy, 19-class / 7-class)', '']
    lines += ['| person | ' + ' | '.join(conds) + ' |', '|---' * (len(conds) + 1) + '|']
    for row in report['people']:
        cells = [f'{row[c]["fine"]["accuracy"]:.2f} / {row[c]["basic"]["accuracy"]:.2f}'
                 for c in conds]  # fmt: skip
        lines.append(f'| {row["subject"]} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def _adaptation_md(report: dict[str, Any]) -> list[str]:
    """What /adapt reported per condition (means over people): the support fit vs the session."""
    lines = ['', '#### What /adapt saw (means over people)', '',
             '| condition | clips | wrong labels | support acc before -> after | '
             'session 19-class acc after | /adapt s |', '|---|---|---|---|---|---|']  # fmt: skip
    for c in report['conditions']:
        ad = [row['adaptations'][c] for row in report['people']]

        def mean(key: str, ad: list = ad) -> float:
            return float(np.mean([a[key] for a in ad]))

        acc = report['summary'][c]['fine']['accuracy']['mean']
        lines.append(
            f'| {c} | {mean("clips_used"):.1f} | {mean("wrong_labels"):.1f} | '
            f'{mean("support_accuracy_before"):.2f} -> {mean("support_accuracy_after"):.2f} | '
            f'{acc:.3f} | {mean("duration_s"):.1f} |'
        )
    return lines


def _analysis_md(an: dict[str, Any]) -> list[str]:
    names = list(an)
    head = '| | ' + ' | '.join(names) + ' |'
    sep = '|---' * (len(names) + 1) + '|'
    lines = ['', '#### Where the errors are (pooled over people; fractions of scored windows)', '',
             head, sep]  # fmt: skip
    for kind in an[names[0]]['error_kinds']:
        lines.append(f'| {kind} | ' + ' | '.join(f'{an[n]["error_kinds"][kind]:.3f}'
                                                 for n in names) + ' |')  # fmt: skip
    lines.append(
        '| *in-window accuracy* (decision shown anywhere in its window) | '
        + ' | '.join(f'{an[n]["in_window_accuracy"]:.3f}' for n in names)
        + ' |'
    )
    share = ', '.join(f'{n} {an[n]["transition_share"]:.3f}' for n in names)
    lines += ['', 'Accuracy (19-class / 7-class) on subsets of the windows. Share of windows '
              f'ending less than one window after a segment began: {share}.', '',
              head.replace('| |', '| windows |'), sep]  # fmt: skip
    for sub in an[names[0]]['subsets']:
        cells = [f'{d["fine_accuracy"]:.3f} / {d["basic_accuracy"]:.3f} (n={d["windows"]})'
                 for d in (an[n]['subsets'][sub] for n in names)]  # fmt: skip
        lines.append(f'| {sub} | ' + ' | '.join(cells) + ' |')
    lines += ['', 'Accuracy (19-class / 7-class) by time since the true segment began, and in '
              'the last 0.5 s of a segment (windows are 1 s long and end at the stamp):', '',
              head.replace('| |', '| window ends |'), sep]  # fmt: skip
    bins = {**an[names[0]]['by_time_since_segment_start'], 'last 0.5 s': None}
    for b in bins:
        cells = []
        for n in names:
            d = an[n]['last_0.5_s_of_segment'] if b == 'last 0.5 s' else (
                an[n]['by_time_since_segment_start'][b])  # fmt: skip
            cells.append(
                f'{d["fine_accuracy"]:.2f} / {d["basic_accuracy"]:.2f} (n={d["windows"]})'
            )
        lines.append(f'| {b} | ' + ' | '.join(cells) + ' |')
    lines += ['', 'Accuracy (19-class / 7-class) by the true intensity:', '',
              head.replace('| |', '| true class |'), sep]  # fmt: skip
    for level in LEVELS:
        d = {n: an[n]['by_true_intensity'][level] for n in names}
        cells = [f'{d[n]["fine_accuracy"]:.2f} / {d[n]["basic_accuracy"]:.2f}' for n in names]
        lines.append(f'| {level} | ' + ' | '.join(cells) + ' |')
    lines += ['', 'Per-class recall (19 classes):', '', head.replace('| |', '| class |'), sep]
    for label in taxonomy.CLASS_LABELS:
        cells = [
            f'{an[n]["fine"]["per_class_recall"].get(label, float("nan")):.2f}' for n in names
        ]
        lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    return lines


def build_report(cfg: Any, results: list[Any], run: dict[str, Any]) -> dict[str, Any]:
    """The whole JSON report: config, run facts, per person, summary, goals, analysis."""
    from st_f2m_ros.evaluation.session_bench import config_dict, headline_condition

    conditions = cfg.conditions
    rows = person_rows(results)
    summary = aggregate(rows, conditions)
    headline = headline_condition(cfg)
    noisy = [c for c in conditions if 'noise' in c]
    shown = list(dict.fromkeys(['base', headline, *noisy[-1:]]))
    return {
        'config': config_dict(cfg),
        'run': run,
        'conditions': conditions,
        'headline_condition': headline,
        'summary': summary,
        'goals': goals(summary, headline, conditions),
        'analysis': analysis(results, shown, float(run.get('window_s', 1.0))),
        'people': rows,
    }


def save_windows(results: list[Any], path: Path) -> Path:
    """Every scored decision (times, truth, prediction per person and condition) and the true
    segments, so that the analysis can be redone without replaying (`load_windows`)."""
    arrays: dict[str, np.ndarray] = {}
    for r in results:
        for name, ev in r.evaluations.items():
            for key in ('times', 'truth', 'predicted'):
                arrays[f'{r.subject}/{name}/{key}'] = getattr(ev, key)
            arrays[f'{r.subject}/{name}/segments'] = np.array(
                [(s.start, s.end, s.class_id) for s in ev.segments], dtype=np.float64
            )
    tmp = path.with_name(path.name + '.tmp')
    with open(tmp, 'wb') as f:
        np.savez_compressed(f, **arrays)
    tmp.replace(path)
    return path


def load_windows(path: Path) -> list[Any]:
    """`save_windows`' file as objects `analysis` takes (subject, evaluations[name])."""
    from types import SimpleNamespace

    people: dict[str, dict[str, dict[str, Any]]] = {}
    with np.load(path) as z:
        for key in z.files:
            subject, name, field = key.split('/')
            people.setdefault(subject, {}).setdefault(name, {})[field] = z[key]
    out = []
    for subject, conds in people.items():
        evs = {}
        for name, d in conds.items():
            segs = [SimpleNamespace(start=a, end=b, class_id=int(c)) for a, b, c in d['segments']]
            evs[name] = SimpleNamespace(times=d['times'], truth=d['truth'],
                                        predicted=d['predicted'], segments=segs)  # fmt: skip
        out.append(SimpleNamespace(subject=subject, evaluations=evs))
    return out


def write_report(
    report: dict[str, Any], out: Path, results: list[Any] | None = None
) -> dict[str, Path]:
    """session_bench.json, session_bench.md, the figures (and with `results` the scored
    decisions, session_bench_windows.npz) under `out` (atomic writes)."""
    import json

    from st_f2m_ros.evaluation.session_figures import write_figures

    out = Path(out)
    files = {}
    for name, text in (
        ('json', json.dumps(report, indent=1, default=float)),
        ('markdown', markdown(report)),
    ):
        path = out / ('session_bench.json' if name == 'json' else 'session_bench.md')
        tmp = path.with_name(path.name + '.tmp')
        tmp.write_text(text, encoding='utf-8')
        tmp.replace(path)
        files[name] = path
    files.update(write_figures(report, out))
    if results is not None:
        files['windows'] = save_windows(results, out / 'session_bench_windows.npz')
    return files
