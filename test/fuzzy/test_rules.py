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
"""The rule base file: Table II held verbatim, completions documented, broken files rejected."""

from __future__ import annotations

import copy
from pathlib import Path
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest
import yaml

from st_f2m_ros import taxonomy
from st_f2m_ros.errors import FuzzyRuleError
from st_f2m_ros.fuzzy.rules import (
    format_coding,
    load_rule_base,
    parse_coding,
    rule_base_from_dict,
)
from st_f2m_ros.resources import resource_path

# Table II of the paper, copied from the paper text (seed/000_56dc8e8b4d743bc3.txt).
TABLE_II = {
    'anger_high': '0010010(-1)(-1)(-1)(-1)(-1)',
    'anger_medium': '(-1)0(-1)000101011',
    'anger_low': '0001101(-1)0000',
    'happiness_high': '110110100111',
    'happiness_medium': '011011000(-1)00',
    'happiness_low': '(-1)010100010(-1)(-1)',
    'disgust_high': '11(-1)000001(-1)00',
    'disgust_medium': '110000000(-1)00',
    'fear_low': '000(-1)(-1)0000011',
    'sadness_high': '(-1)(-1)0(-1)(-1)100(-1)(-1)00',
    'sadness_medium': '(-1)(-1)0001000(-1)00',
    'surprise_low': '000110000011',
}
COMPLETED = {
    'disgust_low',
    'fear_medium',
    'fear_high',
    'sadness_low',
    'surprise_medium',
    'surprise_high',
}


@pytest.fixture(scope='module')
def raw() -> dict[str, Any]:
    return yaml.safe_load(resource_path('fuzzy_rules.yaml').read_text(encoding='utf-8'))


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / 'rules.yaml'
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding='utf-8')
    return path


def _rule(data: dict[str, Any], label: str) -> dict[str, Any]:
    return next(r for r in data['rules'] if r['class'] == label)


def test_packaged_rule_base_holds_table_ii_verbatim() -> None:
    rb = load_rule_base()
    assert [r.label for r in rb.rules] == list(taxonomy.CLASS_LABELS)
    assert [c.name for c in rb.components] == list(taxonomy.COMPONENTS)
    for rule in rb.rules:
        if rule.label in TABLE_II:
            assert rule.source == 'paper' == rule.sources[0]
            assert format_coding(rule.codings[0]) == TABLE_II[rule.label]
        elif rule.label in COMPLETED:
            assert rule.source == 'ours' == rule.sources[0] and len(rule.note) > 20
        else:
            assert rule.label == 'neutral' and rule.codings == ((0,) * 12,)
        # Every further coding is a FACS-derived alternative that names its action units.
        assert len(rule.sources) == len(rule.notes) == len(rule.codings)
        for source, note in zip(rule.sources[1:], rule.notes[1:]):
            assert re.match(r'(FACS|EMFACS)\b.*\bAU\d+', source) and len(note) > 10
    assert (rb.alpha, rb.beta) == (0.4, 0.4)


def test_every_emotion_class_has_facs_alternatives() -> None:
    """Table II prints one coding per class; the engine holds several per emotion."""
    rb = load_rule_base()
    for rule in rb.rules[1:]:
        assert len(rule.codings) >= 2, rule.label
    per_emotion = {
        e: sum(len(r.codings) for r in rb.rules if e in r.label) for e in taxonomy.EMOTIONS
    }
    assert min(per_emotion.values()) >= 10
    # A Duchenne smile (AU6+AU12 marked: eyes Narrow, upper lip Thin, corners Raised) and a
    # jaw-drop surprise (AU1+AU2+AU26) are codings of their classes, nothing else.
    smile = parse_coding('000(-1)(-1)000(-1)011')
    assert rb.coding_classes()[_row(rb, smile)] == taxonomy.class_id_from_label('happiness_medium')
    jaw = parse_coding('110000010000')
    assert rb.coding_classes()[_row(rb, jaw)] == taxonomy.class_id_from_label('surprise_medium')


def _row(rb: Any, coding: tuple[int, ...]) -> int:
    rows = [i for i, c in enumerate(rb.coding_matrix().tolist()) if tuple(c) == coding]
    assert len(rows) == 1, f'{format_coding(coding)} is in the rule base {len(rows)} times'
    return rows[0]


