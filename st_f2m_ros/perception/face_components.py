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
"""The twelve Table II components measured from the 468-point mesh, against a neutral face.

Which mesh points each component uses is data (`resources/face_components.yaml`, one line of
rationale each); this module evaluates it on pose-free landmarks (face_geometry.frontalize),
divides by the inter-ocular distance so the measure does not depend on face size, and
reads it against the person's neutral measure, because resting faces differ more between
people (thick lips, low brows) than one person's expressions do. `NeutralBaseline` learns
that neutral online from calm stretches or takes it from neutral support clips.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
import warnings

import numpy as np
import yaml

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.resources import resource_path
from st_f2m_ros.taxonomy import COMPONENTS, NUM_COMPONENTS, UNIPOLAR_COMPONENTS

TERM_KINDS = ('height', 'width', 'distance')
REGIONS = ('brows', 'eyes', 'nose', 'mouth')
SIDES = ('left', 'right', 'both')
N_MESH = 468


@dataclass(frozen=True)
class Term:
    """One weighted geometric term: `kind` between the means of `points` and `ref`."""

    kind: str
    points: tuple[int, ...]
    ref: tuple[int, ...]
    weight: float = 1.0


@dataclass(frozen=True)
class ComponentSpec:
    """How one Table II component is measured (see the YAML file's header)."""

    name: str
    rationale: str
    terms: tuple[Term, ...]
    full_scale: float
    prior: float
    region: str
    side: str
    unipolar: bool


@dataclass(frozen=True)
class ComponentSet:
    """All twelve specs in Table II order, the IOD eye corners and the occlusion points."""

    specs: tuple[ComponentSpec, ...]
    iod_right: tuple[int, ...]
    iod_left: tuple[int, ...]
    occlusion: dict[str, tuple[int, ...]]

    @cached_property
    def compiled(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The terms as matrices, so that one frame's measures are two small products."""
        return _compile(self)

    @property
    def priors(self) -> np.ndarray:
        """Raw neutral measures of the canonical face [12] (used until a baseline exists)."""
        return np.array([s.prior for s in self.specs], dtype=np.float64)


def _indices(value: object, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f'{where}: expected a non-empty list of mesh indices')
    out = []
    for v in value:
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < N_MESH:
            raise ConfigError(f'{where}: {v!r} is not a mesh index 0..{N_MESH - 1}')
        out.append(v)
    return tuple(out)


def _spec(name: str, d: object) -> ComponentSpec:
    if not isinstance(d, dict):
        raise ConfigError(f'component {name}: expected a mapping')
    terms = []
    for i, t in enumerate(d.get('terms') or []):
        where = f'component {name}, term {i}'
        if not isinstance(t, dict) or t.get('kind') not in TERM_KINDS:
            raise ConfigError(f'{where}: kind must be one of {", ".join(TERM_KINDS)}')
        terms.append(
            Term(
                t['kind'],
                _indices(t.get('points'), where + ' points'),
                _indices(t.get('ref'), where + ' ref'),
                float(t.get('weight', 1.0)),
            )
        )
    if not terms:
        raise ConfigError(f'component {name}: no terms')
    try:
        full_scale, prior = float(d['full_scale']), float(d['prior'])
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f'component {name}: full_scale and prior must be numbers') from err
    if full_scale <= 0:
        raise ConfigError(f'component {name}: full_scale must be > 0')
    if d.get('region') not in REGIONS or d.get('side') not in SIDES:
        raise ConfigError(f'component {name}: region in {REGIONS} and side in {SIDES} needed')
    if not str(d.get('rationale', '')).strip():
        raise ConfigError(f'component {name}: a one-line rationale is required')
    return ComponentSpec(
        name,
        str(d['rationale']),
        tuple(terms),
        full_scale,
        prior,
        d['region'],
        d['side'],
        name in UNIPOLAR_COMPONENTS,
    )


def load_component_specs(path: str | Path | None = None) -> ComponentSet:
    """Load and validate the component file (default: the packaged face_components.yaml).

    Raises:
        ConfigError: naming the component and the problem.
    """
    path = Path(path) if path is not None else resource_path('face_components.yaml')
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f'{path}: cannot read component file ({err})') from err
    comps = (doc or {}).get('components')
    if not isinstance(comps, dict) or list(comps) != list(COMPONENTS):
        raise ConfigError(f'{path}: components must be the 12 Table II names in order')
    iod = doc.get('iod') or {}
    occ = doc.get('occlusion') or {}
    if 'reference' not in occ:
        raise ConfigError(f'{path}: occlusion needs a reference point list')
    return ComponentSet(
        tuple(_spec(n, comps[n]) for n in COMPONENTS),
        _indices(iod.get('right'), 'iod right'),
        _indices(iod.get('left'), 'iod left'),
        {k: _indices(v, f'occlusion {k}') for k, v in occ.items()},
    )


