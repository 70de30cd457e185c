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
"""The `st-f2m explain` figure: one PNG per face, read left to right as the evidence flows.

Left, what was measured: the face with its 468 mesh points, the box and the head pose
(points of a region judged occluded are drawn in orange, so a reader sees why its
components were dropped). Right, what was concluded from it: the twelve components against
the neutral baseline (unreliable ones greyed and labelled, never shown as if measured), the
expression net's seven probabilities, the rules that fired most with their Table II coding
and source, and the three decisions side by side. matplotlib's object API on an Agg canvas:
no display, no pyplot global state, safe to call from any thread or a headless robot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from st_f2m_ros.taxonomy import COMPONENTS

BLUE, GREY, ORANGE, GREEN, RED = '#1f77b4', '#b8b8b8', '#ff7f0e', '#2ca02c', '#d62728'
MESH = '#00e5ff'
BASELINES = {
    'prior': "canonical neutral face (this person's neutral not known yet)",
    'partial': "partly this person's calm frames, partly the canonical face",
    'online': "this person's calm frames",
    'support': "this person's neutral support clips",
}
_LOG_FLOOR = 1e-6


def _zoom(fx: Any) -> tuple[int, int, int, int]:
    """Image region around the face (x0, y0, x1, y1): the face fills about half of it."""
    h, w = fx.image.shape[:2]
    if fx.obs is None:
        return 0, 0, w, h
    x, y, bw, bh = fx.obs.box
    side = 2.0 * max(bw, bh)
    cx, cy = x + bw / 2, y + bh / 2
    x0, x1 = int(max(0, cx - side / 2)), int(min(w, cx + side / 2))
    y0, y1 = int(max(0, cy - side / 2)), int(min(h, cy + side / 2))
    return x0, y0, x1, y1


def _image_panel(ax: Any, fx: Any, occlusion_points: dict[str, Any]) -> None:
    from matplotlib.patches import Rectangle

    rgb = np.ascontiguousarray(fx.image[:, :, ::-1])
    x0, y0, x1, y1 = _zoom(fx)
    ax.imshow(rgb[y0:y1, x0:x1], extent=(x0, x1, y1, y0), interpolation='lanczos')
    ax.set_xlim(x0, x1)
    ax.set_ylim(y1, y0)
    ax.set_xticks([])
    ax.set_yticks([])
    if fx.obs is None:
        ax.text(0.5, 0.5, 'no face found', transform=ax.transAxes, ha='center', va='center',
                fontsize=26, color='white', weight='bold',
                bbox={'facecolor': RED, 'alpha': 0.85, 'edgecolor': 'none'})  # fmt: skip
        ax.set_title('the face detector found no face in this frame', fontsize=11)
        return
    o = fx.obs
    lm = np.asarray(o.landmarks)
    ax.scatter(lm[:, 0], lm[:, 1], s=3.0, c=MESH, linewidths=0, label='468-point mesh')
    for region in o.quality.occluded:
        idx = list(occlusion_points.get(region, ()))
        if idx:
            ax.scatter(lm[idx, 0], lm[idx, 1], s=14, c=ORANGE, linewidths=0,
                       label=f'{region} occluded')  # fmt: skip
    bx, by, bw, bh = o.box
    ax.add_patch(Rectangle((bx, by), bw, bh, fill=False, ec='#39ff14', lw=1.5))
    # Head pose: the direction the face points, drawn from the nose tip (mesh point 1).
    fwd = np.asarray(o.pose.rotation) @ np.array([0.0, 0.0, -1.0])
    tip = lm[1, :2]
    arrow = fwd[:2] * 1.5 * o.pose.iod_px
    ax.annotate('', xy=tuple(tip + arrow), xytext=tuple(tip),
                arrowprops={'arrowstyle': '->', 'color': '#ffee00', 'lw': 2})  # fmt: skip
    p = o.pose
    pose = f'yaw {p.yaw:+.0f}°  pitch {p.pitch:+.0f}°  roll {p.roll:+.0f}°'
    ax.text(0.02, 0.98, pose, transform=ax.transAxes, va='top', fontsize=11, color='white',
            bbox={'facecolor': 'black', 'alpha': 0.6, 'edgecolor': 'none'})  # fmt: skip
    ax.legend(loc='lower left', fontsize=8, markerscale=3, framealpha=0.7)
    det = 'tracked' if o.detection_score is None else f'detector {o.detection_score:.2f}'
    ax.set_title('mesh, face box, head pose (yellow arrow: where the face points)', fontsize=11)
    ax.set_xlabel(f'face {o.quality.face_size_px:.0f} px, mesh presence {o.presence:.2f}, {det}',
                  fontsize=9)  # fmt: skip
    h, w = fx.image.shape[:2]
    if (x1 - x0) * (y1 - y0) < 0.8 * w * h:  # zoomed in: show where in the frame
        inset = ax.inset_axes([0.74, 0.0, 0.26, 0.26 * (h / w) * (x1 - x0) / max(y1 - y0, 1)])
        inset.imshow(rgb[:: max(1, w // 200), :: max(1, w // 200)], extent=(0, w, h, 0))
        inset.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec='#39ff14', lw=1))
        inset.set_xticks([])
        inset.set_yticks([])


def _components_panel(ax: Any, fx: Any) -> None:
    o = fx.obs
    vals = np.asarray(o.components, dtype=float)
    ok = np.asarray(o.reliable, bool)
    y = np.arange(len(COMPONENTS))[::-1]
    colours = [(BLUE if v >= 0 else RED) if r else GREY for v, r in zip(vals, ok)]
    ax.barh(y, vals, color=colours, height=0.7,
            hatch=[None if r else '//' for r in ok], edgecolor='white')  # fmt: skip
    ax.axvline(0, color='black', lw=0.8)
    ax.set_xlim(-1.05, 1.05)
    ax.set_yticks(y, [n.replace('_', ' ') for n in COMPONENTS], fontsize=9)
    ax.set_ylim(-0.6, len(COMPONENTS) - 0.4)
    for yy, v, r in zip(y, vals, ok):
        label = f'{v:+.2f}' if r else f'unreliable ({v:+.2f})'
        right = v >= 0 if r else True
        ax.text(0.98 if right else -0.98, yy, label, va='center', ha='right' if right else 'left',
                fontsize=8, color='dimgrey' if not r else 'black')  # fmt: skip
    ax.tick_params(axis='x', labelsize=8)
    ax.set_xlabel('Table II scale: -1 low / thin / narrow, 0 normal, +1 raised / open / wide',
                  fontsize=8)  # fmt: skip
    baseline = BASELINES.get(o.baseline_source, o.baseline_source)
    ax.set_title(f'facial components vs neutral baseline\n({baseline})', fontsize=10)
    if o.quality.reasons:
        occ = o.quality.occlusion
        parts = [
            f'{r[:-9]} covered ({100 * occ[r[:-9]]:.0f}% not skin)'
            if r.endswith('_occluded') and r[:-9] in occ else r.replace('_', ' ')
            for r in o.quality.reasons
        ]  # fmt: skip
        ax.text(0.5, 0.995, 'greyed: ' + ', '.join(parts), transform=ax.transAxes,
                fontsize=8, color=ORANGE, va='top', ha='center',
                bbox={'facecolor': 'white', 'alpha': 0.85, 'edgecolor': 'none'})  # fmt: skip
        ax.set_ylim(-0.6, len(COMPONENTS) + 0.4)


def _expression_panel(ax: Any, fx: Any) -> None:
    probs = np.asarray(fx.expression, dtype=float)
    labels = list(fx.expression_labels)
    y = np.arange(len(labels))[::-1]
    top = int(np.argmax(probs))
    ax.barh(y, probs, color=[GREEN if i == top else GREY for i in range(len(probs))], height=0.7)
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_xlim(0, 1.0)
    for yy, p in zip(y, probs):
        ax.text(min(p + 0.02, 0.86), yy, f'{p:.3f}', va='center', fontsize=8)
    ax.tick_params(axis='x', labelsize=8)
    ax.set_xlabel('probability', fontsize=8)
    ax.set_title('expression net (FER2013 mini-Xception)\non the aligned 64x64 grey face',
                 fontsize=10)  # fmt: skip
    covered = fx.obs.quality.occluded
    if covered:
        ax.text(0.98, 0.02, f'the net sees the {" and ".join(covered)} covered:\n'
                'it was not trained on masks, read with care', transform=ax.transAxes,
                ha='right', va='bottom', fontsize=8, color=ORANGE)  # fmt: skip


def _rules_panel(bars: Any, table: Any, fx: Any) -> None:
    rules = fx.rules
    y = np.arange(len(rules))[::-1]
    s = np.array([max(r.strength, _LOG_FLOOR) for r in rules])
    colours = [GREEN if r.class_label == fx.rule_class else BLUE for r in rules]
    bars.barh(y, s, color=colours, height=0.6, left=_LOG_FLOOR)
    bars.set_xscale('log')
    bars.set_xlim(_LOG_FLOOR, 1.5)
    bars.axvline(fx.rule_threshold, color=RED, ls='--', lw=1)
    bars.text(fx.rule_threshold, len(rules) - 0.45, f'label threshold {fx.rule_threshold:g} ',
              color=RED, fontsize=8, va='bottom', ha='right')  # fmt: skip
    # The source up to its reference ('FACS/EMFACS: AU6+AU12'); the JSON has it in full.
    names = [f'{r.class_label}  [{r.source.split(" (")[0]}]' for r in rules]
    bars.set_yticks(y, names, fontsize=9)
    bars.set_ylim(-0.6, len(rules) - 0.1)
    bars.tick_params(axis='x', labelsize=8)
    bars.set_xlabel('rule firing strength (log)', fontsize=8)
    only = ' on the reliable components only' if not fx.obs.reliable.all() else ''
    bars.set_title(f'fuzzy rules that fired most (top {len(rules)} of {fx.num_rules}){only}',
                   fontsize=10, loc='left')  # fmt: skip
    table.axis('off')
    table.set_ylim(-0.6, len(rules) - 0.1)
    table.set_xlim(0, 1)
    head = len(rules) - 0.35
    columns = ((0.0, 'strength'), (0.15, 'Table II coding'), (0.56, 'components not matching'))
    for x, text in columns:
        table.text(x, head, text, fontsize=8, color='dimgrey', va='bottom')
    for yy, r in zip(y, rules):
        names = [m.replace('_', ' ') for m in r.mismatched]
        shown = [n for i, n in enumerate(names) if len(', '.join(names[: i + 1])) <= 26]
        more = len(names) - len(shown)
        off = ', '.join(shown) + (f' +{more}' if more else '')
        table.text(0.0, yy, f'{r.strength:.2g}', fontsize=9, va='center')
        table.text(0.15, yy, r.coding, fontsize=8.5, va='center', family='monospace')
        table.text(0.56, yy, off or '(all match)', fontsize=8, va='center', color='dimgrey')
    table.text(0.15, -0.75, 'order: LEb REb Crest LEye REye Nose Nostril Mouth ULip LLip '
               'LCorner RCorner', fontsize=7, color='dimgrey', va='top')  # fmt: skip


def rule_phrase(fx: Any) -> str:
    """The rules' decision in words: class, strength, ties and what it rests on."""
    rules = fx.rules
    if not rules:
        return fx.rule_class
    best = rules[0]
    if fx.rule_class == 'neutral' and best.class_label != 'neutral':
        text = (f'neutral  (no emotion rule above {fx.rule_threshold:g}; strongest '
                f'{best.class_label} {best.strength:.2g})')  # fmt: skip
    else:
        text = f'{fx.rule_class} {best.strength:.2f}'
        near = [r.class_label for r in rules[1:] if r.strength >= best.strength * 0.999]
        ties = sorted(set(near) - {best.class_label})
        if ties:
            text += f'  (tied with {", ".join(ties)})'
    ok = int(np.asarray(fx.obs.reliable).sum())
    if ok < len(COMPONENTS):
        text += f'  on {ok} of {len(COMPONENTS)} components'
    return text


