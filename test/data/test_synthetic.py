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
"""Synthetic generator: determinism, geometry, detector, alignment, corruptions."""

from __future__ import annotations

from dataclasses import replace
import itertools

import cv2
from hypothesis import given
from hypothesis import strategies as st
import numpy as np
import pytest

from st_f2m_ros.data.synthetic import (
    Corruption,
    SyntheticConfig,
    SyntheticSession,
    generate_clips,
    make_subject,
    parse_corruptions,
)
from st_f2m_ros.data.synthetic.corruptions import KINDS, format_corruptions, mask_text
from st_f2m_ros.data.synthetic.expression import CLASS_ACTIVATIONS, clip_components
from st_f2m_ros.data.synthetic.measure import measure_components
from st_f2m_ros.data.synthetic.render import (
    SOCKET_SHADE,
    Pose,
    brow_colour,
    draw_face,
    face_geometry,
)
from st_f2m_ros.errors import ConfigError
from st_f2m_ros.perception.crop import crop_face
from st_f2m_ros.taxonomy import COMPONENTS, NUM_COMPONENTS, class_id

CLEAN = SyntheticConfig(duration=2.0, noise=0.0, lighting=0.0, blur_rate=0.0)


def _cascade() -> cv2.CascadeClassifier:
    return cv2.CascadeClassifier(cv2.data.haarcascades + 'haarcascade_frontalface_default.xml')


def test_same_seed_same_session_and_other_seed_differs() -> None:
    s = make_subject('p01', seed=3)
    a = SyntheticSession(s, replace(CLEAN, duration=3.0), seed=3)
    b = SyntheticSession(make_subject('p01', seed=3), replace(CLEAN, duration=3.0), seed=3)
    c = SyntheticSession(s, replace(CLEAN, duration=3.0), seed=4)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.components, b.components)
    assert a.utterances == b.utterances
    for i in (0, 45, 89):
        np.testing.assert_array_equal(a.render(i).image, b.render(i).image)
    assert not np.array_equal(a.components, c.components) or not np.array_equal(a.labels, c.labels)
    assert make_subject('p01', 3) != make_subject('p02', 3)


def test_frames_and_labels_follow_the_script_clock() -> None:
    cfg = replace(CLEAN, duration=8.0, fps=25.0)
    sess = SyntheticSession(make_subject('p02'), cfg, seed=1, start_time=100.0)
    assert len(sess) == 200
    np.testing.assert_allclose(np.diff(sess.times), 1 / 25.0)
    assert sess.times[0] == 100.0
    for seg in sess.script.segments:
        assert 0.5 - 1e-9 <= seg.duration <= 4.0 + 1e-9 or seg is sess.script.segments[-1]
        inside = (sess.rel_times >= seg.start) & (sess.rel_times < seg.end)
        assert np.all(sess.labels[inside] == seg.class_id)
    assert sess.script.segments[-1].end == pytest.approx(8.0)
    # Utterances are ordered, disjoint, inside the session and on the session clock.
    us = sess.utterances
    assert us, 'an 8 s session should contain speech'
    for u, v in itertools.pairwise(us):
        assert u.start < u.end <= v.start
    assert us[0].start >= 100.0 and us[-1].end <= 108.0 + 1e-9


