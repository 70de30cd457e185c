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
"""The adaptation manager end to end: clips in, adapted head swapped in, persisted, reloaded."""

from __future__ import annotations

import os
from pathlib import Path
import threading

import cv2
import numpy as np
import pytest
import yaml

from st_f2m_ros.runtime.adaptation.manager import AdaptRequest, InlineClip, request_from_msg
from st_f2m_ros.taxonomy import class_id_from_label

LABELS = ('happiness_high', 'anger_high', 'neutral')


def _inline_request(helpers, subject: str = 'p07', n: int = 6, **kw) -> AdaptRequest:
    clips = [
        InlineClip(
            label, [helpers.raw_image(helpers.frame(label, seed=i), 10 + i / 10) for i in range(n)]
        )
        for label in LABELS
    ]
    return AdaptRequest(subject, clips, **kw)


def _served(recognizer, helpers) -> dict[str, int]:
    return {
        lab: int(recognizer.classify_crops(helpers.frame(lab)[None, :16, :16])[0])
        for lab in LABELS
    }


def test_inline_adaptation_swaps_the_head(make_manager, recognizer, helpers) -> None:
    mgr = make_manager()
    out = mgr.adapt(_inline_request(helpers, inner_steps=100))
    assert out.success, out.message
    assert out.clips_used == 3 and out.version == 1
    assert out.model_id == 'tiny+p07@v1' == recognizer.model_id
    assert out.support_accuracy_after > out.support_accuracy_before
    assert out.support_accuracy_after == 1.0
    assert _served(recognizer, helpers) == {lab: class_id_from_label(lab) for lab in LABELS}
    assert mgr.state == 'adapted p07@v1'


def test_failed_adaptation_leaves_the_model_untouched(make_manager, recognizer, helpers) -> None:
    mgr = make_manager()
    assert mgr.adapt(_inline_request(helpers)).success
    before = recognizer.params()
    bad = AdaptRequest(
        'p07', [InlineClip('not_a_class', [helpers.raw_image(helpers.frame('neutral'), 0)])]
    )
    out = mgr.adapt(bad)
    assert not out.success and 'unknown label' in out.message
    assert recognizer.params() is before and out.model_id == 'tiny+p07@v1'

    def boom(clips, steps):
        raise RuntimeError('model exploded')

    mgr.adapt_fn = boom
    out = mgr.adapt(_inline_request(helpers))
    assert not out.success and 'model exploded' in out.message
    assert recognizer.params() is before

    def nan_fn(clips, steps):
        res = type('R', (), {})()
        res.params = {'head.weight': before['head.weight'] * float('nan')}
        res.support_acc_before = res.support_acc_after = 0.0
        return res

    mgr.adapt_fn = nan_fn
    out = mgr.adapt(_inline_request(helpers))
    assert not out.success and 'non-finite' in out.message
    assert recognizer.params() is before and mgr.store.versions('p07') == [1]


def test_adaptation_runs_while_frames_keep_flowing(make_manager, recognizer, helpers) -> None:
    """Real threads: a camera loop keeps calling the recognizer during adaptation."""
    mgr = make_manager(max_inner_steps=5000)
    crops = np.stack([helpers.frame(lab)[:16, :16] for lab in LABELS])
    stop = threading.Event()
    served: list[str] = []

    def camera() -> None:
        while not stop.is_set():
            recognizer.classify_crops(crops)
            served.append(recognizer.model_id)

    cam = threading.Thread(target=camera)
    cam.start()
    try:
        future = mgr.submit(_inline_request(helpers, inner_steps=3000))
        while not future.done():
            assert mgr.busy or future.done()
            stop.wait(0.005)
        out = future.result(timeout=60)
        busy = mgr.adapt(_inline_request(helpers, inner_steps=1))  # lock free again
    finally:
        stop.set()
        cam.join()
    assert out.success, out.message
    assert busy.success
    during = served.count('tiny')
    assert during >= 20, f'only {during} frames were served during adaptation'
    assert served[-1] == 'tiny+p07@v2'
    assert set(served) <= {'tiny', 'tiny+p07@v1', 'tiny+p07@v2'}


