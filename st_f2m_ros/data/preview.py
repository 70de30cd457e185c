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
"""Pictures that let a person check the synthetic data (`st-f2m preview`).

* `contact_sheet`: one subject, a row per fine-grained class (19), a column per corruption
  level (clean, fog / mask / occlusion at the paper's 10/30/50 %, and a lens-distorted frame),
  as face crops, labelled.
* `save_timeline`: a generated script over time: the class sequence (colour = emotion,
  shade = intensity, hatched = blend), the 12 measured components as a heat map, the
  transcript utterances, and a strip of frames.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from st_f2m_ros.data.io_utils import atomic_path
from st_f2m_ros.data.synthetic.corruptions import PAPER_LEVELS, Corruption, FrameCorrupter
from st_f2m_ros.data.synthetic.generator import SyntheticConfig, SyntheticSession
from st_f2m_ros.data.synthetic.subjects import Subject
from st_f2m_ros.errors import DataError
from st_f2m_ros.perception.crop import crop_face
from st_f2m_ros.taxonomy import CLASS_LABELS, COMPONENTS, EMOTIONS, NUM_CLASSES, decode_class

EMOTION_COLOURS = {
    'neutral': '#9e9e9e',
    'happiness': '#f4b400',
    'anger': '#db4437',
    'sadness': '#4285f4',
    'disgust': '#0f9d58',
    'fear': '#8e24aa',
    'surprise': '#ff7043',
}


def sheet_columns() -> list[tuple[str, tuple[Corruption, ...]]]:
    """(title, corruptions) of each contact-sheet column."""
    cols: list[tuple[str, tuple[Corruption, ...]]] = [('clean', ())]
    for kind in ('fog', 'mask', 'occlusion'):
        cols += [(f'{kind} {int(lv * 100)}%', (Corruption(kind, lv),)) for lv in PAPER_LEVELS]
    cols.append(('distorted', (Corruption('distortion', 1.0),)))
    return cols


def contact_sheet(subject: Subject, seed: int = 0, tile: int = 96) -> np.ndarray:
    """BGR image: rows = the 19 classes, columns = `sheet_columns()`, tiles = face crops."""
    cols = sheet_columns()
    label_w, head_h = 150, 28
    sheet = np.full((head_h + NUM_CLASSES * tile, label_w + len(cols) * tile, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for j, (title, _) in enumerate(cols):
        cv2.putText(
            sheet, title, (label_w + j * tile + 3, 18), font, 0.36, (0, 0, 0), 1, cv2.LINE_AA
        )
    base = SyntheticConfig(
        duration=1.0, roll_deg=0.0, drift=0.0, scale_change=0.0, lighting=0.0, blur_rate=0.0
    )
    for cid in range(NUM_CLASSES):
        y = head_h + cid * tile
        cv2.putText(
            sheet, CLASS_LABELS[cid], (4, y + tile // 2 + 4), font, 0.42, (0, 0, 0), 1, cv2.LINE_AA
        )
        sess = SyntheticSession(subject, base, seed, 0, classes=(cid,))
        frame = sess.render(len(sess) - 1)
        for j, (_, corr) in enumerate(cols):
            # A corrupter like the session's own, applied to the one clean frame.
            rng = np.random.default_rng([seed, cid])
            corrupter = FrameCorrupter(corr, base.width, base.height, rng, 1)
            image, box = corrupter.apply(frame.image.copy(), frame.box, 0)
            sheet[y : y + tile, label_w + j * tile : label_w + (j + 1) * tile] = crop_face(
                image, box, tile
            )
    return sheet


def save_png(path: str | Path, image: np.ndarray) -> Path:
    """Write a BGR image as PNG atomically."""
    path = Path(path)
    ok, buf = cv2.imencode('.png', image)
    if not ok:
        raise DataError(f'cannot encode {path} as PNG')
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.tobytes())
    return path


def save_timeline(session: SyntheticSession, path: str | Path, thumbnails: int = 8) -> Path:
    """Plot `session`'s script, components, transcript and frames to a PNG (matplotlib Agg)."""
    import matplotlib

    matplotlib.use('Agg')
    from matplotlib import pyplot as plt
    from matplotlib.patches import Patch

    t = session.rel_times
    dur = session.config.duration
    fig = plt.figure(figsize=(13, 8.5), dpi=100)
    grid = fig.add_gridspec(4, 1, height_ratios=[1.1, 1.0, 2.2, 0.9], hspace=0.45)
    ax_img, ax_cls, ax_cmp, ax_txt = (fig.add_subplot(grid[i]) for i in range(4))
    # Frames strip.
    idx = np.linspace(0, len(session) - 1, thumbnails).astype(int)
    frames = [session.render(i) for i in idx]
    strip = np.hstack([crop_face(f.image, f.box, 96) for f in frames])
    ax_img.imshow(cv2.cvtColor(strip, cv2.COLOR_BGR2RGB), extent=(0, dur, 0, 1), aspect='auto')
    ax_img.set_yticks([])
    ax_img.set_xticks(t[idx])
    ax_img.set_xticklabels([f'{v:.1f}' for v in t[idx]], fontsize=7)
    ax_img.set_title(f'subject {session.subject.subject_id} - frames (s)', fontsize=9, loc='left')
    # Class sequence.
    for seg in session.script.segments:
        fc = decode_class(seg.class_id)
        alpha = {'none': 0.6, 'low': 0.35, 'medium': 0.65, 'high': 1.0}[fc.intensity]
        ax_cls.axvspan(
            seg.start,
            seg.end,
            color=EMOTION_COLOURS[fc.emotion],
            alpha=alpha,
            hatch='//' if seg.blend_class >= 0 else None,
            lw=0,
        )
        ax_cls.axvspan(
            seg.start, seg.start + seg.onset, ymin=0, ymax=0.15, color='k', alpha=0.3, lw=0
        )
        ax_cls.text(
            (seg.start + seg.end) / 2,
            0.5,
            fc.label.replace('_', '\n'),
            ha='center',
            va='center',
            fontsize=7,
        )
    ax_cls.set_xlim(0, dur)
    ax_cls.set_yticks([])
    ax_cls.set_title(
        'script: class per segment (shade = intensity, hatch = blend, black bar = onset)',
        fontsize=9,
        loc='left',
    )
    ax_cls.legend(
        handles=[Patch(color=EMOTION_COLOURS[e], label=e) for e in ('neutral', *EMOTIONS)],
        fontsize=7,
        ncol=7,
        loc='upper right',
        bbox_to_anchor=(1.0, 1.45),
        frameon=False,
    )
    # Components.
    im = ax_cmp.imshow(
        session.components.T,
        aspect='auto',
        cmap='coolwarm',
        vmin=-1,
        vmax=1,
        extent=(0, dur, len(COMPONENTS) - 0.5, -0.5),
        interpolation='nearest',
    )
    ax_cmp.set_yticks(range(len(COMPONENTS)))
    ax_cmp.set_yticklabels(COMPONENTS, fontsize=7)
    ax_cmp.set_title('measured Table II components', fontsize=9, loc='left')
    fig.colorbar(im, ax=ax_cmp, fraction=0.02, pad=0.01)
    # Transcript.
    start = float(session.times[0])
    for k, u in enumerate(session.utterances):
        s, e = u.start - start, u.end - start
        ax_txt.axvspan(s, e, color='#cfd8dc', lw=0)
        ax_txt.text(
            (s + e) / 2,
            0.25 + 0.5 * (k % 2),
            u.text,
            ha='center',
            va='center',
            fontsize=7,
            wrap=True,
        )
    ax_txt.set_xlim(0, dur)
    ax_txt.set_yticks([])
    ax_txt.set_xlabel('time (s)')
    ax_txt.set_title('transcript (grey = speech)', fontsize=9, loc='left')
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format='png', bbox_inches='tight')
    plt.close(fig)
    return path
