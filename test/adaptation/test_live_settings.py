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
"""update_settings: adaptation parameters changed by `ros2 param set` apply to the next request."""

from __future__ import annotations

import threading

import pytest

from st_f2m_ros.errors import AdaptationError, StF2MError
from st_f2m_ros.runtime.adaptation.manager import AdaptRequest

LABELS = ('happiness_high', 'anger_high', 'neutral')



def test_each_live_setting_applies_to_the_next_request(make_manager, helpers, clip_root) -> None:
    mgr = make_manager()
    mgr.update_settings(max_clips=2)
    assert 'at most 2 are accepted' in mgr.adapt(helpers.request()).message
    mgr.update_settings(max_clips=64, max_clips_per_class=1)
    out = mgr.adapt(helpers.request(labels=('neutral', 'neutral')))
    assert 'at most 1 per class' in out.message
    mgr.update_settings(max_clips_per_class=16, default_inner_steps=7)
    assert 'in 7 steps' in mgr.adapt(helpers.request()).message
    bag = helpers.write_bag(clip_root / 'support', [(lab, 4) for lab in LABELS])
    mgr.update_settings(max_clip_bytes=1000)
    out = mgr.adapt(AdaptRequest('p07', clip_uris=[str(bag)]))
    assert 'over the limit of 1000' in out.message
    mgr.update_settings(keep_versions=1)
    assert mgr.adapt(helpers.request()).success
    assert mgr.store.versions('p07') == [2]
    mgr.update_settings(support_clips_are_crops=False)  # now the face detector cuts the frames
    assert 'no face was found' in mgr.adapt(helpers.request()).message
    mgr.update_settings(support_clips_are_crops=True)
    assert mgr.adapt(helpers.request()).success


@pytest.mark.parametrize(
    ('changes', 'reason'),
    [
        ({'max_clips': 0}, 'max_clips must be >= 1'),
        ({'max_clips': 'many'}, 'max_clips must be an integer'),
        ({'keep_versions': True}, 'keep_versions must be an integer'),
        ({'max_clip_bytes': -5}, 'max_clip_bytes must be >= 1'),
        ({'support_clips_are_crops': 1}, 'must be true or false'),
        ({'default_inner_steps': 10_000}, 'default_inner_steps must be <= 200'),
        ({'checkpoint_id': 'x'}, 'cannot be changed at run time'),
        ({'max_clips': 3, 'max_clips_per_class': 0}, 'max_clips_per_class must be >= 1'),
    ],
)
def test_refused_changes_change_nothing(make_manager, changes, reason: str) -> None:
    mgr = make_manager()
    before = mgr.settings
    with pytest.raises(AdaptationError, match=reason) as info:
        mgr.update_settings(**changes)
    assert isinstance(info.value, StF2MError)
    assert mgr.settings is before and mgr.store.keep == 3


def test_a_running_request_keeps_its_settings(make_manager, helpers) -> None:
    mgr = make_manager()
    entered, gate = threading.Event(), threading.Event()
    real = mgr.adapt_fn

    def slow(clips, steps):
        entered.set()
        gate.wait(30)
        return real(clips, steps)

    mgr.adapt_fn = slow
    future = mgr.submit(helpers.request())
    assert entered.wait(30)
    mgr.update_settings(default_inner_steps=3)
    gate.set()
    assert 'in 50 steps' in future.result(30).message  # the conftest default it started with
    mgr.adapt_fn = real
    assert 'in 3 steps' in mgr.adapt(helpers.request()).message
