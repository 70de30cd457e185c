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
"""Clip files are read at the model's feature rate: the frames in between are never decoded."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from st_f2m_ros.data.bag_writer import write_synthetic_bag
from st_f2m_ros.data.synthetic import SyntheticConfig
from st_f2m_ros.perception.image_convert import msg_to_bgr
from st_f2m_ros.runtime.adaptation import clip_sources as cs
from st_f2m_ros.runtime.session import adaptation_settings


def test_bag_frames_are_kept_at_the_requested_rate(tmp_path: Path) -> None:
    bag = write_synthetic_bag(
        tmp_path / 'b', duration=3.0, seed=1, config=SyntheticConfig(width=160, height=120)
    ).path
    decoded = []

    def decode(msg):
        decoded.append(1)
        return msg_to_bgr(msg)

    every, _, _ = cs.read_bag_frames(bag, None, 1000, decode)
    assert len(every) == len(decoded) == 90
    decoded.clear()
    some, t_some, truth = cs.read_bag_frames(bag, None, 1000, decode, min_interval=1 / 8)
    assert len(some) == len(decoded) == 24  # 8 Hz over 3 s: only these were decoded
    # each kept frame is the first at or after a point of the 8 Hz grid
    gaps = np.diff(t_some)
    assert np.all(gaps > 1 / 8 - 1 / 30 - 1e-3) and np.all(gaps < 1 / 8 + 1 / 30 + 1e-3)
    assert truth  # ground truth is never skipped


def test_video_frames_are_kept_at_the_requested_rate(tmp_path: Path) -> None:
    path = tmp_path / 'clip.avi'
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 30.0, (64, 48))
    for i in range(60):
        out.write(np.full((48, 64, 3), i * 4, np.uint8))
    out.release()
    frames, times = cs.read_video_frames(path, 1000)
    assert len(frames) == 60
    frames, times = cs.read_video_frames(path, 1000, min_interval=0.25)
    assert len(frames) == 8 and np.allclose(np.diff(times), 0.25, atol=1 / 30 + 1e-6)


def test_rate_filter_follows_its_grid_across_gaps() -> None:
    keep = cs.RateFilter(0.5)
    times = [0.0, 0.1, 0.5, 0.6, 2.2, 2.3, 2.5, 2.9, 3.0]
    assert [t for t in times if keep(t)] == [0.0, 0.5, 2.2, 2.5, 3.0]
    assert all(cs.RateFilter(0.0)(t) for t in times)


def test_session_reads_support_at_the_models_feature_rate() -> None:
    settings = adaptation_settings({}, 'ckpt', 96, frame_rate=8.0)
    assert settings.frame_rate == 8.0