def test_a_wildcard_expands_over_the_components_in_range_terms(raw: dict[str, Any]) -> None:
    doc = copy.deepcopy(raw)
    rule = _rule(doc, 'happiness_low')
    rule['alternatives'] = [
        {'coding': '00000**00011', 'source': 'FACS/EMFACS: AU12 (ref)', 'note': 'corners up'}
    ]
    rb = rule_base_from_dict(doc)
    hl = rb.rules[taxonomy.class_id_from_label('happiness_low')]
    # nose and nostril have the in-range terms Normal (0) and Wrinkled / Dilated (1).
    assert [format_coding(c) for c in hl.codings[1:]] == [
        '000000000011', '000000100011', '000001000011', '000001100011'
    ]  # fmt: skip
    assert hl.sources == ('paper',) + ('FACS/EMFACS: AU12 (ref)',) * 4
    # The brow crest's off-scale Smooth (-1) is not one of the expansions.
    rule['alternatives'][0]['coding'] = '00*000000011'
    rb = rule_base_from_dict(doc)
    crest = {c[2] for c in rb.rules[taxonomy.class_id_from_label('happiness_low')].codings[1:]}
    assert crest == {0, 1}


def _alt(doc: dict[str, Any], label: str, **alt: Any) -> None:
    entry = {'coding': '000000000011', 'source': 'FACS: AU12 (ref)', 'note': 'corners up'}
    entry.update(alt)
    _rule(doc, label).setdefault('alternatives', []).append(entry)


@pytest.mark.parametrize(
    ('mutate', 'match'),
    [
        (lambda d: _alt(d, 'fear_low', source='paper'), "'fear_low' alternative.*FACS action"),
        (lambda d: _alt(d, 'fear_low', source='FACS somewhere'), 'must name its FACS action'),
        (lambda d: _alt(d, 'fear_low', note=' '), "'fear_low' alternative.*note"),
        (lambda d: _alt(d, 'fear_low', weight=2), 'nothing else'),
        (lambda d: _rule(d, 'fear_low').update(alternatives='AU12'), 'must be a list'),
        (lambda d: _rule(d, 'fear_low').update(alternatives=['000000000011']), 'mapping'),
        (lambda d: _alt(d, 'fear_low', coding='00000000001'), "'fear_low' alternative.*11 values"),
        (lambda d: _alt(d, 'fear_low', coding='0000000000*2'), 'value 2 for component'),
        (
            lambda d: (
                _alt(d, 'happiness_low', coding='000000000011')
                or _alt(d, 'happiness_low', coding='000000000011')
            ),
            'listed twice',
        ),
        (lambda d: _alt(d, 'fear_low', coding='000(-1)(-1)0000011'), 'listed twice'),
        (lambda d: _alt(d, 'fear_low', coding='*00000000000'), 'same coding.*`\\*`'),
        (lambda d: _rule(d, 'fear_low').update(coding='000(-1)(-1)*000011'), 'cannot read'),
    ],
)
def test_malformed_alternatives_are_rejected_naming_the_rule(
    raw: dict[str, Any], mutate: Any, match: str
) -> None:
    doc = copy.deepcopy(raw)
    mutate(doc)
    with pytest.raises(FuzzyRuleError, match=match):
        rule_base_from_dict(doc)


def test_paper_codings_in_the_raw_file_are_the_printed_strings(raw: dict[str, Any]) -> None:
    for label, text in TABLE_II.items():
        assert _rule(raw, label)['coding'] == text


def test_coding_parser_reads_the_papers_notation() -> None:
    assert parse_coding('0010010(-1)(-1)(-1)(-1)(-1)') == (0, 0, 1, 0, 0, 1, 0, -1, -1, -1, -1, -1)
    assert parse_coding(' 1 1 ( -1 ) 0') == (1, 1, -1, 0)
    with pytest.raises(ValueError, match='negative values in parentheses'):
        parse_coding('00-10')


@given(st.lists(st.integers(min_value=-9, max_value=9), max_size=30))
def test_coding_format_parse_round_trip(values: list[int]) -> None:
    assert parse_coding(format_coding(values)) == tuple(values)


@given(st.text(max_size=20))
def test_coding_parser_never_fails_unexpectedly(text: str) -> None:
    try:
        values = parse_coding(text)
    except ValueError:
        return
    assert all(isinstance(v, int) for v in values)


