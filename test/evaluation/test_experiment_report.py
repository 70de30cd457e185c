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
"""Reporting of the paper experiments: mean ± std cells, "-" gaps, figures, RESULTS.md blocks."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest

from st_f2m_ros.evaluation.experiments import figures, report

KEYS = ('acc19', 'recall19', 'acc7', 'recall7', 'f1_19', 'worst_acc19', 'worst_acc7')
METHODS = ('st_f2m', 'protonet', 'fer_per_frame')
LABELS = {'st_f2m': 'ST-F2M (ours)', 'protonet': 'ProtoNet'}  # fer_per_frame: no label
SEEDS = (0, 1)
CONDITIONS = {
    'table3': ['clean'],
    'table4': ['clean', 'fog:0.1', 'fog:0.3', 'mask:0.3'],
    'table5': ['standard', 'few-shot + 30% label noise'],
    'ablation': ['A clean', 'B corrupted 30%', 'C speed-altered'],
    'alpha_beta': ['clean'],
}
GRID = (None,)
AB_GRID = tuple(itertools.product((0.2, 0.4), (0.2, 0.4, 0.6)))


def value(i: int, j: int, k: int, seed: int, phase: str, step: float = 0.2) -> float:
    """Method i, condition j, metric k: seeds differ by 0.04, so mean = seed 0 + 0.02, std 0.02."""
    v = 0.1 + step * i + 0.02 * j + 0.01 * k + 0.04 * seed - 0.1 * (phase == 'before')
    return round(v, 4)


def metrics(i: int, j: int, seed: int, phase: str, step: float) -> dict[str, float | None]:
    return {key: value(i, j, k, seed, phase, step) for k, key in enumerate(KEYS)}


def fake(kind: str, methods: tuple[str, ...] = METHODS) -> dict:
    """A result as runner.py writes it, with the nulls the contract allows."""
    rows = []
    step = 0.6 / len(methods)  # values stay in [0, 1]
    grid = AB_GRID if kind == 'alpha_beta' else GRID
    for (i, m), (j, c), seed, ab in itertools.product(
        enumerate(methods), enumerate(CONDITIONS[kind]), SEEDS, grid
    ):
        row = {'method': m, 'condition': c, 'seed': seed, 'train_s': 1.0 + seed}
        if ab:
            row['alpha'], row['beta'] = ab
            j = AB_GRID.index(ab)
        row['before'] = None if m == 'protonet' else metrics(i, j, seed, 'before', step)
        row['after'] = None if m == 'fer_per_frame' else metrics(i, j, seed, 'after', step)
        if m == 'fer_per_frame':
            row['before']['acc19'] = None  # acc19 undefined for the per-frame FER
        if m == 'st_f2m' and seed == 1:  # one seed lost its 7-class accuracy
            row['after']['acc7'] = None
        if ab == (0.4, 0.6):  # a grid cell no seed finished
            row['after'] = None
        rows.append(row)
    return {
        'experiment': kind,
        'title': f'{kind} analogue',
        'budget': 'tiny',
        'protocol': {'people': 3, 'seconds': 8.0, 'shots': 2, 'epochs': 1, 'nested': {'x': 1}},
        'encoder_model': 'st_f2m_default-7b11864358',
        'machine': 'x86_64, 2 CPUs, Python 3.11.7',
        'started': '2026-12-01T19:30:00Z',
        'wall_s': 812.3,
        'cpu_s': 95.0,
        'seeds': list(SEEDS),
        'methods': list(methods),
        'method_labels': LABELS,
        'conditions': CONDITIONS[kind],
        'rows': rows,
        'notes': ['synthetic people only', 'protonet needs a support set'],
    }


def tables(md: str) -> list[dict[str, list[str]]]:
    """Each markdown table as first cell -> the other cells (header row under its first cell)."""
    out: list[dict[str, list[str]]] = []
    current = None
    for line in md.splitlines():
        if not line.startswith('|'):
            current = None
            continue
        if line.startswith('|---'):
            continue
        if current is None:
            current = {}
            out.append(current)
        cells = [c.strip() for c in line.strip('|').split(' | ')]
        current[cells[0]] = cells[1:]
    return out


def test_stat_is_population_std_over_non_null_values():
    s = report.stat([0.4, None, 0.44, float('nan')])
    assert (s.n, round(s.mean, 6), round(s.std, 6)) == (2, 0.42, 0.02)
    assert report.stat([0.5]) == report.Stat(0.5, 0.0, 1)
    assert report.stat([None, None]).format() == '-'
    assert report.Stat(0.41234, 0.03111, 2).format(2) == '0.412 ± 0.031'
    assert report.Stat(0.5, 0.0, 1).format(2) == '0.500 ± 0.000 (n=1)'


def test_table3_markdown_cells_and_header():
    md = report.render_markdown(fake('table3'))
    assert md.startswith('## table3 analogue\n')
    for text in ('`tiny`', 'seeds 0, 1 (n=2)', 'st_f2m_default-7b11864358', 'x86_64, 2 CPUs',
                 'wall 13.5 min', 'CPU 95 s', '3 people, 8.0 seconds, 2 shots', 'epochs=1',
                 '- synthetic people only', '- protonet needs a support set'):  # fmt: skip
        assert text in md, text
    assert 'nested' not in md
    (t,) = tables(md)
    assert t['method'][0] == '19-cl ACC before' and t['method'][4] == '19-cl ACC after'
    assert list(t)[1:] == ['ST-F2M (ours)', 'ProtoNet', 'fer_per_frame']
    ours = t['ST-F2M (ours)']
    assert ours[0] == '0.020 ± 0.020'  # before acc19: seeds 0.00, 0.04
    assert ours[4] == '0.120 ± 0.020'  # after acc19: seeds 0.10, 0.14
    assert ours[6] == '0.120 ± 0.000 (n=1)'  # after acc7: seed 1 null -> seed 0 only
    assert t['ProtoNet'][:4] == ['-'] * 4  # no before without a support set
    assert t['ProtoNet'][4] == '0.320 ± 0.020'
    assert t['fer_per_frame'][0] == '-' and t['fer_per_frame'][2] == '0.440 ± 0.020'
    assert t['fer_per_frame'][4:] == ['-'] * 4


def test_table4_table5_ablation_columns():
    t19, t7 = tables(report.render_markdown(fake('table4')))
    assert t19['method'] == ['clean', 'fog 0.1', 'fog 0.3', 'mask 0.3']
    assert t19['ST-F2M (ours)'][2] == '0.160 ± 0.020'  # condition 2, acc19
    assert t7['ST-F2M (ours)'][2] == '0.160 ± 0.000 (n=1)'  # acc7, seed 0 only
    assert t19['fer_per_frame'] == ['-'] * 4

    t19, t7 = tables(report.render_markdown(fake('table5')))
    assert t19['method'][:2] == ['standard: average ACC', 'standard: worst ACC']
    assert t19['ProtoNet'][2:] == ['0.340 ± 0.020', '0.390 ± 0.020']  # noisy: acc19, worst
    assert t7['ProtoNet'][:2] == ['0.340 ± 0.020', '0.380 ± 0.020']  # standard: acc7, worst

    t19, _ = tables(report.render_markdown(fake('ablation')))
    assert t19['variant'] == CONDITIONS['ablation']
    assert t19['ProtoNet'] == ['0.320 ± 0.020', '0.340 ± 0.020', '0.360 ± 0.020']


def test_alpha_beta_grid_tables():
    acc, rec = tables(report.render_markdown(fake('alpha_beta', ('st_f2m',))))
    assert acc['α \\ β'] == ['β=0.2', 'β=0.4', 'β=0.6']
    assert list(acc)[1:] == ['α=0.2', 'α=0.4']
    assert acc['α=0.2'][1] == '0.140 ± 0.020'  # grid cell 1 (0.2, 0.4)
    assert rec['α=0.4'][0] == '0.190 ± 0.020'  # grid cell 3 (0.4, 0.2), recall19
    assert acc['α=0.4'][2] == rec['α=0.4'][2] == '-'  # no seed finished (0.4, 0.6)


def test_unknown_experiment_is_refused():
    with pytest.raises(ValueError, match='unknown experiment'):
        report.render_markdown({**fake('table3'), 'experiment': 'table9'})


@pytest.mark.parametrize('kind', list(CONDITIONS))
def test_write_report_writes_markdown_figures_and_results_block(tmp_path, kind):
    result = fake(kind, ('st_f2m', 'no_fuzzy') if kind == 'alpha_beta' else METHODS)
    results_md = tmp_path / 'docs' / 'RESULTS.md'
    results_md.parent.mkdir()
    results_md.write_text('# Results\n\nhand-written text\n')
    written = report.write_report(result, tmp_path / 'out', results_md)
    pngs = [p for p in written if p.suffix == '.png']
    assert pngs and all(p.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' for p in pngs)
    assert all(p.stat().st_size > 10_000 for p in pngs)
    out_pngs = [p.name for p in pngs if p.parent.name == 'out']
    if kind == 'alpha_beta':  # one heatmap per method
        assert out_pngs == [
            'alpha_beta_heatmap_st_f2m_clean.png',
            'alpha_beta_heatmap_no_fuzzy_clean.png',
        ]
    md = (tmp_path / 'out' / f'{kind}.md').read_text()
    assert all(f'({name})' in md for name in out_pngs)
    text = results_md.read_text()
    assert text.startswith('# Results\n\nhand-written text\n')
    start, end = report.markers(kind)
    assert text.count(start) == text.count(end) == 1
    for name in out_pngs:
        assert f'](img/experiments/{name})' in text
        assert (results_md.parent / 'img' / 'experiments' / name).is_file()
    assert results_md in written


def _overlaps(fig) -> list[tuple[str, str]]:
    from matplotlib.text import Text

    fig.set_dpi(50)  # overlap does not depend on resolution; drawing is faster
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    boxes = [(t.get_text(), t.get_window_extent(r).shrunk(0.98, 0.9)) for t in texts]
    return [(a, b) for (a, x), (b, y) in itertools.combinations(boxes, 2) if x.overlaps(y)]


@pytest.mark.parametrize(
    'kind,make',
    [
        ('table3', lambda r: figures.table3_figure(r, 'clean')),
        ('table4', figures.table4_figure),
        ('table5', figures.table5_figure),
        ('ablation', figures.ablation_figure),
    ],
)
def test_ten_methods_with_long_labels_do_not_overlap(kind, make):
    methods = tuple(f'method_{i}' for i in range(10))
    result = fake(kind, methods)
    result['method_labels'] = {m: f'a rather long label {i}' for i, m in enumerate(methods)}
    fig = make(result)
    try:
        assert _overlaps(fig) == []
    finally:
        figures.plots._pyplot().close(fig)


# --- RESULTS.md blocks ---------------------------------------------------------------------

START, END = report.markers('table3')


def test_replace_keeps_everything_outside_the_markers():
    text = f'# R\r\nbefore\n{START}\nold table\n{END}\nafter\n  tail'
    new = report.replace_block(text, 'table3', '| new |\n')
    assert new == f'# R\r\nbefore\n{START}\n| new |\n{END}\nafter\n  tail'


def test_append_when_absent_and_other_blocks_untouched():
    assert report.replace_block('', 'table3', 'x') == f'{START}\nx\n{END}\n'
    assert report.replace_block('# R', 'table3', 'x') == f'# R\n\n{START}\nx\n{END}\n'
    two = report.replace_block(report.replace_block('# R\n', 'table3', 'a'), 'table4', 'b')
    s4, e4 = report.markers('table4')
    assert two == f'# R\n\n{START}\na\n{END}\n\n{s4}\nb\n{e4}\n'
    assert report.replace_block(two, 'table4', 'c') == two.replace('\nb\n', '\nc\n')


@pytest.mark.parametrize(
    'text,match',
    [
        (f'a\n{START}\nb\n', '1 start and 0 end'),
        (f'a\n{END}\nb\n', '0 start and 1 end'),
        (f'{END}\nb\n{START}\n', 'end marker comes before'),
        (f'{START}\n{END}\n{START}\n{END}\n', '2 start and 2 end'),
    ],
)
def test_broken_markers_are_refused_and_the_file_kept(tmp_path, text, match):
    path = tmp_path / 'RESULTS.md'
    path.write_bytes(text.encode())
    with pytest.raises(ValueError, match=match):
        report.update_results_md(path, 'table3', 'new')
    assert path.read_bytes() == text.encode()
    assert [p.name for p in tmp_path.iterdir()] == ['RESULTS.md']  # no temp file left


def test_marker_in_markdown_or_bad_name_is_refused():
    with pytest.raises(ValueError, match='its own block marker'):
        report.replace_block('', 'table3', f'x {END}')
    with pytest.raises(ValueError, match='experiment name'):
        report.replace_block('', 'a b', 'x')


def test_update_results_md_creates_replaces_keeps_mode_and_leaves_no_temp(tmp_path):
    path = tmp_path / 'RESULTS.md'
    report.update_results_md(path, 'table3', 'first')
    path.chmod(0o640)
    report.update_results_md(path, 'table3', 'second')
    assert path.read_text() == f'{START}\nsecond\n{END}\n'
    assert path.stat().st_mode & 0o777 == 0o640  # not the temp file's 0600
    assert [p.name for p in tmp_path.iterdir()] == ['RESULTS.md']


_free_text = (
    st.lists(st.text(max_size=8) | st.sampled_from(['\n', '\r\n', '<!-- ', '-->', START[5:]]))
    .map(''.join)
    .filter(lambda t: '<!-- experiment:' not in t)
)


@settings(max_examples=80, deadline=None)
@given(before=_free_text, after=_free_text, old=_free_text, md=_free_text)
def test_property_surrounding_text_survives_and_update_is_idempotent(before, after, old, md):
    text = f'{before}{START}{old}{END}{after}'
    once = report.replace_block(text, 'table3', md)
    assert once.startswith(before + START) and once.endswith(END + after)
    assert report.replace_block(once, 'table3', md) == once
    appended = report.replace_block(before, 'table3', md)
    assert appended.startswith(before)
    assert report.replace_block(appended, 'table3', md) == appended