def _compile(cset: ComponentSet) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Term point averages `points`, `ref` [T+1, 468] (last: the IOD), kinds, weights [12, T+1]."""
    terms = [(i, t) for i, s in enumerate(cset.specs) for t in s.terms]
    a = np.zeros((len(terms) + 1, N_MESH))
    b = np.zeros((len(terms) + 1, N_MESH))
    kinds = np.array([TERM_KINDS.index(t.kind) for _, t in terms] + [2])
    w = np.zeros((NUM_COMPONENTS, len(terms) + 1))
    for j, (i, t) in enumerate(terms):
        np.add.at(a[j], list(t.points), 1.0 / len(t.points))
        np.add.at(b[j], list(t.ref), 1.0 / len(t.ref))
        w[i, j] = t.weight
    np.add.at(a[-1], list(cset.iod_left), 1.0 / len(cset.iod_left))  # last row: the IOD
    np.add.at(b[-1], list(cset.iod_right), 1.0 / len(cset.iod_right))
    return a, b, kinds, w


def raw_measures(frontal: np.ndarray, cset: ComponentSet) -> np.ndarray:
    """Raw component measures [12] in IOD units from pose-free landmarks [468, >=2]."""
    a, b, kinds, w = cset.compiled
    p = np.asarray(frontal, dtype=np.float64)[:, :2]
    d = a @ p - b @ p  # [T + 1, 2]
    vals = np.where(
        kinds == 0, d[:, 1], np.where(kinds == 1, np.abs(d[:, 0]), np.hypot(d[:, 0], d[:, 1]))
    )
    return (w[:, :-1] @ vals[:-1]) / max(float(vals[-1]), 1e-6)


def to_components(raw: np.ndarray, neutral: np.ndarray, cset: ComponentSet) -> np.ndarray:
    """Table II values [12] (bipolar [-1, 1], unipolar [0, 1]) of raw measures vs neutral."""
    scale = np.array([s.full_scale for s in cset.specs])
    lo = np.array([0.0 if s.unipolar else -1.0 for s in cset.specs])
    return np.clip((np.asarray(raw) - np.asarray(neutral)) / scale, lo, 1.0).astype(np.float32)


@dataclass(frozen=True)
class BaselineConfig:
    """Online neutral estimation.

    Attributes:
        calm_frames: a frame is calm when the landmarks moved less than `calm_motion` in each
            of the last `calm_frames` frames.
        calm_motion: mean landmark displacement per frame, in IOD units.
        min_samples: calm samples a component needs before its online neutral replaces the
            prior.
        max_samples: calm samples kept per component (the most recent); the neutral is their
            median, so that occasional calm expressions (a held smile) do not become neutral.
        online_after_support: keep learning online after `set_from_support` (default: no,
            the labelled neutral clips are trusted more).
    """

    calm_frames: int = 8
    calm_motion: float = 0.012
    min_samples: int = 30
    max_samples: int = 900
    online_after_support: bool = False


class NeutralBaseline:
    """A person's neutral raw measures [12]: prior -> online from calm frames, or from support.

    Not thread-safe; one per tracked person. `state()` / `from_state()` persist it (for
    example with the person's adaptation).
    """

    REFRESH = 10

    def __init__(self, cset: ComponentSet, config: BaselineConfig | None = None) -> None:
        self.cset = cset
        self.config = config or BaselineConfig()
        self._samples = [deque(maxlen=self.config.max_samples) for _ in range(NUM_COMPONENTS)]
        self._support: np.ndarray | None = None
        self._prev: np.ndarray | None = None
        self._calm_run = 0
        self._cache: np.ndarray | None = None
        self._added = 0

    @property
    def source(self) -> str:
        """'support', 'online' (every component learnt), 'partial' or 'prior'."""
        if self._support is not None:
            return 'support'
        ready = self.ready_mask()
        return 'online' if ready.all() else 'partial' if ready.any() else 'prior'

    def ready_mask(self) -> np.ndarray:
        """bool [12]: components whose neutral comes from this person, not the prior."""
        if self._support is not None:
            return np.isfinite(self._support)
        return np.array([len(q) >= self.config.min_samples for q in self._samples])

    @property
    def neutral(self) -> np.ndarray:
        """Neutral raw measures [12]: per component support, else online median, else prior.

        The medians are refreshed every `REFRESH` new samples, not on every frame.
        """
        if self._cache is not None and self._added < self.REFRESH:
            return self._cache.copy()
        out = self.cset.priors.copy()
        for i, q in enumerate(self._samples):
            if len(q) >= self.config.min_samples:
                out[i] = float(np.median(np.fromiter(q, float)))
        if self._support is not None:
            ok = np.isfinite(self._support)
            out[ok] = self._support[ok]
        self._cache, self._added = out, 0
        return out.copy()

    def update(self, raw: np.ndarray, frontal: np.ndarray, reliable: np.ndarray) -> bool:
        """Feed one frame's raw measures [12], landmarks and reliable mask; True if calm.

        Only reliable components of calm frames are learnt (a masked mouth teaches nothing).
        """
        p = np.asarray(frontal, dtype=np.float64)[:, :2]
        iod = np.linalg.norm(
            p[list(self.cset.iod_left)].mean(0) - p[list(self.cset.iod_right)].mean(0)
        )
        if self._prev is not None and self._prev.shape == p.shape:
            motion = float(np.linalg.norm(p - self._prev, axis=1).mean() / max(iod, 1e-6))
            self._calm_run = self._calm_run + 1 if motion < self.config.calm_motion else 0
        self._prev = p
        calm = self._calm_run >= self.config.calm_frames
        if calm and (self._support is None or self.config.online_after_support):
            for i in np.nonzero(np.asarray(reliable, bool))[0]:
                self._samples[i].append(float(raw[i]))
                if len(self._samples[i]) == self.config.min_samples:
                    self._cache = None  # a component just became ready
            self._added += 1
        return calm

    def set_from_support(self, raws: np.ndarray, reliable: np.ndarray | None = None) -> None:
        """Take the neutral from neutral support frames: raw measures [N, 12] (median).

        `reliable` [N, 12] masks frames per component; a component with no reliable frame
        keeps its online / prior neutral.
        """
        r = np.asarray(raws, dtype=np.float64).reshape(-1, NUM_COMPONENTS)
        if reliable is not None:
            r = np.where(np.asarray(reliable, bool).reshape(r.shape), r, np.nan)
        if r.shape[0] == 0:
            raise ConfigError('set_from_support needs at least one neutral frame')
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)  # all-NaN columns stay NaN
            med = np.nanmedian(r, axis=0)
        self._support = med
        self._cache = None

    def reset(self) -> None:
        """Forget everything learnt (a new person)."""
        for q in self._samples:
            q.clear()
        self._support = None
        self._prev = None
        self._calm_run = 0
        self._cache = None

    def state(self) -> dict[str, object]:
        """A JSON-able snapshot: the neutral, its source and the per-component readiness."""
        return {
            'neutral': [float(v) for v in self.neutral],
            'ready': [bool(v) for v in self.ready_mask()],
            'source': self.source,
        }

    @classmethod
    def from_state(
        cls, state: dict[str, object], cset: ComponentSet, config: BaselineConfig | None = None
    ) -> NeutralBaseline:
        """Restore a persisted neutral as if it came from support clips (ready components)."""
        b = cls(cset, config)
        neutral = np.asarray(state['neutral'], dtype=np.float64)
        ready = np.asarray(state.get('ready', [True] * NUM_COMPONENTS), bool)
        b._support = np.where(ready, neutral, np.nan)
        b._cache = None
        return b