def _term_values(raw: dict[str, Any]) -> list[list[int]]:
    return [[t['value'] for t in c['terms']] for c in raw['components']]


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_coding_made_of_valid_terms_loads(raw: dict[str, Any], data: st.DataObject) -> None:
    terms = _term_values(raw)
    coding = [data.draw(st.sampled_from(vals)) for vals in terms]
    doc = copy.deepcopy(raw)
    fh = taxonomy.class_id_from_label('fear_high')
    packaged = rule_base_from_dict(raw).rules
    others = {c for r in packaged if r.class_id != fh for c in r.codings}
    own = packaged[fh].codings[1:]  # fear_high's FACS alternatives
    _rule(doc, 'fear_high')['coding'] = coding
    if tuple(coding) in others or tuple(coding) in own:
        with pytest.raises(FuzzyRuleError, match=r'same coding|listed twice'):
            rule_base_from_dict(doc)
    else:
        rb = rule_base_from_dict(doc)
        assert rb.rules[fh].codings == (tuple(coding), *own)


@settings(max_examples=60, deadline=None)
@given(coding=st.lists(st.integers(min_value=-3, max_value=3), min_size=0, max_size=15))
def test_arbitrary_coding_is_accepted_or_rejected_naming_the_rule(
    raw: dict[str, Any], coding: list[int]
) -> None:
    doc = copy.deepcopy(raw)
    _rule(doc, 'surprise_medium')['coding'] = format_coding(coding)
    try:
        rb = rule_base_from_dict(doc)
    except FuzzyRuleError as err:
        assert 'surprise_medium' in str(err) or 'same coding' in str(err)
        return
    assert len(coding) == 12
    for comp, v in zip(rb.components, coding):
        assert v in {t.value for t in comp.terms}


@pytest.mark.parametrize(
    ('mutate', 'match'),
    [
        (lambda d: d['components'][0].update(name='left_ear'), "unknown component 'left_ear'"),
        (lambda d: _rule(d, 'anger_high').update(coding='00100'), "'anger_high'.*5 values"),
        (
            lambda d: _rule(d, 'fear_low').update(coding='000(-1)(-1)0000012'),
            "'fear_low'.*value 2 for component 'right_mouth_corner'",
        ),
        (
            lambda d: _rule(d, 'disgust_low').update(coding='00000(-1)000000'),
            "'disgust_low'.*value -1 for component 'nose'",
        ),
        (
            lambda d: _rule(d, 'happiness_low').update(coding='(-1)010100010(-1)(-1)x'),
            "'happiness_low'.*cannot read",
        ),
        (
            lambda d: d['rules'].append(copy.deepcopy(_rule(d, 'sadness_high'))),
            "'sadness_high': duplicate class",
        ),
        (lambda d: d['rules'].remove(_rule(d, 'surprise_high')), 'missing.*surprise_high'),
        (
            lambda d: _rule(d, 'anger_low').update({'class': 'anger_extreme'}),
            "unknown class 'anger_extreme'",
        ),
        (
            lambda d: _rule(d, 'fear_medium').update(coding=_rule(d, 'fear_high')['coding']),
            "'fear_high'.*same coding.*'fear_medium'|'fear_medium'.*same coding",
        ),
        (lambda d: _rule(d, 'fear_medium').update(note=''), "'fear_medium'.*rationale"),
        (lambda d: _rule(d, 'fear_medium').update(source='folklore'), "'fear_medium'.*source"),
        (lambda d: d['membership']['fcis'].update(range=-0.4), r'fcis.range \(alpha\)'),
        (lambda d: d['membership']['fkis'].update(range='wide'), r'fkis.range \(beta\)'),
        (lambda d: d['membership']['fcis'].update(shape='sigmoid'), 'unknown membership shape'),
        (lambda d: d['inference'].update(tnorm='lukasiewicz'), 'tnorm'),
        (lambda d: d['inference'].update(floor=1.5), 'floor'),
        (
            lambda d: d['intensity']['emotions']['anger']['centres'].update(low=0.9),
            "'anger'.*increase",
        ),
        (lambda d: d['intensity']['emotions'].pop('fear'), "'fear'.*missing"),
        (
            lambda d: d['components'][2]['terms'][2].pop('off_scale'),
            "'brow_crest'.*Smooth.*outside the range",
        ),
        (lambda d: d['components'].pop(5), 'components missing: nose'),
    ],
)
def test_malformed_rule_files_are_rejected_with_the_rule_named(
    tmp_path: Path, raw: dict[str, Any], mutate: Any, match: str
) -> None:
    doc = copy.deepcopy(raw)
    mutate(doc)
    with pytest.raises(FuzzyRuleError, match=match):
        load_rule_base(_write(tmp_path, doc))


