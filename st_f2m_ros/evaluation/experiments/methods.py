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
"""The methods compared: ST-F2M, its ablations and the baselines, trained on cached features.

Every method shares the frozen per-frame encoder and the data; what differs is what is trained
above it and how a person's support set is used:

* ST-F2M variants (`stf2m`): the shipped recipe's `windows` stage (conventional training of
  E's window part, F and C) and `meta` stage (eqs. 6-7), run by the trainer's own stage loops
  at the budget's epochs; adaptation is /adapt's code (`meta.adapt.adapt`). Ablations switch
  one part off: the spatio-temporal layers (gated temporal convolutions and region message
  passing become identities: per-frame features averaged over the window), the fuzzy module,
  or meta-learning (single-level training, then the same head fine-tuning at test: this is
  also the plain fine-tuning baseline). `meta_unseen` meta-trains on people that neither the
  encoder nor the windows stage saw. `single_frame` sees one frame per window and no temporal
  layers, `short_window` half the shipped window; `text_only` never sees a face.
* `protonet` (Snell et al. 2017): the same E trained episodically with the prototypical loss;
  a person's support windows give class prototypes, nearest prototype wins. Needs support.
* `fer_per_frame`: the off-the-shelf FER2013 net's 7 probabilities averaged over the window
  (no training, no adaptation; basic emotion only).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
import time
from typing import Any

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from st_f2m_ros.data.label_noise import add_frame_label_noise
from st_f2m_ros.errors import ConfigError, DataError
from st_f2m_ros.evaluation.experiments.features import FeatureSet, sliding_batch
from st_f2m_ros.meta.adapt import adapt
from st_f2m_ros.meta.tasks import EpisodeSampler
from st_f2m_ros.meta.train_config import TrainConfig, load_train_config
from st_f2m_ros.meta.windows import FeatureBank
from st_f2m_ros.model.config import FER_PROBS
from st_f2m_ros.model.stf2m import STF2MModel
from st_f2m_ros.taxonomy import EMOTIONS, NEUTRAL, class_id

TRAIN_RECIPE = Path(__file__).resolve().parents[3] / 'config' / 'train.yaml'
ENCODER_PREFIXES = ('backbone.', 'region_proj.')


@dataclass(frozen=True)
class Method:
    """One row of the tables: what is trained and how a person's support set is used."""

    name: str
    label: str
    kind: str = 'stf2m'  # stf2m | protonet | fer
    fuzzy: bool = True
    spatiotemporal: bool = True
    meta: bool = True
    meta_unseen: bool = False
    single_frame: bool = False
    text_only: bool = False
    window: int = 0  # frames per window; 0: the encoder checkpoint's (8 = 1 s at 8 Hz)

    @property
    def trains(self) -> bool:
        """Whether fitting trains anything (False: the FER net as it is)."""
        return self.kind != 'fer'


METHODS: dict[str, Method] = {m.name: m for m in (
    Method('st_f2m', 'ST-F2M (ours)'),
    Method('meta_unseen', 'ST-F2M, meta-trained on unseen people', meta_unseen=True),
    Method('no_spatiotemporal', 'w/o spatio-temporal modelling', spatiotemporal=False),
    Method('no_fuzzy', 'w/o fuzzy module (= MAML without fuzzy)', fuzzy=False),
    Method('no_meta', 'w/o meta-learning (= conventional training + head fine-tuning)',
           meta=False),
    Method('protonet', 'ProtoNet on the same features', kind='protonet', fuzzy=False,
           meta=False),
    Method('single_frame', 'single-frame classifier (no temporal modelling)',
           single_frame=True),
    Method('short_window', 'ST-F2M on 0.5 s windows (4 frames)', window=4),
    Method('text_only', 'text only (no face)', text_only=True),
    Method('fer_per_frame', 'FER2013 net per frame (off the shelf, 7-class only)', kind='fer',
           meta=False),
)}  # fmt: skip


def method(name: str) -> Method:
    """The method called `name`; ConfigError listing the known ones."""
    if name not in METHODS:
        raise ConfigError(f'unknown method {name!r}; known: {sorted(METHODS)}')
    return METHODS[name]


def without_vision(fs: FeatureSet) -> FeatureSet:
    """The same clips with no face found anywhere: windows carry text only."""
    clips = [replace(c, face_found=np.zeros(len(c), dtype=bool)) for c in fs.clips]
    return FeatureSet(clips, fs.features)


