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
"""Validation of a parsed rule base file: every section checked, a `RuleBase` built.

Each check raises `FuzzyRuleError` naming the rule (or section) and the problem, so that an
edited `fuzzy_rules.yaml` says what to fix. `fuzzy.rules.load_rule_base` reads the file.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from st_f2m_ros import taxonomy
from st_f2m_ros.errors import FuzzyRuleError
from st_f2m_ros.fuzzy.rule_types import (
    FACS_SOURCE,
    SHAPES,
    SOURCES,
    TNORMS,
    Component,
    EmotionIntensity,
    Rule,
    RuleBase,
    Term,
    format_coding,
    parse_coding,
)

_ANY = -999  # stands for `*` while an alternative's coding is parsed


def rule_base_from_dict(data: Any, source: str = '<dict>') -> RuleBase:
    """Validate a parsed rule base (the YAML as Python objects) and build a `RuleBase`."""
    where = f'rule base {source}'
    if not isinstance(data, dict):
        raise FuzzyRuleError(f'{where}: expected a mapping at the top level')
    components = _components(data.get('components'), where)
    membership = _mapping(data.get('membership'), f'{where}: membership')
    fcis = _mapping(membership.get('fcis'), f'{where}: membership.fcis')
    fkis = _mapping(membership.get('fkis'), f'{where}: membership.fkis')
    fcis_shape = _shape(fcis.get('shape'), f'{where}: membership.fcis.shape')
    fkis_shape = _shape(fkis.get('shape'), f'{where}: membership.fkis.shape')
    alpha = _range(fcis.get('range'), f'{where}: membership.fcis.range (alpha)')
    beta = _range(fkis.get('range'), f'{where}: membership.fkis.range (beta)')
    slope = _number(
        membership.get('bell_slope', 2.0), f'{where}: membership.bell_slope', 0, 50, False, True
    )
    inference = _mapping(data.get('inference'), f'{where}: inference')
    tnorm = inference.get('tnorm', 'product')
    if tnorm not in TNORMS:
        raise FuzzyRuleError(f'{where}: inference.tnorm is {tnorm!r}; use one of {TNORMS}')
    floor = _number(inference.get('floor', 0.0), f'{where}: inference.floor', 0.0, 1.0, True)
    threshold = _number(
        inference.get('label_threshold', 0.0), f'{where}: inference.label_threshold', 0, 1, True
    )
    neutral_centre, intensity = _intensity(data.get('intensity'), where)
    rules = _rules(data.get('rules'), components, where)
    return RuleBase(
        components=components,
        rules=rules,
        fcis_shape=fcis_shape,
        alpha=alpha,
        fkis_shape=fkis_shape,
        beta=beta,
        bell_slope=slope,
        tnorm=tnorm,
        floor=floor,
        label_threshold=threshold,
        neutral_centre=neutral_centre,
        intensity=intensity,
        path=source,
    )


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FuzzyRuleError(f'{where}: expected a mapping, got {type(value).__name__}')
    return value


def _number(
    value: Any,
    where: str,
    low: float,
    high: float,
    low_inclusive: bool = False,
    high_inclusive: bool = False,
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FuzzyRuleError(f'{where}: expected a number, got {value!r}')
    x = float(value)
    ok_low = x >= low if low_inclusive else x > low
    ok_high = x <= high if high_inclusive else x < high
    if not (math.isfinite(x) and ok_low and ok_high):
        left, right = '[' if low_inclusive else '(', ']' if high_inclusive else ')'
        raise FuzzyRuleError(f'{where}: {value!r} is outside {left}{low:g}, {high:g}{right}')
    return x


def _range(value: Any, where: str) -> float:
    return _number(value, where, 0.0, 10.0, low_inclusive=False, high_inclusive=True)


def _shape(value: Any, where: str) -> str:
    if value not in SHAPES:
        raise FuzzyRuleError(f'{where}: unknown membership shape {value!r}; use one of {SHAPES}')
    return str(value)


def _components(value: Any, where: str) -> tuple[Component, ...]:
    if not isinstance(value, list):
        raise FuzzyRuleError(f'{where}: `components` must be a list of the 12 Table II components')
    found: dict[str, Component] = {}
    for i, item in enumerate(value):
        spot = f'{where}: component #{i + 1}'
        item = _mapping(item, spot)
        name = item.get('name')
        if name not in taxonomy.COMPONENTS:
            raise FuzzyRuleError(
                f'{spot}: unknown component {name!r}; expected one of {taxonomy.COMPONENTS}'
            )
        spot = f'{where}: component {name!r}'
        if name in found:
            raise FuzzyRuleError(f'{spot}: listed twice')
        rng = item.get('range')
        if (
            not isinstance(rng, list)
            or len(rng) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in rng)
            or not float(rng[0]) < float(rng[1])
        ):
            raise FuzzyRuleError(f'{spot}: range must be [low, high] with low < high, got {rng!r}')
        low, high = float(rng[0]), float(rng[1])
        found[name] = Component(name, low, high, _terms(item.get('terms'), spot, low, high))
    missing = [c for c in taxonomy.COMPONENTS if c not in found]
    if missing:
        raise FuzzyRuleError(f'{where}: components missing: {", ".join(missing)}')
    return tuple(found[c] for c in taxonomy.COMPONENTS)


def _terms(value: Any, spot: str, low: float, high: float) -> tuple[Term, ...]:
    if not isinstance(value, list) or len(value) < 2:
        raise FuzzyRuleError(f'{spot}: terms must be a list of at least two {{name, value}}')
    terms: list[Term] = []
    for item in value:
        item = _mapping(item, f'{spot}: term')
        name, val = item.get('name'), item.get('value')
        if not isinstance(name, str) or not name:
            raise FuzzyRuleError(f'{spot}: a term has no name')
        if isinstance(val, bool) or not isinstance(val, int):
            raise FuzzyRuleError(f'{spot}: term {name!r} needs an integer value, got {val!r}')
        off_scale = bool(item.get('off_scale', False))
        if not off_scale and not low <= val <= high:
            raise FuzzyRuleError(
                f'{spot}: term {name!r} = {val} lies outside the range [{low:g}, {high:g}]; '
                'fix the value or mark the term `off_scale: true`'
            )
        if any(t.name == name or t.value == val for t in terms):
            raise FuzzyRuleError(f'{spot}: term {name!r} = {val} repeats a name or a value')
        terms.append(Term(name, val, off_scale))
    in_range = sorted(t.value for t in terms if not t.off_scale)
    if len(in_range) < 2:
        raise FuzzyRuleError(f'{spot}: needs at least two terms inside its range')
    return tuple(terms)


def _intensity(value: Any, where: str) -> tuple[float, dict[str, EmotionIntensity]]:
    section = _mapping(value, f'{where}: intensity')
    neutral = _number(
        section.get('neutral_centre', 0.0), f'{where}: intensity.neutral_centre', 0, 1, True, True
    )
    emotions = _mapping(section.get('emotions'), f'{where}: intensity.emotions')
    unknown = sorted(set(emotions) - set(taxonomy.EMOTIONS))
    if unknown:
        raise FuzzyRuleError(
            f'{where}: intensity.emotions has unknown emotion(s) {unknown}; '
            f'expected {taxonomy.EMOTIONS}'
        )
    out: dict[str, EmotionIntensity] = {}
    for emotion in taxonomy.EMOTIONS:
        spot = f'{where}: intensity of {emotion!r}'
        if emotion not in emotions:
            raise FuzzyRuleError(f'{spot}: missing (every emotion needs low/medium/high sets)')
        item = _mapping(emotions[emotion], spot)
        valence = item.get('valence')
        if isinstance(valence, bool) or not isinstance(valence, (int, float)):
            raise FuzzyRuleError(f'{spot}: valence must be a number, got {valence!r}')
        centres = _mapping(item.get('centres'), f'{spot}: centres')
        if sorted(centres) != sorted(taxonomy.INTENSITIES):
            raise FuzzyRuleError(f'{spot}: centres needs exactly {taxonomy.INTENSITIES}')
        values = tuple(
            _number(centres[k], f'{spot}: centre {k}', 0.0, 1.0, True, True)
            for k in taxonomy.INTENSITIES
        )
        if not values[0] < values[1] < values[2]:
            raise FuzzyRuleError(f'{spot}: centres must increase low < medium < high: {values}')
        out[emotion] = EmotionIntensity(float(valence), values)  # type: ignore[arg-type]
    return neutral, out


def _rules(value: Any, components: tuple[Component, ...], where: str) -> tuple[Rule, ...]:
    if not isinstance(value, list):
        raise FuzzyRuleError(f'{where}: `rules` must be a list with one entry per class')
    found: dict[str, Rule] = {}
    for i, item in enumerate(value):
        item = _mapping(item, f'{where}: rule #{i + 1}')
        label = item.get('class')
        if label not in taxonomy.CLASS_LABELS:
            raise FuzzyRuleError(
                f'{where}: rule #{i + 1} has unknown class {label!r}; '
                f'expected one of {", ".join(taxonomy.CLASS_LABELS)}'
            )
        spot = f'{where}: rule {label!r}'
        if label in found:
            raise FuzzyRuleError(f'{spot}: duplicate class (merge its codings into `codings:`)')
        if ('coding' in item) == ('codings' in item):
            raise FuzzyRuleError(f'{spot}: give exactly one of `coding` or `codings`')
        raw = [item['coding']] if 'coding' in item else item['codings']
        if not isinstance(raw, list) or not raw:
            raise FuzzyRuleError(f'{spot}: `codings` must be a non-empty list')
        codings = [_coding(c, components, spot) for c in raw]
        source = item.get('source')
        if source not in SOURCES:
            raise FuzzyRuleError(f'{spot}: source must be one of {SOURCES}, got {source!r}')
        note = item.get('note', '')
        if source == 'ours' and not (isinstance(note, str) and note.strip()):
            raise FuzzyRuleError(f'{spot}: a rule of ours needs a one-line `note` (rationale)')
        sources, notes = [str(source)] * len(codings), [str(note)] * len(codings)
        for k, alt in enumerate(_alternatives(item.get('alternatives', []), spot)):
            alt_spot = f'{spot} alternative #{k + 1}'
            expanded = _expand(alt['coding'], components, alt_spot)
            for coding in expanded:
                if coding in codings and len(expanded) == 1:
                    raise FuzzyRuleError(
                        f'{alt_spot}: coding {format_coding(coding)} is listed twice; drop one'
                    )
                if coding not in codings:  # a wildcard may expand onto a listed coding
                    codings.append(coding)
                    sources.append(alt['source'])
                    notes.append(alt['note'])
        if len(set(codings)) != len(codings):
            raise FuzzyRuleError(f'{spot}: a coding is listed twice; drop one')
        found[label] = Rule(
            label,
            taxonomy.class_id_from_label(label),
            tuple(codings),
            str(source),
            str(note),
            tuple(sources),
            tuple(notes),
        )
    missing = [c for c in taxonomy.CLASS_LABELS if c not in found]
    if missing:
        raise FuzzyRuleError(f'{where}: rules missing for class(es): {", ".join(missing)}')
    seen: dict[tuple[int, ...], str] = {}
    for rule in found.values():
        for coding in rule.codings:
            if coding in seen and seen[coding] != rule.label:
                raise FuzzyRuleError(
                    f'{where}: rule {rule.label!r} has the same coding '
                    f'{format_coding(coding)} as rule {seen[coding]!r}; rules must differ '
                    '(a `*` in an alternative stands for every term: write that component out)'
                )
            seen[coding] = rule.label
    return tuple(found[c] for c in taxonomy.CLASS_LABELS)


def _alternatives(value: Any, spot: str) -> list[dict[str, str]]:
    """Check a class's `alternatives:` list: each {coding, source, note}, source a FACS one."""
    if not isinstance(value, list):
        raise FuzzyRuleError(f'{spot}: `alternatives` must be a list of {{coding, source, note}}')
    out = []
    for k, alt in enumerate(value):
        where = f'{spot} alternative #{k + 1}'
        if not isinstance(alt, dict):
            raise FuzzyRuleError(f'{where}: expected a mapping {{coding, source, note}}')
        extra = sorted(str(key) for key in alt if key not in ('coding', 'source', 'note'))
        if extra or 'coding' not in alt:
            raise FuzzyRuleError(
                f'{where}: needs `coding`, `source` and `note` and nothing else '
                f'(got {sorted(str(key) for key in alt)})'
            )
        source, note = alt.get('source'), alt.get('note')
        if not isinstance(source, str) or not (
            source == 'ours' or FACS_SOURCE.match(source) is not None
        ):
            raise FuzzyRuleError(
                f'{where}: source {source!r} must name its FACS action units '
                "('FACS/EMFACS: AU6+AU12 (reference)') or be 'ours'; Table II ('paper') "
                "prints one coding per class, the entry's own `coding`"
            )
        if not (isinstance(note, str) and note.strip()):
            raise FuzzyRuleError(f'{where}: needs a one-line `note` (what the coding shows)')
        out.append({'coding': alt['coding'], 'source': source, 'note': note})
    return out


