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
"""Real-dataset loaders on tiny fixtures written in each published format."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from st_f2m_ros.data.loaders import (
    disfa_components,
    load_ckplus,
    load_crema_d,
    load_disfa,
    load_mosei,
    load_wflw,
    parse_crema_name,
    read_disfa_aus,
    read_wflw_annotations,
    wflw_components,
)
from st_f2m_ros.data.loaders.ckplus import sequence_labels
from st_f2m_ros.data.loaders.common import frames_to_clip
from st_f2m_ros.data.loaders.disfa import DISFA_AUS
from st_f2m_ros.data.loaders.mosei import MoseiDataset, labels_from_scores
from st_f2m_ros.errors import DataError
from st_f2m_ros.taxonomy import COMPONENTS, class_id


def _constant_label(comps: np.ndarray) -> np.ndarray:
    corner = COMPONENTS.index('left_mouth_corner')
    return np.where(comps[:, corner] > 0.3, class_id('happiness', 'medium'), 0)


# CK+ ---------------------------------------------------------------------------------------


def test_ckplus_loads_labelled_sequences(tmp_path: Path, formats: SimpleNamespace) -> None:
    formats.ckplus(tmp_path)
    clips = load_ckplus(tmp_path, crop_size=48)
    assert len(clips) == 1  # S010 unlabelled, S011 contempt: skipped
    c = clips[0]
    assert c.subject == 'S005' and c.crops.shape == (6, 48, 48, 3)
    disgust = [class_id('disgust', k) for k in ('low', 'medium', 'high')]
    assert c.labels.tolist() == [0, disgust[0], disgust[0], disgust[1], disgust[1], disgust[2]]
    assert c.face_found.mean() >= 0.5 and c.crops[c.face_found].mean() > 20
    np.testing.assert_allclose(np.diff(c.times), 1 / 30)
    assert len(load_ckplus(tmp_path, labelled_only=False)) == 2
    assert sequence_labels(1, 'fear').tolist() == [0]


def test_ckplus_errors(tmp_path: Path, formats: SimpleNamespace) -> None:
    with pytest.raises(DataError, match='cohn-kanade-images'):
        load_ckplus(tmp_path)
    formats.ckplus(tmp_path)
    bad = tmp_path / 'Emotion' / 'S005' / '001' / 'S005_001_00000006_emotion.txt'
    bad.write_text('happy\n')
    with pytest.raises(DataError, match=r'S005_001_00000006_emotion\.txt.*emotion code'):
        load_ckplus(tmp_path)
    bad.write_text('9.0\n')
    with pytest.raises(DataError, match='not one of 0-7'):
        load_ckplus(tmp_path)


# CREMA-D -----------------------------------------------------------------------------------


def test_crema_d_names_videos_and_votes(tmp_path: Path, formats: SimpleNamespace) -> None:
    frames = formats.frames(5)
    formats.write_video(tmp_path / 'VideoFlash' / '1001_DFA_ANG_HI.flv', frames, 30.0, 'FLV1')
    formats.write_video(tmp_path / 'VideoFlash' / '1002_IEO_SAD_XX.flv', frames, 30.0, 'FLV1')
    clips = load_crema_d(tmp_path, crop_size=32)
    assert [c.subject for c in clips] == ['1001', '1002']
    assert set(clips[0].labels.tolist()) == {class_id('anger', 'high')}
    assert set(clips[1].labels.tolist()) == {class_id('sadness', 'medium')}
    assert clips[0].utterances[0].text == "Don't forget a jacket"
    assert len(clips[0]) == 5 and clips[0].face_found.any()
    votes = tmp_path / 'processedResults' / 'tabulatedVotes.csv'
    votes.parent.mkdir()
    votes.write_text(
        ',A,D,F,H,N,S,fileName,numResponses,agreement,emoVote,meanEmoResp\n'
        '0,1,0,0,0,9,0,1001_DFA_ANG_HI,10,0.9,N,50\n'
    )
    voted = load_crema_d(tmp_path, crop_size=32, use_votes=True)
    assert set(voted[0].labels.tolist()) == {0}
    assert parse_crema_name('1091_WSI_NEU_XX.flv').emotion == 'neutral'
    for bad in ('1001_DFA_ANG.flv', '1001_XXX_ANG_HI', 'abcd_DFA_ANG_HI', '1001_DFA_JOY_HI'):
        with pytest.raises(DataError, match='ActorID_Sentence_Emotion_Level'):
            parse_crema_name(bad)
    (tmp_path / 'VideoFlash' / '1003_DFA_HAP_LO.flv').write_bytes(b'not a video')
    with pytest.raises(DataError, match=r'1003_DFA_HAP_LO\.flv'):
        load_crema_d(tmp_path)


# DISFA -------------------------------------------------------------------------------------


def test_disfa_au_intensities_become_fuzzy_labels(
    tmp_path: Path, formats: SimpleNamespace
) -> None:
    formats.disfa(tmp_path)
    aus = read_disfa_aus(tmp_path)['SN001']
    assert aus.shape == (6, 12) and aus[:, DISFA_AUS.index(12)].tolist() == [0, 0, 0, 5, 5, 5]
    comps = disfa_components(aus)
    corner = COMPONENTS.index('left_mouth_corner')
    assert comps[0, corner] == 0 and comps[5, corner] > 0.9
    clips = load_disfa(tmp_path, crop_size=32, label_fn=_constant_label)
    assert clips[0].labels.tolist() == [0, 0, 0, 2, 2, 2]
    np.testing.assert_allclose(np.diff(clips[0].times), 1 / 20)
    np.testing.assert_allclose(clips[0].components, comps)


def test_disfa_with_the_project_fuzzy_rules(tmp_path: Path, formats: SimpleNamespace) -> None:
    fuzzy = pytest.importorskip('st_f2m_ros.fuzzy')
    if not hasattr(fuzzy, 'label_from_components'):
        pytest.skip('fuzzy.label_from_components not available yet')
    formats.disfa(tmp_path)
    labels = load_disfa(tmp_path, crop_size=32)[0].labels
    assert labels.shape == (6,) and labels.min() >= 0


def test_disfa_errors(tmp_path: Path, formats: SimpleNamespace) -> None:
    formats.disfa(tmp_path)
    (tmp_path / 'ActionUnit_Labels' / 'SN001' / 'SN001_au4.txt').write_text('1,7\n')
    with pytest.raises(DataError, match=r'SN001_au4\.txt line 1'):
        read_disfa_aus(tmp_path)
    (tmp_path / 'ActionUnit_Labels' / 'SN001' / 'SN001_au4.txt').unlink()
    with pytest.raises(DataError, match=r'SN001_au4\.txt not found'):
        read_disfa_aus(tmp_path)


def test_disfa_video_and_labels_of_different_length(
    tmp_path: Path, formats: SimpleNamespace
) -> None:
    formats.disfa(tmp_path, n=6)
    video = tmp_path / 'Videos_LeftCamera' / 'LeftVideoSN001_comp.avi'
    formats.write_video(video, formats.frames(4), 20.0, 'MJPG')  # 4 frames, 6 AU rows
    clip = load_disfa(tmp_path, crop_size=32, label_fn=_constant_label)[0]
    assert len(clip) == 4 and clip.components.shape == (4, 12)
    assert clip.labels.tolist() == [0, 0, 0, 2]


def test_a_stream_shorter_than_its_time_stamps(formats: SimpleNamespace) -> None:
    images = formats.frames(3)
    times, labels, comps = np.arange(5) / 20.0, np.arange(5), np.zeros((5, 12))
    box = [(90.0, 10.0, 140.0, 140.0)] * 5
    clip = frames_to_clip(iter(images), times, labels, 's', 'v', 32, box, comps, allow_short=True)
    assert len(clip) == 3 and clip.labels.tolist() == [0, 1, 2] and clip.components.shape[0] == 3
    with pytest.raises(DataError, match='3 frames but 5 time stamps'):
        frames_to_clip(iter(images), times, labels, 's', 'v', 32, box, comps)


# WFLW --------------------------------------------------------------------------------------


def test_wflw_annotations_components_and_labels(tmp_path: Path, formats: SimpleNamespace) -> None:
    base = formats.wflw_template()
    smile = base.copy()
    smile[[76, 82], 1] -= 8  # both mouth corners up
    open_mouth = base.copy()
    open_mouth[[93, 94, 95], 1] += 12
    path = formats.wflw(tmp_path, [base, base + 0.5, smile, open_mouth])
    recs = read_wflw_annotations(path)
    assert len(recs) == 4 and recs[0].box == (30.0, 20.0, 140.0, 160.0)
    assert recs[0].attributes['expression'] and not recs[0].attributes['pose']
    comps = wflw_components(np.stack([r.landmarks for r in recs]))
    c = {name: COMPONENTS.index(name) for name in COMPONENTS}
    assert abs(comps[0]).max() < 0.05
    assert comps[2, c['left_mouth_corner']] > 0.5 and comps[2, c['right_mouth_corner']] > 0.5
    assert comps[3, c['mouth']] > 0.3 and comps[0, c['mouth']] == pytest.approx(0, abs=0.05)
    clips = load_wflw(tmp_path, crop_size=40, label_fn=_constant_label)
    assert [int(x.labels[0]) for x in clips] == [0, 0, 2, 0]
    assert clips[0].crops.shape == (1, 40, 40, 3) and clips[0].subject == '0--Parade'


def test_wflw_errors(tmp_path: Path, formats: SimpleNamespace) -> None:
    with pytest.raises(DataError, match=r'list_98pt_rect_attr_train\.txt'):
        load_wflw(tmp_path, label_fn=_constant_label)
    path = formats.wflw(tmp_path, [formats.wflw_template()])
    path.write_text('1 2 3 image.jpg\n')
    with pytest.raises(DataError, match='line 1: expected 207 fields'):
        read_wflw_annotations(path)


# CMU-MOSEI ---------------------------------------------------------------------------------


def test_mosei_alignment_and_labels(tmp_path: Path, formats: SimpleNamespace) -> None:
    segs = np.array([[0.0, 2.0], [2.0, 5.0], [5.0, 6.0]])
    y = np.array([[0.5, 0, 0, 0, 0, 0, 0], [1, 2.5, 0.3, 0, 0, 0, 0], [-1, 0, 0, 0.67, 0, 0, 1.5]])
    vis_iv = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 5.0], [5.0, 6.0]])
    vis = np.arange(4 * 35, dtype=np.float32).reshape(4, 35)
    txt_iv = np.array([[0.5, 1.5], [2.5, 3.0]])
    txt = np.ones((2, 300), dtype=np.float32)
    labels = formats.csd(tmp_path / 'labels.csd', 'All Labels', {'vidA': (y, segs)})
    visual = formats.csd(tmp_path / 'facet.csd', 'FACET 4.2', {'vidA': (vis, vis_iv)})
    text = formats.csd(tmp_path / 'glove.csd', 'glove_vectors', {'vidA': (txt, txt_iv)})
    seqs = load_mosei(visual, text, labels)
    s = seqs[0]
    assert s.video_id == 'vidA' and s.visual.shape == (3, 35) and s.text.shape == (3, 300)
    np.testing.assert_allclose(s.visual[0], vis[:2].mean(axis=0))
    np.testing.assert_allclose(s.visual[2], vis[3])
    assert s.text[2].sum() == 0 and s.text[1].sum() == 300
    assert s.labels.tolist() == [0, class_id('happiness', 'high'), class_id('fear', 'medium')]
    item = MoseiDataset(seqs)[1]
    assert int(item['label']) == class_id('happiness', 'high') and item['text'].shape == (300,)
    assert labels_from_scores(np.array([[0.33, 0, 0, 0, 0, 0]])).tolist() == [0]


def test_mosei_errors(tmp_path: Path, formats: SimpleNamespace) -> None:
    with pytest.raises(DataError, match=r'missing\.csd not found'):
        load_mosei(tmp_path / 'b', tmp_path / 'c', tmp_path / 'missing.csd')
    (tmp_path / 'junk.csd').write_bytes(b'not hdf5')
    with pytest.raises(DataError, match=r'junk\.csd is not an HDF5'):
        load_mosei(tmp_path / 'junk.csd', tmp_path / 'junk.csd', tmp_path / 'junk.csd')
    segs = np.array([[0.0, 1.0]])
    bad = formats.csd(tmp_path / 'facet.csd', 'FACET 4.2', {'v': (np.zeros((1, 10)), segs)})
    lab = formats.csd(tmp_path / 'labels.csd', 'All Labels', {'v': (np.zeros((1, 7)), segs)})
    with pytest.raises(DataError, match='expected 35-d features'):
        load_mosei(bad, bad, lab)
