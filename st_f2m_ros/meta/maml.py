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
"""Bi-level meta-optimisation of ST-F2M (paper eqs. 6-7) written with torch.func.

Inner loop (eq. 6): on a task's support set, the inner parameters theta' are updated by a few
gradient steps theta' = theta' - a * grad L_support(theta'), starting from the shared
meta-parameters. Outer loop (eq. 7): the query-set loss of the adapted parameters, averaged
over the tasks of a meta-batch, is minimised over the shared parameters with Adam (VI-A1).

* Second order differentiates through the inner updates (`torch.func.grad` composes with
  autograd); first order (FOMAML) treats the inner gradients as constants, which is cheaper and
  what long inner loops need.
* The inner parameter set is configurable: 'head' (C only, ANIL-like and the run-time
  default), 'head+fuzzy' (C and F, incl. the membership functions) or 'all' (everything after
  the frozen per-frame backbone). The part of the network below the inner set is evaluated
  once per task outside the loop.
* Optional learned per-parameter inner learning rates (Meta-SGD) live in `model.inner_lr`.
* Tasks of a meta-batch have equal shapes (N-way K-shot), so the whole inner loop and query
  loss is `torch.func.vmap`-ed over tasks.

How we read "meta-recurrent neural networks" (V-B4): the paper gives no recurrent cell and its
equations 6-7 are MAML's. We read the phrase as the unrolled inner loop seen as a recurrence
over adaptation steps (the view of Ravi & Larochelle's LSTM meta-learner, of which MAML with
learned step sizes, Meta-SGD, is the simplest cell): the state is the adapted parameters, the
input is the support gradient, and the same update is applied step after step. We therefore
implement MAML / Meta-SGD with an unrolled inner loop and add no RNN module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad, vmap
import torch.nn.functional as F

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.model.config import INNER_SCOPES
from st_f2m_ros.model.stf2m import STF2MModel, in_scope, lr_key

Params = dict[str, torch.Tensor]


@dataclass
class WindowBatch:
    """A batch of windows with labels; tensors share the leading dimension (or [tasks, n])."""

    feats: torch.Tensor  # [n, T, R, D]
    text: torch.Tensor  # [n, Dt]
    vision_mask: torch.Tensor  # [n]
    text_mask: torch.Tensor  # [n]
    labels: torch.Tensor  # [n] int64

    def flat(self) -> WindowBatch:
        """Merge a leading [tasks, n] into [tasks * n]."""
        return WindowBatch(*(t.flatten(0, 1) for t in self.astuple()))

    def astuple(self) -> tuple[torch.Tensor, ...]:
        """The tensors in field order."""
        return self.feats, self.text, self.vision_mask, self.text_mask, self.labels


class _FromH(nn.Module):
    """F then C from the representation h; shares the model's modules (same parameter names)."""

    def __init__(self, model: STF2MModel) -> None:
        super().__init__()
        self.fuzzy = model.fuzzy
        self.head = model.head

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.fuzzy is None:
            return self.head(h)
        return self.head(torch.cat([h, self.fuzzy(h).features()], dim=1))


class _Head(nn.Module):
    def __init__(self, model: STF2MModel) -> None:
        super().__init__()
        self.head = model.head

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(z)


