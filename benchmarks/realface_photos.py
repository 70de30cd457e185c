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
"""Real photographs as still-camera bags through the shipped recognizer (issue 9 item 5).

Each row is a photo (scikit-image's astronaut and camera man, matplotlib's Grace Hopper, a few
LFW crops) in a 640x480 frame as `evaluation.photo_evidence.Variant` says, written as an
MCAP bag (`--seconds` at `--fps`, JPEG, sensor noise, the happy sentence where the variant
speaks) and replayed with the node's parameters for every `--model` and the row's detector.
Prints and writes a Markdown report and a contact sheet:

    python benchmarks/realface_photos.py --model default \
        --model st_f2m_ros/resources/st_f2m_realface.safetensors \
        --md docs/realface_evidence.md --img docs/img/realface_evidence.png

'default' is the packaged checkpoint. Decided = most frequent published state after the
first second (share of states); P = mean probability of that emotion over the states.

`--why-neutral` prints instead, for the neutral photo and the smile, what each stage says:
the expression net, the head's raw window probabilities, the post-processed states (also
with expression_equalize), and ablations of the per-frame features and of text (docs
section "Why the neutral photo was not decided neutral"; about 2 min).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from pathlib import Path
import tempfile
import time

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import cv2
import numpy as np
import torch

from st_f2m_ros.evaluation import photo_evidence as pe
from st_f2m_ros.taxonomy import EMOTIONS, NEUTRAL

BASIC = (NEUTRAL, *EMOTIONS)

# (photo, variant, detector): the claims' rows, then the harder conditions.
ROWS = [
    ('astronaut', 'still', 'blazeface_full'),
    ('astronaut', 'mirrored', 'blazeface_full'),
    ('astronaut', 'small', 'blazeface_full'),
    ('astronaut', 'small+speech', 'blazeface_full'),
    ('grace_hopper', 'still', 'blazeface_full'),
    ('grace_hopper', 'speech', 'blazeface_full'),
    ('grace_hopper', 'small', 'blazeface_full'),
    ('astronaut', 'masked', 'blazeface_full'),
    ('astronaut', 'masked', 'haar'),
    ('grace_hopper', 'masked', 'blazeface_full'),
    ('grace_hopper', 'masked', 'haar'),
    ('astronaut', 'dark', 'blazeface_full'),
    ('astronaut', 'dark', 'haar'),
    ('astronaut', 'rolled', 'blazeface_full'),
    ('astronaut', 'rolled', 'haar'),
    ('camera', 'still', 'blazeface_full'),
    ('camera', 'still', 'haar'),
]
SPEECH_PAIRS = [('astronaut', 'small', 'small+speech'), ('grace_hopper', 'still', 'speech')]


def _recognizer(model: str, threads: int):
    from st_f2m_ros.runtime.inference.factory import build_recognizer

    return build_recognizer('torch', checkpoint=None if model == 'default' else model,
                            num_threads=threads)  # fmt: skip


def run(models: list[str], rows: list, seconds: float, fps: float, threads: int) -> dict:
    """Compose, record and replay every row for every model; the numbers as plain JSON."""
    frames, readings, bags = {}, {}, {}
    out: dict = {'models': {}, 'rows': [], 'seconds': seconds, 'fps': fps}
    with tempfile.TemporaryDirectory(prefix='realface_photos_') as tmp:
        for photo, variant, _ in rows:
            key = (photo, variant)
            if key in frames:
                continue
            v = pe.VARIANTS[variant.split('#')[0]]
            img = pe.load_photo(
                photo.split('#')[0], int(photo.split('#')[1]) if '#' in photo else 0
            )
            frames[key] = pe.compose_frame(img, v)
            readings[key] = pe.read_frame(frames[key])
            name = f'{photo}_{variant}'.replace('#', '').replace('+', '_')
            bags[key] = pe.write_still_bag(Path(tmp) / name, frames[key], seconds, fps, v.text)
        for model in models:
            rec = _recognizer(model, threads)
            out['models'][model] = rec.model_id
            for photo, variant, det in rows:
                t0 = time.perf_counter()
                res = pe.replay_still(bags[photo, variant], rec, {'face_detector': det})
                r = readings[photo, variant]
                row = {
                    'model': model, 'model_id': rec.model_id, 'photo': photo,
                    'variant': variant, 'detector': res.detector, 'found': res.found,
                    'decision': res.decision, 'share': res.share, 'windows': res.windows,
                    'labels': dict(res.labels), 'reasons': dict(res.reasons),
                    'p_decision': res.mean_prob(res.decision) if res.decision in BASIC else 0.0,
                    'p_happiness': res.mean_prob('happiness'),
                    'p_neutral': res.mean_prob('neutral'),
                    'expression': r.expression, 'expression_prob': r.expression_prob,
                    'rules': r.rules, 'yaw': r.yaw, 'face_px': r.face_px,
                    'replay_s': time.perf_counter() - t0,
                }  # fmt: skip
                out['rows'].append(row)
                print(_line(row), flush=True)
    out['frames'] = frames
    return out


def _line(r: dict) -> str:
    return (f'{r["model_id"][:28]:28} {r["photo"]:13} {r["variant"]:13} {r["detector"]:14} '
            f'found {100 * r["found"]:5.1f} % {r["decision"]:>14} ({r["share"]:.2f}) '
            f'P {r["p_decision"]:.2f} P(happy) {r["p_happiness"]:.2f} | net {r["expression"]} '
            f'{r["expression_prob"]:.2f} rules {r["rules"]} [{r["replay_s"]:.1f} s]')  # fmt: skip


def markdown(res: dict) -> list[str]:
    """One table per model, then the speech effect."""
    lines = []
    for model, mid in res['models'].items():
        lines += [
            f'### `{mid}`' + ('' if model == 'default' else f' ({model})'),
            '',
            '| photo | variant | detector | face found | decided (share of states) | P | '
            'expression net top-1 | rules |',
            '|---|---|---|---|---|---|---|---|',
        ]
        for r in (r for r in res['rows'] if r['model'] == model):
            why = f' ({", ".join(r["reasons"])})' if r['reasons'] else ''
            lines.append(
                f'| {r["photo"]} | {r["variant"]} | {r["detector"]} | {100 * r["found"]:.0f} % '
                f'| {r["decision"]}{why} ({r["share"]:.2f}) | {r["p_decision"]:.2f} '
                f'| {r["expression"] or "-"} {r["expression_prob"]:.2f} | {r["rules"] or "-"} |'
            )
        lines.append('')
    lines += [
        '### The happy sentence',
        '',
        f'Mean P(happiness) over the same frames without and with "{pe.HAPPY_SENTENCE}" '
        '(std_msgs/String at 1.5 s).',
        '',
        '| model | photo | face | without | with | change |',
        '|---|---|---|---|---|---|',
    ]
    rows = {(r['model'], r['photo'], r['variant'], r['detector']): r for r in res['rows']}
    for model, mid in res['models'].items():
        for photo, base, spoken in SPEECH_PAIRS:
            a = rows.get((model, photo, base, 'blazeface_full'))
            b = rows.get((model, photo, spoken, 'blazeface_full'))
            if a and b:
                d = b['p_happiness'] - a['p_happiness']
                lines.append(f'| `{mid}` | {photo} | {base} | {a["p_happiness"]:.2f} '
                             f'| {b["p_happiness"]:.2f} | {d:+.2f} |')  # fmt: skip
    return lines


BEGIN, END = '<!-- realface_photos:begin -->', '<!-- realface_photos:end -->'


def write_tables(md: Path, lines: list[str]) -> None:
    """Replace the generated block of `md` (between the markers) or append one."""
    text = md.read_text(encoding='utf-8') if md.exists() else ''
    block = '\n'.join([BEGIN, *lines, END])
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text + ('\n' if text else '') + block + '\n'
    tmp = md.with_suffix('.md.tmp')
    tmp.write_text(text, encoding='utf-8')
    tmp.replace(md)  # atomic


def _short(r: dict) -> str:
    """A decision as it fits under a tile: abstentions say why."""
    if r['decision'] == 'low_confidence':
        return 'abstain ' + (','.join(r['reasons']) or 'low P')
    return f'{r["decision"][:11]} {r["p_decision"]:.2f}'


def contact_sheet(res: dict, path: Path, tile: int = 120) -> Path:
    """Face crops of every (photo, variant) with each model's decision under it (PNG)."""
    models = list(res['models'])
    rows = {(r['model'], r['photo'], r['variant'], r['detector']): r for r in res['rows']}
    tiles = []
    for (photo, variant), frame in res['frames'].items():
        if photo.startswith('lfw'):
            continue  # LFW's news photos carry no licence for redistribution
        cx, cy, half = pe.FRAME_W // 2, int(pe.FRAME_H * 0.45), 110
        crop = frame[max(0, cy - half) : cy + half, cx - half : cx + half]
        t = cv2.resize(crop, (tile, tile), interpolation=cv2.INTER_AREA)
        text = np.full((14 * (1 + len(models)), tile, 3), 255, np.uint8)
        cv2.putText(text, f'{photo[:9]} {variant}', (2, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.33,
                    (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
        for k, m in enumerate(models):
            r = rows.get((m, photo, variant, 'blazeface_full'))
            label = _short(r) if r else '-'
            cv2.putText(text, f'{k + 1}: {label}', (2, 25 + 14 * k), cv2.FONT_HERSHEY_SIMPLEX,
                        0.33, (120, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
        tiles.append(np.vstack([t, text]))
    per_row = 6
    blank = np.full_like(tiles[0], 255)
    tiles += [blank] * (-len(tiles) % per_row)
    sheet = np.vstack([np.hstack(tiles[i : i + per_row]) for i in range(0, len(tiles), per_row)])
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix('.tmp.png')
    # A 96-colour palette keeps the sheet near 100 KB (docs images stay small).
    Image.fromarray(sheet[:, :, ::-1]).quantize(96).save(tmp, optimize=True)
    tmp.replace(path)
    return path


# --why-neutral: the neutral photo and the smile, from the expression net to the decision.
WHY_ROWS = [('grace_hopper', 'still'), ('grace_hopper', 'small'), ('grace_hopper', 'mirrored'),
            ('astronaut', 'still'), ('astronaut', 'mirrored'), ('astronaut', 'small')]  # fmt: skip
NEUTRAL_SENTENCES = ('what time is it', 'I had soup for lunch')  # synthetic NEUTRAL_PHRASES


def _fmt(p) -> str:
    return ' '.join(f'{k[:3]} {v:.2f}' for k, v in zip(BASIC, p))


FUSION_WEIGHTS = (0.0, 0.5, 0.7, 1.0)


def fuse(class_probs: np.ndarray, fer: np.ndarray, w: float) -> np.ndarray:
    """Geometric pooling with the expression net: p(c) ~ head(c)^(1-w) * fer(basic(c))^w.

    A candidate run-time fix (trust the real-face net more); w = 1 is the net alone with the
    head's intensities."""
    from st_f2m_ros.meta.validation import BASIC_OF

    lp = (1 - w) * np.log(class_probs + 1e-9) + w * np.log(fer[:, BASIC_OF.numpy()] + 1e-9)
    p = np.exp(lp - lp.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def synthetic_reference(model) -> dict:
    """The shipped checkpoint's 20 held-out synthetic people (front-end crops, as
    realface_eval.py makes them), vision only: the model's recall of neutral (it does read
    neutral where it was trained), the mean projected channels [R, D - 7] of the true-neutral
    windows, and the basic-emotion accuracy of each `fuse` weight."""
    from realface_eval import held_out_clips

    from st_f2m_ros.meta.validation import BASIC_OF
    from st_f2m_ros.meta.windows import FeatureBank, encode_all
    from st_f2m_ros.model.checkpoint import DEFAULT_CHECKPOINT
    from st_f2m_ros.model.fer_backbone import NUM_PROBS

    cfg = model.config
    clips = held_out_clips(DEFAULT_CHECKPOINT, cfg.crop_size, None)
    with torch.inference_mode():
        feats = encode_all(model.encode_frames, clips)
    bank = FeatureBank(clips, feats, None, cfg.window, cfg.feature_rate, cfg.text_dim)
    wb, _ = bank.batch(np.arange(len(bank)))
    n = len(wb.labels)
    with torch.inference_mode():
        out = model.classify(wb.feats, torch.zeros(n, cfg.text_dim), torch.ones(n), torch.zeros(n))
    probs, y = out.probs.numpy(), wb.labels.numpy()
    fer = wb.feats[:, :, 0, -NUM_PROBS:].mean(1).numpy()
    basic = BASIC_OF.numpy()
    return {
        'windows': n,
        'recall_neutral': float((probs[y == 0].argmax(1) == 0).mean()),
        'projected_neutral': wb.feats[y == 0][..., :-NUM_PROBS].mean(dim=(0, 1)).numpy(),
        'fused_basic_acc': {
            w: float((basic[fuse(probs, fer, w).argmax(1)] == basic[y]).mean())
            for w in FUSION_WEIGHTS
        },
    }


def why_neutral(model_path: str, seconds: float, fps: float) -> None:
    """Print, for each WHY_ROWS bag, what each stage says (see docs/realface_evidence.md)."""
    from st_f2m_ros.model.checkpoint import load_checkpoint
    from st_f2m_ros.perception.expression_net import ExpressionNet
    from st_f2m_ros.runtime.inference.factory import build_recognizer
    from st_f2m_ros.runtime.session import equalize_expression

    model = load_checkpoint(None if model_path == 'default' else model_path).eval()
    rec = pe.TracingRecognizer(build_recognizer('torch', model=model, num_threads=1))
    eq_model = load_checkpoint(None if model_path == 'default' else model_path).eval()
    equalize_expression(eq_model)
    eq_rec = build_recognizer('torch', model=eq_model, num_threads=1)
    net = ExpressionNet.load()
    ref = synthetic_reference(model)
    proj = ref['projected_neutral']
    print(f'{rec.model_id}, {ref["windows"]} windows of the held-out synthetic people, vision '
          f'only: recall of neutral {ref["recall_neutral"]:.2f}; basic-emotion accuracy fused '
          f'with the expression net (weight: acc) {ref["fused_basic_acc"]}')  # fmt: skip
    sentences = model.text_encoder.encode(list(NEUTRAL_SENTENCES))
    onehot = np.eye(len(BASIC), dtype=np.float32)[0]
    with tempfile.TemporaryDirectory(prefix='why_neutral_') as tmp:
        for photo, variant in WHY_ROWS:
            frame = pe.compose_frame(pe.load_photo(photo), pe.VARIANTS[variant])
            bag = pe.write_still_bag(Path(tmp) / f'{photo}_{variant}', frame, seconds, fps)
            rec.trace.clear()
            out = pe.replay_still(bag, rec, {})
            eq = pe.replay_still(bag, eq_rec, {})
            feats = np.stack([w.feats for w in rec.trace])
            raw = pe.basic_probs(np.stack([w.probs for w in rec.trace]))
            raw_top = np.bincount(raw.argmax(1), minlength=len(BASIC)) / len(raw)
            crop = pe.observe(frame).crop[None]
            ablate = functools.partial(pe.feature_ablation, model, feats)
            lines = [
                ('expression net, front-end aligned crop', _fmt(net.predict(crop)[0])),
                ("expression net, the model's crop", _fmt(feats[..., 0, -7:].mean((0, 1)))),
                ('head, raw window mean', _fmt(raw.mean(0))),
                ('head, share of windows by raw argmax', _fmt(raw_top)),
                ('head, raw max P(neutral) over windows', f'{raw[:, 0].max():.4f}'),
                ('post-processed states', str(dict(out.labels))),
                ('... with expression_equalize', str(dict(eq.labels))),
                ('ablation: FER channels -> one-hot neutral', _fmt(ablate(onehot))),
                ('ablation: projected -> synthetic neutral', _fmt(ablate(projected=proj))),
            ]
            lines += [(f'with the sentence {t!r}', _fmt(ablate(text=e)))
                      for t, e in zip(NEUTRAL_SENTENCES, sentences)]  # fmt: skip
            fer = feats[..., 0, -7:].mean(1)
            classes = np.stack([w.probs for w in rec.trace])
            for w in FUSION_WEIGHTS[1:]:
                fused = fuse(classes, fer, w)
                top = np.mean(fused.argmax(1) == 0)
                mean = _fmt(pe.basic_probs(fused).mean(0))
                lines.append((f'fused with the expression net, w = {w}', mean))
                lines.append(('... share of windows with neutral on top', f'{top:.2f}'))
            texts = sum(w.text for w in rec.trace)
            print(f'== {photo} {variant}: {len(raw)} windows ({texts} with text)')
            for label, value in lines:
                print(f'  {label:44} {value}')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--model', action='append', default=None,
                    help="checkpoint path or 'default' (repeat; default: default)")  # fmt: skip
    ap.add_argument('--seconds', type=float, default=8.0)
    ap.add_argument('--fps', type=float, default=15.0)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--lfw', type=int, default=3, help='LFW faces (0-99) to add as rows')
    ap.add_argument('--md', type=Path, default=None, help='write the Markdown tables here')
    ap.add_argument('--img', type=Path, default=None, help='write the contact sheet PNG here')
    ap.add_argument('--json', type=Path, default=None)
    ap.add_argument(
        '--why-neutral',
        action='store_true',
        help='only diagnose the neutral photo (first --model; see the docs)',
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.why_neutral:
        why_neutral((args.model or ['default'])[0], args.seconds, args.fps)
        return
    rows = ROWS + [(f'lfw#{i}', 'still', 'blazeface_full') for i in range(args.lfw)]
    t0 = time.perf_counter()
    res = run(args.model or ['default'], rows, args.seconds, args.fps, args.threads)
    lines = markdown(res)
    print('\n'.join(lines))
    print(f'total {time.perf_counter() - t0:.0f} s')
    if args.md:
        write_tables(args.md, lines)
    if args.img:
        print(f'contact sheet {contact_sheet(res, args.img)}')
    if args.json:
        args.json.write_text(json.dumps({k: v for k, v in res.items() if k != 'frames'},
                                        indent=1, default=float))  # fmt: skip


if __name__ == '__main__':
    main()
