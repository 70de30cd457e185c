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
"""A subject switch leaves exactly the named person's head or the base head serving.

The recognizer here is the real `Recognizer` (conftest.TinyRecognizer subclasses it), whose
`reset(subject)` only resets when that subject's head is live: the old `activate` relied on it
for a person without a stored adaptation and kept the previous person's head serving.
"""

from __future__ import annotations

import threading

from st_f2m_ros.runtime.inference.recognizer import Recognizer


def test_the_double_is_the_real_recognizer(recognizer) -> None:
    assert isinstance(recognizer, Recognizer)
    recognizer.set_adaptation('p07', {'head.weight': recognizer.base['head.weight']}, 1)
    assert recognizer.reset('p08') is False and recognizer.model_id == 'tiny+p07@v1'


def test_activate_person_without_adaptation_serves_the_base_head(
    make_manager, recognizer, helpers
) -> None:
    mgr = make_manager()
    assert mgr.adapt(helpers.request()).success
    assert recognizer.model_id == 'tiny+p07@v1'
    report = mgr.activate('p08')
    assert 'base model' in report
    assert recognizer.model_id == 'tiny' and recognizer.params() is recognizer.base
    assert mgr.state == 'base model'
    assert 'reloaded' in mgr.activate('p07') and recognizer.model_id == 'tiny+p07@v1'


def test_activate_without_a_store_serves_the_base_head(make_manager, recognizer, helpers) -> None:
    mgr = make_manager(store=False)
    assert mgr.adapt(helpers.request()).success
    assert 'base model' in mgr.activate('p08')
    assert recognizer.model_id == 'tiny'


def test_activate_with_only_corrupt_files_serves_the_base_head(
    make_manager, recognizer, helpers
) -> None:
    mgr = make_manager()
    assert mgr.adapt(helpers.request(subject='p08')).success
    mgr.store.path_of('p08', 1).write_bytes(b'\x00' * 10)
    assert mgr.adapt(helpers.request(subject='p07')).success
    report = mgr.activate('p08')
    assert 'corrupt' in report and 'base model' in report
    assert recognizer.model_id == 'tiny'


def test_activate_invalid_id_serves_the_base_head(make_manager, recognizer, helpers) -> None:
    mgr = make_manager()
    assert mgr.adapt(helpers.request()).success
    assert 'invalid subject id' in mgr.activate('../p08')
    assert recognizer.model_id == 'tiny'


def test_reset_of_another_person_keeps_the_live_persons_head(
    make_manager, recognizer, helpers
) -> None:
    mgr = make_manager()
    assert mgr.adapt(helpers.request()).success
    out = mgr.reset('p08', delete_persisted=True)
    assert out.success and recognizer.model_id == 'tiny+p07@v1' == out.model_id
    out = mgr.reset('p07')
    assert out.success and out.model_id == 'tiny' == recognizer.model_id


def test_switch_during_an_adaptation_does_not_swap_the_old_persons_head_in(
    make_manager, recognizer, helpers
) -> None:
    mgr = make_manager()
    entered, gate = threading.Event(), threading.Event()
    real = mgr.adapt_fn

    def slow(clips, steps):
        entered.set()
        assert gate.wait(30)
        return real(clips, steps)

    mgr.adapt_fn = slow
    future = mgr.submit(helpers.request())
    assert entered.wait(30)
    mgr.activate('p08')  # the person in front of the camera changed
    gate.set()
    out = future.result(30)
    assert out.success and 'not made live' in out.message, out.message
    assert recognizer.model_id == 'tiny'  # p08 has nothing stored: base, not p07's head
    assert mgr.store.versions('p07') == [1]  # p07's adaptation is kept for their return
    assert 'reloaded' in mgr.activate('p07') and recognizer.model_id == 'tiny+p07@v1'
