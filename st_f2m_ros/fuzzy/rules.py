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
"""The FCIS/FKIS rule base as data (paper section IV, Table II): loading and validation.

The rules live in `resources/fuzzy_rules.yaml` so that a psychologist can edit them without
touching code; this module turns that file into a frozen `RuleBase` and rejects a malformed one
with a `FuzzyRuleError` that names the rule (or section) and the problem. No torch here: the
data engineer labels datasets from it and the CLI validates files without the model.

The types and the coding notation live in `rule_types`, the checks in `rule_validation`; both
are re-exported here, the import path the rest of the package uses.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from st_f2m_ros.errors import FuzzyRuleError
from st_f2m_ros.fuzzy.rule_types import (
    SHAPES,
    SOURCES,
    TNORMS,
    Component,
    EmotionIntensity,
    Rule,
    RuleBase,
    Term,
    format_coding,
    parse_coding,
)
from st_f2m_ros.fuzzy.rule_validation import rule_base_from_dict

__all__ = [
    'DEFAULT_RULES_FILE',
    'SHAPES',
    'SOURCES',
    'TNORMS',
    'Component',
    'EmotionIntensity',
    'Rule',
    'RuleBase',
    'Term',
    'format_coding',
    'load_rule_base',
    'parse_coding',
    'rule_base_from_dict',
]

DEFAULT_RULES_FILE = 'fuzzy_rules.yaml'


def load_rule_base(path: str | os.PathLike[str] | None = None) -> RuleBase:
    """Load and validate a rule base file (default: the packaged `fuzzy_rules.yaml`)."""
    if path is None:
        from st_f2m_ros.resources import resource_path

        path = resource_path(DEFAULT_RULES_FILE)
    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8')
    except OSError as err:
        raise FuzzyRuleError(
            f'cannot read the rule base {path}: {err.strerror or err}; pass an existing '
            'YAML file or leave the path unset for the packaged one'
        ) from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise FuzzyRuleError(f'{path} is not valid YAML: {err}') from err
    return rule_base_from_dict(data, source=str(path))
