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
"""Data: synthetic benchmark, rosbag2 I/O, training datasets and real-dataset loaders."""

from st_f2m_ros.data.clip import Clip, Utterance
from st_f2m_ros.data.dataset import (
    DatasetIndex,
    load_clip,
    load_clips,
    make_synthetic_dataset,
    read_index,
    save_clip,
    write_clips,
)

__all__ = [
    'Clip',
    'DatasetIndex',
    'Utterance',
    'load_clip',
    'load_clips',
    'make_synthetic_dataset',
    'read_index',
    'save_clip',
    'write_clips',
]
