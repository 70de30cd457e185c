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
"""`st-f2m bench`'s stage breakdown: every stage timed inside a real pipeline run, then undone.

No timing is asserted (performance lives in the bench): what is checked is that the stages
are counted where they run (one face-stage call per frame, one classify per window, the
front end's own detect / mesh / measure times when it is installed), the JSON report and the
table carry them, and the instrumented functions are the originals again afterwards.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from st_f2m_ros.perception import face_stage
from st_f2m_ros.runtime import bench
from st_f2m_ros.runtime.bench_stages import STAGES, StageTimer, format_stages, rss_mb
from st_f2m_ros.runtime.inference.recognizer import Recognizer
from st_f2m_ros.runtime.pipeline import pipeline as pipeline_module


def _originals() -> dict[str, object]:
    mods = (pipeline_module, face_stage)
    return {f'{m.__name__}.{n}': getattr(m, n) for m in mods for n in ('crop_face', 'image_to_bgr')
            if hasattr(m, n)}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize('detector', ['haar', 'blazeface_full'])
def test_phase_reports_every_stage_and_restores_the_pipeline(torch_backend, detector) -> None:
    before = _originals()
    rec = Recognizer(torch_backend)
    frames = bench.render_frames(12)
    redetect = 3 if detector == 'blazeface_full' else 0
    row = bench.run_phase(rec, frames, 1.0, warmup=6, detector=detector, redetect_every=redetect)
    assert _originals() == before
    assert 'encode_frames' not in vars(rec) and 'classify' not in vars(rec)
    st = row.stages
    assert st['face']['calls'] == row.frames > 0
    assert st['decode']['calls'] == row.frames
    windows = st['classify']['calls'] if 'classify' in st else 0
    assert windows <= row.frames
    assert (row.window_cpu_p95_ms > 0) if windows else (row.window_cpu_p95_ms >= 0)
    for name, values in st.items():
        assert values['p50_ms'] <= values['p95_ms'], name
        assert values['per_frame_ms'] >= 0, name
    for name in ('face', 'decode', 'crop'):
        assert st[name]['cpu_per_frame_ms'] >= 0, name
    assert row.cpu_ms_per_frame > 0 and row.cpu_bound_fps == pytest.approx(
        1e3 / row.cpu_ms_per_frame
    )
    if detector == 'blazeface_full' and row.face_rate > 0:
        if 'mesh' not in st:
            pytest.skip('real-face model files not installed: the stage fell back to Haar')
        assert st['mesh']['calls'] == st['measure']['calls'] <= row.frames
        # Redetection every 3 tracked frames: the detector runs in the phase itself.
        assert 0 < st['detect']['calls'] < row.frames, st['detect']
    assert row.rss_mb > 0
    text = '\n'.join(format_stages([row]))
    assert 'face' in text and f'{row.frames} frames' in text


def test_timer_summary_counts_calls_and_cost_per_frame() -> None:
    timer = StageTimer()
    timer.times['encode'] += [2.0, 4.0]
    timer.batch += [1, 3]
    timer.times['detect'].append(9.0)
    timer.clear()  # warm-up: its detector run is kept aside
    timer.times['encode'] += [1.0, 3.0]
    timer.cpu['encode'] += [0.5, 1.5]
    timer.batch += [2, 2]
    out = timer.summary(frames=4)
    assert out['encode'] == {
        'calls': 2, 'p50_ms': 2.0, 'p95_ms': pytest.approx(2.9), 'per_frame_ms': 1.0,
        'cpu_p50_ms': 1.0, 'cpu_per_frame_ms': 0.5, 'frames_per_call': 2.0,
    }  # fmt: skip
    assert out['detect']['calls'] == 0 and out['detect']['warmup_calls'] == 1
    assert set(out) <= {name for name, _ in STAGES}


def test_json_report_has_rows_stages_and_memory() -> None:
    row = bench.BenchRow('torch', 'steady', 'max', 30, 1.0, 5.0, 9.0, 4.0)
    row.stages = {'face': {'calls': 30, 'p50_ms': 1.0, 'p95_ms': 2.0, 'per_frame_ms': 1.0}}
    report = bench.report_dict([row], {'backbone': 'x'}, 2, [0.5, 0.5, 0.5])
    text = json.dumps(report)  # serialisable as it is written
    back = json.loads(text)
    assert back['rows'][0]['fps'] == 30.0
    assert back['rows'][0]['stages']['face']['calls'] == 30
    current, peak = rss_mb()
    assert 0 < current <= peak
    assert back['rss_mb']['peak'] >= back['rss_mb']['current'] > 0
    assert len(back['machine']['load_average_1_5_15']) == 3
    assert np.isfinite(back['machine']['load_average_before'][0])
