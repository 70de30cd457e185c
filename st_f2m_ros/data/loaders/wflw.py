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
"""WFLW (Wu et al. 2018): 10,000 faces with 98 landmarks, a box and 6 attributes.

Published layout: ``WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_
{train,test}.txt`` (one face per line: 196 landmark coordinates x0 y0 ... x97 y97, the box
x_min y_min x_max y_max, six 0/1 attributes pose, expression, illumination, make-up,
occlusion, blur, and the image path) and ``WFLW_images/<path>``.

WFLW-FER (paper VI-A) labels faces from their geometry with the fuzzy rules. `wflw_components`
measures the 12 Table II components from the 98 landmarks, normalised by the inter-ocular
distance and expressed against a reference face, by default the dataset's median face (most
faces are near neutral), with the same gains as the synthetic renderer. Nose wrinkling has no
landmark; the nose shortening it causes stands in for it. Then `label_fn` labels them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.data.loaders.common import LabelFn, default_label_fn, frames_to_clip, read_image
from st_f2m_ros.data.synthetic import render
from st_f2m_ros.data.synthetic.expression import clip_components
from st_f2m_ros.errors import DataError
from st_f2m_ros.taxonomy import COMPONENTS, NUM_COMPONENTS

ATTRIBUTES: tuple[str, ...] = (
    'pose',
    'expression',
    'illumination',
    'make_up',
    'occlusion',
    'blur',
)
N_TOKENS = 196 + 4 + 6 + 1
_C = {name: i for i, name in enumerate(COMPONENTS)}


@dataclass(frozen=True)
class WflwRecord:
    """One annotated face."""

    landmarks: np.ndarray  # float32 [98, 2]
    box: tuple[float, float, float, float]  # (x, y, w, h)
    attributes: dict[str, bool]
    image: str  # path relative to WFLW_images


def read_wflw_annotations(path: str | Path) -> list[WflwRecord]:
    """Parse a list_98pt_rect_attr_*.txt file; DataError names the line and the problem."""
    path = Path(path)
    try:
        lines = path.read_text(encoding='utf-8').splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f'{path}: cannot read ({err}); expected a WFLW annotation list') from err
    out = []
    for n, line in enumerate(lines, 1):
        tok = line.split()
        if not tok:
            continue
        if len(tok) != N_TOKENS:
            raise DataError(
                f'{path} line {n}: expected {N_TOKENS} fields (196 landmark '
                f'coordinates, 4 box, 6 attributes, image path), got {len(tok)}'
            )
        try:
            nums = np.array([float(t) for t in tok[:206]])
        except ValueError:
            raise DataError(
                f'{path} line {n}: landmark/box/attribute fields must be numbers'
            ) from None
        x0, y0, x1, y1 = nums[196:200]
        attrs = {a: bool(v) for a, v in zip(ATTRIBUTES, nums[200:206])}
        out.append(
            WflwRecord(
                nums[:196].reshape(98, 2).astype(np.float32),
                (float(x0), float(y0), float(x1 - x0), float(y1 - y0)),
                attrs,
                tok[206],
            )
        )
    if not out:
        raise DataError(f'{path}: no annotations')
    return out


def _dist(p: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(p[:, a] - p[:, b], axis=-1)


def wflw_raw_measures(landmarks: np.ndarray) -> np.ndarray:
    """Raw geometric measures [N, 12] (Table II order) from landmarks [N, 98, 2]."""
    p = np.asarray(landmarks, dtype=np.float64)
    if p.ndim == 2:
        p = p[None]
    if p.shape[1:] != (98, 2):
        raise DataError(f'expected WFLW landmarks [N, 98, 2], got {p.shape}')
    iod = np.maximum(_dist(p, 96, 97), 1e-6)  # pupils
    m = np.zeros((p.shape[0], NUM_COMPONENTS))
    # Person's left = image right: brow 42-50, eye 68-75, mouth corner 82.
    left_eye_c, right_eye_c = p[:, 68:76].mean(1), p[:, 60:68].mean(1)
    m[:, _C['left_eyebrow']] = (left_eye_c[:, 1] - p[:, 42:47, 1].mean(1)) / iod
    m[:, _C['right_eyebrow']] = (right_eye_c[:, 1] - p[:, 33:38, 1].mean(1)) / iod
    m[:, _C['brow_crest']] = _dist(p, 37, 42) / iod  # inner brow gap
    m[:, _C['left_eye']] = _dist(p, 70, 74) / np.maximum(_dist(p, 68, 72), 1e-6)
    m[:, _C['right_eye']] = _dist(p, 62, 66) / np.maximum(_dist(p, 60, 64), 1e-6)
    m[:, _C['nose']] = _dist(p, 51, 54) / iod  # bridge length
    m[:, _C['nostril']] = _dist(p, 55, 59) / iod
    m[:, _C['mouth']] = _dist(p, 90, 94) / iod
    m[:, _C['upper_lip']] = _dist(p, 79, 90) / iod
    m[:, _C['lower_lip']] = _dist(p, 85, 94) / iod
    centre_y = (p[:, 79, 1] + p[:, 85, 1]) / 2
    m[:, _C['left_mouth_corner']] = (centre_y - p[:, 82, 1]) / iod
    m[:, _C['right_mouth_corner']] = (centre_y - p[:, 76, 1]) / iod
    return m


def wflw_components(landmarks: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Table II components [N, 12] from landmarks [N, 98, 2] against a reference measure [12].

    The reference defaults to the median raw measure of the given faces.
    """
    raw = wflw_raw_measures(landmarks)
    ref = np.median(raw, axis=0) if reference is None else np.asarray(reference, np.float64)
    out = np.zeros_like(raw)
    face = 2.4  # inter-ocular distance in the renderer's face units (eye_dx ~ 0.4 per side)
    for name in ('left_eyebrow', 'right_eyebrow'):
        out[:, _C[name]] = (raw[:, _C[name]] - ref[_C[name]]) * face / render.BROW_RAISE
    out[:, _C['brow_crest']] = (
        (ref[_C['brow_crest']] - raw[:, _C['brow_crest']]) * face / (2 * render.FROWN_PULL)
    )
    for name in ('left_eye', 'right_eye'):
        out[:, _C[name]] = (raw[:, _C[name]] / ref[_C[name]] - 1) / render.EYE_OPEN_GAIN
    out[:, _C['nose']] = (1 - raw[:, _C['nose']] / ref[_C['nose']]) / render.NOSE_SHORTEN
    out[:, _C['nostril']] = (raw[:, _C['nostril']] / ref[_C['nostril']] - 1) / (
        render.NOSTRIL_GAIN
    )
    out[:, _C['mouth']] = (raw[:, _C['mouth']] - ref[_C['mouth']]) * face / render.MOUTH_OPEN
    for name in ('upper_lip', 'lower_lip'):
        out[:, _C[name]] = (raw[:, _C[name]] / max(ref[_C[name]], 1e-6) - 1) / render.LIP_GAIN
    for name in ('left_mouth_corner', 'right_mouth_corner'):
        out[:, _C[name]] = (raw[:, _C[name]] - ref[_C[name]]) * face / render.CORNER_RAISE
    return clip_components(out).astype(np.float32)


