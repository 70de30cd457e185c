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
"""Adapt request validation: subject ids, clip counts, labels, frame sizes, path confinement."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
import pytest

from st_f2m_ros.errors import AdaptationError
from st_f2m_ros.runtime.adaptation.clip_sources import ClipLimits, resolve_clip_uri
from st_f2m_ros.runtime.adaptation.manager import AdaptRequest, InlineClip
from st_f2m_ros.runtime.adaptation.store import SUBJECT_RE, check_subject
from st_f2m_ros.taxonomy import CLASS_LABELS


def _inline(helpers, label: str = 'anger_high', n: int = 3) -> InlineClip:
    return InlineClip(
        label, [helpers.raw_image(helpers.frame('anger_high', seed=i), i / 10) for i in range(n)]
    )


def test_empty_request_is_rejected(make_manager) -> None:
    with pytest.raises(AdaptationError, match='no support clips'):
        make_manager().validate(AdaptRequest('p07'))


@pytest.mark.parametrize('subject', ['', '..', '../etc', 'a/b', '.hidden', 'x' * 65, 'p 07'])
def test_bad_subject_ids(make_manager, helpers, subject: str) -> None:
    with pytest.raises(AdaptationError, match='subject id'):
        make_manager().validate(AdaptRequest(subject, [_inline(helpers)]))


@given(st.text(max_size=80))
def test_subject_pattern_never_escapes(subject: str) -> None:
    try:
        ok = check_subject(subject)
    except AdaptationError:
        return
    assert SUBJECT_RE.match(ok) and '/' not in ok and '..' not in ok and not ok.startswith('.')


def test_unknown_label_lists_the_valid_ones(make_manager, helpers) -> None:
    with pytest.raises(AdaptationError, match=r'unknown label .*anger_high'):
        make_manager().validate(AdaptRequest('p07', [_inline(helpers, 'angry')]))


def test_clip_without_frames(make_manager) -> None:
    with pytest.raises(AdaptationError, match='no frames'):
        make_manager().validate(AdaptRequest('p07', [InlineClip('neutral', [])]))


def test_too_many_clips_per_class(make_manager, helpers) -> None:
    mgr = make_manager(max_clips_per_class=2)
    with pytest.raises(AdaptationError, match='per class'):
        mgr.validate(AdaptRequest('p07', [_inline(helpers)] * 3))
    mgr.validate(AdaptRequest('p07', [_inline(helpers)] * 2))


def test_oversized_frame(make_manager, helpers) -> None:
    big = helpers.raw_image(helpers.frame('neutral'), 0.0)
    big = type(big)(0.0, 5000, 10, 'bgr8', 0, 30, b'')
    with pytest.raises(AdaptationError, match='larger than'):
        make_manager().validate(AdaptRequest('p07', [InlineClip('neutral', [big])]))


def test_inner_steps_bounds(make_manager, helpers) -> None:
    with pytest.raises(AdaptationError, match='inner_steps'):
        make_manager().validate(AdaptRequest('p07', [_inline(helpers)], inner_steps=10_000))


def test_paths_outside_roots(clip_root: Path, tmp_path: Path) -> None:
    limits = ClipLimits(roots=(clip_root,), max_file_bytes=100)
    outside = tmp_path / 'secret.mcap'
    outside.write_bytes(b'x')
    with pytest.raises(AdaptationError, match='outside the allowed clip roots'):
        resolve_clip_uri(str(outside), limits)
    with pytest.raises(AdaptationError, match=r'"\.\."'):
        resolve_clip_uri(f'{clip_root}/../secret.mcap', limits)
    link = clip_root / 'link.mcap'
    os.symlink(outside, link)
    with pytest.raises(AdaptationError, match='outside'):
        resolve_clip_uri(str(link), limits)
    with pytest.raises(AdaptationError, match='relative'):
        resolve_clip_uri('secret.mcap', limits)
    with pytest.raises(AdaptationError, match='does not exist'):
        resolve_clip_uri(str(clip_root / 'missing.mcap'), limits)
    inside = clip_root / 'ok.mcap'
    inside.write_bytes(b'abc')
    assert resolve_clip_uri(f'file://{inside}', limits) == inside.resolve()


def test_too_big_file(clip_root: Path) -> None:
    f = clip_root / 'big.mcap'
    f.write_bytes(b'0' * 101)
    with pytest.raises(AdaptationError, match='over the limit'):
        resolve_clip_uri(str(f), ClipLimits(roots=(clip_root,), max_file_bytes=100))
    bag = clip_root / 'bagdir'
    bag.mkdir()
    (bag / 'metadata.yaml').write_text(
        'rosbag2_bagfile_information:\n  relative_file_paths: [bag_0.db3]\n'
    )
    (bag / 'bag_0.db3').write_bytes(b'0' * 200)
    with pytest.raises(AdaptationError, match='over the limit'):
        resolve_clip_uri(str(bag), ClipLimits(roots=(clip_root,), max_file_bytes=100))


def test_no_roots_means_no_files(tmp_path: Path) -> None:
    f = tmp_path / 'a.mcap'
    f.write_bytes(b'x')
    with pytest.raises(AdaptationError, match='no clip roots'):
        resolve_clip_uri(str(f), ClipLimits(roots=()))


@given(st.lists(st.integers(-1, 18), min_size=1, max_size=60), st.integers(1, 7))
def test_split_by_label_keeps_every_labelled_frame_in_order(labels: list[int], cap: int) -> None:
    import numpy as np

    from st_f2m_ros.runtime.adaptation.clip_sources import split_by_label

    n = len(labels)
    lab = np.array(labels, dtype=np.int64)
    crops = np.zeros((n, 4, 4, 3), np.uint8)
    times = np.arange(n, dtype=np.float64)
    clips = split_by_label('p07', crops, times, lab, np.ones(n, bool), 'x', cap)
    kept = np.concatenate([c.times for c in clips]) if clips else np.zeros(0)
    np.testing.assert_array_equal(kept, times[lab >= 0])
    for c in clips:
        assert len(set(c.labels.tolist())) == 1 and 1 <= len(c) <= cap


@given(
    st.lists(
        st.tuples(st.floats(0, 10), st.floats(0, 5), st.sampled_from(CLASS_LABELS)), max_size=5
    )
)
def test_sidecar_segments_label_only_their_frames(segments) -> None:
    import numpy as np

    from st_f2m_ros.runtime.adaptation.clip_sources import labels_from_sidecar

    doc = {'segments': [{'start': a, 'end': a + d, 'label': lab} for a, d, lab in segments]}
    times = 100.0 + np.arange(0, 12, 0.25)
    out = labels_from_sidecar(doc, times)
    rel = times - times[0]
    covered = np.zeros(len(times), bool)
    for a, d, _ in segments:
        covered |= (rel >= a) & (rel < a + d)  # half-open [start, end), as the ground truth
    assert np.all((out >= 0) == covered)