def test_concurrent_request_is_refused_while_busy(make_manager, helpers) -> None:
    mgr = make_manager()
    gate = threading.Event()
    entered = threading.Event()
    real = mgr.adapt_fn

    def slow(clips, steps):
        entered.set()
        gate.wait(10)
        return real(clips, steps)

    mgr.adapt_fn = slow
    first = mgr.submit(_inline_request(helpers))
    assert entered.wait(10)
    second = mgr.adapt(_inline_request(helpers))
    gate.set()
    assert not second.success and 'busy' in second.message
    assert first.result(10).success


def test_persistence_survives_a_restart(make_manager, recognizer, helpers) -> None:
    mgr = make_manager()
    for _ in range(5):
        assert mgr.adapt(_inline_request(helpers, inner_steps=50)).success
    assert mgr.store.versions('p07') == [3, 4, 5]  # keeps the last 3
    adapted = recognizer.params()['head.weight'].clone()
    recognizer.reset('p07')
    assert recognizer.model_id == 'tiny'

    restarted = make_manager()  # a new manager over the same store: the node restarting
    report = restarted.activate('p07')
    assert 'reloaded' in report and recognizer.model_id == 'tiny+p07@v5'
    assert np.allclose(recognizer.params()['head.weight'], adapted)
    assert restarted.adapt(_inline_request(helpers)).version == 6
    assert restarted.activate('nobody').startswith('no persisted adaptation')


def test_non_persistent_adaptation_writes_nothing(make_manager, helpers) -> None:
    mgr = make_manager()
    assert mgr.adapt(_inline_request(helpers, persist=False)).success
    assert mgr.store.versions('p07') == []


@pytest.mark.parametrize('damage', ['truncate', 'garbage', 'other_checkpoint'])
def test_corrupt_file_is_reported_and_base_model_used(
    make_manager, recognizer, helpers, damage: str
) -> None:
    mgr = make_manager()
    assert mgr.adapt(_inline_request(helpers)).success
    path = mgr.store.path_of('p07', 1)
    if damage == 'truncate':
        path.write_bytes(path.read_bytes()[:40])
    elif damage == 'garbage':
        path.write_bytes(b'\x00' * 64)
    else:
        mgr.settings = type(mgr.settings)(**{**mgr.settings.__dict__, 'checkpoint_id': 'other'})
    report = mgr.activate('p07')
    assert ('corrupt' in report) or ('checkpoint' in report)
    assert 'base model' in report
    assert recognizer.model_id == 'tiny' and 'rejected' in mgr.state


def test_reset(make_manager, recognizer, helpers) -> None:
    mgr = make_manager()
    assert mgr.adapt(_inline_request(helpers)).success
    out = mgr.reset('p07')
    assert out.success and out.model_id == 'tiny' and mgr.store.versions('p07') == [1]
    assert 'reloaded' in mgr.activate('p07')
    out = mgr.reset('p07', delete_persisted=True)
    assert out.success and 'deleted 1' in out.message
    assert mgr.store.versions('p07') == [] and recognizer.model_id == 'tiny'
    assert not mgr.reset('../x').success


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_bag_with_ground_truth_topic(
    make_manager, recognizer, helpers, clip_root: Path, storage: str
) -> None:
    bag = helpers.write_bag(
        clip_root / f'support_{storage}', [(lab, 8) for lab in LABELS], storage=storage
    )
    out = make_manager().adapt(AdaptRequest('p07', clip_uris=[str(bag)], inner_steps=100))
    assert out.success, out.message
    assert out.clips_used == 3  # one clip per labelled run
    assert _served(recognizer, helpers) == {lab: class_id_from_label(lab) for lab in LABELS}


def test_lone_mcap_file_with_sidecar_labels(make_manager, helpers, clip_root: Path) -> None:
    bag = helpers.write_bag(clip_root / 'b', [('anger_high', 5), ('neutral', 5)], with_truth=False)
    mcap = next(bag.glob('*.mcap'))
    mgr = make_manager()
    out = mgr.adapt(AdaptRequest('p07', clip_uris=[str(mcap)]))
    assert not out.success and 'labels.yaml' in out.message
    side = mcap.with_name(mcap.name + '.labels.yaml')
    side.write_text(
        yaml.safe_dump(
            {
                'segments': [
                    {'start': 0.0, 'end': 0.45, 'label': 'anger_high'},
                    {'start': 0.5, 'end': 1.0, 'label': 'neutral'},
                ]
            }
        )
    )
    out = mgr.adapt(AdaptRequest('p07', clip_uris=[str(mcap)]))
    assert out.success and out.clips_used == 2, out.message
    side.write_text(yaml.safe_dump({'label': 'furious'}))
    out = mgr.adapt(AdaptRequest('p07', clip_uris=[str(mcap)]))
    assert not out.success and 'unknown label' in out.message


