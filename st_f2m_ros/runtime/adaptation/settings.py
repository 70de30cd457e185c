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
"""The manager's limits and defaults, and their validated live update.

Node parameters such as `max_clips` are changed with `ros2 param set` while the node runs; a
change is validated here (all or nothing) and swapped in as a new frozen `AdaptationSettings`
with one reference assignment, so a request that is already running keeps the settings it
started with and the next request sees the new ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from st_f2m_ros.errors import AdaptationError
from st_f2m_ros.runtime.adaptation.paths import ClipLimits


@dataclass(frozen=True)
class AdaptationSettings:
    """Limits and defaults of the manager (node parameters / CLI options)."""

    checkpoint_id: str = 'base'
    crop_size: int = 96
    limits: ClipLimits = field(default_factory=ClipLimits)
    max_clips: int = 64
    max_clips_per_class: int = 16
    default_inner_steps: int = 10
    max_inner_steps: int = 200
    image_topic: str | None = None
    clips_are_crops: bool = False
    # Niceness added to the adaptation worker thread (Linux), so frames keep their CPU share.
    worker_nice: int = 5
    # Frames per second kept from clip files (0 = all): the model samples windows at its
    # feature rate, so decoding and face detection of the frames in between is wasted.
    frame_rate: float = 0.0
    # Persisted versions kept per subject (the store prunes older ones at its next save).
    keep_versions: int = 3


# Node parameter name -> (settings attribute, type, minimum). `max_clip_bytes` lives in limits.
LIVE_SETTINGS: dict[str, tuple[str, type, int]] = {
    'max_clip_bytes': ('limits.max_file_bytes', int, 1),
    'max_clips': ('max_clips', int, 1),
    'max_clips_per_class': ('max_clips_per_class', int, 1),
    'default_inner_steps': ('default_inner_steps', int, 1),
    'keep_versions': ('keep_versions', int, 1),
    'support_clips_are_crops': ('clips_are_crops', bool, 0),
}


def _checked(name: str, value: Any, kind: type, minimum: int) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise AdaptationError(f'{name} must be true or false, got {value!r}')
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise AdaptationError(f'{name} must be an integer, got {value!r}')
    if value < minimum:
        raise AdaptationError(f'{name} must be >= {minimum}, got {value}')
    return int(value)


def updated_settings(settings: AdaptationSettings, changes: dict[str, Any]) -> AdaptationSettings:
    """`settings` with the live parameters in `changes`; AdaptationError refuses (all or none).

    Names are the node parameter names (LIVE_SETTINGS); an unknown name is refused, so a typo
    cannot be accepted and silently do nothing.
    """
    unknown = sorted(set(changes) - set(LIVE_SETTINGS))
    if unknown:
        raise AdaptationError(
            f'{", ".join(unknown)} cannot be changed at run time; live adaptation settings '
            f'are {", ".join(LIVE_SETTINGS)}'
        )
    top: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    for name, value in changes.items():
        attr, kind, minimum = LIVE_SETTINGS[name]
        value = _checked(name, value, kind, minimum)
        if attr.startswith('limits.'):
            limits[attr.split('.', 1)[1]] = value
        else:
            top[attr] = value
    steps = top.get('default_inner_steps', settings.default_inner_steps)
    if steps > settings.max_inner_steps:
        raise AdaptationError(
            f'default_inner_steps must be <= {settings.max_inner_steps} (the most a request '
            f'may ask for), got {steps}'
        )
    if limits:
        top['limits'] = dataclasses.replace(settings.limits, **limits)
    return dataclasses.replace(settings, **top)
