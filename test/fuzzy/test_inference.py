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
"""FCIS + FKIS: worked examples, rule firing, shapes, gradients, labelling, extreme inputs."""

from __future__ import annotations

from pathlib import Path
import warnings

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
import numpy as np
import pytest
import torch
from torch.func import functional_call, grad
import yaml

from st_f2m_ros import taxonomy
from st_f2m_ros.errors import ConfigError, DataError
from st_f2m_ros.fuzzy import (
    FuzzyInference,
    fire_components,
    label_from_components,
    load_rule_base,
)
from st_f2m_ros.fuzzy.inference import FEATURE_SETS
from st_f2m_ros.fuzzy.rules import RuleBase, rule_base_from_dict
from st_f2m_ros.resources import resource_path


def _one_coding_per_class() -> RuleBase:
    """The packaged rules without their FACS alternatives: Table II + our six completions."""
    doc = yaml.safe_load(resource_path('fuzzy_rules.yaml').read_text(encoding='utf-8'))
    for rule in doc['rules']:
        rule.pop('alternatives', None)
    return rule_base_from_dict(doc)


RB = _one_coding_per_class()
RB_FULL = load_rule_base()  # with the FACS alternatives (what label_from_components uses)
CODINGS = RB.coding_matrix().astype(np.float32)  # [19, 12], row i = class i
HH = taxonomy.class_id_from_label('happiness_high')


def _one_hot(label: str) -> torch.Tensor:
    v = torch.zeros(1, taxonomy.NUM_CLASSES)
    v[0, taxonomy.class_id_from_label(label)] = 1.0
    return v


def test_worked_example_term_memberships_and_rule_strength() -> None:
    # Happiness-High (110110100111) with the left eyebrow half-raised (0.5 instead of 1).
    comps = CODINGS[HH].copy()
    comps[0] = 0.5
    f = FuzzyInference(8, RB)
    out = f.infer(torch.from_numpy(comps)[None])
    # Gaussian terms, alpha = 0.4, spacing 1: mu = 2 ** -((x - c) / 0.4) ** 2.
    low, normal, raised = out.terms[0, 0].tolist()
    assert normal == pytest.approx(2**-1.5625, abs=1e-6)  # 0.3386
    assert raised == pytest.approx(2**-1.5625, abs=1e-6)
    assert low == pytest.approx(2**-14.0625, abs=1e-6)
    # Softened product: the 11 matching components give 1, the eyebrow gives 0.05 + 0.95 mu.
    assert out.memberships[0, HH - 1].item() == pytest.approx(0.05 + 0.95 * 0.33856, abs=1e-4)
    # Hand number: 0.3716.
    assert out.memberships[0, HH - 1].item() == pytest.approx(0.3716, abs=1e-4)


def test_worked_example_centroid_and_semantic_value() -> None:
    fkis = FuzzyInference(8, RB).fkis
    # One fully fired medium set (symmetric triangle at 0.5) -> centroid 0.5.
    assert fkis.intensity(_one_hot('anger_medium')).item() == pytest.approx(0.5, abs=1e-4)
    # Equal low (0.2) and medium (0.5) sets of the same width -> centroid halfway, 0.35
    # (beta 0.25 keeps the low set inside [0, 1]: at 0.4 it is cut at 0 and the centroid moves).
    fkis.intensity_sets.set_range(0.25)
    both = _one_hot('sadness_low') + _one_hot('sadness_medium')
    assert fkis.intensity(both).item() == pytest.approx(0.35, abs=1e-3)
    # Semantic value: valence x intensity centre of the winning class.
    assert fkis.semantic(_one_hot('happiness_high')).item() == pytest.approx(0.8)
    assert fkis.semantic(_one_hot('anger_medium')).item() == pytest.approx(-0.5)
    assert fkis.semantic(_one_hot('surprise_low')).item() == pytest.approx(0.5 * 0.2)
    assert fkis.semantic(both).item() == pytest.approx(-0.35)
    # Per-emotion centroid: only that emotion's sets count.
    per_emotion = fkis.emotion_intensity(both + _one_hot('anger_high'))
    sad, anger = taxonomy.EMOTIONS.index('sadness'), taxonomy.EMOTIONS.index('anger')
    assert per_emotion[0, sad].item() == pytest.approx(0.35, abs=1e-3)
    assert per_emotion[0, anger].item() == pytest.approx(0.8, abs=1e-3)


def test_every_coding_fed_crisp_fires_its_own_class_highest() -> None:
    strengths, intensity = fire_components(CODINGS, RB)
    assert np.array_equal(strengths.argmax(axis=1), np.arange(taxonomy.NUM_CLASSES))
    assert np.allclose(strengths[np.arange(19), np.arange(19)], 1.0)
    off_diagonal = strengths[~np.eye(19, dtype=bool)]
    assert off_diagonal.max() < 0.07  # the closest other rule differs in at least one component
    centres = np.concatenate([[0.0], RB.intensity_centres()])
    assert np.allclose(intensity[1:], centres[1:], atol=0.01)  # low/medium/high read back
    assert label_from_components(CODINGS).tolist() == list(range(19))


