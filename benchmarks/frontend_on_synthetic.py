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
"""The real-face front end and expression net on synthetic faces of unseen people (issue 9).

Usage: .venv/bin/python benchmarks/frontend_on_synthetic.py [--subjects 12]
       [--frames-per-class 3] [--seed 7] [--out out/frontend_on_synthetic] [--overlays 24]

Why: the default model's per-frame features come from parts trained on real faces (BlazeFace,
the 468-point mesh, the FER2013 mini-Xception), and the layers trained on the synthetic
benchmark see drawn faces only through them. That works only where those parts read drawn
faces the way they read real ones, so this scores them against the generator's own truth:

* detection rate: frames where the front end returns a face (and `localised`: its landmarks
  lie on the drawn face, mean error under 0.25 inter-ocular distances);
* landmark error: mesh points vs the drawn landmarks they correspond to
  (`synthetic.landmarks.MESH_CORRESPONDENCE`), / the drawn inter-ocular distance; per frame
  the mean over the anatomical landmarks (NME), median and p90 over frames;
* component agreement: the front end's twelve components (neutral taken from the same
  person's neutral frames, as /adapt does with neutral support clips) against the generator's
  true components relative to that person's neutral: Pearson r, mean absolute error, slope;
* expression-net agreement: 7-class accuracy of `ExpressionNet.predict` on the front end's
  aligned crop against the true basic emotion, overall and per intensity, with confusions.

Frames come from one clip per (person, class) with the default realism (pose, lighting, noise,
blur) and no blends or corruptions. Writes <out>.json, <out>.png and, with --overlays,
<out>_overlays.png (mesh in grey, corresponding points green, drawn truth red).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import json
import os
from pathlib import Path
import platform
import sys
import time

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
INTENSITY_NAMES = ('low', 'medium', 'high')


def machine() -> str:
    """One line naming the machine and its load, so figures are read with their context."""
    import torch

    return (
        f'{platform.machine()} {platform.processor() or ""}'.strip()
        + f', {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, Python '
        + f'{platform.python_version()}, torch {torch.__version__} '
        + f'({torch.get_num_threads()} threads), OpenCV {cv2.__version__}'
    )


def frame_ids(n: int, k: int) -> list[int]:
    """`k` frames spread over a clip of `n` (pose and lighting differ between them)."""
    return sorted({round(float(v)) for v in np.linspace(0, n - 1, k)})


def collect(subjects: int, per_class: int, seed: int, overlays: int):  # type: ignore[no-untyped-def]
    """Render, run the front end and the net; one record per frame, plus overlay tiles."""
    from st_f2m_ros.data.synthetic import SyntheticConfig, SyntheticSession, make_subjects
    from st_f2m_ros.data.synthetic.landmarks import interocular, mesh_landmarks
    from st_f2m_ros.data.synthetic.script import ScriptConfig
    from st_f2m_ros.perception.expression_net import ExpressionNet
    from st_f2m_ros.perception.face_frontend import FaceFrontEnd
    from st_f2m_ros.taxonomy import NUM_CLASSES

    fe, net = FaceFrontEnd(), ExpressionNet.load()
    cfg = SyntheticConfig(
        duration=max(1.0, 0.4 * per_class), script=replace(ScriptConfig(), blend_prob=0.0)
    )
    recs: list[dict] = []
    tiles: list[tuple] = []
    # Overlay frames: the first frame of (person k mod N, class 7k mod 19), k < overlays.
    want = {(k % subjects, (7 * k) % NUM_CLASSES) for k in range(overlays)}
    t_fe = t_net = 0.0
    for si, person in enumerate(make_subjects(subjects, seed, prefix='unseen')):
        crops, where = [], []
        for cid in range(NUM_CLASSES):
            sess = SyntheticSession(person, cfg, seed, clip_index=cid, classes=(cid,))
            for j, i in enumerate(frame_ids(len(sess), per_class)):
                f = sess.render(i)
                truth = sess.landmarks(i)
                t0 = time.perf_counter()
                obs = fe.process(f.image, track=False, learn=False)
                t_fe += time.perf_counter() - t0
                rec = {'subject': si, 'cid': cid, 'true': f.components.astype(float)}
                rec['found'] = obs is not None
                if obs is not None:
                    err = np.linalg.norm(mesh_landmarks(obs.landmarks) - truth, axis=1)
                    rec['err'] = err / interocular(truth)
                    rec['raw'] = obs.raw
                    where.append(len(recs))
                    crops.append(obs.crop)
                if j == 0 and (si, cid) in want:
                    tiles.append((f.image, truth, obs, cid))
                recs.append(rec)
        if crops:
            t0 = time.perf_counter()
            probs = net.predict(np.stack(crops))
            t_net += time.perf_counter() - t0
            for k, p in zip(where, probs):
                recs[k]['probs'] = p
    n_found = sum(r['found'] for r in recs)
    timing = {
        'frontend_ms_per_frame': 1e3 * t_fe / max(len(recs), 1),
        'net_ms_per_face': 1e3 * t_net / max(n_found, 1),
    }
    return recs, tiles, fe.cset, timing


def sweep(people: int, seed: int) -> dict:
    """Front-end response [12 drawn, 12 measured] to one component at +1 on a still face.

    Each component alone, on frontal faces of `people` unseen people with their resting
    offsets removed, measured against the same face at rest: the diagonal is how much of a
    drawn movement the mesh sees, the rest is what it reads into other components.
    """
    from st_f2m_ros.data.synthetic import make_subjects
    from st_f2m_ros.data.synthetic.render import Pose, draw_face, face_geometry, make_background
    from st_f2m_ros.perception.face_components import to_components
    from st_f2m_ros.perception.face_frontend import FaceFrontEnd
    from st_f2m_ros.taxonomy import COMPONENTS, NUM_COMPONENTS

    fe = FaceFrontEnd()
    out = np.zeros((NUM_COMPONENTS, NUM_COMPONENTS))
    found = np.zeros(NUM_COMPONENTS)
    for k, person in enumerate(make_subjects(people, seed, prefix='sweep')):
        person = replace(person, offsets=(0.0,) * NUM_COMPONENTS)
        bg = make_background(person, 640, 480, np.random.default_rng(seed + k))
        pose = Pose(320.0, 240.0, person.half_width)

        raws = []
        for c in np.vstack([np.zeros(NUM_COMPONENTS), np.eye(NUM_COMPONENTS)]):
            img = bg.copy()
            draw_face(img, person, face_geometry(person, c), pose)
            obs = fe.process(img, track=False, learn=False)
            raws.append(None if obs is None else obs.raw)
        rest = raws[0]
        for j, r in enumerate(raws[1:]):
            if rest is not None and r is not None:
                out[j] += to_components(r, rest, fe.cset)
                found[j] += 1
    out /= np.maximum(found, 1)[:, None]
    diagonal = {n: float(out[j, j]) for j, n in enumerate(COMPONENTS)}
    return {'people': people, 'response': out.round(3).tolist(), 'diagonal': diagonal}


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or a.std() < 1e-9 or b.std() < 1e-9:
        return float('nan')
    return float(np.corrcoef(a, b)[0, 1])


def _level(cid: int) -> str:
    from st_f2m_ros.taxonomy import decode_class

    return 'neutral' if cid == 0 else decode_class(cid).intensity


def summarise(recs: list[dict], cset) -> dict:  # type: ignore[no-untyped-def]
    """Detection, landmark, component and expression figures from the per-frame records."""
    from st_f2m_ros.data.synthetic.landmarks import CONVENTIONAL, LANDMARK_NAMES
    from st_f2m_ros.perception.face_components import to_components
    from st_f2m_ros.taxonomy import COMPONENTS, basic_emotion_of

    found = [r for r in recs if r['found']]
    anat = np.array([n not in CONVENTIONAL for n in LANDMARK_NAMES])
    errs = np.stack([r['err'] for r in found]) if found else np.zeros((0, len(anat)))
    nme = errs[:, anat].mean(1) if found else np.zeros(0)
    out: dict = {
        'frames': len(recs),
        'detection_rate': len(found) / max(len(recs), 1),
        'localised_rate': float((nme < 0.25).sum()) / max(len(recs), 1),
    }
    per = {n: float(np.median(errs[:, j])) for j, n in enumerate(LANDMARK_NAMES)} if found else {}
    out['landmarks'] = {
        'nme_median': float(np.median(nme)) if found else None,
        'nme_p90': float(np.percentile(nme, 90)) if found else None,
        'per_landmark_median': per,
    }
    # Components: neutral from each person's own neutral frames (support), truth relative to it.
    meas, true = [], []
    for si in sorted({r['subject'] for r in found}):
        mine = [r for r in found if r['subject'] == si]
        neutral = [r for r in mine if r['cid'] == 0]
        if not neutral:
            continue
        base = np.median(np.stack([r['raw'] for r in neutral]), axis=0)
        true0 = np.mean(np.stack([r['true'] for r in neutral]), axis=0)
        for r in mine:
            meas.append(to_components(r['raw'], base, cset))
            true.append(r['true'] - true0)
    comp = {}
    if meas:
        m, t = np.stack(meas).astype(float), np.stack(true)
        for j, name in enumerate(COMPONENTS):
            slope = float(np.polyfit(t[:, j], m[:, j], 1)[0]) if t[:, j].std() > 1e-9 else None
            comp[name] = {
                'r': _pearson(t[:, j], m[:, j]),
                'mae': float(np.abs(m[:, j] - t[:, j]).mean()),
                'slope': slope,
            }
    rs = [c['r'] for c in comp.values() if np.isfinite(c['r'])]
    out['components'] = {
        'per_component': comp,
        'mean_r': float(np.mean(rs)) if rs else None,
        'mean_mae': float(np.mean([c['mae'] for c in comp.values()])) if comp else None,
    }
    # Expression net: 7 basic-emotion ids (neutral first), per intensity of the true class.
    net = {}
    scored = [r for r in found if 'probs' in r]
    for level in ('all', 'neutral', *INTENSITY_NAMES):
        sel = [r for r in scored if level in ('all', _level(r['cid']))]
        cm = np.zeros((7, 7), dtype=int)
        for r in sel:
            cm[basic_emotion_of(r['cid']), int(np.argmax(r['probs']))] += 1
        net[level] = {
            'n': len(sel),
            'accuracy': float(np.trace(cm) / max(cm.sum(), 1)),
            'confusion': cm.tolist(),
        }
    out['expression_net'] = net
    return out


def draw_figure(summary: dict, path: Path, title: str) -> None:
    """Confusion matrix, component r / MAE, per-landmark error, one-component sweep."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from st_f2m_ros.perception.expression_net import LABELS

    fig, ax = plt.subplots(1, 4, figsize=(23, 5.8))
    cm = np.array(summary['expression_net']['all']['confusion'], dtype=float)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    ax[0].imshow(norm, cmap='Blues', vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(cm):
        ax[0].text(j, i, int(v), ha='center', va='center', fontsize=8)
    ax[0].set_xticks(range(7), LABELS, rotation=45, ha='right')
    ax[0].set_yticks(range(7), LABELS)
    acc = summary['expression_net']
    ax[0].set_title(
        'expression net (rows: truth) acc {:.2f} (low {:.2f} med {:.2f} high {:.2f})'.format(
            *(acc[k]['accuracy'] for k in ('all', 'low', 'medium', 'high'))
        ),
        fontsize=9,
    )
    comp = summary['components']['per_component']
    names = list(comp)
    ax[1].barh(names, [comp[n]['r'] for n in names], color='tab:green', label='Pearson r')
    ax[1].barh(names, [comp[n]['mae'] for n in names], height=0.3, color='tab:red', label='MAE')
    ax[1].axvline(0, color='k', lw=0.5)
    ax[1].set_xlim(-0.5, 1.0)
    ax[1].legend(fontsize=8)
    ax[1].set_title(f'components vs truth: mean r {summary["components"]["mean_r"]:.2f}')
    lm = summary['landmarks']['per_landmark_median']
    ax[2].barh(list(lm), list(lm.values()), color='tab:blue')
    ax[2].set_title(
        'landmark error / IOD: NME median {:.3f}, p90 {:.3f}; detected {:.1%}'.format(
            summary['landmarks']['nme_median'] or 0,
            summary['landmarks']['nme_p90'] or 0,
            summary['detection_rate'],
        ),
        fontsize=9,
    )
    ax[2].tick_params(labelsize=7)
    if 'sweep' in summary:
        resp = np.array(summary['sweep']['response'])
        ax[3].imshow(resp, cmap='RdBu_r', vmin=-1, vmax=1)
        ax[3].set_xticks(range(len(names)), names, rotation=60, ha='right', fontsize=7)
        ax[3].set_yticks(range(len(names)), names, fontsize=7)
        ax[3].set_xlabel('measured by the front end')
        ax[3].set_ylabel('drawn at +1 alone')
        ax[3].set_title('one-component sweep (diagonal: sensitivity)', fontsize=9)
    else:
        ax[3].axis('off')
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def overlay_sheet(tiles: list, path: Path, side: int = 220) -> None:
    """Contact sheet: each face with the mesh (grey), its counterparts (green), truth (red)."""
    from st_f2m_ros.data.synthetic.landmarks import mesh_landmarks
    from st_f2m_ros.taxonomy import CLASS_LABELS

    cells = []
    for img, truth, obs, cid in tiles:
        cx, cy = truth.mean(0)
        half = 1.6 * np.ptp(truth[:, 0])
        k = side / (2 * half)
        m = np.array([[k, 0, side / 2 - k * cx], [0, k, side / 2 - k * cy]])
        cell = cv2.warpAffine(img, m, (side, side))

        dots = [(truth, 2, (0, 0, 255))]
        if obs is not None:
            mesh = mesh_landmarks(obs.landmarks)
            dots = [(obs.landmarks, 1, (170, 170, 170)), (mesh, 2, (0, 220, 0)), *dots]
        for p, r, colour in dots:
            for x, y in (p[:, :2] @ m[:, :2].T + m[:, 2]).astype(int):
                cv2.circle(cell, (int(x), int(y)), r, colour, -1)
        label = CLASS_LABELS[cid] + ('' if obs is not None else ': no face')
        cv2.putText(cell, label, (3, 12), 0, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        crop = np.zeros((side, 110, 3), np.uint8)
        if obs is not None:
            crop[:96, 7:103] = obs.crop
        cells.append(np.concatenate([cell, crop], axis=1))
    cols = 4
    while len(cells) % cols:
        cells.append(np.zeros_like(cells[0]))
    rows = [np.concatenate(cells[i : i + cols], axis=1) for i in range(0, len(cells), cols)]
    cv2.imwrite(str(path), np.concatenate(rows, axis=0))


def table(summary: dict) -> str:
    """The headline figures as text lines."""
    lm, comp, net = summary['landmarks'], summary['components'], summary['expression_net']
    lines = [
        f'frames {summary["frames"]}: detected {summary["detection_rate"]:.1%}, '
        f'localised {summary["localised_rate"]:.1%}',
        f'landmark NME / IOD: median {lm["nme_median"]:.3f}, p90 {lm["nme_p90"]:.3f}',
        f'components: mean r {comp["mean_r"]:.2f}, mean MAE {comp["mean_mae"]:.2f}',
    ]
    for name, c in comp['per_component'].items():
        slope = 'n/a' if c['slope'] is None else f'{c["slope"]:.2f}'
        lines.append(f'  {name:20s} r {c["r"]:+.2f}  MAE {c["mae"]:.2f}  slope {slope}')
    if 'sweep' in summary:
        diag = ', '.join(f'{n} {v:+.2f}' for n, v in summary['sweep']['diagonal'].items())
        lines.append(f'one-component sweep, response to +1: {diag}')
    accs = ', '.join(f'{k} {v["accuracy"]:.2f} (n={v["n"]})' for k, v in net.items())
    lines.append(f'expression net 7-class accuracy: {accs}')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--subjects', type=int, default=12, help='unseen people (default 12)')
    ap.add_argument('--frames-per-class', type=int, default=3, help='frames per person and class')
    ap.add_argument('--seed', type=int, default=7)
    ap.add_argument('--out', type=Path, default=ROOT / 'out' / 'frontend_on_synthetic')
    ap.add_argument('--overlays', type=int, default=0, help='frames on a contact sheet')
    ap.add_argument('--threads', type=int, default=1, help='torch and OpenCV threads')
    ap.add_argument('--sweep', type=int, default=6, help='people in the one-component sweep')
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    print('machine:', machine(), flush=True)
    t0 = time.perf_counter()
    recs, tiles, cset, timing = collect(args.subjects, args.frames_per_class, args.seed,
                                        args.overlays)  # fmt: skip
    summary = summarise(recs, cset)
    if args.sweep:
        summary['sweep'] = sweep(args.sweep, args.seed)
    summary.update(timing=timing, settings={k: str(v) for k, v in vars(args).items()})
    summary['machine'] = machine()
    print(table(summary))
    t = time.perf_counter() - t0
    print(f'front end {timing["frontend_ms_per_frame"]:.1f} ms/frame, net '
          f'{timing["net_ms_per_face"]:.1f} ms/face, {t:.0f} s in all')  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f'{args.out}.json').write_text(json.dumps(summary, indent=1) + '\n')
    title = f'{args.subjects} unseen people x 19 classes x {args.frames_per_class}, seed '
    title += str(args.seed)
    draw_figure(summary, Path(f'{args.out}.png'), title)
    if tiles:
        overlay_sheet(tiles, Path(f'{args.out}_overlays.png'))
    print(f'wrote {args.out}.json, {args.out}.png')
    return 0


if __name__ == '__main__':
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
