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
"""Pictures people would rather look at than read: confusion matrices and a timeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from st_f2m_ros import taxonomy
from st_f2m_ros.evaluation.metrics import Report
from st_f2m_ros.evaluation.replay import Evaluation


def _pyplot():
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(report: Report, path: Path, title: str) -> Path:
    """Row-normalised confusion matrix as a PNG."""
    plt = _pyplot()
    cm = np.asarray(report.confusion, dtype=np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    k = len(report.labels)
    fig, ax = plt.subplots(figsize=(3 + 0.42 * k, 2.5 + 0.38 * k))
    im = ax.imshow(norm, cmap='Blues', vmin=0, vmax=1)
    ax.set_xticks(range(k), report.labels, rotation=70, ha='right', fontsize=7)
    ax.set_yticks(range(k), report.labels, fontsize=7)
    ax.set_xlabel('predicted')
    ax.set_ylabel('true')
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, int(cm[i, j]), ha='center', va='center', fontsize=6,
                        color='white' if norm[i, j] > 0.5 else 'black')
    ax.set_title(f'{title}\nacc {report.accuracy:.3f}  recall {report.recall:.3f}  '
                 f'macro-F1 {report.macro_f1:.3f}', fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_timeline(evals: dict[str, Evaluation], path: Path) -> Path:
    """Ground truth and each run's decisions over time (one row per run)."""
    plt = _pyplot()
    names = list(evals)
    first = evals[names[0]]
    t0 = first.segments[0].start  # seconds from the start of the recording, not epoch
    fig, ax = plt.subplots(figsize=(11, 1.2 + 0.7 * (len(names) + 1)))
    cmap = plt.get_cmap('tab20', taxonomy.NUM_CLASSES)
    abstain = (0.1, 0.1, 0.1, 1.0)
    for seg in first.segments:
        ax.barh(0, seg.end - seg.start, left=seg.start - t0, color=cmap(seg.class_id),
                height=0.8)
    for row, name in enumerate(names, start=1):
        ev = evals[name]
        t = ev.times - t0
        widths = np.diff(np.append(t, t[-1] + (np.median(np.diff(t)) if t.size > 1 else 0.1)))
        colors = [cmap(c) if c >= 0 else abstain for c in ev.predicted]
        ax.barh(np.full(t.size, row), widths, left=t, color=colors, height=0.8)
    ax.set_yticks(range(len(names) + 1), ['ground truth', *names])
    ax.invert_yaxis()
    ax.set_xlabel('time (s from the start of the recording)')
    handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(i)) for i in range(taxonomy.NUM_CLASSES)]
    ax.legend(handles, taxonomy.CLASS_LABELS, ncol=7, fontsize=6, loc='upper center',
              bbox_to_anchor=(0.5, -0.35))
    ax.set_title('emotion timeline (black: abstain / no decision)', fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
