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
"""The fitness search of eq. 5 over the membership ranges (alpha, beta), paper V-B3 / VI-E.

The paper tunes alpha (FCIS) and beta (FKIS) "by evaluating the final effect of changing the
fuzzy rules through a fixed meta-learning model" and reports accuracy and recall on a grid as
a 3-D histogram (Fig. 10; best 0.4 / 0.4). Eq. 5 itself is not legible in the text, so the
fitness here is the weighted mean  w * accuracy + (1 - w) * recall  (w = 0.5: both count, as
in the paper's "when the accuracy and recall rates are the highest"), maximised over the grid.

The search takes any evaluation callable (alpha, beta) -> (accuracy, recall): `model_evaluator`
builds one from a checkpoint and a dataset (E is run once, only F and C per cell), and
`rule_evaluator` one from the rule base alone (noisy component vectors, no model), which
checks the rule base and the machinery without a trained model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
import csv
from dataclasses import dataclass
import io
import os
from pathlib import Path

import numpy as np

from st_f2m_ros import taxonomy
from st_f2m_ros.errors import ConfigError
from st_f2m_ros.fuzzy.rules import RuleBase, load_rule_base

Evaluator = Callable[[float, float], tuple[float, float]]


@dataclass
class TuningResult:
    """Accuracy, recall and fitness on the grid: arrays [len(alphas), len(betas)]."""

    alphas: np.ndarray
    betas: np.ndarray
    accuracy: np.ndarray
    recall: np.ndarray
    fitness: np.ndarray
    weight: float

    @property
    def best(self) -> tuple[float, float]:
        """(alpha, beta) of the highest fitness (first one on ties, smallest alpha then beta)."""
        i, j = np.unravel_index(int(np.argmax(self.fitness)), self.fitness.shape)
        return float(self.alphas[i]), float(self.betas[j])


def parse_grid(text: str) -> np.ndarray:
    """Parse 'start:stop:step' (inclusive) or 'a,b,c' into sorted positive values."""
    try:
        if ':' in text:
            start, stop, step = (float(x) for x in text.split(':'))
            if step <= 0:
                raise ValueError('step must be positive')
            values = np.arange(start, stop + step / 2, step)
        else:
            values = np.array([float(x) for x in text.split(',') if x.strip()])
    except ValueError as err:
        raise ConfigError(
            f'cannot read the grid {text!r} ({err}); write "0.1:0.9:0.1" or "0.2,0.4,0.6"'
        ) from None
    values = np.unique(np.round(values, 6))
    if values.size == 0 or np.any(values <= 0) or not np.all(np.isfinite(values)):
        raise ConfigError(f'the grid {text!r} must hold positive numbers')
    return values


def fitness_search(
    evaluate: Evaluator,
    alphas: Sequence[float] | np.ndarray,
    betas: Sequence[float] | np.ndarray,
    weight: float = 0.5,
    progress: bool = False,
) -> TuningResult:
    """Evaluate every (alpha, beta) cell and score it with eq. 5's fitness."""
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f'the accuracy weight must be in [0, 1], got {weight}')
    a, b = np.asarray(alphas, float), np.asarray(betas, float)
    acc = np.zeros((a.size, b.size))
    rec = np.zeros_like(acc)
    cells: Iterable[tuple[int, int]] = [(i, j) for i in range(a.size) for j in range(b.size)]
    if progress:
        from tqdm import tqdm

        cells = tqdm(list(cells), desc='tune-fuzzy', unit='cell')
    for i, j in cells:
        acc[i, j], rec[i, j] = evaluate(float(a[i]), float(b[j]))
    return TuningResult(a, b, acc, rec, weight * acc + (1.0 - weight) * rec, weight)