def _decision_panel(ax: Any, fx: Any, model_id: str) -> None:
    ax.axis('off')
    lines: list[tuple[str, str, str]] = []
    if fx.obs is not None:
        lines.append(('fuzzy rules', rule_phrase(fx), BLUE))
        top, p = fx.expression_top()
        lines.append(('expression net', f'{top} {p:.3f}', GREEN))
    if fx.model is not None:
        lines.append(('model', fx.model.text(), 'black'))
    else:
        lines.append(('model', fx.model_note or 'not run', 'dimgrey'))
    ax.text(0.0, 1.0, 'decision', fontsize=12, weight='bold', va='top', transform=ax.transAxes)
    for i, (who, what, colour) in enumerate(lines):
        yy = 0.74 - i * 0.24
        ax.text(0.0, yy, who, fontsize=10.5, va='top', transform=ax.transAxes)
        ax.text(0.2, yy, what, fontsize=10.5, va='top', color=colour, weight='bold',
                transform=ax.transAxes)  # fmt: skip
    if fx.model is not None:
        origin = fx.stamp - fx.rel_time if fx.kind == 'bag' else 0.0
        ax.text(0.2, 0.74 - len(lines) * 0.24 + 0.07, f'{model_id}: {fx.model.how(origin)}',
                fontsize=9, va='top', color='dimgrey', transform=ax.transAxes)  # fmt: skip


