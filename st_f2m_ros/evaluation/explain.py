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
"""Why the recognizer sees what it sees on one face: the numbers behind `st-f2m explain`.

A clinician who is told "anger" about a smiling patient, or an engineer chasing a wrong
decision, needs the chain of evidence rather than the verdict: the landmarks the components
were measured from, the twelve Table II components against the neutral baseline (and which
of them this frame cannot support, e.g. a masked mouth), which fuzzy rules fired and how
strongly, what the real-face expression net thinks, and what the model decided. This module
computes all of that for one `FaceObservation` (`FaceExplanation`); `explain_figure` draws
it and `explain_sources` walks images and bags.

Rules and unreliable components: a component the frame cannot support is left out of the
rules (its term memberships are set to 1, "unknown": neither for nor against any rule), so
that a mesh's guess under a mask does not decide the class. With every component reliable
the rule decision is exactly `fuzzy.label_from_components`; the decision on all measured
values, guesses included, is kept in the JSON for engineers (`rules_on_all_measured`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from st_f2m_ros.taxonomy import CLASS_LABELS, COMPONENTS

TOP_RULES = 5
_MISMATCH = 0.5  # a coded term with membership below this counts as not matching


@dataclass(frozen=True)
class RuleFiring:
    """One rule (one coding of a class) and how strongly it fired on this face.

    Attributes:
        class_label: fine-grained class of the rule.
        strength: softened t-norm over the reliable components (fuzzy.fkis.FKIS.fire).
        coding: the rule as Table II prints it.
        source: where the coding comes from ('paper' = Table II verbatim, 'ours', ...).
        mismatched: reliable components whose coded term does not match the measured value.
    """

    class_label: str
    strength: float
    coding: str
    source: str
    mismatched: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            'class': self.class_label,
            'strength': float(f'{self.strength:.6g}'),
            'coding': self.coding,
            'source': self.source,
            'mismatched': list(self.mismatched),
        }


def coding_sources(rule_base: Any) -> list[str]:
    """The source of every row of `rule_base.coding_matrix()`.

    Per-coding sources are used when the rule type carries them (`sources` or
    `coding_sources`, one per coding); otherwise every coding has its class entry's source.
    """
    out: list[str] = []
    for rule in rule_base.rules:
        per = getattr(rule, 'sources', None) or getattr(rule, 'coding_sources', None)
        if per is not None and len(per) == len(rule.codings):
            out.extend(str(s) for s in per)
        else:
            out.extend([str(rule.source)] * len(rule.codings))
    return out


class RuleExplainer:
    """The rule base alone on measured components, with per-rule strengths kept.

    Args:
        rule_base: a loaded rule base; None for the packaged `fuzzy_rules.yaml`.
    """

    def __init__(self, rule_base: Any = None) -> None:
        from st_f2m_ros.fuzzy import load_rule_base
        from st_f2m_ros.fuzzy.inference import RuleEvaluator
        from st_f2m_ros.fuzzy.rules import format_coding

        self.rule_base = rule_base if rule_base is not None else load_rule_base()
        self.evaluator = RuleEvaluator(self.rule_base).eval()
        rb = self.rule_base
        self.classes = rb.coding_classes()
        self.codings = [format_coding(tuple(int(v) for v in c)) for c in rb.coding_matrix()]
        self.sources = coding_sources(rb)
        self.threshold = float(rb.label_threshold)

    def fire(
        self, components: np.ndarray, reliable: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rule strengths [R], class strengths [19], coded-term memberships [R, 12]).

        Unreliable components get membership 1 in every term before the t-norm.
        """
        import torch

        comps = torch.from_numpy(np.asarray(components, np.float32).reshape(1, -1))
        keep = torch.from_numpy(np.asarray(reliable, bool).reshape(-1))
        fkis = self.evaluator.fkis
        with torch.no_grad():
            terms = self.evaluator.terms(comps).clone()
            terms[:, ~keep, :] = 1.0
            strengths = fkis.fire(terms)
            classes = fkis.classes(strengths)
            coded = terms.reshape(1, -1).index_select(1, fkis.index)
        n = len(COMPONENTS)
        return strengths[0].numpy(), classes[0].numpy(), coded.reshape(-1, n).numpy()

    def decide(self, class_strengths: np.ndarray) -> int:
        """`label_from_components`' rule: the strongest class, neutral below the threshold."""
        best = int(np.argmax(class_strengths))
        if float(np.max(class_strengths[1:], initial=0.0)) <= self.threshold:
            return 0
        return best

    def explain(
        self, components: np.ndarray, reliable: np.ndarray, top: int = TOP_RULES
    ) -> dict[str, Any]:
        """Top rules, class strengths and both decisions (reliable only, all measured)."""
        from st_f2m_ros.fuzzy import label_from_components

        reliable = np.asarray(reliable, bool)
        comps = np.asarray(components, np.float32).reshape(1, -1)
        strengths, classes, coded = self.fire(comps, reliable)
        all_measured = int(label_from_components(comps, self.rule_base)[0])
        decision = all_measured if reliable.all() else self.decide(classes)
        order = np.argsort(-strengths, kind='stable')[:top]
        rules = [
            RuleFiring(
                CLASS_LABELS[int(self.classes[i])],
                float(strengths[i]),
                self.codings[i],
                self.sources[i],
                tuple(
                    n for n, mu, ok in zip(COMPONENTS, coded[i], reliable) if ok and mu < _MISMATCH
                ),
            )
            for i in order
        ]
        return {
            'rules': rules,
            'class_strengths': classes,
            'decision': decision,
            'all_measured': all_measured,
        }


