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
"""Adaptation and inference share one checkpoint on two threads without seeing each other.

torch.func.functional_call swaps parameters into the module it is given for the duration of
the call; the bench caught /adapt failing ("One of the differentiated Tensors does not require
grad") while frames were classified with an adapted head on the same module.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from st_f2m_ros.meta.adapt import adapt
from st_f2m_ros.model.checkpoint import load_checkpoint
from st_f2m_ros.runtime.bench import support_clips
from st_f2m_ros.runtime.inference.backends import make_backend
from st_f2m_ros.runtime.inference.recognizer import Recognizer


@pytest.mark.slow
def test_adaptation_while_adapted_head_serves_frames() -> None:
    model = load_checkpoint()
    base = {k: v.detach().clone() for k, v in model.state_dict().items()}
    clips = support_clips(model.config.crop_size)
    recognizer = Recognizer(make_backend('torch', model=model))
    first = adapt(model, clips, steps=5)
    recognizer.set_adaptation('p', first.params, 1)

    stop, served, errors = threading.Event(), [0], []
    crops = np.zeros((model.config.window, model.config.crop_size, model.config.crop_size, 3),
                     np.uint8)
    feats = recognizer.encode_frames(crops)[None]
    text = np.zeros((1, model.config.text_dim), np.float32)
    ones, zeros = np.ones(1, np.float32), np.zeros(1, np.float32)

    def frames() -> None:
        try:
            while not stop.is_set():
                recognizer.classify(feats, text, ones, zeros)
                served[0] += 1
        except Exception as err:  # reported below
            errors.append(err)

    worker = threading.Thread(target=frames)
    worker.start()
    try:
        runs = [adapt(model, clips, steps=5) for _ in range(3)]
    finally:
        stop.set()
        worker.join()
    assert not errors
    assert served[0] > 10
    # every adaptation starts from the base head, not from the one serving frames
    assert {r.support_acc_before for r in runs} == {first.support_acc_before}
    for k, v in model.state_dict().items():
        assert torch.equal(v, base[k]), k
