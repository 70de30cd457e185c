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
"""Synthetic face-and-transcript benchmark (issue 3): parametric faces driven by FACS prototypes.

Submodules, one concept each: `subjects` (identity and idiosyncrasy), `expression` (action-unit
prototypes -> Table II components), `render` (OpenCV drawing, with `paint` primitives and the
real-face `cues`), `measure` (components measured back from the drawn geometry), `landmarks`
(the drawn landmarks and their MediaPipe mesh counterparts), `script` (emotion sequences),
`transcripts` (phrase bank), `corruptions` (fog, masks, lens distortion, text masking) and
`generator` (the session that ties them together, deterministic by seed).
"""

from st_f2m_ros.data.synthetic.corruptions import Corruption, parse_corruptions
from st_f2m_ros.data.synthetic.generator import (
    SyntheticConfig,
    SyntheticFrame,
    SyntheticSession,
    generate_clips,
)
from st_f2m_ros.data.synthetic.subjects import Subject, make_subject, make_subjects

__all__ = [
    'Corruption',
    'Subject',
    'SyntheticConfig',
    'SyntheticFrame',
    'SyntheticSession',
    'generate_clips',
    'make_subject',
    'make_subjects',
    'parse_corruptions',
]
