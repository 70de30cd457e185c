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
"""Generalized fuzzy inference F: FCIS (components) and FKIS (rule base), paper section IV.

`from st_f2m_ros.fuzzy import FuzzyInference, load_rule_base, label_from_components`. The
torch-based names are imported lazily so that `fuzzy.rules` (YAML only) stays light.
"""

from __future__ import annotations

from typing import Any

from st_f2m_ros.fuzzy.rules import RuleBase, load_rule_base

__all__ = [
    'FuzzyInference',
    'FuzzyOutput',
    'RuleBase',
    'fire_components',
    'label_from_components',
    'load_rule_base',
]

_LAZY = {'FuzzyInference', 'FuzzyOutput', 'fire_components', 'label_from_components'}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from st_f2m_ros.fuzzy import inference

        return getattr(inference, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