def fraction_of(fs: FeatureSet, fraction: float) -> FeatureSet:
    """The first `fraction` of the people (Table V: 20 % of the training data)."""
    people = fs.subjects
    return fs.only(people[: max(4, round(fraction * len(people)))])


def with_label_noise(fs: FeatureSet, fraction: float, seed: int) -> FeatureSet:
    """Frame-label noise on every clip (data/label_noise.py, Table V's 30 %)."""
    if fraction <= 0:
        return fs
    return FeatureSet(add_frame_label_noise(fs.clips, fraction, seed), fs.features)


class Fitted:
    """A trained method: predictions before and after seeing a person's support set."""

    def __init__(self, method: Method, model: STF2MModel | None, train_s: float) -> None:
        self.method, self.model, self.train_s = method, model, train_s

    def prepare(self, fs: FeatureSet) -> FeatureSet:
        """The view of a person's data this method sees."""
        return without_vision(fs) if self.method.text_only else fs

    def predict(
        self, query: FeatureSet, support: FeatureSet | None = None
    ) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray | None]]]:
        """Class ids on the query's windows, by phase: {'before': base model, 'after': adapted
        to `support` (only with a support set and a method that adapts)}, each
        {'segments': (true, predicted), 'sliding': (true, predicted)}: one centred window per
        segment, and a window ending at every frame. The query's windows are built once for
        both phases. A prediction is None where the method cannot predict that way (ProtoNet
        without a support set)."""
        q = self.prepare(query)
        model = self.model
        assert model is not None
        model.eval()
        bank = q.bank(model)
        batches = {
            'segments': bank.batch(np.arange(len(bank)))[0],
            'sliding': sliding_batch(q, model),
        }
        out = {'before': self._on(batches, None)}
        if support is not None and self.method.kind != 'fer':
            out['after'] = self._on(batches, self.prepare(support))
        return out

    def _on(
        self, batches: dict[str, Any], support: FeatureSet | None
    ) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
        """Predictions on prepared query batches, with the base model or adapted to `support`."""
        model = self.model
        assert model is not None
        labels = {k: wb.labels.numpy() for k, wb in batches.items()}
        if self.method.kind == 'fer':
            return {k: (labels[k], _fer_predict(wb)) for k, wb in batches.items()}
        if self.method.kind == 'protonet':
            if support is None:
                return {k: (labels[k], None) for k in batches}
            sbank = support.bank(model)
            sb = sbank.batch(np.arange(len(sbank)))[0]
            return {k: (labels[k], _proto_predict(model, sb, wb)) for k, wb in batches.items()}
        params = None
        if support is not None:
            params = adapt(model, support.clips, features=support.features, cv=False).params
        out = {}
        with torch.no_grad():
            for k, wb in batches.items():
                logits = model.classify(*wb.astuple()[:4], params=params).logits
                out[k] = (labels[k], logits.argmax(-1).numpy())
        return out


_FER_LUT = np.array([class_id(NEUTRAL)] + [class_id(e, 'medium') for e in EMOTIONS])


def _fer_predict(wb: Any) -> np.ndarray:
    """The FER net's window-mean probabilities -> basic emotion (medium intensity if any)."""
    probs = wb.feats[:, :, 0, -FER_PROBS:].mean(1)  # the same in every region
    return _FER_LUT[probs.argmax(-1).numpy()]


def _proto_logits(h_s: torch.Tensor, y_s: torch.Tensor, h_q: torch.Tensor) -> tuple[Any, Any]:
    classes = torch.unique(y_s)
    protos = torch.stack([h_s[y_s == c].mean(0) for c in classes])
    return -torch.cdist(h_q, protos).pow(2), classes


def _proto_predict(model: STF2MModel, sb: Any, qb: Any) -> np.ndarray:
    with torch.no_grad():
        hs = model.represent(*sb.astuple()[:4])
        hq = model.represent(*qb.astuple()[:4])
        logits, classes = _proto_logits(hs, sb.labels, hq)
    return classes[logits.argmax(-1)].numpy()


# -- fitting -------------------------------------------------------------------------------
def recipe(budget: Any, seed: int, out_dir: Path, model_cfg: Any) -> TrainConfig:
    """The shipped recipe (config/train.yaml) at the budget's epochs, for cached features."""
    cfg = load_train_config(TRAIN_RECIPE)
    cfg = replace(cfg, seed=seed, threads=torch.get_num_threads(), out_dir=str(out_dir),
                  export=None, model=model_cfg)  # fmt: skip
    if not model_cfg.component_input:  # the recipe's absorbed components need components
        cfg.absorb_components = 0.0
    cfg.validate()
    cfg.windows = replace(cfg.windows, epochs=budget.windows_epochs)
    cfg.meta = replace(cfg.meta, epochs=budget.meta_epochs, iterations=budget.meta_iterations)
    return cfg