def test_unreadable_files_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FuzzyRuleError, match='cannot read the rule base'):
        load_rule_base(tmp_path / 'absent.yaml')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('rules: [unclosed', encoding='utf-8')
    with pytest.raises(FuzzyRuleError, match='not valid YAML'):
        load_rule_base(bad)
    bad.write_text('- just a list', encoding='utf-8')
    with pytest.raises(FuzzyRuleError, match='mapping at the top level'):
        load_rule_base(bad)


def test_several_codings_per_class_are_allowed(tmp_path: Path, raw: dict[str, Any]) -> None:
    doc = copy.deepcopy(raw)
    for entry in doc['rules']:
        entry.pop('alternatives', None)
    rule = _rule(doc, 'anger_high')
    rule['codings'] = [rule.pop('coding'), '0010010(-1)(-1)(-1)00']
    rb = load_rule_base(_write(tmp_path, doc))
    assert len(rb.rules[taxonomy.class_id_from_label('anger_high')].codings) == 2
    assert rb.coding_matrix().shape == (20, 12)
    assert list(rb.coding_classes()).count(taxonomy.class_id_from_label('anger_high')) == 2


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(min_value=-2, max_value=2), max_size=13),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_corrupted_leaf_loads_or_raises_fuzzy_rule_error(
    raw: dict[str, Any], data: st.DataObject
) -> None:
    """Replace any node of the file with junk: the loader answers only with FuzzyRuleError."""
    doc = copy.deepcopy(raw)
    path = data.draw(st.sampled_from(_paths(doc)))
    junk = data.draw(_JUNK)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = junk
    try:
        rb = rule_base_from_dict(doc)
    except FuzzyRuleError as err:
        assert str(err).startswith('rule base')
        return
    assert len(rb.rules) == taxonomy.NUM_CLASSES


# The FACS -> component mapping of the rule file's header: (component index, term) -> the
# action units that can produce it. LEb REb Crest LEye REye Nose Nostril Mouth ULip LLip LC RC.
_BY_AU: dict[tuple[int, int], set[str]] = {
    (0, 1): {'1', '2'}, (1, 1): {'1', '2'}, (0, -1): {'4'}, (1, -1): {'4'}, (2, 1): {'4'},
    (3, 1): {'5'}, (4, 1): {'5'}, (3, -1): {'6', '7'}, (4, -1): {'6', '7'},
    (5, 1): {'9'}, (6, 1): {'38'}, (7, 1): {'25', '26', '27'},
    (8, 1): {'10'}, (8, -1): {'12', '20', '23', '27'}, (9, 1): {'16'}, (9, -1): {'20', '23', '27'},
    (10, 1): {'12'}, (11, 1): {'12'}, (10, -1): {'15'}, (11, -1): {'15'},
}  # fmt: skip
# What each AU must show (its main appearance change), unless an opposing AU cancels it.
_SHOWS: dict[str, tuple[tuple[int, int], ...]] = {
    '1': (), '2': ((0, 1),), '4': ((2, 1),), '5': ((3, 1),), '6': ((3, -1),), '7': ((3, -1),),
    '9': ((5, 1),), '10': ((8, 1),), '12': ((10, 1), (11, 1)), '15': ((10, -1), (11, -1)),
    '16': ((9, 1),), '20': ((9, -1),), '23': ((8, -1), (9, -1)), '25': ((7, 1),),
    '26': ((7, 1),), '27': ((7, 1),), '38': ((6, 1),),
}  # fmt: skip


def test_facs_alternatives_follow_the_documented_au_mapping() -> None:
    """Every coded term of a FACS alternative comes from one of its AUs, and every AU shows."""
    rb = load_rule_base()
    checked = 0
    for rule in rb.rules:
        for coding, source in zip(rule.codings[1:], rule.sources[1:]):
            aus = set(re.findall(r'AU(\d+)', source))
            assert aus and aus <= set(_SHOWS), (rule.label, source)
            free = {5} if '9' not in aus else set()  # `*`: nose / nostril left free
            free |= {6} if '38' not in aus else set()
            for j, v in enumerate(coding):
                if v != 0 and j not in free:
                    assert _BY_AU[(j, v)] & aus, (rule.label, source, taxonomy.COMPONENTS[j], v)
            for au in aus:
                cancelled = (au in {'5', '6', '7'} and {'5', '7'} <= aus) or (
                    au == '2' and '4' in aus and '1' in aus and coding[0] == 1
                )
                for j, v in _SHOWS[au]:
                    assert cancelled or coding[j] == v, (rule.label, source, au)
            checked += 1
    assert checked > 100