def test_clipped_codings_still_win_except_the_papers_off_scale_tie() -> None:
    # Clipping moves the paper's off-scale -1 (brow crest, mouth) to 0. Disgust-High then
    # differs from Disgust-Medium only by the upper lip: a documented tie.
    strengths, _ = fire_components(CODINGS, RB, clip=True)
    own = strengths[np.arange(19), np.arange(19)]
    assert np.all(own >= strengths.max(axis=1) - 1e-7)
    dh, dm = (taxonomy.class_id_from_label(x) for x in ('disgust_high', 'disgust_medium'))
    assert strengths[dh, dm] == pytest.approx(strengths[dh, dh])
    for label in ('anger_low', 'anger_medium', 'anger_high'):
        cid = taxonomy.class_id_from_label(label)
        assert label_from_components(CODINGS[cid : cid + 1], clip=True)[0] == cid


def _two_coding_rule_base() -> RuleBase:
    """One coding per class, and a second anger_high one: the first with the eyebrow Raised."""
    doc = yaml.safe_load(resource_path('fuzzy_rules.yaml').read_text(encoding='utf-8'))
    for other in doc['rules']:
        other.pop('alternatives', None)
    rule = next(r for r in doc['rules'] if r['class'] == 'anger_high')
    rule['codings'] = [rule.pop('coding'), '1010010(-1)(-1)(-1)(-1)(-1)']
    return rule_base_from_dict(doc)


@pytest.mark.parametrize('eyebrow', [0.25, 0.75])
def test_a_class_with_two_codings_takes_the_strongest_one(eyebrow: float) -> None:
    """Section IV: a class's rules are alternatives, aggregated by max (s-norm), not summed."""
    rb = _two_coding_rule_base()
    ah = taxonomy.class_id_from_label('anger_high')
    assert rb.coding_matrix().shape == (20, 12)
    assert rb.coding_matrix()[ah + 1, 0] == 1  # the second coding: left eyebrow Raised
    comps = CODINGS[ah].copy()
    comps[0] = eyebrow  # between Normal (0, first coding) and Raised (1, second coding)
    strengths, _ = fire_components(comps[None], rb)
    # Gaussian terms at alpha 0.4 (mu = 2 ** -((x - c) / 0.4) ** 2), floor 0.05, the other
    # 11 components crisp on both codings: each rule fires 0.05 + 0.95 mu(eyebrow).
    first = 0.05 + 0.95 * 2.0 ** -(((eyebrow - 0.0) / 0.4) ** 2)
    second = 0.05 + 0.95 * 2.0 ** -(((eyebrow - 1.0) / 0.4) ** 2)
    assert abs(first - second) > 0.6  # the two codings really disagree on this input
    assert strengths[0, ah] == pytest.approx(max(first, second), abs=1e-5)
    assert strengths[0, ah] == pytest.approx(0.05 + 0.95 * 2.0**-0.390625, abs=1e-5)  # 0.7747
    # The other 18 classes fire exactly as with the one-coding rule base.
    single, _ = fire_components(comps[None], RB)
    others = np.arange(taxonomy.NUM_CLASSES) != ah
    assert np.allclose(strengths[0, others], single[0, others], atol=1e-7)
    assert label_from_components(comps[None], rb)[0] == ah
    # The learned model's path (FuzzyInference.infer -> FKIS.classes) aggregates the same way.
    out = FuzzyInference(8, rb).infer(torch.from_numpy(comps)[None])
    assert out.memberships[0, ah - 1].item() == pytest.approx(max(first, second), abs=1e-5)


def test_labels_survive_small_noise_and_fall_back_to_neutral() -> None:
    rng = np.random.default_rng(0)
    noisy = np.repeat(CODINGS, 20, axis=0) + rng.normal(0.0, 0.1, (19 * 20, 12))
    labels = label_from_components(noisy.astype(np.float32))
    assert np.mean(labels == np.repeat(np.arange(19), 20)) > 0.95
    # Nothing can fire above a threshold of 1.0: everything is neutral.
    assert np.all(label_from_components(CODINGS, threshold=1.0) == 0)
    # Halfway between terms everywhere: no rule fires well, neutral by threshold.
    assert label_from_components(np.full((1, 12), 0.5, np.float32))[0] == 0


@settings(max_examples=40, deadline=None)
@given(
    arr=hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 12), st.just(12)),
        elements=st.floats(-3.0, 3.0, width=32),
    ),
    seed=st.integers(0, 2**16),
)
def test_labels_are_valid_ids_and_rowwise(arr: np.ndarray, seed: int) -> None:
    labels = label_from_components(arr)
    assert labels.dtype == np.int64 and labels.shape == (arr.shape[0],)
    assert np.all((labels >= 0) & (labels < taxonomy.NUM_CLASSES))
    order = np.random.default_rng(seed).permutation(arr.shape[0])
    assert np.array_equal(label_from_components(arr[order]), labels[order])


def test_label_from_components_rejects_bad_arrays() -> None:
    with pytest.raises(DataError, match=r'\[N, 12\]'):
        label_from_components(np.zeros((3, 11)))
    with pytest.raises(DataError, match='NaN'):
        label_from_components(np.full((2, 12), np.nan))