def _expand(value: Any, components: tuple[Component, ...], spot: str) -> list[tuple[int, ...]]:
    """An alternative's coding; `*` (any term) expands into one coding per in-range term.

    The class's strength is the maximum over its codings, so a `*` component counts with the
    membership of its best-matching term: a soft "don't care" for components that FACS leaves
    free or that the front end cannot measure (see the rule file).
    """
    if not (isinstance(value, str) and '*' in value):
        return [_coding(value, components, spot)]
    try:
        coded = parse_coding(value.replace('*', f'({_ANY})'))
    except ValueError as err:
        raise FuzzyRuleError(f'{spot}: {err}') from err
    if len(coded) != len(components):
        return [_coding(list(coded), components, spot)]  # raises naming the count
    choices = [
        [t.value for t in comp.terms if not t.off_scale] if v == _ANY else [v]
        for comp, v in zip(components, coded)
    ]
    return [_coding(list(c), components, spot) for c in itertools.product(*choices)]


def _coding(value: Any, components: tuple[Component, ...], spot: str) -> tuple[int, ...]:
    if isinstance(value, str):
        try:
            coding = parse_coding(value)
        except ValueError as err:
            raise FuzzyRuleError(f'{spot}: {err}') from err
    elif isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        coding = tuple(value)
    else:
        raise FuzzyRuleError(f'{spot}: a coding is a Table II string or a list of integers')
    if len(coding) != len(components):
        raise FuzzyRuleError(
            f'{spot}: coding {format_coding(coding)} has {len(coding)} values; '
            f'it needs {len(components)} (one per component: {", ".join(taxonomy.COMPONENTS)})'
        )
    for comp, v in zip(components, coding):
        if all(t.value != v for t in comp.terms):
            allowed = ', '.join(f'{t.name}={t.value}' for t in comp.terms)
            raise FuzzyRuleError(
                f'{spot}: value {v} for component {comp.name!r} is not one of its terms '
                f'({allowed})'
            )
    return coding