def test_each_component_moves_its_part_of_the_face() -> None:
    """Render one component at a time and measure the change in pixels."""
    s = replace(make_subject('p03', seed=5), hair_style=2, offsets=(0.0,) * NUM_COMPONENTS)
    pose = Pose(320.0, 240.0, 80.0, 0.0)
    bg = np.full((480, 640, 3), 128, np.uint8)

    def render(**values: float) -> np.ndarray:
        comps = np.zeros(NUM_COMPONENTS)
        for name, v in values.items():
            comps[COMPONENTS.index(name)] = v
        img = bg.copy()
        draw_face(img, s, face_geometry(s, comps), pose)
        return img

    def mask(img: np.ndarray, colour: tuple[int, ...], tol: int = 12) -> np.ndarray:
        return np.all(np.abs(img.astype(int) - np.array(colour)) <= tol, axis=2)

    def roi(m: np.ndarray, x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
        return m[int(240 + 80 * y0) : int(240 + 80 * y1), int(320 + 80 * x0) : int(320 + 80 * x1)]

    def centroid_y(m: np.ndarray) -> float:
        ys, _ = np.nonzero(m)
        return float(ys.mean())

    def dark(img: np.ndarray) -> int:
        return int(roi(img.max(axis=2) < 60, -0.4, 0.4, 0.4, 1.0).sum())

    half = s.mouth_w / 2  # the lips' outer part on each side: where a corner moves them

    def lips(img: np.ndarray, x0: float = 0.6 * half, x1: float = half + 0.1) -> np.ndarray:
        return roi(mask(img, s.lips), x0, x1, 0.3, 1.0)

    def brow(img: np.ndarray, x0: float = 0.05, x1: float = 0.8) -> np.ndarray:
        return roi(mask(img, brow_colour(s)), x0, x1, -0.9, -0.25)

    def eye(img: np.ndarray) -> int:
        socket = np.array([int(v * SOCKET_SHADE) for v in s.skin])
        drawn = np.abs(img.astype(int) - socket).sum(axis=2) > 40
        hw = s.eye_w / 2
        return int(roi(drawn, s.eye_dx - hw, s.eye_dx + hw, s.eye_y - 0.13, s.eye_y + 0.13).sum())

    def changed(img: np.ndarray, x0: float, x1: float, y0: float, y1: float) -> int:
        return int(roi(np.abs(img.astype(int) - neutral).sum(axis=2) > 40, x0, x1, y0, y1).sum())

    def nostril(img: np.ndarray) -> int:
        return int(
            roi(mask(img, tuple(int(v * 0.35) for v in s.skin), 6), -0.35, 0.35, 0.0, 0.45).sum()
        )

    neutral = render()
    # Mouth open: the dark mouth interior appears and grows.
    assert dark(render(mouth=0.5)) > dark(neutral) + 50
    assert dark(render(mouth=1.0)) > dark(render(mouth=0.5)) + 50
    # Mouth corners (the person's left is the image right): lip pixels there move up.
    assert centroid_y(lips(render(left_mouth_corner=1.0))) < centroid_y(lips(neutral)) - 2
    assert centroid_y(lips(render(left_mouth_corner=-1.0))) > centroid_y(lips(neutral)) + 2
    assert (
        centroid_y(lips(render(right_mouth_corner=1.0), -half - 0.1, -0.6 * half))
        < centroid_y(lips(neutral, -half - 0.1, -0.6 * half)) - 2
    )
    # Lip thickness: more or fewer lip pixels.
    assert lips(render(upper_lip=1.0), -0.4, 0.4).sum() > lips(neutral, -0.4, 0.4).sum() + 30
    assert lips(render(lower_lip=-1.0), -0.4, 0.4).sum() < lips(neutral, -0.4, 0.4).sum() - 30
    # Eyebrows: brow pixels (hair colour) rise or fall.
    assert centroid_y(brow(render(left_eyebrow=1.0))) < centroid_y(brow(neutral)) - 5
    assert centroid_y(brow(render(left_eyebrow=-1.0))) > centroid_y(brow(neutral)) + 5
    assert (
        centroid_y(brow(render(right_eyebrow=1.0), -0.8, -0.05))
        < centroid_y(brow(neutral, -0.8, -0.05)) - 5
    )
    # Brow crest: inner brow ends come together -> more brow pixels near the midline.
    assert brow(render(brow_crest=1.0), -0.2, 0.2).sum() > brow(neutral, -0.2, 0.2).sum() + 20
    # Eyes: a wide eye shows more of its drawing than a normal one, a narrow one less.
    assert eye(render(left_eye=1.0)) > eye(neutral) + 30 > eye(render(left_eye=-1.0)) + 60
    # Nose wrinkle: lines appear on the bridge; nothing changes there for a neutral nose.
    assert changed(render(nose=1.0), -0.15, 0.15, -0.25, 0.1) > 10
    # Nostrils: the dark nostril area widens.
    assert nostril(render(nostril=1.0)) > nostril(neutral) + 20


def test_measured_components_recover_the_drawn_expression() -> None:
    s = make_subject('p04', seed=2)
    rest = face_geometry(s, np.zeros(NUM_COMPONENTS))
    rng = np.random.default_rng(0)
    for _ in range(20):
        target = clip_components(rng.uniform(-1, 1, NUM_COMPONENTS))
        got = measure_components(face_geometry(s, target), rest)
        np.testing.assert_allclose(got, target, atol=1e-6)
    happy = s.expression_components(CLASS_ACTIVATIONS[class_id('happiness', 'high')])
    sad = s.expression_components(CLASS_ACTIVATIONS[class_id('sadness', 'high')])
    corner = COMPONENTS.index('left_mouth_corner')
    assert happy[corner] > sad[corner] + 0.5


def test_intensity_orders_the_expression_strength() -> None:
    s = replace(make_subject('p05'), offsets=(0.0,) * NUM_COMPONENTS)
    for emotion in ('happiness', 'anger', 'sadness', 'disgust', 'fear', 'surprise'):
        mags = [
            np.abs(s.expression_components(CLASS_ACTIVATIONS[class_id(emotion, k)])).sum()
            for k in ('low', 'medium', 'high')
        ]
        assert mags[0] < mags[1] <= mags[2], emotion


def test_haar_cascade_finds_the_rendered_faces() -> None:
    casc = _cascade()
    hits = total = 0
    cfg = SyntheticConfig(duration=1.0)
    for k in range(8):
        sess = SyntheticSession(make_subject(f'h{k:02d}', seed=11), cfg, seed=11)
        for i in (0, 15, 29):
            f = sess.render(i)
            det = casc.detectMultiScale(
                cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY), 1.1, 4, minSize=(60, 60)
            )
            total += 1
            if len(det):
                hits += 1
                x, y, w, h = max(det, key=lambda d: d[2] * d[3])
                bx, by, bw, bh = f.box
                # The known box and the detection agree (centre within a quarter box).
                assert abs((x + w / 2) - (bx + bw / 2)) < bw / 4
                assert abs((y + h / 2) - (by + bh / 2)) < bh / 4
    assert hits / total >= 0.85, f'{hits}/{total} faces found'


