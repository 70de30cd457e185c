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
"""`st-f2m explain` on real faces: the astronaut, a masked copy, a still-camera bag, errors.

The command is what a clinician or engineer runs to see why a decision was made, so the
tests check what they would rely on: a readable PNG and a JSON whose numbers are right (the
astronaut's broad smile is happiness for the expression net; a masked nose and mouth are
reported unreliable, not guessed, and left out of the rules), one PNG per sampled second of
a bag with the model's window decision, speech never printed, and one-line errors.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
import sys

import cv2
import numpy as np
import pytest

from st_f2m_ros.taxonomy import COMPONENTS

MOUTH_NOSE = ('nose', 'nostril', 'mouth', 'upper_lip', 'lower_lip')
MOUTH_NOSE += ('left_mouth_corner', 'right_mouth_corner')
SECRET = 'my secret sentence about the ward'

pytestmark = pytest.mark.usefixtures('models_dir')


def explain(*argv: str) -> tuple[int, str, str]:
    """Run `st-f2m explain ...` in this process; (exit status, stdout, stderr)."""
    from st_f2m_ros.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(['explain', *argv])
    return code, out.getvalue(), err.getvalue()


def check_png(path: Path) -> None:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, path
    h, w = img.shape[:2]
    assert 600 <= h <= 2000 and 1000 <= w <= 3000 and w > h, img.shape
    assert img.std() > 20  # not blank


@pytest.fixture(scope='module')
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp('explain')


@pytest.fixture(scope='module')
def astronaut_run(work: Path, astronaut: np.ndarray):
    png = work / 'astronaut.png'
    cv2.imwrite(str(png), astronaut)
    code, out, err = explain(str(png), '--out', str(work / 'out_astronaut'))
    return code, out, err, work / 'out_astronaut'


def test_astronaut_writes_a_readable_png_and_a_json_of_happiness(astronaut_run) -> None:
    code, out, _err, folder = astronaut_run
    assert code == 0
    check_png(folder / 'astronaut_face0.png')
    doc = json.loads((folder / 'astronaut_face0.json').read_text())
    assert doc['face_found'] and doc['unreliable'] == []
    assert doc['expression_net']['top'] == 'happiness'
    assert doc['expression_net']['top_probability'] > 0.9
    assert list(doc['components']) == list(COMPONENTS)
    values = [c['value'] for c in doc['components'].values()]
    assert np.isfinite(values).all() and np.abs(values).max() <= 1.0
    assert len(doc['rules']['top']) == 5
    assert all(r['source'] and r['coding'] for r in doc['rules']['top'])
    # a still image needs a window: the model saw copies of it, and says so
    assert doc['model'] is not None and doc['model']['still_copies'] >= 2
    lines = [ln for ln in out.splitlines() if ln.startswith('astronaut.png face 0:')]
    assert len(lines) == 1 and 'expression net happiness' in lines[0], out


def test_rule_decision_is_label_from_components_when_all_are_reliable(astronaut_run) -> None:
    from st_f2m_ros.fuzzy import label_from_components
    from st_f2m_ros.taxonomy import CLASS_LABELS

    doc = json.loads((astronaut_run[3] / 'astronaut_face0.json').read_text())
    comps = np.array([[c['value'] for c in doc['components'].values()]], np.float32)
    assert doc['rules']['decision'] == CLASS_LABELS[int(label_from_components(comps)[0])]
    strengths = [r['strength'] for r in doc['rules']['top']]
    assert strengths == sorted(strengths, reverse=True)


def test_unreliable_components_do_not_move_the_rules() -> None:
    from st_f2m_ros.evaluation.explain import RuleExplainer

    rx = RuleExplainer()
    comps = np.zeros(12, np.float32)
    for name in ('left_mouth_corner', 'right_mouth_corner'):
        comps[COMPONENTS.index(name)] = 1.0
    reliable = np.ones(12, bool)
    reliable[COMPONENTS.index('mouth')] = False
    base, _, _ = rx.fire(comps, reliable)
    guessed = comps.copy()
    guessed[COMPONENTS.index('mouth')] = 1.0  # whatever the mesh guessed under the mask
    again, _, _ = rx.fire(guessed, reliable)
    np.testing.assert_allclose(base, again)
    result = rx.explain(guessed, reliable)
    assert all('mouth' not in r.mismatched for r in result['rules'])


def test_masked_nose_and_mouth_are_marked_unreliable(work: Path, astronaut, warps) -> None:
    from st_f2m_ros.perception.face_frontend import FaceFrontEnd

    clean = FaceFrontEnd().process(astronaut, track=False, learn=False)
    masked = astronaut.copy()
    outline = clean.landmarks[warps.mask_outline, :2].round().astype(np.int32)
    cv2.fillPoly(masked, [outline], (150, 150, 150))
    png = work / 'masked.png'
    cv2.imwrite(str(png), masked)
    code, out, _ = explain(str(png), '--out', str(work / 'out_masked'), '--no-model')
    assert code == 0
    check_png(work / 'out_masked' / 'masked_face0.png')
    doc = json.loads((work / 'out_masked' / 'masked_face0.json').read_text())
    assert doc['face_found']
    for name in MOUTH_NOSE:
        assert doc['components'][name]['reliable'] is False, name
    assert set(MOUTH_NOSE) <= set(doc['unreliable'])
    assert doc['rules']['on_reliable_components_only'] is True
    assert {'mouth_occluded', 'nose_occluded'} <= set(doc['quality']['reasons'])
    assert 'unreliable: ' in out and 'mouth' in out.split('unreliable: ')[1]


def write_still_bag(path: Path, bgr: np.ndarray, seconds: float = 2.0, rate: float = 10.0):
    """A still-camera MCAP bag: `seconds` of the same JPEG frame, and one spoken sentence."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    from st_f2m_ros.data.bag_messages import MessageFactory
    from st_f2m_ros.interfaces import typestore

    store = typestore('humble')
    factory = MessageFactory(store)
    start = 1_700_000_000.0
    ctype, stype = 'sensor_msgs/msg/CompressedImage', 'std_msgs/msg/String'
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        cam = writer.add_connection('/camera/image_raw/compressed', ctype, typestore=store)
        speech = writer.add_connection('/speech/transcript', stype, typestore=store)
        for i in range(round(seconds * rate)):
            t = start + i / rate
            ns = round(t * 1e9)
            writer.write(cam, ns, store.serialize_cdr(factory.compressed(t, bgr), ctype))
            if i == 5:
                text = store.types[stype](data=SECRET)
                writer.write(speech, ns + 1000, store.serialize_cdr(text, stype))
    return path