@pytest.mark.parametrize('features', list(FEATURE_SETS))
@pytest.mark.parametrize('batch', [1, 7])
def test_shapes_and_out_dim(features: str, batch: int) -> None:
    f = FuzzyInference(16, RB, features=features)
    out = f(torch.randn(batch, 16))
    assert out.components.shape == (batch, 12)
    assert out.memberships.shape == (batch, 18)
    assert out.intensity.shape == (batch,)
    assert out.semantic.shape == (batch, 1)
    assert out.neutral.shape == (batch,)
    assert out.class_strengths().shape == (batch, 19)
    assert out.features().shape == (batch, f.out_dim)
    lo = torch.tensor([c.low for c in RB.components])
    hi = torch.tensor([c.high for c in RB.components])
    assert torch.all((out.components >= lo) & (out.components <= hi))
    assert torch.all((out.intensity >= 0) & (out.intensity <= 1))


def test_gradients_reach_projection_and_membership_parameters() -> None:
    torch.manual_seed(0)
    f = FuzzyInference(16, RB, hidden=8)
    out = f(torch.randn(32, 16))
    loss = out.features().pow(2).sum() + out.neutral.sum()
    loss.backward()
    names = {n for n, p in f.named_parameters()}
    assert {
        'fcis.terms.bank.centres',
        'fcis.terms.bank.log_scale',
        'fkis.intensity_sets.centres',
        'fkis.intensity_sets.log_scale',
    } <= names
    for name, p in f.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_fixed_memberships_leave_only_the_projection_trainable() -> None:
    f = FuzzyInference(16, RB, learnable=False)
    assert {n for n, _ in f.named_parameters()} == {'fcis.proj.weight', 'fcis.proj.bias'}


def test_torch_func_functional_call_and_grad_work() -> None:
    f = FuzzyInference(16, RB)
    h = torch.randn(4, 16)
    params = {k: v.detach() for k, v in f.named_parameters()}
    ref = f(h).features()
    assert torch.allclose(functional_call(f, params, (h,)).features(), ref)

    def loss(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return functional_call(f, p, (h,)).memberships.sum()

    grads = grad(loss)(params)
    assert grads['fcis.proj.weight'].abs().sum() > 0


@pytest.mark.parametrize('tnorm', ['product', 'min'])
@pytest.mark.parametrize('floor', [0.0, 0.05])
@pytest.mark.parametrize('scale', [0.0, 1e4, 1e30])
@pytest.mark.parametrize('shape', ['triangular', 'trapezoidal', 'gaussian', 'bell'])
def test_no_nan_on_extreme_inputs(tnorm: str, floor: float, scale: float, shape: str) -> None:
    f = FuzzyInference(16, RB, tnorm=tnorm, floor=floor, fcis_shape=shape, fkis_shape=shape)
    h = torch.randn(8, 16) * scale
    h[0] = 0.0
    h.requires_grad_(True)
    out = f(h)
    for t in (out.features(), out.intensity, out.neutral, out.terms):
        assert torch.isfinite(t).all()
    out.features().sum().backward()
    assert h.grad is not None and torch.isfinite(h.grad).all()
    for p in f.parameters():
        assert p.grad is None or torch.isfinite(p.grad).all()


def test_set_ranges_changes_the_output_and_is_validated() -> None:
    f = FuzzyInference(16, RB)
    h = torch.randn(4, 16)
    before = f(h).memberships.detach()
    f.set_ranges(alpha=0.8, beta=0.2)
    assert (f.alpha, f.beta) == pytest.approx((0.8, 0.2))
    assert not torch.allclose(f(h).memberships, before)
    with pytest.raises(ConfigError):
        f.set_ranges(alpha=0.0)
    with pytest.raises(ConfigError, match='feature set'):
        FuzzyInference(16, RB, features='everything')


def test_default_constructor_matches_the_contract() -> None:
    f = FuzzyInference(32)
    assert (f.alpha, f.beta) == pytest.approx((0.4, 0.4))
    assert f.out_dim == 32 and f.in_dim == 32
    assert f.rule_base.rules[0].label == 'neutral'


def test_onnx_export_matches_pytorch(tmp_path: Path) -> None:
    """F exports to ONNX (the runtime's fast backend) and ONNX Runtime reproduces it."""
    ort = pytest.importorskip('onnxruntime')

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.f = FuzzyInference(16, RB)

        def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            out = self.f(h)
            return out.features(), out.intensity

    model = Wrapper().eval()
    path = tmp_path / 'fuzzy.onnx'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(
            model,
            (torch.randn(2, 16),),
            str(path),
            input_names=['h'],
            dynamic_axes={'h': {0: 'batch'}},
            dynamo=False,
        )
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    h = torch.randn(5, 16)
    features, intensity = session.run(None, {'h': h.numpy()})
    with torch.no_grad():
        ref_features, ref_intensity = model(h)
    np.testing.assert_allclose(features, ref_features.numpy(), atol=1e-5)
    np.testing.assert_allclose(intensity, ref_intensity.numpy(), atol=1e-5)
