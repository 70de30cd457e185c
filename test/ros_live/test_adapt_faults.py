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
"""/adapt faults through the real PerceptionNode under real rclpy.

A support bag given as a percent-encoded file:// URI adapts; a symlink out of clip_roots is
refused with the reason; a read-only adaptation store (a real read-only bind mount where
mounting is permitted, else EROFS raised at the store's write call) answers success with the
persist failure spelled out, the adapted head serves, and the node keeps publishing.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
import shutil
import subprocess
import time
from typing import Any
from urllib.parse import quote

from conftest import image_msg, perception_args, play, rendered_frames
import pytest


@pytest.fixture(scope='module')
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The node's only clip root (and its adaptation store), with a generated support bag."""
    from st_f2m_ros.data.bag_writer import write_synthetic_bag
    from st_f2m_ros.data.synthetic import SyntheticConfig

    root = tmp_path_factory.mktemp('adapt_live')
    cfg = SyntheticConfig(fps=15.0, width=320, height=240)
    write_synthetic_bag(root / 'support bag', duration=8.0, seed=2, config=cfg, encoding='jpeg')
    return root


@pytest.fixture(scope='module')
def ros_args(tiny_checkpoint: Path, folder: Path) -> list[str]:
    return perception_args(tiny_checkpoint, folder)


def _adapt(ros: Any, uris: list[str], subject: str = 'p07') -> Any:
    from st_f2m_ros.srv import Adapt

    req = Adapt.Request(subject_id=subject, clip_uris=uris, inner_steps=3, persist=True)
    client = ros.client(Adapt, 'adapt')
    t0 = time.monotonic()
    res = ros.call_service(client, req, timeout=240.0)
    print(f'/adapt {uris}: {time.monotonic() - t0:.1f} s: {res.message}')
    return res


def _model_id_served(ros: Any, subject: str) -> str:
    """Publish camera frames until the node publishes a sequence of `subject`; its model_id."""
    from sensor_msgs.msg import Image

    from st_f2m_ros.msg import EmotionSequence
    from st_f2m_ros.ros.qos import SENSOR

    rec = ros.record(EmotionSequence, 'emotion/sequence')
    camera = ros.publisher(Image, 'image', SENSOR)
    try:
        ros.wait_for_subscribers(camera)
        frames = rendered_frames(4.0)
        for _ in range(5):
            play(ros, camera, frames, image_msg, until=lambda: bool(rec.messages))
            mine = [m for m in rec.messages if m.subject_id == subject]
            if mine:
                return mine[-1].model_id
        raise AssertionError(f'no EmotionSequence of {subject}: {len(rec.messages)} others')
    finally:
        rec.close()
        ros.probe.destroy_publisher(camera)


def test_file_uri_of_a_support_bag_adapts(ros, perception, folder: Path) -> None:
    bag = folder / 'support bag'
    uri = 'file://' + quote(str(bag))
    assert '%20' in uri
    res = _adapt(ros, [uri])
    assert res.success, res.message
    assert res.model_id.endswith('+p07@v1')
    assert (folder / 'adaptations' / 'p07' / 'v0001.safetensors').is_file()
    assert _model_id_served(ros, 'p07').endswith('+p07@v1')


def test_symlink_out_of_the_clip_roots_is_refused(
    ros, perception, folder: Path, tmp_path: Path
) -> None:
    outside = tmp_path / 'elsewhere'
    shutil.copytree(folder / 'support bag', outside)
    link = folder / 'innocent'
    os.symlink(outside, link)
    before = perception.session.recognizer.model_id
    res = _adapt(ros, [str(link)])
    assert not res.success
    assert 'outside the allowed clip roots' in res.message and 'symbolic link' in res.message
    assert res.model_id == before == perception.session.recognizer.model_id


def test_read_only_store_reports_the_persist_failure_and_keeps_serving(
    ros, perception, folder: Path, monkeypatch
) -> None:
    store = folder / 'adaptations'
    store.mkdir(exist_ok=True)
    mounted = os.geteuid() == 0 and (
        subprocess.run(['mount', '--bind', '-o', 'ro', str(store), str(store)]).returncode == 0
    )
    if not mounted:
        from st_f2m_ros.runtime.adaptation import store as store_mod

        def read_only(path, data):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

        monkeypatch.setattr(store_mod, 'atomic_write_bytes', read_only)
    try:
        res = _adapt(ros, ['file://' + quote(str(folder / 'support bag'))])
        versions = sorted(p.name for p in (store / 'p07').glob('v*.safetensors'))
    finally:
        if mounted:
            subprocess.run(['umount', '-l', str(store)], check=False)
    assert res.success, res.message
    assert 'NOT persisted' in res.message and 'Read-only file system' in res.message
    assert versions == ['v0001.safetensors']  # nothing new, nothing half-written
    assert res.model_id.endswith('+p07@v2')
    assert _model_id_served(ros, 'p07') == res.model_id  # the node keeps publishing
