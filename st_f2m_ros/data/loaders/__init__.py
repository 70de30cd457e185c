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
"""Loaders for the paper's real datasets in their published layouts (section VI-A).

Each returns `Clip`s (CK+, CREMA-D, DISFA, WFLW) or `FeatureSequence`s (CMU-MOSEI aligned
features), so the trainer and evaluator need no dataset-specific code. Missing or malformed
files raise `DataError` naming the file and what was expected. None of the data ships with the
package; the tests write tiny fixtures in each published format.
"""

from st_f2m_ros.data.loaders.ckplus import load_ckplus
from st_f2m_ros.data.loaders.common import FaceBoxer
from st_f2m_ros.data.loaders.crema_d import load_crema_d, parse_crema_name
from st_f2m_ros.data.loaders.disfa import disfa_components, load_disfa, read_disfa_aus
from st_f2m_ros.data.loaders.mosei import FeatureSequence, MoseiDataset, load_mosei
from st_f2m_ros.data.loaders.wflw import load_wflw, read_wflw_annotations, wflw_components

__all__ = [
    'FaceBoxer',
    'FeatureSequence',
    'MoseiDataset',
    'disfa_components',
    'load_ckplus',
    'load_crema_d',
    'load_disfa',
    'load_mosei',
    'load_wflw',
    'parse_crema_name',
    'read_disfa_aus',
    'read_wflw_annotations',
    'wflw_components',
]
