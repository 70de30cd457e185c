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
"""Real-face backbone vs pixel ResNet on the same held-out people, and FER on drawn faces.

Three questions (issue 9 item 3):

1. Held-out accuracy: every checkpoint given is evaluated the way the trainer validates
   (meta/validation.py `evaluate_bank`: 19-class and neutral + 6 basic-emotion window accuracy,
   and per-person adaptation with 2 support windows per class) on ONE set of clips of the
   shipped checkpoint's 20 held-out people, generated here by today's synthetic generator, so
   rows are comparable even when the generator changed since a checkpoint was trained.
2. Does the frozen FER net see anything in drawn faces? 7-class accuracy of its argmax
   against the true basic emotion on frames of those unseen people (every `--fer-stride`-th).
3. Encoding cost: median ms per crop of `encode_frames` (batches of 64, 1 and 2 threads).

The held-out clips go through the runtime face stage (real-face front end, node defaults) as on
the robot: crops cut from its box and the measured components that `component_input` models
take; `--generator-boxes` cuts at the generator's own boxes instead (no measurements).

    python benchmarks/realface_eval.py runs/realface/st_f2m_realface.safetensors \
        runs/resnet_reduced/st_f2m_resnet_reduced.safetensors [--json out.json]

The shipped checkpoint is always the first row. Prints a table and optionally writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import statistics
import time

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import numpy as np
import torch

from st_f2m_ros.meta.train_config import train_config_from_dict
from st_f2m_ros.meta.validation import BASIC_OF, evaluate_bank
from st_f2m_ros.meta.windows import FeatureBank, encode_all
from st_f2m_ros.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, read_metadata


def held_out_clips(
    shipped: Path, crop_size: int, duration: float | None, front_end: bool = True
) -> list:
    """Clips of the shipped checkpoint's held-out people, as its training data made them.

    `front_end`: through the runtime face stage as on the robot (crops cut from its box,
    `Clip.measured` for models with `component_input`); False: the generator's own boxes.
    """
    from dataclasses import replace

    from st_f2m_ros.data.synthetic.generator import SyntheticConfig, generate_clips
    from st_f2m_ros.data.synthetic.subjects import make_subject

    meta = read_metadata(shipped)
    tcfg = train_config_from_dict(json.loads(meta['train_config']))
    d = tcfg.data
    ids = meta['val_subjects'].split(',')
    people = [make_subject(i, d.seed, d.idiosyncrasy) for i in ids]
    dur = duration or d.duration
    syn = replace(SyntheticConfig(fps=tcfg.model.feature_rate), duration=dur)
    face = None
    if front_end:
        from st_f2m_ros.meta.train_setup import training_face_config

        face = training_face_config()
    return generate_clips(
        len(people), d.clips_per_subject, dur, d.seed, crop_size, syn, people, front_end=face,
        workers=2 if front_end else 1,
    )  # fmt: skip


def evaluate(path: Path, clips_by_size: dict, k_shot: int, seed: int) -> dict:
    """The trainer's held-out validation of one checkpoint on the shared clips."""
    model = load_checkpoint(path)
    cfg = model.config
    clips = clips_by_size[cfg.crop_size]
    t0 = time.perf_counter()
    feats = encode_all(model.encode_frames, clips)
    enc_s = time.perf_counter() - t0
    text = model.text_encoder.encode if model.text_usable else None
    bank = FeatureBank(clips, feats, text, cfg.window, cfg.feature_rate, cfg.text_dim)
    out = evaluate_bank(model, bank, k_shot, seed)
    out.update(
        checkpoint=str(path),
        backbone=cfg.backbone,
        component_input=bool(cfg.component_input),
        windows=len(bank),
        encode_s=round(enc_s, 1),
        file_kb=round(path.stat().st_size / 1024),
    )
    return out


def encode_ms(path: Path, crops: np.ndarray, threads: int, reps: int = 5) -> float:
    """Median ms per crop of encode_frames on batches of len(crops)."""
    model = load_checkpoint(path)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            model.encode_frames(crops)
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                model.encode_frames(crops)
                times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(old)
    return 1e3 * statistics.median(times) / len(crops)