def test_bag_gives_one_png_per_sampled_second_and_never_prints_speech(
    work: Path, astronaut, capfd, caplog
) -> None:
    bag = write_still_bag(work / 'still_bag', astronaut)
    code, out, err = explain(str(bag), '--out', str(work / 'out_bag'))
    assert code == 0, err
    pngs = sorted((work / 'out_bag').glob('*.png'))
    assert [p.name for p in pngs] == ['still_bag_000_t0000.00s.png', 'still_bag_001_t0001.00s.png']
    for p in pngs:
        check_png(p)
        doc = json.loads(p.with_suffix('.json').read_text())
        assert doc['kind'] == 'bag' and doc['face_found']
        assert doc['expression_net']['top'] == 'happiness'
        assert doc['model'] is not None and doc['model']['still_copies'] == 0
        a, b = doc['model']['window']
        assert a - 1e-3 <= doc['stamp'] <= b + 1e-3  # the window holds the explained frame
    times = [json.loads(p.with_suffix('.json').read_text())['time_from_start'] for p in pngs]
    assert times == pytest.approx([0.0, 1.0], abs=1e-3)
    assert len([ln for ln in out.splitlines() if ln.startswith('still_bag t=')]) == 2
    written = ''.join(p.read_text() for p in (work / 'out_bag').glob('*.json'))
    captured = capfd.readouterr()
    for text in (out, err, written, captured.out, captured.err, caplog.text):
        assert SECRET not in text and 'secret' not in text
    # --max-frames and --every bound the sampling
    code, _, _ = explain(str(bag), '--out', str(work / 'out_bag1'), '--max-frames', '1',
                         '--every', '0.5', '--no-model')  # fmt: skip
    assert code == 0 and len(list((work / 'out_bag1').glob('*.png'))) == 1


def test_no_face_still_writes_a_png_and_exits_0(work: Path) -> None:
    png = work / 'wall.png'
    cv2.imwrite(str(png), np.full((240, 320, 3), 128, np.uint8))
    code, out, _ = explain(str(png), '--out', str(work / 'out_wall'), '--no-model')
    assert code == 0
    check_png(work / 'out_wall' / 'wall_face0.png')
    doc = json.loads((work / 'out_wall' / 'wall_face0.json').read_text())
    assert doc['face_found'] is False
    assert 'no face found' in out


def test_errors_are_one_line_with_exit_1(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = explain(str(work / 'nowhere.png'), '--out', str(work / 'o'))
    assert code == 1 and 'not found' in err and len(err.strip().splitlines()) == 1
    bad = work / 'broken.png'
    bad.write_bytes(b'this is not an image')
    code, _, err = explain(str(bad), '--out', str(work / 'o'), '--no-model')
    assert code == 1 and 'cannot read' in err and len(err.strip().splitlines()) == 1
    code, _, err = explain(str(bad), '--every', '0')
    assert code == 1 and '--every' in err
    # no face model files anywhere: the message names the command that installs them
    good = work / 'astronaut.png'
    monkeypatch.delenv('ST_F2M_MODELS_DIR', raising=False)
    monkeypatch.delenv('AMENT_PREFIX_PATH', raising=False)
    monkeypatch.setenv('XDG_DATA_HOME', str(work / 'xdg'))
    monkeypatch.setattr(sys, 'prefix', str(work / 'prefix'))
    code, _, err = explain(str(good), '--out', str(work / 'o'), '--no-model')
    assert code == 1 and 'st-f2m models install' in err
    assert len(err.strip().splitlines()) == 1


def test_help_explains_the_command() -> None:
    from st_f2m_ros.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        main(['explain', '--help'])
    assert done.value.code == 0
    text = out.getvalue()
    for word in ('IMAGE_OR_BAG', '--every', '--max-frames', '--checkpoint', '--topic',
                 'unreliable', 'st-f2m models install'):  # fmt: skip
        assert word in text, word
