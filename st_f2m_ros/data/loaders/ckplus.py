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
"""CK+ (Extended Cohn-Kanade, Lucey et al. 2010): posed sequences from neutral to apex.

Published layout::

    cohn-kanade-images/S005/001/S005_001_00000001.png ... (one folder per sequence)
    Emotion/S005/001/S005_001_00000011_emotion.txt        (one float: 0-7; only some sequences)

CK+ codes: 0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy, 6 sadness, 7 surprise.
Contempt is not in the taxonomy, so those sequences are skipped. CK+ has no intensity labels;
as the sequences rise from neutral (first frame) to the apex (last frame), frames are labelled
by position (this package's convention): the first `neutral_frames` neutral, the rest split into
thirds low / medium / high. Frames are assumed `fps` apart (CK+ was digitised at 30 fps).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.data.loaders.common import frames_to_clip, read_image, require_dir
from st_f2m_ros.errors import DataError
from st_f2m_ros.taxonomy import class_id

CK_EMOTIONS: dict[int, str | None] = {
    0: 'neutral',
    1: 'anger',
    2: None,
    3: 'disgust',
    4: 'fear',
    5: 'happiness',
    6: 'sadness',
    7: 'surprise',
}


def read_emotion_file(path: Path) -> int:
    """Parse one *_emotion.txt (a single number such as '   3.0000000e+00')."""
    try:
        value = float(path.read_text(encoding='ascii').split()[0])
    except (OSError, UnicodeDecodeError, IndexError, ValueError) as err:
        raise DataError(
            f'{path}: expected one CK+ emotion code (0-7), e.g. "3.0000000e+00"'
        ) from err
    code = round(value)
    if code not in CK_EMOTIONS or abs(value - code) > 1e-6:
        raise DataError(f'{path}: emotion code {value} is not one of 0-7')
    return code


def sequence_labels(n: int, emotion: str, neutral_frames: int = 1) -> np.ndarray:
    """Per-frame class ids of a CK+ sequence of `n` frames rising to `emotion`."""
    labels = np.zeros(n, dtype=np.int64)
    if emotion == 'neutral' or n <= neutral_frames:
        return labels
    rest = n - neutral_frames
    levels = np.minimum(np.arange(rest) * 3 // rest, 2)
    ids = np.array([class_id(emotion, k) for k in ('low', 'medium', 'high')])
    labels[neutral_frames:] = ids[levels]
    return labels


def load_ckplus(
    root: str | Path,
    crop_size: int = 112,
    fps: float = 30.0,
    neutral_frames: int = 1,
    labelled_only: bool = True,
) -> list[Clip]:
    """Load CK+ sequences as clips (face crops via the Haar cascade).

    Args:
        root: folder holding `cohn-kanade-images/` and `Emotion/`.
        labelled_only: skip sequences without an emotion file (else they get labels -1).

    """
    root = Path(root)
    images = require_dir(root / 'cohn-kanade-images', 'CK+ image folders SXXX/NNN/*.png')
    emotions = root / 'Emotion'
    if labelled_only:
        require_dir(emotions, 'CK+ label folders Emotion/SXXX/NNN/*_emotion.txt')
    clips = []
    for subject_dir in sorted(p for p in images.iterdir() if p.is_dir()):
        for seq_dir in sorted(p for p in subject_dir.iterdir() if p.is_dir()):
            frames = sorted(seq_dir.glob('*.png'))
            if not frames:
                raise DataError(f'{seq_dir}: expected CK+ frames SXXX_NNN_XXXXXXXX.png')
            label_files = sorted(
                (emotions / subject_dir.name / seq_dir.name).glob('*_emotion.txt')
            )
            if not label_files:
                if labelled_only:
                    continue
                labels = np.full(len(frames), -1, dtype=np.int64)
            else:
                emotion = CK_EMOTIONS[read_emotion_file(label_files[0])]
                if emotion is None:  # contempt
                    continue
                labels = sequence_labels(len(frames), emotion, neutral_frames)
            clips.append(
                frames_to_clip(
                    (read_image(f) for f in frames),
                    np.arange(len(frames)) / fps,
                    labels,
                    subject_dir.name,
                    str(seq_dir),
                    crop_size,
                )
            )
    if not clips:
        raise DataError(f'{root}: no labelled CK+ sequence found')
    return clips
