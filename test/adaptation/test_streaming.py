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
"""Support frames are streamed: memory holds crops, never a clip's full-resolution frames.

Measured with tracemalloc (numpy and OpenCV buffers are traced). For scale, a 60 s 640x480
JPEG support bag (1800 frames) loaded with the face detector: peak 1638 MB before the
streaming change, 104 MB after; at the model's 8 Hz feature rate 443 MB -> 34 MB. Through the
real-face front end (benchmarks/bench_support_faces.py): 103.5 MB and 32.7 MB.
"""

from __future__ import annotations

from pathlib import Path
import tracemalloc

import cv2
import numpy as np

from st_f2m_ros.interfaces import typestore
from st_f2m_ros.runtime.adaptation.manager import AdaptRequest, InlineClip
from st_f2m_ros.runtime.messages import convert as m
from st_f2m_ros.runtime.messages.inputs import RawCompressedImage
from st_f2m_ros.taxonomy import NUM_CLASSES, class_id_from_label

W, H, N = 320, 240, 90  # 90 frames of 230 kB: 20.7 MB if held at once


def _big_frame_bag(path: Path) -> Path:
    from rosbags.rosbag2 import Writer

    store = typestore('humble')
    kit = m.MessageKit.from_typestore(store)
    image_t = store.types['sensor_msgs/msg/Image']
    rng = np.random.default_rng(0)
    with Writer(path, version=8) as w:
        cam = w.add_connection('/camera/image_raw', image_t.__msgtype__, typestore=store)
        gt = w.add_connection(
            '/emotion/ground_truth', 'st_f2m_ros/msg/EmotionSequence', typestore=store
        )
        for i in range(N):
            t = 100.0 + i / 10
            bgr = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
            msg = image_t(header=kit.header(t, 'cam'), height=H, width=W, encoding='bgr8',
                          is_bigendian=0, step=3 * W, data=bgr.reshape(-1))  # fmt: skip
            w.write(cam, int(t * 1e9), store.serialize_cdr(msg, image_t.__msgtype__))
        cid = class_id_from_label('neutral')
        state = m.EmotionStateRecord(
            100.0, 100.0 + N / 10, cid, 1.0, np.eye(NUM_CLASSES, dtype=np.float32)[cid],
            np.zeros(12, np.float32),
        )  # fmt: skip
        seq = m.sequence_to_msg(kit, m.EmotionSequenceRecord(110.0, 'p07', 'truth', [state]))
        w.write(gt, int(110e9), store.serialize_cdr(seq, 'st_f2m_ros/msg/EmotionSequence'))
    return path


def test_a_bag_is_loaded_without_holding_its_frames(make_manager, clip_root: Path) -> None:
    bag = _big_frame_bag(clip_root / 'big')
    mgr = make_manager(max_bytes=10**9)
    sources = mgr.validate(AdaptRequest('p07', clip_uris=[str(bag)]))
    tracemalloc.start()
    try:
        clips = mgr.load_clips('p07', sources)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(len(c) for c in clips) == N
    held = N * W * H * 3
    assert peak < held / 4, f'peak {peak / 2**20:.1f} MB while loading {held / 2**20:.1f} MB'


def _forged_jpeg(height: int, width: int) -> bytes:
    """A small real JPEG whose frame header claims height x width."""
    ok, buf = cv2.imencode('.jpg', np.full((16, 16, 3), 128, np.uint8))
    assert ok
    data = bytearray(buf.tobytes())
    i = 2
    while data[i + 1] not in (0xC0, 0xC1, 0xC2):
        i += 2 + int.from_bytes(data[i + 2 : i + 4], 'big')
    data[i + 5 : i + 9] = height.to_bytes(2, 'big') + width.to_bytes(2, 'big')
    return bytes(data)


def test_a_jpeg_support_frame_is_size_checked_before_decoding(make_manager) -> None:
    frame = RawCompressedImage(1.0, 'jpeg', _forged_jpeg(20000, 20000))
    mgr = make_manager()
    tracemalloc.start()
    try:
        out = mgr.adapt(AdaptRequest('p07', [InlineClip('neutral', [frame])]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not out.success and '20000x20000' in out.message, out.message
    assert peak < 20 * 2**20  # decoding would allocate 1.2 GB for the bitmap
