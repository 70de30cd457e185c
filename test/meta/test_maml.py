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
"""Bi-level optimisation (eqs. 6-7) with torch.func: gradients, orders, scopes, learning."""

from __future__ import annotations

import pytest
import torch

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.meta.maml import InnerLoop, MetaLearner, WindowBatch
from st_f2m_ros.model.config import STF2MConfig
from st_f2m_ros.model.stf2m import STF2MModel, in_scope

SMALL = dict(backbone='resnet18_quarter', crop_size=64, window=4, text_encoder='hashing')
N_WAY, K, Q = 5, 2, 3


class FeatureWorld:
    """Per-frame features of people whose expressions of a class differ person by person.

    Class c of subject s looks like prototype[perm_s(c)] plus noise: a model that ignores the
    person cannot beat chance, one that adapts to a few labelled windows can.
    """

    def __init__(self, r: int, d: int, t: int, seed: int = 0) -> None:
        self.g = torch.Generator().manual_seed(seed)
        self.r, self.d, self.t = r, d, t
        self.protos = torch.randn(N_WAY, r, d, generator=self.g)
        self.noise = 0.5

    def tasks(self, n_tasks: int) -> tuple[WindowBatch, WindowBatch]:
        """(support, query) of `n_tasks` N-way episodes, each task one new person."""
        perms = [torch.randperm(N_WAY, generator=self.g) for _ in range(n_tasks)]
        out = []
        for per_class in (K, Q):
            n = N_WAY * per_class
            y = torch.arange(N_WAY).repeat_interleave(per_class)
            feats = []
            for perm in perms:
                x = self.protos[perm[y]][:, None].expand(-1, self.t, -1, -1)
                feats.append(x + self.noise * torch.randn(x.shape, generator=self.g))
            out.append(
                WindowBatch(
                    torch.stack(feats),
                    torch.zeros(n_tasks, n, 384),
                    torch.ones(n_tasks, n),
                    torch.zeros(n_tasks, n),
                    (y + 1).repeat(n_tasks, 1),  # class ids 1..5 of the 19-way head
                )
            )
        return out[0], out[1]


def _model(**kw: object) -> STF2MModel:
    torch.manual_seed(0)
    return STF2MModel(STF2MConfig(**SMALL, **kw))


@pytest.mark.parametrize('scope', ['head', 'head+fuzzy', 'all'])
@pytest.mark.parametrize('first_order', [True, False])
def test_outer_gradients_reach_the_shared_parameters(scope: str, first_order: bool) -> None:
    model = _model()
    world = FeatureWorld(*model.feature_shape, model.config.window)
    learner = MetaLearner(model, scope, steps=2, lr=0.05, first_order=first_order)
    loss, acc = learner.outer_loss(*world.tasks(3))
    loss.backward()
    above = [n for n, p in model.named_parameters() if not n.startswith(('backbone', 'region'))]
    missing = [n for n in above if dict(model.named_parameters())[n].grad is None]
    assert missing == []
    assert 0.0 <= float(acc) <= 1.0


def test_second_order_differs_from_first_order() -> None:
    grads = []
    for first_order in (True, False):
        model = _model()
        world = FeatureWorld(*model.feature_shape, model.config.window)
        loss, _ = MetaLearner(model, 'head', 3, 0.1, first_order).outer_loss(*world.tasks(2))
        loss.backward()
        grads.append(
            model.fuzzy.fcis.terms.bank.centres.grad.clone()
            if False
            else model.vision_proj.weight.grad.clone()
        )
    assert not torch.allclose(grads[0], grads[1])


def test_inner_loop_lowers_the_support_loss_without_touching_the_model() -> None:
    model = _model()
    world = FeatureWorld(*model.feature_shape, model.config.window)
    sup, _ = world.tasks(1)
    sup = sup.flat()
    loop = InnerLoop(model, 'head+fuzzy')
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        x = loop.prefix(sup)
    base = {k: v.detach() for k, v in loop.initial().items()}
    adapted = loop.adapt(base, x, sup.labels, steps=10, lr=0.05)
    assert float(loop.loss(adapted, x, sup.labels)) < float(loop.loss(base, x, sup.labels))
    assert any(k.startswith('fuzzy.') for k in adapted)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_meta_sgd_learns_inner_learning_rates() -> None:
    model = _model(inner={'meta_sgd': True, 'lr': 0.05})
    assert set(model.inner_lr) == {'head__weight', 'head__bias'}
    world = FeatureWorld(*model.feature_shape, model.config.window)
    loss, _ = MetaLearner(model, 'head', 2, 0.05).outer_loss(*world.tasks(2))
    loss.backward()
    assert model.inner_lr['head__weight'].grad is not None
    assert model.inner_lr['head__weight'].grad.abs().sum() > 0


def test_unknown_scope_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match='inner scope'):
        InnerLoop(_model(), 'backbone')


def test_scopes_select_parameters() -> None:
    assert in_scope('head.weight', 'head') and not in_scope('fuzzy.x', 'head')
    assert in_scope('fuzzy.x', 'head+fuzzy') and not in_scope(
        'spatial.weight.weight', 'head+fuzzy'
    )
    assert in_scope('spatial.weight.weight', 'all') and not in_scope(
        'backbone.conv1.weight', 'all'
    )


@pytest.mark.slow
def test_meta_training_lifts_query_accuracy_well_above_chance() -> None:
    # Noisy frames and a single inner step: the inner loop alone cannot fit a new person
    # from a random initialisation; meta-training (eq. 7) must learn a representation and
    # head initialisation from which one step suffices.
    torch.manual_seed(0)
    model = _model(dropout=0.0)
    world = FeatureWorld(*model.feature_shape, model.config.window, seed=1)
    test_world = FeatureWorld(*model.feature_shape, model.config.window, seed=1)
    test_world.g.manual_seed(123)  # same expression prototypes, unseen people and episodes
    world.noise = test_world.noise = 3.0
    learner = MetaLearner(model, 'head', steps=1, lr=0.05, first_order=True)
    params = [p for n, p in model.named_parameters() if not n.startswith(('backbone', 'region'))]
    opt = torch.optim.Adam(params, lr=3e-3)
    before = float(learner.outer_loss(*test_world.tasks(8))[1])
    for _ in range(40):
        loss, _ = learner.outer_loss(*world.tasks(4))
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = float(learner.outer_loss(*test_world.tasks(8))[1])
    chance = 1 / N_WAY
    assert before < 2 * chance, before
    assert after > 3 * chance, (before, after)