def fer_agreement(clips: list, stride: int) -> dict:
    """The FER net's argmax vs the true basic emotion on every `stride`-th labelled frame."""
    from st_f2m_ros.perception.expression_net import LABELS, ExpressionNet

    net = ExpressionNet.load()
    crops, truth = [], []
    for c in clips:
        idx = np.flatnonzero(c.labels >= 0)[::stride]
        crops.append(c.crops[idx])
        truth.append(BASIC_OF[torch.as_tensor(c.labels[idx])].numpy())
    x, y = np.concatenate(crops), np.concatenate(truth)
    pred = np.concatenate([net.predict(x[i : i + 256]).argmax(1) for i in range(0, len(x), 256)])
    conf = np.zeros((7, 7), int)
    np.add.at(conf, (y, pred), 1)
    recall = {LABELS[i]: round(float(conf[i, i] / max(1, conf[i].sum())), 3) for i in range(7)}
    emo = y > 0
    return {
        'frames': len(y),
        'acc7': round(float((pred == y).mean()), 3),
        'acc_emotional_frames': round(float((pred[emo] == y[emo]).mean()), 3),
        'chance_majority': round(float(np.bincount(y).max() / len(y)), 3),
        'recall': recall,
        'predicted_share': {LABELS[i]: round(float((pred == i).mean()), 3) for i in range(7)},
        'confusion_rows_truth_cols_pred': conf.tolist(),
        'labels': list(LABELS),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('checkpoints', nargs='*', type=Path)
    ap.add_argument('--k-shot', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--duration', type=float, default=None, help='s per held-out clip')
    ap.add_argument('--fer-stride', type=int, default=8)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--json', type=Path, default=None)
    ap.add_argument(
        '--generator-boxes', action='store_true',
        help="crop at the generator's boxes, no front end (component models see nothing)",
    )  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    paths = [DEFAULT_CHECKPOINT, *args.checkpoints]
    sizes = sorted({load_checkpoint(p).config.crop_size for p in paths})
    t0 = time.perf_counter()
    fe = not args.generator_boxes
    clips_by_size = {s: held_out_clips(DEFAULT_CHECKPOINT, s, args.duration, fe) for s in sizes}
    how = 'through the runtime face stage' if fe else "cut at the generator's boxes"
    print(f'generated held-out clips ({how}) in {time.perf_counter() - t0:.0f} s')
    rows = [evaluate(p, clips_by_size, args.k_shot, args.seed) for p in paths]
    for p, row in zip(paths, rows):
        clip = clips_by_size[load_checkpoint(p).config.crop_size][0]
        crops = clip.crops[:64]
        row['encode_ms_1t'] = round(encode_ms(p, crops, 1), 2)
        row['encode_ms_2t'] = round(encode_ms(p, crops, 2), 2)
    fer = fer_agreement(clips_by_size[96 if 96 in sizes else sizes[0]], args.fer_stride)
    print(f'{"checkpoint":58s} {"backbone":18s} acc19  basic7 adapt(b->a)  ms/crop(1t,2t)  kB')
    for r in rows:
        print(
            f'{r["checkpoint"][-58:]:58s} {r["backbone"]:18s} {r["val_acc"]:.3f}  '
            f'{r["val_basic_acc"]:.3f}  {r.get("val_adapt_before", 0):.2f}->'
            f'{r.get("val_adapt_after", 0):.2f}    {r["encode_ms_1t"]:.2f}, '
            f'{r["encode_ms_2t"]:.2f}     {r["file_kb"]}'
        )
    print(f'FER net on drawn faces ({fer["frames"]} frames of unseen people): 7-class acc '
          f'{fer["acc7"]} (majority-class rate {fer["chance_majority"]}), on non-neutral '
          f'frames {fer["acc_emotional_frames"]}')  # fmt: skip
    print('  recall per true class:', fer['recall'])
    print('  share of predictions:', fer['predicted_share'])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        doc = {'front_end': fe, 'models': rows, 'fer_on_synthetic': fer}
        args.json.write_text(json.dumps(doc, indent=1))


if __name__ == '__main__':
    main()