def macro_recall(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean per-class recall over the classes present in y_true."""
    classes = np.unique(y_true)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))


def class_ids(labels: Sequence[str] | None) -> np.ndarray | None:
    """Class ids of labels such as 'anger_high' (None = all classes); ConfigError if unknown."""
    if not labels:
        return None
    try:
        return np.array([taxonomy.class_id_from_label(x) for x in labels], dtype=np.int64)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def _rule_scorer(rb: RuleBase, x: np.ndarray, y: np.ndarray) -> Evaluator:
    """Score the rule base alone on component vectors x [N, 12] with true class ids y [N].

    The prediction follows FKIS: the emotion whose rules fire strongest, then its intensity
    level from the defuzzified intensity of that emotion's Fig. 3 sets (nearest centre), so
    alpha acts on the rule firing and beta on the intensity decision; neutral when the
    neutral rule wins or no emotion rule fires above the label threshold. Components are
    clipped to their ranges, as FCIS outputs are.
    """
    import torch

    from st_f2m_ros.fuzzy.inference import RuleEvaluator

    evaluator = RuleEvaluator(rb)
    comps = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    centres = torch.from_numpy(rb.intensity_centres().reshape(len(taxonomy.EMOTIONS), 3))

    def evaluate(alpha: float, beta: float) -> tuple[float, float]:
        evaluator.terms.bank.set_range(alpha)
        evaluator.fkis.intensity_sets.set_range(beta)
        with torch.no_grad():
            strengths, _ = evaluator(comps, clip=True)
            per_emotion = strengths[:, 1:].reshape(-1, len(taxonomy.EMOTIONS), 3)
            emotion = per_emotion.amax(dim=-1).argmax(dim=-1)
            value = evaluator.fkis.emotion_intensity(strengths).gather(1, emotion[:, None])
            level = (value - centres[emotion]).abs().argmin(dim=-1)
            pred = (1 + emotion * 3 + level).numpy()
            best = per_emotion.amax(dim=(1, 2)).numpy()
            pred[(best <= rb.label_threshold) | (strengths[:, 0].numpy() > best)] = 0
        return float(np.mean(pred == y)), macro_recall(y, pred)

    return evaluate


def rule_evaluator(
    rule_base: RuleBase | None = None,
    samples_per_class: int = 40,
    noise: float = 0.3,
    seed: int = 0,
    classes: Sequence[str] | None = None,
) -> Evaluator:
    """Evaluation without a model or data: noisy Table II codings, classified by the rules.

    Each class's coding gets Gaussian noise (sigma = `noise`); the same samples serve every
    cell. `classes` restricts the samples to some classes (the paper's Fig. 10: anger_high).
    """
    rb = rule_base if rule_base is not None else load_rule_base()
    rng = np.random.default_rng(seed)
    codings = rb.coding_matrix().astype(np.float32)
    labels = rb.coding_classes()
    wanted = class_ids(classes)
    if wanted is not None:
        keep = np.isin(labels, wanted)
        codings, labels = codings[keep], labels[keep]
    reps = max(1, samples_per_class)
    x = np.repeat(codings, reps, axis=0)
    x = x + rng.normal(0.0, noise, x.shape).astype(np.float32)
    return _rule_scorer(rb, x, np.repeat(labels, reps))


def component_evaluator(
    dataset: str | os.PathLike[str],
    rule_base: RuleBase | None = None,
    subjects: Sequence[str] | None = None,
    limit: int | None = None,
    classes: Sequence[str] | None = None,
) -> Evaluator:
    """Evaluation of the rule base on a dataset's measured components (no model).

    The paper's second use of FCIS/FKIS (section IV): labelling data from component values
    (DISFA-FER, WFLW-FER). Scores how well the rules reproduce the dataset's labels; frames
    without components or label (-1) are skipped.
    """
    from st_f2m_ros.data import load_clips

    rb = rule_base if rule_base is not None else load_rule_base()
    clips = load_clips(dataset, subjects=list(subjects) if subjects else None, limit=limit)
    xs, ys = [], []
    for clip in clips:
        if clip.components is None:
            continue
        comps = np.asarray(clip.components, dtype=np.float32)
        keep = (np.asarray(clip.labels) >= 0) & np.all(np.isfinite(comps), axis=1)
        xs.append(comps[keep])
        ys.append(np.asarray(clip.labels, dtype=np.int64)[keep])
    x = np.concatenate(xs) if xs else np.zeros((0, taxonomy.NUM_COMPONENTS), np.float32)
    y = np.concatenate(ys) if ys else np.zeros(0, np.int64)
    wanted = class_ids(classes)
    if wanted is not None:
        keep = np.isin(y, wanted)
        x, y = x[keep], y[keep]
    if y.size == 0:
        raise ConfigError(
            f'no labelled frames with component values in {dataset}; check --subjects and '
            '--classes (real datasets need component annotations for this mode)'
        )
    return _rule_scorer(rb, x, y)


def format_table(result: TuningResult) -> str:
    """The grid as text: one row per alpha, one column per beta, cells 'acc/recall'."""
    head = 'alpha\\beta ' + ' '.join(f'{b:>11.2f}' for b in result.betas)
    lines = [head]
    for i, a in enumerate(result.alphas):
        cells = ' '.join(
            f'{result.accuracy[i, j]:>5.3f}/{result.recall[i, j]:<5.3f}'
            for j in range(result.betas.size)
        )
        lines.append(f'{a:>10.2f} {cells}')
    best_a, best_b = result.best
    i, j = int(np.argmax(result.alphas == best_a)), int(np.argmax(result.betas == best_b))
    lines.append(
        f'best: alpha={best_a:g} beta={best_b:g} accuracy={result.accuracy[i, j]:.3f} '
        f'recall={result.recall[i, j]:.3f} fitness={result.fitness[i, j]:.3f} '
        f'(fitness = {result.weight:g} accuracy + {1 - result.weight:g} recall)'
    )
    return '\n'.join(lines)


def write_csv(result: TuningResult, path: str | os.PathLike[str]) -> Path:
    """Write alpha, beta, accuracy, recall, fitness rows atomically."""
    from st_f2m_ros.data.io_utils import atomic_path

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(['alpha', 'beta', 'accuracy', 'recall', 'fitness'])
    for i, a in enumerate(result.alphas):
        for j, b in enumerate(result.betas):
            writer.writerow(
                [f'{a:g}', f'{b:g}']
                + [f'{m[i, j]:.6f}' for m in (result.accuracy, result.recall, result.fitness)]
            )
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding='utf-8')
    return path


def plot_grid(result: TuningResult, path: str | os.PathLike[str], title: str = '') -> Path:
    """3-D bar plots of accuracy and recall over (alpha, beta), like the paper's Fig. 10."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from st_f2m_ros.data.io_utils import atomic_path

    fig = plt.figure(figsize=(12, 5.2))
    aa, bb = np.meshgrid(result.alphas, result.betas, indexing='ij')
    da = 0.7 * float(np.min(np.diff(result.alphas))) if result.alphas.size > 1 else 0.07
    db = 0.7 * float(np.min(np.diff(result.betas))) if result.betas.size > 1 else 0.07
    best = result.best
    for k, (name, values) in enumerate((('Accuracy', result.accuracy), ('Recall', result.recall))):
        ax = fig.add_subplot(1, 2, k + 1, projection='3d')
        flat = values.ravel()
        lo = float(flat.min())
        span = float(flat.max() - lo) or 1.0
        colours = plt.cm.viridis((flat - lo) / span)
        is_best = (aa.ravel() == best[0]) & (bb.ravel() == best[1])
        colours[is_best] = (0.85, 0.1, 0.1, 1.0)
        ax.bar3d(
            aa.ravel() - da / 2,
            bb.ravel() - db / 2,
            np.zeros_like(flat),
            da,
            db,
            flat,
            color=colours,
            shade=True,
        )
        ax.set_xlabel('alpha (FCIS range)')
        ax.set_ylabel('beta (FKIS range)')
        ax.set_zlabel(name)
        ax.set_zlim(0.0, max(1.0, float(flat.max())))
        ax.set_title(f'{name} (best, red: alpha={best[0]:g}, beta={best[1]:g})', fontsize=10)
        ax.view_init(elev=28, azim=-135)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip('.') or 'png', dpi=110)
    plt.close(fig)
    return path


def model_evaluator(
    checkpoint: str | os.PathLike[str] | None,
    dataset: str | os.PathLike[str],
    subjects: Sequence[str] | None = None,
    limit: int | None = None,
    windows_per_run: int = 2,
    seed: int = 0,
    batch: int = 64,
    classes: Sequence[str] | None = None,
) -> Evaluator:
    """Evaluation with a fixed meta-model (eq. 5): a checkpoint classifying a dataset's windows.

    Frames are encoded once (E's CNN does not depend on alpha/beta); per cell only the window
    classification runs with the fuzzy module's ranges set to (alpha, beta). Use held-out
    subjects (`subjects`) so the search does not tune on training data; `classes` keeps only
    windows of those classes (the paper's Fig. 10 scores anger_high samples).
    """
    import torch

    from st_f2m_ros.data import load_clips
    from st_f2m_ros.meta.adapt import support_windows
    from st_f2m_ros.meta.windows import encode_clip_frames
    from st_f2m_ros.model.checkpoint import load_checkpoint

    model = load_checkpoint(checkpoint)
    if getattr(model, 'fuzzy', None) is None:
        raise ConfigError(
            f'checkpoint {checkpoint or "(default)"} was trained without the fuzzy module '
            '(config fuzzy: false); there are no membership ranges to tune'
        )
    clips = load_clips(dataset, subjects=list(subjects) if subjects else None, limit=limit)
    cfg = model.config
    wins = support_windows(clips, cfg.window, cfg.feature_rate, windows_per_run, seed)
    wanted = class_ids(classes)
    if wanted is not None:
        wins = [w for w in wins if w.label in set(wanted.tolist())]
    if not wins:
        raise ConfigError(
            f'no labelled windows in {dataset}; check --subjects, --classes and the labels'
        )
    frame_feats: dict[tuple[int, int], torch.Tensor] = {}
    with torch.inference_mode():
        for ci, clip in enumerate(clips):
            needed = sorted({int(f) for w in wins if w.clip == ci for f in w.frames})
            for k in range(0, len(needed), batch):
                idx = needed[k : k + batch]
                for f, feat in zip(idx, encode_clip_frames(model.encode_frames, clip, idx)):
                    frame_feats[(ci, f)] = feat
        feats = torch.stack(
            [torch.stack([frame_feats[(w.clip, int(f))] for f in w.frames]) for w in wins]
        )
        usable = bool(getattr(model, 'text_usable', True))
        texts = [w.text for w in wins]
        emb = torch.from_numpy(model.text_encoder.encode([t or ' ' for t in texts]))
    vm = torch.tensor([w.face for w in wins])
    tm = torch.tensor([usable and bool(t.strip()) for t in texts])
    y = np.array([w.label for w in wins])

    def evaluate(alpha: float, beta: float) -> tuple[float, float]:
        model.fuzzy.set_ranges(alpha, beta)
        preds = []
        with torch.inference_mode():
            for k in range(0, len(wins), batch):
                s = slice(k, k + batch)
                out = model.classify(feats[s], emb[s], vm[s], tm[s])
                preds.append(out.probs.argmax(dim=-1).numpy())
        pred = np.concatenate(preds)
        return float(np.mean(pred == y)), macro_recall(y, pred)

    return evaluate