@dataclass
class FaceExplanation:
    """Everything `st-f2m explain` shows about one face (or one sampled frame without one).

    Attributes:
        source: the input's file name; kind: 'image' or 'bag'.
        index: face number in an image, sample number in a bag.
        stamp, rel_time: the frame's stamp and its time since the first frame (bags only).
        image: the BGR frame (for the figure; not written to JSON).
        obs: the front end's observation; None when no face was found.
        expression: float32 [7] expression-net probabilities (ExpressionNet.labels order).
        expression_labels: those labels.
        rules: the top rules by strength; class_strengths: [19] over the reliable components.
        num_rules: how many rules (codings) the rule base holds.
        rule_class, rule_class_all: rule decisions (reliable components; all measured).
        model: the model's window decision; model_note: why there is none, if so.
        png: the written figure's path.
        timings_ms: stage -> milliseconds.
    """

    source: str
    kind: str
    index: int
    image: np.ndarray
    stamp: float | None = None
    rel_time: float | None = None
    obs: Any = None
    expression: np.ndarray | None = None
    expression_labels: tuple[str, ...] = ()
    rules: list[RuleFiring] = field(default_factory=list)
    class_strengths: np.ndarray | None = None
    rule_class: str = ''
    rule_class_all: str = ''
    rule_threshold: float = 0.0
    num_rules: int = 0
    model: Any = None
    model_note: str = ''
    png: str = ''
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return self.obs is not None

    @property
    def name(self) -> str:
        """File stem of this face's PNG and JSON."""
        stem = self.source.rsplit('.', 1)[0] if self.kind == 'image' else self.source
        if self.kind == 'image':
            return f'{stem}_face{self.index}'
        return f'{stem}_{self.index:03d}_t{self.rel_time or 0.0:07.2f}s'

    def expression_top(self) -> tuple[str, float]:
        if self.expression is None:
            return '', 0.0
        i = int(np.argmax(self.expression))
        return self.expression_labels[i], float(self.expression[i])

    def where(self) -> str:
        if self.kind == 'bag':
            return f'{self.source} t={self.rel_time:.2f}s'
        return f'{self.source} face {self.index}'

    def summary(self) -> str:
        """The one-line text summary printed per face (numbers only, no speech)."""
        if not self.found:
            model = f' | model: {self.model.text()}' if self.model is not None else ''
            return f'{self.where()}: no face found{model} -> {self.png}'
        o = self.obs
        p = o.pose
        top, prob = self.expression_top()
        unrel = ','.join(o.unreliable_components) or 'none'
        best = self.rules[0] if self.rules else None
        rules = f'rules {self.rule_class}'
        if best is not None and best.class_label != self.rule_class:
            weak = f'{best.strength:.2g} < {self.rule_threshold:g}'
            rules += f' (strongest {best.class_label} {weak})'
        elif best is not None:
            rules += f' {best.strength:.2f}'
        if not o.reliable.all():
            rules += f' on {int(o.reliable.sum())}/{len(COMPONENTS)} components'
        if self.model is not None:
            model = f'model {self.model.text()}'
        else:
            model = f'model - ({self.model_note})' if self.model_note else 'model -'
        if self.model is not None and self.model.copies:
            model += f' (still x{self.model.copies})'
        elif self.model is not None and self.stamp is not None:
            model += f' ({self.model.how(self.stamp - (self.rel_time or 0.0))})'
        return (
            f'{self.where()}: yaw {p.yaw:+.0f} pitch {p.pitch:+.0f} roll {p.roll:+.0f} | '
            f'{rules} | expression net {top} {prob:.2f} | {model} | '
            f'unreliable: {unrel} -> {self.png}'
        )

    def to_json(self) -> dict[str, Any]:
        """The numbers of the figure (and a few more) as plain JSON types."""
        out: dict[str, Any] = {
            'source': self.source,
            'kind': self.kind,
            'index': self.index,
            'stamp': self.stamp,
            'time_from_start': self.rel_time,
            'face_found': self.found,
            'png': self.png,
            'model': self.model.to_json() if self.model is not None else None,
            'model_note': self.model_note,
            'timings_ms': {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
        if not self.found:
            return out
        o = self.obs
        q = o.quality
        out.update(
            box=[round(float(v), 1) for v in o.box],
            presence=round(float(o.presence), 4),
            detection_score=None if o.detection_score is None else round(o.detection_score, 4),
            pose={
                'yaw': round(o.pose.yaw, 2),
                'pitch': round(o.pose.pitch, 2),
                'roll': round(o.pose.roll, 2),
                'iod_px': round(o.pose.iod_px, 2),
            },
            quality={
                'face_size_px': round(q.face_size_px, 1),
                'occlusion': {k: round(v, 3) for k, v in q.occlusion.items()},
                'reasons': list(q.reasons),
            },
            baseline=o.baseline_source,
            components={
                n: {'value': float(v), 'raw': float(r), 'reliable': bool(ok)}
                for n, v, r, ok in zip(COMPONENTS, o.components, o.raw, o.reliable)
            },
            unreliable=list(o.unreliable_components),
            rules={
                'decision': self.rule_class,
                'threshold': self.rule_threshold,
                'top': [r.to_json() for r in self.rules],
                'class_strengths': {
                    c: float(f'{s:.6g}') for c, s in zip(CLASS_LABELS, self.class_strengths)
                },
                'on_reliable_components_only': bool(not o.reliable.all()),
            },
            rules_on_all_measured=self.rule_class_all,
            expression_net={
                'probs': {
                    k: round(float(v), 4) for k, v in zip(self.expression_labels, self.expression)
                },
                'top': self.expression_top()[0],
                'top_probability': round(self.expression_top()[1], 4),
            },
        )
        return out
