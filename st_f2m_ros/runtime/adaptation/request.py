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
"""Adapt requests and outcomes as plain dataclasses (srv/Adapt.srv without ROS types).

The service shell reads an rclpy request with `request_from_msg`, the CLI builds an
`AdaptRequest` directly; both hand it to `runtime.adaptation.AdaptationManager`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from st_f2m_ros.runtime.messages.inputs import RawCompressedImage, RawImage


@dataclass
class InlineClip:
    """A SupportClip message without ROS types."""

    label: str
    frames: list[RawImage | RawCompressedImage]
    transcript: str = ''


@dataclass
class AdaptRequest:
    """An Adapt request without ROS types (see srv/Adapt.srv)."""

    subject_id: str
    clips: list[InlineClip] = field(default_factory=list)
    clip_uris: list[str] = field(default_factory=list)
    inner_steps: int = 0
    persist: bool = True
    # Optional class label per clip_uris entry ('' = from the file's topic / sidecar): the CLI's
    # --labels for unlabelled recordings.
    uri_labels: list[str] = field(default_factory=list)


@dataclass
class AdaptOutcome:
    """An Adapt response without ROS types."""

    success: bool
    message: str
    model_id: str
    clips_used: int = 0
    support_accuracy_before: float = 0.0
    support_accuracy_after: float = 0.0
    duration: float = 0.0
    version: int = 0
    # Cross-validated held-out accuracy on the support (meta.adapt.cross_validate; None when
    # the support is too small), how it was estimated or why not, and which classes the
    # support adapted and which kept the base head.
    heldout_accuracy: float | None = None
    heldout_note: str = ''
    adapted_classes: tuple[str, ...] = ()
    kept_classes: tuple[str, ...] = ()


def request_from_msg(msg: Any) -> AdaptRequest:
    """Read an Adapt request message (rclpy or rosbags) into an AdaptRequest."""
    from st_f2m_ros.runtime.messages.inputs import compressed_from_msg, image_from_msg

    clips = []
    for c in msg.clips:
        frames: list[RawImage | RawCompressedImage] = [image_from_msg(f) for f in c.frames]
        if not frames:
            frames = [compressed_from_msg(f) for f in c.compressed_frames]
        clips.append(InlineClip(str(c.label), frames, str(c.transcript)))
    return AdaptRequest(
        str(msg.subject_id),
        clips,
        [str(u) for u in msg.clip_uris],
        int(msg.inner_steps),
        bool(msg.persist),
    )
