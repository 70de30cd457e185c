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
"""Named data sets, `name:PATH`: one place that turns a spec into the Clips the trainer reads.

`st-f2m train --dataset`, `st-f2m evaluate --dataset` and the config entry `data.dataset` all
come here, so a data set is wired in once: the spec is parsed (unknown names are a
ConfigError listing the known ones), the path checked, the loader run, and its DataError
prefixed with the spec. What each data set can give ST-F2M differs (see `DATASETS`): CK+ and
CREMA-D carry emotion labels, DISFA and WFLW are labelled from their AUs / landmarks by the
fuzzy rule base (the paper's DISFA-FER / WFLW-FER), and CMU-MOSEI ships features, not faces, so
it is refused with what would be needed. The module sits outside `st_f2m_ros.data` and
imports loaders (numpy, OpenCV) only when loading, because the CLI builds its --help from
`describe()` and `st-f2m --help` must stay instant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
import textwrap
from typing import TYPE_CHECKING

from st_f2m_ros.errors import ConfigError, DataError

if TYPE_CHECKING:
    from st_f2m_ros.data.clip import Clip

Loader = Callable[[Path, int, 'float | None'], 'list[Clip]']


@dataclass(frozen=True)
class DatasetInfo:
    """One named data set: what the folder must hold, how it is labelled, how to load it."""

    name: str
    title: str
    expects: str  # the folder layout, for error messages
    labels: str  # where the 19-class labels come from (shown in --help)
    load: Loader | None  # None: cannot feed ST-F2M; `refusal` says why
    refusal: str = ''


def _ckplus(root: Path, crop_size: int, rate: float | None) -> list[Clip]:
    from st_f2m_ros.data.loaders import load_ckplus

    # all frames: a CK+ sequence is 10-60 frames, labelled by position from neutral to apex

    return load_ckplus(root, crop_size=crop_size)


def _cremad(root: Path, crop_size: int, rate: float | None) -> list[Clip]:
    from st_f2m_ros.data.loaders import load_crema_d

    return load_crema_d(root, crop_size=crop_size, rate=rate)


def _disfa(root: Path, crop_size: int, rate: float | None) -> list[Clip]:
    from st_f2m_ros.data.loaders import load_disfa

    return load_disfa(root, crop_size=crop_size, rate=rate)


def still_as_clip(clip: Clip, frames: int = 2, rate: float = 8.0) -> Clip:
    """A one-image clip shown for `frames` frames at `rate` Hz (no motion at all).

    Task construction (meta/tasks.py) needs label runs of >= 2 frames, and E reads windows;
    a repeated still gives the temporal module nothing to model, which is what a still is.
    """
    import numpy as np

    rep = np.zeros(frames, dtype=np.int64)
    return replace(
        clip,
        crops=clip.crops[rep],
        times=clip.times[0] + np.arange(frames) / rate,
        labels=clip.labels[rep],
        components=None if clip.components is None else clip.components[rep],
        face_found=None if clip.face_found is None else clip.face_found[rep],
        measured=None if clip.measured is None else clip.measured[rep],
        measured_ok=None if clip.measured_ok is None else clip.measured_ok[rep],
    )


def _wflw(split: str) -> Loader:
    def load(root: Path, crop_size: int, rate: float | None) -> list[Clip]:
        from st_f2m_ros.data.loaders import load_wflw

        clips = load_wflw(root, split=split, crop_size=crop_size)
        return [still_as_clip(c, rate=rate or 8.0) for c in clips]

    return load


def _clips(root: Path, crop_size: int, rate: float | None) -> list[Clip]:
    from st_f2m_ros.data.dataset import load_clips

    return load_clips(root)


_FUZZY = 'fuzzy rule base (fuzzy.label_from_components)'
_WFLW_LAYOUT = (
    'WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_{}.txt and WFLW_images/'
)

DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo(
            'ckplus',
            'CK+',
            'cohn-kanade-images/SXXX/NNN/*.png and Emotion/SXXX/NNN/*_emotion.txt',
            'CK+ emotion codes (contempt skipped), intensity by position neutral -> apex',
            _ckplus,
        ),
        DatasetInfo(
            'cremad',
            'CREMA-D',
            'VideoFlash/ActorID_Sentence_Emotion_Level.flv',
            'the file name (intended emotion and level; XX = medium); the sentence is the text',
            _cremad,
        ),
        DatasetInfo(
            'disfa',
            'DISFA (DISFA-FER)',
            'ActionUnit_Labels/SNxxx/SNxxx_auN.txt and Videos_LeftCamera/LeftVideoSNxxx_comp.avi',
            f'AU intensities -> Table II components -> {_FUZZY}',
            _disfa,
        ),
        DatasetInfo(
            'wflw',
            'WFLW (WFLW-FER), train list',
            _WFLW_LAYOUT.format('train'),
            f'98 landmarks -> Table II components -> {_FUZZY}; stills shown as 2-frame clips',
            _wflw('train'),
        ),
        DatasetInfo(
            'wflw-test',
            'WFLW (WFLW-FER), test list',
            _WFLW_LAYOUT.format('test'),
            f'98 landmarks -> Table II components -> {_FUZZY}; stills shown as 2-frame clips',
            _wflw('test'),
        ),
        DatasetInfo(
            'mosei',
            'CMU-MOSEI',
            'FACET 4.2, glove_vectors and All Labels .csd files',
            'emotion scores (strongest emotion, level by score)',
            None,
            refusal=(
                'CMU-MOSEI ships FACET 4.2 (35-d) and GloVe (300-d) features, not face images, '
                "and ST-F2M's encoder E reads face crops: training or evaluating on it needs an "
                'input variant of E that takes FACET features, which this package does not '
                'have. st_f2m_ros.data.loaders.load_mosei / MoseiDataset read the aligned '
                'features for feature-level baselines'
            ),
        ),
        DatasetInfo(
            'clips',
            'a dataset folder',
            'index.json and clips/*.npz written by st-f2m make-dataset',
            'as stored',
            _clips,
        ),
    )
}


def describe() -> str:
    """One line per data set: name, what it is and where its labels come from (for --help)."""
    lines = []
    for d in DATASETS.values():
        how = (
            f'labels: {d.labels}'
            if d.load is not None
            else 'refused: FACET/GloVe features, not faces (needs an E variant reading FACET)'
        )
        lines += textwrap.wrap(
            f'{d.title}; {how}',
            width=79,
            initial_indent=f'  {d.name + ":PATH":<16}',
            subsequent_indent=' ' * 18,
        )
    return '\n'.join(lines)


def parse_spec(spec: str) -> tuple[DatasetInfo, Path]:
    """(data set, path) of 'name:PATH' (files not touched).

    ConfigError names the known data sets for an unknown one, and says what is missing for
    one that cannot feed ST-F2M (MOSEI), so a config fails when it is read.
    """
    name, sep, path = str(spec).partition(':')
    known = ', '.join(DATASETS)
    if not sep or not path.strip():
        raise ConfigError(f'data set spec {spec!r}: expected NAME:PATH with NAME one of {known}')
    info = DATASETS.get(name.strip().lower())
    if info is None:
        raise ConfigError(f'unknown data set {name!r} in {spec!r}; known: {known}')
    if info.load is None:
        raise ConfigError(f'{spec}: {info.refusal}')
    return info, Path(path.strip()).expanduser()


def load_dataset(spec: str, crop_size: int, rate: float | None = None) -> list[Clip]:
    """Clips of the data set `spec` ('name:PATH') with crops of `crop_size` px.

    `rate` (the model's feature_rate) thins the videos of CREMA-D and DISFA to the frames
    nearest a grid of that many Hz: windows are read at that rate, and the other frames would
    only cost memory and face-finding time. CK+ sequences and stored folders are kept whole.

    Raises ConfigError for an unknown name or a data set that cannot feed ST-F2M (MOSEI),
    DataError naming the spec and the expected layout when the path or its files are wrong.
    """
    info, root = parse_spec(spec)
    if info.load is None:  # parse_spec refuses these already; kept for type narrowing
        raise ConfigError(f'{spec}: {info.refusal}')
    if not root.is_dir():
        raise DataError(f'{spec}: {root} is not a folder; expected the {info.title} layout '
                        f'{info.expects}')  # fmt: skip
    try:
        clips = info.load(root, crop_size, rate)
    except DataError as err:
        raise DataError(f'{spec}: {err} (expected {info.expects})') from err
    if not clips:
        raise DataError(f'{spec}: no clips found; expected {info.expects}')
    return clips
