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
"""Exception hierarchy: one base, one subclass per concern (rosbags style).

Lower-level errors are converted at the boundary with `raise ... from err`; only the CLI prints
and exits, the nodes log once and answer `success=False`.
"""


class StF2MError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(StF2MError):
    """A configuration file or parameter is missing or invalid."""


class DataError(StF2MError):
    """A dataset, bag or clip file is missing, malformed or unsupported."""


class ModelError(StF2MError):
    """A checkpoint cannot be loaded or does not match the model configuration."""


class ModelFileError(ModelError):
    """A model file is missing or fails its checksum (names the command that installs it)."""


class FuzzyRuleError(StF2MError):
    """The fuzzy rule base is malformed (names the rule and the problem)."""


class PerceptionError(StF2MError):
    """An input message cannot be converted (encoding, size, stamps)."""


class AdaptationError(StF2MError):
    """An adaptation request is invalid or failed; the running model is untouched."""
