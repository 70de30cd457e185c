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
"""DISFA (Mavadati et al. 2013): spontaneous AU intensities (0-5) of 27 subjects, 20 fps.

Published layout::

    ActionUnit_Labels/SN001/SN001_au1.txt          lines "frame,intensity" (frame from 1)
    Videos_LeftCamera/LeftVideoSN001_comp.avi      (Videos_RightCamera/RightVideo...)

The paper builds DISFA-FER by turning AU intensities into fine-grained labels with its fuzzy
rules; so does this loader: AU intensities -> the 12 Table II components through the same
FACS appearance table as the synthetic faces (`synthetic.expression.AU_EFFECTS`, plus AU17
and AU25, which DISFA codes and the synthetic prototypes do not use), then the labelling
function (default `fuzzy.label_from_components`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.data.loaders.common import (
    LabelFn,
    default_label_fn,
    frames_to_clip,
    rate_indices,
    require_dir,
    take_frames,
)
from st_f2m_ros.data.loaders.crema_d import iter_video, open_video
from st_f2m_ros.data.synthetic.expression import AU_EFFECTS, AU_INDEX, clip_components
from st_f2m_ros.errors import DataError
from st_f2m_ros.taxonomy import COMPONENTS, NUM_COMPONENTS

DISFA_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
DISFA_FPS = 20.0
MAX_INTENSITY = 5.0

_C = {name: i for i, name in enumerate(COMPONENTS)}


def _extra_effects() -> dict[int, np.ndarray]:
    """AU17 chin raiser pushes the lower lip up (thicker, corners down); AU25 parts the lips."""
    au17 = np.zeros(NUM_COMPONENTS)
    au17[_C['lower_lip']] = 0.35
    au17[_C['left_mouth_corner']] = au17[_C['right_mouth_corner']] = -0.2
    au25 = np.zeros(NUM_COMPONENTS)
    au25[_C['mouth']] = 0.45
    return {17: au17, 25: au25}


_EXTRA = _extra_effects()


def disfa_components(aus: np.ndarray) -> np.ndarray:
    """Component values [T, 12] from DISFA AU intensities [T, 12] (DISFA_AUS order, 0-5)."""
    aus = np.asarray(aus, dtype=np.float64)
    if aus.ndim != 2 or aus.shape[1] != len(DISFA_AUS):
        raise DataError(f'expected AU intensities [T, {len(DISFA_AUS)}], got {aus.shape}')
    act = np.clip(aus / MAX_INTENSITY, 0.0, 1.0)
    out = np.zeros((aus.shape[0], NUM_COMPONENTS))
    for j, au in enumerate(DISFA_AUS):
        effect = AU_EFFECTS[AU_INDEX[au]] if au in AU_INDEX else _EXTRA[au]
        out += act[:, j : j + 1] * effect[None, :]
    return clip_components(out).astype(np.float32)


def _read_au_file(path: Path) -> dict[int, float]:
    out: dict[int, float] = {}
    try:
        lines = path.read_text(encoding='ascii').splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f'{path}: cannot read ({err}); expected "frame,intensity" lines') from err
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            frame, value = (float(x) for x in line.replace(' ', '').split(','))
        except ValueError:
            raise DataError(
                f'{path} line {n}: expected "frame,intensity" (e.g. "12,3"), got {line!r}'
            ) from None
        if not 0 <= value <= MAX_INTENSITY or frame < 1:
            raise DataError(f'{path} line {n}: intensity must be 0-5 and frame >= 1')
        out[int(frame)] = value
    return out


def read_disfa_aus(root: str | Path) -> dict[str, np.ndarray]:
    """Subject id -> AU intensities [T, 12] (DISFA_AUS order) from ActionUnit_Labels/."""
    labels = require_dir(Path(root) / 'ActionUnit_Labels', 'DISFA ActionUnit_Labels/SNxxx/')
    out = {}
    for sdir in sorted(p for p in labels.iterdir() if p.is_dir()):
        per_au = []
        for au in DISFA_AUS:
            path = sdir / f'{sdir.name}_au{au}.txt'
            if not path.is_file():
                raise DataError(f'{path} not found: DISFA needs one file per AU {DISFA_AUS}')
            per_au.append(_read_au_file(path))
        n = max(max(d) for d in per_au if d) if any(per_au) else 0
        arr = np.zeros((n, len(DISFA_AUS)), dtype=np.float32)
        for j, d in enumerate(per_au):
            for frame, value in d.items():
                arr[frame - 1, j] = value
        out[sdir.name] = arr
    if not out:
        raise DataError(f'{labels}: no subject folders SNxxx')
    return out


def load_disfa(
    root: str | Path,
    crop_size: int = 112,
    label_fn: LabelFn | None = None,
    camera: str = 'Left',
    subjects: list[str] | None = None,
    rate: float | None = None,
) -> list[Clip]:
    """Load DISFA videos with fuzzy fine-grained labels (one clip per subject).

    Args:
        root: folder with `ActionUnit_Labels/` and `Videos_<camera>Camera/`.
        label_fn: components [N, 12] -> class ids [N]; default `fuzzy.label_from_components`.
        camera: 'Left' or 'Right'.
        rate: keep only the frames nearest a grid of this many Hz (None: all 20 fps).

    """
    root = Path(root)
    label_fn = label_fn or default_label_fn()
    videos = require_dir(root / f'Videos_{camera}Camera', f'DISFA videos Videos_{camera}Camera/')
    clips = []
    for subject, aus in read_disfa_aus(root).items():
        if subjects is not None and subject not in subjects:
            continue
        path = videos / f'{camera}Video{subject}_comp.avi'
        if not path.is_file():
            raise DataError(f'{path} not found: expected the DISFA video of {subject}')
        cap, _, count = open_video(path)
        n = min(count, len(aus)) if count > 0 else len(aus)
        keep = rate_indices(np.arange(n) / DISFA_FPS, rate)
        comps = disfa_components(aus[keep])
        labels = np.asarray(label_fn(comps), dtype=np.int64)
        clips.append(
            frames_to_clip(  # streamed: only the kept crops stay in memory
                take_frames(iter_video(cap, n), keep),
                keep / DISFA_FPS,
                labels,
                subject,
                str(path),
                crop_size,
                components=comps,
                allow_short=True,
            )
        )
    return clips
