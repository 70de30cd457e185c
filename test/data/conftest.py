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
"""Tiny fixtures in each real data set's published layout (faces drawn by the generator).

Shared by the loader tests and the named-data-set tests (train / evaluate end to end) through
the `formats` fixture, so both read the very same files.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from st_f2m_ros.data.loaders.disfa import DISFA_AUS
from st_f2m_ros.data.synthetic import SyntheticConfig, SyntheticSession, make_subject

FACES = SyntheticConfig(duration=0.4, width=320, height=240, noise=0.0)
# (subject, sequence, CK+ emotion code or None, frames): the loader tests' default set
CKPLUS_DEFAULT = (
    ('S005', '001', '3.0000000e+00', 6),
    ('S010', '002', None, 4),
    ('S011', '001', '2.0000000e+00', 3),
)


def frames(n: int, seed: int = 0) -> list[np.ndarray]:
    """`n` BGR frames of one synthetic face, 320 x 240."""
    person = replace(make_subject('fx', seed), center=(0.5, 0.5), half_width=110.0)
    sess = SyntheticSession(person, replace(FACES, duration=n / 30.0), seed)
    return [sess.render(i).image for i in range(n)]


def write_video(path: Path, images: list[np.ndarray], fps: float, fourcc: str) -> None:
    """Write frames with OpenCV (FLV1 for CREMA-D's .flv, MJPG for DISFA's .avi)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = images[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    for f in images:
        writer.write(f)
    writer.release()


def ckplus(root: Path, sequences: tuple = CKPLUS_DEFAULT) -> Path:
    """cohn-kanade-images/SXXX/NNN/*.png (grey) and Emotion/SXXX/NNN/*_emotion.txt."""
    for k, (subject, seq, code, n) in enumerate(sequences):
        d = root / 'cohn-kanade-images' / subject / seq
        d.mkdir(parents=True)
        for i, img in enumerate(frames(n, k)):
            cv2.imwrite(
                str(d / f'{subject}_{seq}_{i + 1:08d}.png'), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            )
        if code is not None:
            e = root / 'Emotion' / subject / seq
            e.mkdir(parents=True)
            (e / f'{subject}_{seq}_{n:08d}_emotion.txt').write_text(f'   {code}\n')
    return root


def cremad(root: Path, names: tuple[str, ...], n: int = 5) -> Path:
    """VideoFlash/<ActorID_Sentence_Emotion_Level>.flv."""
    for k, name in enumerate(names):
        write_video(root / 'VideoFlash' / f'{name}.flv', frames(n, k), 30.0, 'FLV1')
    return root


def disfa(root: Path, n: int = 6, subjects: tuple[str, ...] = ('SN001',)) -> Path:
    """ActionUnit_Labels/SNxxx/SNxxx_auN.txt (AU12 at 5 from frame 4) and the left video."""
    for k, subject in enumerate(subjects):
        d = root / 'ActionUnit_Labels' / subject
        d.mkdir(parents=True)
        for au in DISFA_AUS:
            values = [5 if au == 12 and i >= 3 else 0 for i in range(n)]
            (d / f'{subject}_au{au}.txt').write_text(
                ''.join(f'{i + 1},{v}\n' for i, v in enumerate(values))
            )
        video = root / 'Videos_LeftCamera' / f'LeftVideo{subject}_comp.avi'
        write_video(video, frames(n, k), 20.0, 'MJPG')
    return root


def wflw_template() -> np.ndarray:
    """A plausible frontal 98-point face (WFLW index layout), inter-ocular distance 60 px."""
    p = np.zeros((98, 2))
    t = np.linspace(0, np.pi, 33)
    p[0:33] = np.stack([100 - 70 * np.cos(t), 100 + 80 * np.sin(t) - 40], 1)
    p[33:42] = np.stack([np.linspace(45, 90, 9), np.full(9, 45.0)], 1)  # right brow
    p[42:51] = np.stack([np.linspace(110, 155, 9), np.full(9, 45.0)], 1)  # left brow
    p[51:55] = np.stack([np.full(4, 100.0), np.linspace(65, 95, 4)], 1)
    p[55:60] = np.stack([np.linspace(88, 112, 5), np.full(5, 100.0)], 1)
    for start, cx in ((60, 70.0), (68, 130.0)):
        ang = np.linspace(0, 2 * np.pi, 9)[:8]
        p[start : start + 8] = np.stack([cx - 14 * np.cos(ang), 65 - 5 * np.sin(ang)], 1)
    ang = np.linspace(0, 2 * np.pi, 13)[:12]
    p[76:88] = np.stack([100 - 25 * np.cos(ang), 125 - 9 * np.sin(ang)], 1)
    ang = np.linspace(0, 2 * np.pi, 9)[:8]
    p[88:96] = np.stack([100 - 18 * np.cos(ang), 125 - 2 * np.sin(ang)], 1)
    p[96], p[97] = (70, 65), (130, 65)
    return p


def wflw(
    root: Path, faces: list[np.ndarray], split: str = 'train', events: tuple[str, ...] = ()
) -> Path:
    """WFLW_annotations/.../list_98pt_rect_attr_<split>.txt and WFLW_images/<event>/*.jpg.

    Face k goes to event folder `events[k % len(events)]` (default: all in '0--Parade').
    """
    ann = root / 'WFLW_annotations' / 'list_98pt_rect_attr_train_test'
    ann.mkdir(parents=True, exist_ok=True)
    events = events or ('0--Parade',)
    lines = []
    for k, lm in enumerate(faces):
        event = events[k % len(events)]
        (root / 'WFLW_images' / event).mkdir(parents=True, exist_ok=True)
        name = f'{event}/{event.split("--")[-1]}_{split}_{k}.jpg'
        cv2.imwrite(str(root / 'WFLW_images' / name), frames(1, k)[0])
        coords = ' '.join(f'{v:.3f}' for v in lm.reshape(-1))
        lines.append(f'{coords} 30 20 170 180 0 1 0 0 0 0 {name}')
    path = ann / f'list_98pt_rect_attr_{split}.txt'
    path.write_text('\n'.join(lines) + '\n')
    return path


def csd(path: Path, name: str, videos: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    """A CMU Multimodal SDK computational sequence: <name>/data/<video>/{features,intervals}."""
    h5py = pytest.importorskip('h5py')
    with h5py.File(path, 'w') as f:
        g = f.create_group(name)
        data = g.create_group('data')
        for vid, (feats, ivals) in videos.items():
            v = data.create_group(vid)
            v.create_dataset('features', data=feats)
            v.create_dataset('intervals', data=ivals)
        meta = g.create_group('metadata')
        meta.attrs['root name'] = name
    return path


@pytest.fixture
def formats() -> SimpleNamespace:
    """The fixture writers above."""
    return SimpleNamespace(
        frames=frames,
        write_video=write_video,
        ckplus=ckplus,
        cremad=cremad,
        disfa=disfa,
        wflw_template=wflw_template,
        wflw=wflw,
        csd=csd,
    )