class _All(nn.Module):
    def __init__(self, model: STF2MModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return self.model(*x)[0]


class InnerLoop:
    """The inner loop (eq. 6) for one model and one inner-parameter scope."""

    def __init__(self, model: STF2MModel, scope: str = 'head') -> None:
        if scope not in INNER_SCOPES:
            raise ConfigError(f'inner scope must be one of {INNER_SCOPES}, got {scope!r}')
        if scope != 'head' and scope != 'all' and model.fuzzy is None:
            scope = 'head'  # no F to adapt: same as head only
        self.model, self.scope = model, scope
        names = [n for n, p in model.named_parameters() if in_scope(n, scope)]
        self.names = names
        if scope == 'head':
            self._fn: nn.Module = _Head(model)
        elif scope == 'head+fuzzy':
            self._fn = _FromH(model)
        else:
            self._fn = _All(model)
            self.names = ['model.' + n for n in names]
        self._model_names = names

    def initial(self) -> Params:
        """The shared (meta-)parameters the inner loop starts from, in the loop's naming."""
        params = dict(self.model.named_parameters())
        return {k: params[m] for k, m in zip(self.names, self._model_names)}

    def to_model_names(self, params: Params) -> Params:
        """Rename loop parameters to the model's names (for `model.classify(params=...)`)."""
        rename = dict(zip(self.names, self._model_names))
        return {rename[k]: v for k, v in params.items()}

    def prefix(self, batch: WindowBatch) -> object:
        """What the inner loop sees: computed once per task with the shared parameters."""
        args = (batch.feats, batch.text, batch.vision_mask, batch.text_mask)
        if self.scope == 'all':
            return args
        h = self.model.represent(*args)
        if self.scope == 'head+fuzzy':
            return h
        return self.model.fuzzify(h)[0]

    def logits(self, params: Params, x: object) -> torch.Tensor:
        """Class scores of the inner-loop input `x` under `params`."""
        return functional_call(self._fn, params, (x,), strict=False)

    def loss(self, params: Params, x: object, y: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy (the bracket of eqs. 6-7)."""
        return F.cross_entropy(self.logits(params, x), y)

    def learning_rates(self, lr: float) -> dict[str, torch.Tensor | float]:
        """Per-parameter learned rates (Meta-SGD) where the model has them, else `lr`."""
        lrs = self.model.inner_lr
        out: dict[str, torch.Tensor | float] = {}
        for k, m in zip(self.names, self._model_names):
            out[k] = lrs[lr_key(m)] if lrs is not None and lr_key(m) in lrs else lr
        return out

    def adapt(
        self,
        params: Params,
        x: object,
        y: torch.Tensor,
        steps: int,
        lr: float,
        first_order: bool = False,
    ) -> Params:
        """Run `steps` gradient steps of eq. 6 from `params` on (x, y)."""
        lrs = self.learning_rates(lr)
        grad_fn: Callable[..., Params] = grad(self.loss)
        for _ in range(steps):
            g = grad_fn(params, x, y)
            if first_order:
                g = {k: v.detach() for k, v in g.items()}
            params = {k: params[k] - lrs[k] * g[k] for k in params}
        return params


class MetaLearner:
    """Outer loop (eq. 7): query loss after inner adaptation, vmapped over a meta-batch."""

    def __init__(
        self,
        model: STF2MModel,
        scope: str = 'head',
        steps: int = 5,
        lr: float = 0.5,
        first_order: bool = False,
    ) -> None:
        self.inner = InnerLoop(model, scope)
        self.steps, self.lr, self.first_order = steps, lr, first_order

    def _task(
        self, params: Params, xs: object, ys: torch.Tensor, xq: object, yq: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        adapted = self.inner.adapt(params, xs, ys, self.steps, self.lr, self.first_order)
        logits = self.inner.logits(adapted, xq)
        return F.cross_entropy(logits, yq), (logits.argmax(-1) == yq).float().mean()

    def outer_loss(
        self, support: WindowBatch, query: WindowBatch
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean query loss, mean query accuracy) of a meta-batch [tasks, n, ...].

        Backpropagate the loss into the shared parameters with any optimiser.
        """
        n_tasks, ns = support.labels.shape
        nq = query.labels.shape[1]
        both = WindowBatch(
            *(torch.cat([s, q], dim=1) for s, q in zip(support.astuple(), query.astuple()))
        ).flat()
        x = self.inner.prefix(both)

        def split(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            t = t.reshape(n_tasks, ns + nq, *t.shape[1:])
            return t[:, :ns], t[:, ns:]

        if isinstance(x, tuple):
            parts = [split(t) for t in x]
            xs, xq = tuple(p[0] for p in parts), tuple(p[1] for p in parts)
        else:
            xs, xq = split(x)
        params = self.inner.initial()
        run = vmap(self._task, in_dims=(None, 0, 0, 0, 0), randomness='different')
        losses, accs = run(params, xs, support.labels, xq, query.labels)
        return losses.mean(), accs.mean()