def _annotation_file(root: Path, split: str) -> Path:
    name = f'list_98pt_rect_attr_{split}.txt'
    for cand in (root / 'WFLW_annotations' / 'list_98pt_rect_attr_train_test' / name, root / name):
        if cand.is_file():
            return cand
    raise DataError(
        f'{root}: cannot find {name} (expected under '
        'WFLW_annotations/list_98pt_rect_attr_train_test/)'
    )


def load_wflw(
    root: str | Path,
    split: str = 'train',
    crop_size: int = 112,
    label_fn: LabelFn | None = None,
    limit: int | None = None,
) -> list[Clip]:
    """Load WFLW faces as one-frame clips with components and fuzzy labels (WFLW-FER).

    The subject of each clip is the image's event folder (e.g. '51--Dresses'); the crop is
    cut from the annotated box.
    """
    root = Path(root)
    if split not in ('train', 'test'):
        raise DataError(f'WFLW split must be "train" or "test", got {split!r}')
    records = read_wflw_annotations(_annotation_file(root, split))[:limit]
    label_fn = label_fn or default_label_fn()
    comps = wflw_components(np.stack([r.landmarks for r in records]))
    labels = np.asarray(label_fn(comps), dtype=np.int64)
    clips = []
    for k, rec in enumerate(records):
        path = root / 'WFLW_images' / rec.image
        if not path.is_file():
            raise DataError(f'{path} not found: expected the image of annotation {k + 1}')
        clips.append(
            frames_to_clip(
                [read_image(path)],
                np.zeros(1),
                labels[k : k + 1],
                rec.image.split('/')[0],
                f'{path}#{k}',
                crop_size,
                boxes=[rec.box],
                components=comps[k : k + 1],
            )
        )
    return clips
