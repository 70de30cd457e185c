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
"""/adapt adapts only what the support shows and reports a cross-validated held-out estimate.

Classes without a support clip keep the base head's rows bit for bit; the held-out estimate
(meta.adapt.cross_validate) is in [0, 1], says how it was made, and falls below the support
accuracy when 30 % of the support labels are wrong. The shipped checkpoint and a synthetic
person it never saw make the support clips (one clip per run of one label, as /adapt cuts
recordings); a small random checkpoint covers the manager's message.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from st_f2m_ros.data.clip import Clip
from st_f2m_ros.meta.adapt import CV_TOO_SMALL, _Window, adapt, cv_folds
from st_f2m_ros.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from st_f2m_ros.ros.params import defaults
from st_f2m_ros.runtime.adaptation.clip_sources import split_by_label
from st_f2m_ros.runtime.adaptation.manager import AdaptRequest
from st_f2m_ros.runtime.session import build_session
from st_f2m_ros.taxonomy import NUM_CLASSES


@pytest.fixture(scope='module')
def shipped():
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip('no default checkpoint trained yet')
    torch.set_num_threads(1)
    return load_checkpoint()


def _person_runs(model, seed: int, recordings: int) -> list[Clip]:
    """Synthetic recordings of an unseen person cut into one clip per run of one label."""
    from st_f2m_ros.data.synthetic.generator import SyntheticConfig, generate_clips
    from st_f2m_ros.data.synthetic.subjects import make_subject

    cfg = model.config
    person = make_subject(f'unseen-{seed}', seed=seed)
    recs = generate_clips(
        1, recordings, 60.0, seed, cfg.crop_size, SyntheticConfig(fps=cfg.feature_rate), [person]
    )
    runs: list[Clip] = []
    for c in recs:
        found = np.ones(len(c), bool)
        runs += split_by_label(c.subject, c.crops, c.times, c.labels, found, 'synthetic', 10**6)
    return runs


def _per_class(runs: list[Clip], per: int, classes: int) -> list[Clip]:
    """Up to `per` clips of each of the `classes` classes with the most runs."""
    by: dict[int, list[Clip]] = {}
    for r in runs:
        by.setdefault(int(r.labels[0]), []).append(r)
    best = sorted(by, key=lambda c: (-len(by[c]), c))[:classes]
    return [clip for c in best for clip in by[c][:per]]


def _features(model, clips: list[Clip]) -> list[torch.Tensor]:
    with torch.no_grad():
        return [model.encode_frames(c.crops) for c in clips]


@pytest.mark.slow
def test_classes_without_support_keep_the_base_rows_bit_for_bit(shipped) -> None:
    runs = _person_runs(shipped, 4242, 1)
    support = _per_class(runs, 2, 3)
    shown = sorted({int(c.labels[0]) for c in support})
    assert len(shown) == 3
    result = adapt(shipped, support, features=_features(shipped, support))
    assert result.adapted_classes == shown
    assert result.kept_classes == [c for c in range(NUM_CLASSES) if c not in shown]
    base = dict(shipped.named_parameters())
    for name in ('head.weight', 'head.bias'):
        new, old = result.params[name], base[name].detach()
        absent = torch.tensor(result.kept_classes)
        assert torch.equal(new[absent], old[absent]), name  # bit-identical
        assert not torch.equal(new[shown], old[shown]), name  # the shown rows did move
    assert result.support_acc_after > result.support_acc_before


@pytest.mark.slow
def test_heldout_estimate_is_reported_and_sees_through_wrong_labels(shipped) -> None:
    runs = _person_runs(shipped, 4242, 3)
    support = _per_class(runs, 3, 10)
    assert len(support) == 30
    feats = _features(shipped, support)
    clean = adapt(shipped, support, features=feats)
    assert clean.heldout_acc is not None and 0.0 <= clean.heldout_acc <= 1.0
    assert clean.heldout_note == '3-fold over 30 clips'
    rng = np.random.default_rng(1)
    wrong = set(rng.permutation(len(support))[:9].tolist())  # 30 % of the clips
    noisy = [
        replace(c, labels=np.full(len(c), (int(c.labels[0]) + 1 + i % 18) % NUM_CLASSES))
        if i in wrong
        else c
        for i, c in enumerate(support)
    ]
    result = adapt(shipped, noisy, features=feats)
    assert result.heldout_acc is not None and 0.0 <= result.heldout_acc <= 1.0
    assert result.heldout_acc < result.support_acc_after, (
        result.heldout_acc,
        result.support_acc_after,
    )
    assert result.heldout_acc < clean.heldout_acc


def _win(clip: int, label: int) -> _Window:
    return _Window(clip, np.arange(4), label, '', True)


def test_folds_hold_out_whole_clips_stratified_by_class() -> None:
    # class 2: 6 clips (two windows each), class 7: 3 clips, class 11: 1 clip (never held out)
    wins = [_win(c, 2) for c in range(6) for _ in range(2)]
    wins += [_win(c, 7) for c in range(6, 9)] + [_win(9, 11)]
    folds, k, note = cv_folds(wins, seed=3)
    assert folds is not None and k == 5 and note == '5-fold over 9 clips'
    per_clip = {w.clip: set() for w in wins}
    for w, f in zip(wins, folds.tolist()):
        per_clip[w.clip].add(f)
    assert all(len(v) == 1 for v in per_clip.values())  # a clip is never split
    assert per_clip[9] == {-1}
    fold_of = {c: next(iter(v)) for c, v in per_clip.items()}
    for cls_clips in (range(6), range(6, 9)):
        counts = np.bincount([fold_of[c] for c in cls_clips], minlength=k)
        assert counts.max() - counts.min() <= 1  # stratified: spread evenly over the folds
        for f in range(k):  # every held-out clip leaves one of its class to learn from
            assert sum(fold_of[c] != f for c in cls_clips) >= 1


def test_too_small_a_support_gives_no_estimate() -> None:
    assert cv_folds([_win(0, 2), _win(1, 2), _win(2, 7)])[2] == CV_TOO_SMALL
    assert cv_folds([_win(0, 2), _win(1, 7)])[0] is None


@pytest.mark.slow
def test_adapt_message_names_the_estimate_and_the_kept_classes(
    tiny_checkpoint: Path, clip_root: Path, tmp_path: Path, helpers
) -> None:
    torch.set_num_threads(2)
    values = {
        **defaults(),
        'checkpoint': str(tiny_checkpoint),
        'clip_roots': [str(clip_root)],
        'adaptation_store': str(tmp_path / 'store'),
        'support_clips_are_crops': True,
    }
    session = build_session(values, 'p07', with_pipeline=False)
    try:
        one = helpers.write_bag(clip_root / 'one', [('happiness_high', 12), ('anger_high', 12)])
        out = session.manager.adapt(AdaptRequest('p07', clip_uris=[str(one)], inner_steps=5))
        assert out.success, out.message
        assert out.heldout_accuracy is None and out.heldout_note == CV_TOO_SMALL
        assert f'held-out estimate {CV_TOO_SMALL}' in out.message
        assert set(out.adapted_classes) == {'happiness_high', 'anger_high'}
        assert len(out.kept_classes) == NUM_CLASSES - 2 and 'neutral' in out.kept_classes
        assert 'adapted 2: ' in out.message and f'base head kept for {NUM_CLASSES - 2}: ' in (
            out.message
        )
        two = helpers.write_bag(
            clip_root / 'two', [('happiness_high', 12), ('anger_high', 12)] * 2
        )
        out = session.manager.adapt(AdaptRequest('p07', clip_uris=[str(two)], inner_steps=5))
        assert out.success, out.message
        assert out.heldout_accuracy is not None and 0.0 <= out.heldout_accuracy <= 1.0
        assert out.heldout_note == '2-fold over 4 clips'
        assert f'held-out estimate {out.heldout_accuracy:.2f} (2-fold over 4 clips)' in out.message
    finally:
        session.close()
