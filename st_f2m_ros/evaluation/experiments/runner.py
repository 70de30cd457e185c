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
"""The paper's experiments as one command each: which methods, on which data, into which rows.

* `table3` (Table III): every method on clean data, before and after adaptation.
* `table4` (Table IV): the main methods on test people under fog, mask and lens distortion at
  the budget's levels (trained on clean data; the support recording is corrupted like the
  session, as it would be for a patient wearing a mask).
* `table5` (Table V): trained on 20 % of the training people with 30 % of the frame labels
  shuffled, against the standard training; average and worst person.
* `ablation` (VI-E): ST-F2M without its spatio-temporal layers, fuzzy module or meta-learning,
  and meta-trained on unseen people; group A clean, B 30 % interference, C altered speeds.
* `alpha_beta` (VI-F, Fig. 10): the membership ranges of FCIS / FKIS over a grid.

Rows follow the result schema of report.py; trained methods are cached in `<out>/models`
(keyed by method, seed, data variant, alpha, beta and the budget), features in `<out>/cache`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import hashlib
import json
import os
from pathlib import Path
import platform
import time
from typing import Any

from safetensors.torch import load_file, save_file
import torch

from st_f2m_ros.data.io_utils import atomic_path, write_json
from st_f2m_ros.errors import ConfigError
from st_f2m_ros.evaluation.experiments import methods as mth
from st_f2m_ros.evaluation.experiments.budget import (
    ABLATION_CORRUPTION,
    CORRUPTION_KINDS,
    TABLE5_DATA_FRACTION,
    TABLE5_LABEL_NOISE,
    Budget,
)
from st_f2m_ros.evaluation.experiments.features import (
    FeatureSet,
    FeatureStore,
    MemoText,
    TestPerson,
    speed_altered,
)
from st_f2m_ros.evaluation.experiments.protocol import evaluate

EXPERIMENTS = ('table3', 'table4', 'table5', 'ablation', 'alpha_beta', 'fuzzy_components')
# `all`: the paper's experiments on the default encoder; fuzzy_components needs an encoder
# that reads the front end's measured components (the shipped default does, and so does one
# from config/train_components.yaml).
PAPER_EXPERIMENTS = EXPERIMENTS[:5]
TITLES = {
    'table3': 'Table III analogue: clean data, all methods',
    'table4': 'Table IV analogue: robustness to fog, masks and lens distortion',
    'table5': 'Table V analogue: few-shot training (20 % of the people) with 30 % noisy labels',
    'ablation': 'Ablation (section VI-E): which part of ST-F2M earns its place',
    'alpha_beta': 'Membership ranges alpha (FCIS) and beta (FKIS), section VI-F / Fig. 10',
    'fuzzy_components': 'What the fuzzy module adds when E reads measured facial components',
}
TABLE3_METHODS = ('st_f2m', 'meta_unseen', 'no_spatiotemporal', 'no_fuzzy', 'no_meta',
                  'protonet', 'single_frame', 'short_window', 'text_only',
                  'fer_per_frame')  # fmt: skip
TABLE4_METHODS = ('st_f2m', 'no_fuzzy', 'no_meta', 'protonet', 'fer_per_frame')
TABLE5_METHODS = ('st_f2m', 'no_fuzzy', 'no_meta', 'protonet')
ABLATION_METHODS = ('st_f2m', 'no_spatiotemporal', 'no_fuzzy', 'no_meta', 'meta_unseen')
GROUPS = ('A clean', 'B 30 % interference', 'C altered speed')
FUZZY_METHODS = ('st_f2m', 'no_fuzzy')
FUZZY_CONDITIONS = ('A clean', 'B 30 % interference', 'D 30 % noisy training labels')


@dataclass(frozen=True)
class Variant:
    """Which training data a method is fitted on."""

    name: str = 'standard'  # standard | fewshot | noisy (30 % frame-label noise)
    alpha: float = 0.4
    beta: float = 0.4


STANDARD = Variant()
FEWSHOT = Variant('fewshot')
NOISY = Variant('noisy')


class ExperimentRun:
    """One budget's data, trained methods and result rows, shared by the experiments."""

    def __init__(
        self,
        budget: Budget,
        out: Path,
        encoder_path: str | Path,
        repeats: int | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        from st_f2m_ros.model.checkpoint import load_checkpoint

        self.budget, self.out, self.log = budget, Path(out), log
        self.seeds = list(range(repeats if repeats is not None else budget.repeats))
        if not self.seeds:
            raise ConfigError('repeats must be >= 1')
        self.encoder = load_checkpoint(encoder_path)
        self.encoder.eval()
        self.encoder._text_encoder = MemoText(self.encoder.text_encoder)
        self.store = FeatureStore(self.encoder, self.out / 'cache', budget.workers, log)
        self._fitted: dict[str, mth.Fitted] = {}
        self._tests: dict[str, list[TestPerson]] = {}

    # -- data ----------------------------------------------------------------------------
    def train_set(self, variant: Variant, seed: int) -> FeatureSet:
        fs = self.store.train_set(self.budget.train_people, self.budget.train_seconds)
        if variant.name == 'fewshot':
            fs = mth.fraction_of(fs, TABLE5_DATA_FRACTION)
        if variant.name in ('fewshot', 'noisy'):
            fs = mth.with_label_noise(fs, TABLE5_LABEL_NOISE, seed)
        return fs

    def meta_set(self, variant: Variant) -> FeatureSet:
        fs = self.store.meta_set(self.budget.meta_people, self.budget.train_seconds)
        return mth.fraction_of(fs, TABLE5_DATA_FRACTION) if variant.name == 'fewshot' else fs

    def test(self, corruption: str = '') -> list[TestPerson]:
        """Test people under a corruption spec ('' clean, 'speed' altered playback speeds)."""
        if corruption not in self._tests:
            b = self.budget
            if corruption == 'speed':
                lo, hi = b.speed_range
                self._tests[corruption] = [
                    TestPerson(p.subject, speed_altered(p.query, lo, hi, 0),
                               speed_altered(p.support, lo, hi, 1))
                    for p in self.test('')
                ]  # fmt: skip
            else:
                people = self.store.test_people(
                    b.test_people, b.session_seconds, b.shots, corruption
                )
                self._tests[corruption] = people
        return self._tests[corruption]

    # -- trained methods --------------------------------------------------------------------
    def fitted(self, name: str, seed: int, variant: Variant = STANDARD) -> mth.Fitted:
        m = mth.method(name)
        if not m.trains:
            return mth.Fitted(m, self.encoder, 0.0)
        desc = {'method': name, 'seed': seed, 'variant': variant.__dict__,
                'budget': self.budget.to_dict(), 'encoder': self.encoder.model_id}  # fmt: skip
        key = (
            f'{name}-s{seed}-{variant.name}-'
            + hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:12]
        )
        if key in self._fitted:
            return self._fitted[key]
        path = self.out / 'models' / f'{key}.safetensors'
        model = mth.build_model(m, self.encoder, variant.alpha, variant.beta)
        if path.is_file():
            state = load_file(str(path))
            model.load_state_dict(state, strict=False)
            model.eval()
            info = json.loads((self.out / 'models' / f'{key}.json').read_text())
            fitted = mth.Fitted(m, model, float(info['train_s']))
        else:
            self.log(f'  training {name} (seed {seed}, {variant.name}, '
                     f'alpha {variant.alpha}, beta {variant.beta})')  # fmt: skip
            meta = self.meta_set(variant) if m.meta_unseen else None
            fitted = mth.fit(
                m, self.encoder, self.train_set(variant, seed), meta, self.budget, seed,
                self.out / 'models' / 'work' / key, variant.alpha, variant.beta,
            )  # fmt: skip
            state = {k: v.detach().contiguous() for k, v in fitted.model.state_dict().items()
                     if not k.startswith(mth.ENCODER_PREFIXES)}  # fmt: skip
            with atomic_path(path) as tmp:
                save_file(state, str(tmp))
            write_json(self.out / 'models' / f'{key}.json', {'train_s': fitted.train_s, **desc})
            self.log(f'    trained in {fitted.train_s:.0f} s')
        self._fitted[key] = fitted
        return fitted

    def rows(
        self,
        names: tuple[str, ...],
        conditions: dict[str, str],
        variant: Variant = STANDARD,
        extra: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """A row per (method, condition, seed): condition name -> test corruption spec."""
        out = []
        for name in names:
            for seed in self.seeds:
                fitted = self.fitted(name, seed, variant)
                for cond, spec in conditions.items():
                    scores = evaluate(fitted, self.test(spec))
                    out.append({'method': name, 'condition': cond, 'seed': seed, **(extra or {}),
                                **scores, 'train_s': round(fitted.train_s, 1)})  # fmt: skip
                    a = scores['after'] or scores['before'] or {}
                    self.log(f'    {name} s{seed} {cond}: acc19 {a.get("acc19")} '
                             f'acc7 {a.get("acc7")}')  # fmt: skip
        return out

    # -- the experiments --------------------------------------------------------------------
    def run(self, name: str) -> dict[str, Any]:
        """Run experiment `name` and return its result dict (schema: report.py)."""
        if name not in EXPERIMENTS:
            raise ConfigError(f'unknown experiment {name!r}; known: {", ".join(EXPERIMENTS)}')
        t0, c0 = time.perf_counter(), time.process_time()
        started = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
        self.log(f'experiment {name} (budget {self.budget.name}, seeds {self.seeds})')
        notes: list[str] = []
        if name == 'table3':
            names, conds = TABLE3_METHODS, ['clean']
            rows = self.rows(names, {'clean': ''})
        elif name == 'table4':
            names = TABLE4_METHODS
            spec = {f'{k}:{lv:g}': (f'{k}:{lv:g}' if lv > 0 else '')
                    for k in CORRUPTION_KINDS for lv in self.budget.levels}  # fmt: skip
            conds, rows = list(spec), self.rows(names, spec)
            notes.append('Trained on clean data; test sessions and support recordings corrupted.')
        elif name == 'table5':
            names, conds = TABLE5_METHODS, ['standard', 'few-shot + 30 % label noise']
            rows = self.rows(names, {'standard': ''})
            rows += self.rows(names, {conds[1]: ''}, FEWSHOT)
            notes.append(f'Few-shot: {TABLE5_DATA_FRACTION:.0%} of the training people, '
                         f'{TABLE5_LABEL_NOISE:.0%} of their frame labels replaced; tested on '
                         'clean unseen people with correct support labels.')  # fmt: skip
        elif name == 'ablation':
            names, conds = ABLATION_METHODS, list(GROUPS)
            rows = self.rows(names, dict(zip(GROUPS, ('', ABLATION_CORRUPTION, 'speed'))))
            notes.append(
                f'Trained on clean data. B: test data with {ABLATION_CORRUPTION}; C: '
                'every test clip played at a random speed in '
                f'{self.budget.speed_range[0]:g}-{self.budget.speed_range[1]:g}x.'
            )
        elif name == 'fuzzy_components':
            if not self.encoder.config.component_input:
                raise ConfigError(
                    'fuzzy_components needs an encoder that reads measured components: the '
                    'shipped default does (leave out --encoder), or train one with `st-f2m '
                    'train --config config/train_components.yaml` and pass --encoder '
                    'runs/components/final.safetensors'
                )
            names, conds = FUZZY_METHODS, list(FUZZY_CONDITIONS)
            rows = self.rows(names, dict(zip(conds[:2], ('', ABLATION_CORRUPTION))))
            rows += self.rows(names, {conds[2]: ''}, NOISY)
            notes.append('E reads the 12 components the real-face front end measured (and their '
                         'reliable flags) besides the FER features; every frame, training and '
                         f'test, went through the runtime face stage. B: test data with '
                         f'{ABLATION_CORRUPTION}; D: {TABLE5_LABEL_NOISE:.0%} of the training '
                         'frame labels replaced, tested clean. Compare with the ablation '
                         'table, whose encoder has no component input.')  # fmt: skip
        else:
            names, conds, rows = ('st_f2m',), ['clean'], []
            for a in self.budget.alpha_beta:
                for b in self.budget.alpha_beta:
                    rows += self.rows(names, {'clean': ''}, Variant('standard', a, b),
                                      {'alpha': a, 'beta': b})  # fmt: skip
        return {
            'experiment': name,
            'title': TITLES[name],
            'budget': self.budget.name,
            'protocol': self.budget.to_dict(),
            'encoder_model': self.encoder.model_id,
            'machine': machine(),
            'started': started,
            'wall_s': round(time.perf_counter() - t0, 1),
            'cpu_s': round(time.process_time() - c0, 1),
            'seeds': self.seeds,
            'methods': list(names),
            'method_labels': {n: mth.method(n).label for n in names},
            'conditions': conds,
            'rows': rows,
            'notes': notes,
        }


def machine() -> str:
    """The machine, in words, for the result header."""
    from st_f2m_ros.runtime.bench_stages import cpu_name

    return (f'{cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__} with '
            f'{torch.get_num_threads()} threads, Python {platform.python_version()}')  # fmt: skip