def render(
    fx: Any, path: str | Path, occlusion_points: dict[str, Any] | None = None, model_id: str = ''
) -> Path:
    """Draw one FaceExplanation to a PNG (about 1600 x 900 pixels) and return its path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(16, 9), dpi=100)
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(3, 3, width_ratios=[1.6, 1, 1], height_ratios=[1.25, 0.8, 0.55],
                          left=0.02, right=0.985, top=0.93, bottom=0.03, wspace=0.32,
                          hspace=0.45)  # fmt: skip
    if fx.kind == 'bag':
        title = f'{fx.source}, frame at t = {fx.rel_time:.2f} s (stamp {fx.stamp:.3f})'
    else:
        title = f'{fx.source}, face {fx.index}' if fx.obs is not None else f'{fx.source}'
    fig.suptitle(f'st-f2m explain: {title}', fontsize=14, x=0.02, ha='left')
    _image_panel(fig.add_subplot(gs[:, 0]), fx, occlusion_points or {})
    if fx.obs is not None:
        _components_panel(fig.add_subplot(gs[0, 1]), fx)
        _expression_panel(fig.add_subplot(gs[0, 2]), fx)
        sub = gs[1, 1:].subgridspec(1, 3, width_ratios=[0.12, 0.85, 1.1], wspace=0.05)
        _rules_panel(fig.add_subplot(sub[0, 1]), fig.add_subplot(sub[0, 2]), fx)
    else:
        ax = fig.add_subplot(gs[0:2, 1:])
        ax.axis('off')
        ax.text(0.0, 0.9, 'No face was found, so nothing was measured: no mesh, no components,\n'
                'no rules and no expression net. Check lighting, distance (the face should\n'
                'be at least 64 px tall) and that the face is in view.', fontsize=12,
                va='top', transform=ax.transAxes)  # fmt: skip
    _decision_panel(fig.add_subplot(gs[2, 1:]), fx, model_id)
    fig.savefig(str(path))
    return Path(path)
