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
"""Model files of the real-face front end: registry, search order, set-up time installer.

`model_path(name)` is all run-time code needs; `st-f2m models install|list|verify` is the
set-up side. See `locate` for the search order and `registry` for where each file comes from.
"""

from st_f2m_ros.models.install import InstallConfig, Installed, install_models
from st_f2m_ros.models.locate import (
    ENV_VAR,
    FileStatus,
    default_install_dir,
    model_path,
    search_dirs,
    verify_models,
)
from st_f2m_ros.models.registry import REGISTRY, ModelFile, registry_entry

__all__ = [
    'ENV_VAR',
    'REGISTRY',
    'FileStatus',
    'InstallConfig',
    'Installed',
    'ModelFile',
    'default_install_dir',
    'install_models',
    'model_path',
    'registry_entry',
    'search_dirs',
    'verify_models',
]