def build_model(m: Method, encoder: STF2MModel, alpha: float, beta: float) -> STF2MModel:
    """Method `m`'s untrained model above `encoder`'s frozen frame part (weights copied)."""
    window = 1 if m.single_frame else (m.window or encoder.config.window)
    cfg = replace(encoder.config, fuzzy=m.fuzzy, fuzzy_alpha=alpha, fuzzy_beta=beta,
                  window=window)  # fmt: skip
    model = STF2MModel(cfg)
    model._text_encoder = encoder.text_encoder  # one (memoised) sentence encoder per run
    state = {k: v for k, v in encoder.state_dict().items() if k.startswith(ENCODER_PREFIXES)}
    model.load_state_dict(state, strict=False)
    if not m.spatiotemporal or m.single_frame:
        model.temporal1, model.temporal2 = nn.Identity(), nn.Identity()
    if not m.spatiotemporal:
        model.spatial = nn.Identity()
    return model


def fit(
    m: Method,
    encoder: STF2MModel,
    train: FeatureSet,
    meta_people: FeatureSet | None,
    budget: Any,
    seed: int,
    work_dir: Path,
    alpha: float = 0.4,
    beta: float = 0.4,
) -> Fitted:
    """Train method `m` above the frozen encoder on `train` (validation: its last person)."""
    t0 = time.perf_counter()
    if m.kind == 'fer':
        return Fitted(m, encoder, 0.0)
    from st_f2m_ros.meta.trainer import Trainer

    torch.manual_seed(seed)
    model = build_model(m, encoder, alpha, beta)
    if m.text_only:
        train = without_vision(train)
        meta_people = without_vision(meta_people) if meta_people is not None else None
    people = train.subjects
    fit_set, val_set = train.only(people[:-1]), train.only(people[-1:])
    if m.kind == 'protonet':
        _train_protonet(model, fit_set.bank(model), budget.protonet_iterations, seed)
        model.eval()
        return Fitted(m, model, time.perf_counter() - t0)
    cfg = recipe(budget, seed, work_dir, model.config)
    if not m.meta:
        cfg.meta = replace(cfg.meta, epochs=0)
    trainer = Trainer(cfg, model=model)
    trainer.train_clips, trainer.val_clips = fit_set.clips, val_set.clips
    trainer.train_bank, trainer.val_bank = fit_set.bank(model), val_set.bank(model)
    trainer._windows_stage()
    if m.meta and m.meta_unseen:
        if meta_people is None:
            raise ConfigError('meta_unseen needs the meta-training people')
        trainer.train_bank = meta_people.bank(model)
    trainer._meta_stage()
    trainer.log.close()
    model.eval()
    return Fitted(m, model, time.perf_counter() - t0)


def _train_protonet(model: STF2MModel, bank: FeatureBank, iterations: int, seed: int) -> None:
    """Episodic prototypical loss on E: the recipe's meta episodes (5-way 1-shot 1-query)."""
    from st_f2m_ros.meta.train_setup import set_trainable

    set_trainable(model, 'meta')
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-4)
    try:
        sampler = EpisodeSampler(bank.groups, 5, 1, 1, per_subject=True, seed=seed)
    except DataError:  # too few segments per person: pool the people, as the trainer does
        sampler = EpisodeSampler(bank.groups, 5, 1, 1, per_subject=False, seed=seed)
    rng = np.random.default_rng([seed, 5])
    model.train()
    for _ in range(iterations):
        eps = [sampler.sample() for _ in range(4)]
        sup, qry = bank.episode_batch(eps, rng)
        loss = torch.zeros(())
        for t in range(len(eps)):
            hs = model.represent(*(x[t] for x in sup.astuple()[:4]))
            hq = model.represent(*(x[t] for x in qry.astuple()[:4]))
            logits, classes = _proto_logits(hs, sup.labels[t], hq)
            target = (qry.labels[t][:, None] == classes[None]).float().argmax(-1)
            loss = loss + F.cross_entropy(logits, target)
        opt.zero_grad(set_to_none=True)
        (loss / len(eps)).backward()
        opt.step()
