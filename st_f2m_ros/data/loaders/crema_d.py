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
"""CREMA-D (Cao et al. 2014): 7,442 clips of 91 actors saying 12 sentences in 6 emotions.

Published layout: ``VideoFlash/1001_DFA_ANG_XX.flv`` (ActorID_Sentence_Emotion_Level; emotion
ANG, DIS, FEA, HAP, NEU, SAD; level LO, MD, HI, or XX = unspecified), ``AudioWAV/`` (not used
here) and ``processedResults/tabulatedVotes.csv`` (crowd ratings; its ``fileName`` and
``emoVote`` columns give the perceived emotion). Labels come from the file name (the intended
emotion and level) unless `use_votes`, which takes the crowd's majority emotion instead. The
sentence is known from its code, so each clip carries it as one utterance spanning the clip.
"""

from __future__ import annotations

from collections.abc import Iterator
import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from st_f2m_ros.data.clip import Clip, Utterance
from st_f2m_ros.data.loaders.common import frames_to_clip, rate_indices, require_dir
from st_f2m_ros.errors import DataError
from st_f2m_ros.taxonomy import class_id

EMOTIONS = {
    'ANG': 'anger',
    'DIS': 'disgust',
    'FEA': 'fear',
    'HAP': 'happiness',
    'NEU': 'neutral',
    'SAD': 'sadness',
}
VOTE_EMOTIONS = {
    'A': 'anger',
    'D': 'disgust',
    'F': 'fear',
    'H': 'happiness',
    'N': 'neutral',
    'S': 'sadness',
}
LEVELS = {'LO': 'low', 'MD': 'medium', 'HI': 'high', 'XX': None}
SENTENCES = {
    'IEO': "It's eleven o'clock",
    'TIE': 'That is exactly what happened',
    'IOM': "I'm on my way to the meeting",
    'IWW': 'I wonder what this is about',
    'TAI': 'The airplane is almost full',
    'MTI': 'Maybe tomorrow it will be cold',
    'IWL': 'I would like a new alarm clock',
    'ITH': "I think I have a doctor's appointment",
    'DFA': "Don't forget a jacket",
    'ITS': "I think I've seen this before",
    'TSI': 'The surface is slick',
    'WSI': "We'll stop in a couple of minutes",
}


@dataclass(frozen=True)
class CremaName:
    """The fields of a CREMA-D file name."""

    actor: str
    sentence: str
    emotion: str
    level: str | None


def parse_crema_name(name: str) -> CremaName:
    """Parse '1001_DFA_ANG_XX[.flv]'; DataError says the expected pattern."""
    stem = Path(name).stem
    parts = stem.split('_')
    if (
        len(parts) != 4
        or not parts[0].isdigit()
        or parts[1] not in SENTENCES
        or parts[2] not in EMOTIONS
        or parts[3] not in LEVELS
    ):
        raise DataError(
            f'{name}: expected a CREMA-D name ActorID_Sentence_Emotion_Level, e.g. '
            f'1001_DFA_ANG_XX (emotions {sorted(EMOTIONS)}, levels {sorted(LEVELS)})'
        )
    return CremaName(parts[0], parts[1], EMOTIONS[parts[2]], LEVELS[parts[3]])


def read_votes(path: Path) -> dict[str, str]:
    """fileName -> crowd-voted emotion from tabulatedVotes.csv."""
    try:
        with open(path, newline='', encoding='utf-8') as fh:
            rows = list(csv.DictReader(fh))
    except OSError as err:
        raise DataError(f'{path}: cannot read ({err}); expected tabulatedVotes.csv') from err
    if not rows or 'fileName' not in rows[0] or 'emoVote' not in rows[0]:
        raise DataError(f'{path}: expected CSV columns fileName and emoVote')
    out = {}
    for row in rows:
        vote = row['emoVote'].split(':')[0].strip()
        if vote in VOTE_EMOTIONS:
            out[row['fileName'].strip()] = VOTE_EMOTIONS[vote]
    return out


def open_video(path: Path) -> tuple[cv2.VideoCapture, float, int]:
    """(capture, frame rate, frame count as the container states it) of a video file."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise DataError(f'{path}: OpenCV cannot open this video')
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    return cap, float(fps) if 1.0 <= fps <= 240.0 else 30.0, count


def iter_video(cap: cv2.VideoCapture, limit: int | None = None) -> Iterator[np.ndarray]:
    """Decoded BGR frames one at a time (at most `limit`), so a long video never sits in memory
    (a DISFA video is 4,845 frames of 1024 x 768: 11 GB decoded); releases the capture."""
    try:
        n = 0
        while limit is None or n < limit:
            ok, frame = cap.read()
            if not ok:
                break
            n += 1
            yield frame
    finally:
        cap.release()


def read_video(path: Path) -> tuple[list[np.ndarray], float]:
    """All frames (BGR) and the frame rate of a (short) video file."""
    cap, fps, _ = open_video(path)
    frames = list(iter_video(cap))
    if not frames:
        raise DataError(f'{path}: no frames could be decoded')
    return frames, fps


def load_crema_d(
    root: str | Path,
    crop_size: int = 112,
    unspecified_level: str = 'medium',
    use_votes: bool = False,
    limit: int | None = None,
    pattern: str = '*.flv',
    rate: float | None = None,
) -> list[Clip]:
    """Load CREMA-D videos as clips, one per file.

    Args:
        root: dataset folder holding `VideoFlash/` (and `processedResults/` for votes).
        unspecified_level: intensity used for level XX.
        use_votes: label by the crowd's majority emotion (tabulatedVotes.csv).
        limit: load at most this many files (sorted by name).
        pattern: video file pattern inside VideoFlash (the release also has .mp4 conversions).
        rate: keep only the frames nearest a grid of this many Hz (None: all; `rate_indices`).

    """
    root = Path(root)
    videos = sorted(
        require_dir(root / 'VideoFlash', 'CREMA-D videos VideoFlash/*.flv').glob(pattern)
    )
    if not videos:
        raise DataError(f'{root / "VideoFlash"}: no {pattern} files')
    votes = read_votes(root / 'processedResults' / 'tabulatedVotes.csv') if use_votes else {}
    clips = []
    for path in videos[:limit]:
        meta = parse_crema_name(path.name)
        emotion = votes.get(path.stem, meta.emotion) if use_votes else meta.emotion
        level = meta.level or unspecified_level
        cid = class_id(emotion, None if emotion == 'neutral' else level)
        frames, fps = read_video(path)
        times = np.arange(len(frames)) / fps
        keep = rate_indices(times, rate)
        text = SENTENCES[meta.sentence]
        clips.append(
            frames_to_clip(
                [frames[i] for i in keep],
                times[keep],
                np.full(len(keep), cid, dtype=np.int64),
                meta.actor,
                str(path),
                crop_size,
                utterances=[Utterance(0.0, float(times[-1]) + 1.0 / fps, text)],
            )
        )
    return clips