def test_haar_cascade_finds_the_astronaut() -> None:
    skdata = pytest.importorskip('skimage.data')
    img = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR)
    det = _cascade().detectMultiScale(
        cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), 1.1, 4, minSize=(60, 60)
    )
    assert len(det) >= 1


def test_to_clip_uses_crop_face_on_the_known_box() -> None:
    sess = SyntheticSession(make_subject('p06'), replace(CLEAN, duration=0.5), seed=0)
    clip = sess.to_clip(crop_size=64)
    assert clip.crops.shape == (15, 64, 64, 3) and clip.crops.dtype == np.uint8
    f = sess.render(7)
    np.testing.assert_array_equal(clip.crops[7], crop_face(f.image, f.box, 64))
    assert clip.subject == 'p06' and clip.components.shape == (15, 12)
    clips = generate_clips(2, clips_per_subject=2, duration=0.5, seed=1, crop_size=32)
    assert [c.subject for c in clips] == ['s000', 's000', 's001', 's001']


def _face_stat(kind: str, level: float) -> float:
    cfg = replace(CLEAN, duration=1.0, corruptions=(Corruption(kind, level),) if level else ())
    sess = SyntheticSession(make_subject('p07', seed=9), cfg, seed=9)
    clean = SyntheticSession(make_subject('p07', seed=9), replace(cfg, corruptions=()), seed=9)
    changed = []
    for i in range(len(sess)):
        a, b = sess.render(i).image, clean.render(i).image
        if kind == 'fog':
            changed.append(-float(a.std()))  # less contrast = more fog
        else:
            changed.append(float((np.abs(a.astype(int) - b).sum(2) > 30).mean()))
    return float(np.mean(changed))


@pytest.mark.parametrize('kind', ['fog', 'mask', 'occlusion', 'distortion'])
def test_corruption_levels_are_monotone(kind: str) -> None:
    stats = [_face_stat(kind, lv) for lv in (0.0, 0.1, 0.3, 0.5)]
    assert all(a < b for a, b in itertools.pairwise(stats)), stats


def test_text_masking_is_monotone_and_counts_words() -> None:
    text = ' '.join(f'w{i}' for i in range(400))
    counts = [
        mask_text(text, lv, np.random.default_rng(0)).split().count('[MASK]')
        for lv in (0.0, 0.1, 0.3, 0.5)
    ]
    assert counts[0] == 0 and counts[1] < counts[2] < counts[3]
    assert abs(counts[3] / 400 - 0.5) < 0.08


@given(
    st.lists(
        st.tuples(st.sampled_from(KINDS), st.floats(0.0, 1.0)),
        max_size=5,
        unique_by=lambda t: t[0],
    )
)
def test_corruption_spec_round_trips(items: list[tuple[str, float]]) -> None:
    cs = tuple(Corruption(k, v) for k, v in items)
    parsed = parse_corruptions(','.join(f'{k}:{v!r}' for k, v in items))
    assert parsed == cs
    again = parse_corruptions(format_corruptions(cs))
    assert [c.kind for c in again] == [c.kind for c in cs]
    assert all(abs(a.level - b.level) < 1e-5 for a, b in zip(again, cs))


@pytest.mark.parametrize(
    'spec', ['fog', 'fog:x', 'smoke:0.1', 'fog:1.5', 'fog:0.1,fog:0.2', ':0.3']
)
def test_bad_corruption_specs_say_what_is_expected(spec: str) -> None:
    with pytest.raises(ConfigError):
        parse_corruptions(spec)


def test_percent_levels_and_config_round_trip() -> None:
    assert parse_corruptions('mask:30%') == (Corruption('mask', 0.3),)
    cfg = SyntheticConfig(duration=3.0, corruptions=parse_corruptions('fog:0.1,text:0.5'))
    assert SyntheticConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match='unknown synthetic config keys'):
        SyntheticConfig.from_dict({'colour': 1})
    with pytest.raises(ConfigError, match='fps'):
        SyntheticConfig(fps=0.0)