def test_video_with_sidecar(make_manager, helpers, clip_root: Path) -> None:
    video = clip_root / 'anger.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 10.0, (24, 24))
    assert writer.isOpened()
    for i in range(6):
        writer.write(helpers.frame('anger_high', seed=i))
    writer.release()
    mgr = make_manager()
    assert 'sidecar' in mgr.adapt(AdaptRequest('p07', clip_uris=[str(video)])).message
    (clip_root / 'anger.avi.labels.yaml').write_text('label: anger_high\n')
    out = mgr.adapt(AdaptRequest('p07', clip_uris=[str(video)]))
    assert out.success and out.clips_used == 1, out.message


def test_broken_bag_is_a_clear_failure(make_manager, clip_root: Path) -> None:
    bad = clip_root / 'broken.mcap'
    bad.write_bytes(b'not an mcap file at all')
    out = make_manager().adapt(AdaptRequest('p07', clip_uris=[str(bad)]))
    assert not out.success and 'cannot read bag broken.mcap' in out.message


def test_request_from_rosbags_message(helpers) -> None:
    from st_f2m_ros.interfaces import typestore
    from st_f2m_ros.runtime.messages.convert import MessageKit

    store = typestore('jazzy')
    kit = MessageKit.from_typestore(store)
    t = store.types
    bgr = helpers.frame('neutral')
    img = t['sensor_msgs/msg/Image'](
        header=kit.header(1.0),
        height=24,
        width=24,
        encoding='bgr8',
        is_bigendian=0,
        step=72,
        data=bgr.reshape(-1),
    )
    _, jpg = cv2.imencode('.jpg', bgr)
    comp = t['sensor_msgs/msg/CompressedImage'](
        header=kit.header(2.0), format='jpeg', data=jpg.reshape(-1)
    )
    req = t['st_f2m_ros/srv/Adapt_Request'](
        subject_id='p07',
        clips=[
            t['st_f2m_ros/msg/SupportClip'](
                label='neutral', frames=[img], compressed_frames=[], transcript='hi'
            ),
            t['st_f2m_ros/msg/SupportClip'](
                label='neutral', frames=[], compressed_frames=[comp], transcript=''
            ),
        ],
        clip_uris=[],
        inner_steps=0,
        persist=False,
    )
    data = store.serialize_cdr(req, 'st_f2m_ros/srv/Adapt_Request')
    back = request_from_msg(store.deserialize_cdr(bytes(data), 'st_f2m_ros/srv/Adapt_Request'))
    assert back.subject_id == 'p07' and not back.persist and len(back.clips) == 2
    assert back.clips[0].frames[0].encoding == 'bgr8'
    assert back.clips[1].frames[0].format == 'jpeg' and back.clips[0].transcript == 'hi'


def test_support_frames_are_cut_by_the_face_detector(make_manager, helpers) -> None:
    from skimage.data import astronaut

    from st_f2m_ros.runtime.adaptation.clip_sources import default_crop_fn

    crop = default_crop_fn(32)
    face = np.ascontiguousarray(astronaut()[:, :, ::-1])  # RGB -> BGR, a real face
    out = crop(face)
    assert out is not None and out.shape == (32, 32, 3)
    assert crop(helpers.frame('neutral', size=96)) is None  # a flat colour has no face
    mgr = make_manager(clips_are_crops=False)
    result = mgr.adapt(_inline_request(helpers))
    assert not result.success and 'no face was found' in result.message


@pytest.mark.skipif(not hasattr(os, 'setpriority'), reason='per-thread niceness is Linux-only')
def test_worker_runs_at_lower_priority(make_manager, helpers) -> None:
    mgr = make_manager(worker_nice=5)
    seen = {}
    real = mgr.adapt_fn

    def spy(clips, steps):
        seen['worker'] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return real(clips, steps)

    mgr.adapt_fn = spy
    caller = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert mgr.submit(_inline_request(helpers)).result(30).success
    assert seen['worker'] == min(19, caller + 5)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == caller
