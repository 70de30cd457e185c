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
"""Membership functions: hand-computed values, the range knob, gradients, bounded outputs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest
import torch

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.fuzzy.membership import SHAPES, MembershipBank, membership, nearest_spacing


def _mu(x: float, shape: str, hwhm: float = 0.4, centre: float = 0.0) -> float:
    return float(membership(torch.tensor(x), torch.tensor(centre), torch.tensor(hwhm), shape))


def test_hand_computed_values() -> None:
    # triangular: support half-width 2w = 0.8 -> mu(0.2) = 1 - 0.2 / 0.8
    assert _mu(0.2, 'triangular') == pytest.approx(0.75)
    assert _mu(0.9, 'triangular') == 0.0
    # trapezoidal: core |x| <= w/2 = 0.2, support 3w/2 = 0.6
    assert _mu(0.1, 'trapezoidal') == pytest.approx(1.0)
    assert _mu(0.5, 'trapezoidal') == pytest.approx(0.25)
    # gaussian: 2 ** -(x / w) ** 2
    assert _mu(0.8, 'gaussian') == pytest.approx(2.0**-4)
    # generalised bell, b = 2: 1 / (1 + (x / w) ** 4)
    assert _mu(0.8, 'bell') == pytest.approx(1.0 / 17.0)


@pytest.mark.parametrize('shape', SHAPES)
def test_every_shape_is_one_at_the_centre_and_half_at_the_range(shape: str) -> None:
    assert _mu(0.3, shape, centre=0.3) == pytest.approx(1.0)
    assert _mu(0.3 + 0.25, shape, hwhm=0.25, centre=0.3) == pytest.approx(0.5)
    assert _mu(0.3 - 0.25, shape, hwhm=0.25, centre=0.3) == pytest.approx(0.5)


def test_unknown_shape_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match='unknown membership shape'):
        MembershipBank(torch.tensor([0.0, 1.0]), shape='cosine')


def test_spacing_is_the_distance_to_the_nearest_valid_neighbour() -> None:
    centres = torch.tensor([[-1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    assert nearest_spacing(centres, mask).tolist() == [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    assert nearest_spacing(torch.tensor([0.2, 0.5, 0.8]), torch.ones(3, dtype=torch.bool))[
        0
    ] == pytest.approx(0.3)


def test_range_knob_scales_every_width_and_rejects_nonsense() -> None:
    bank = MembershipBank(torch.tensor([0.2, 0.5, 0.8]), shape='triangular', range_=0.4)
    assert bank.hwhm().tolist() == pytest.approx([0.12, 0.12, 0.12])
    bank.set_range(0.8)
    assert bank.range_value == pytest.approx(0.8)
    assert bank.hwhm().tolist() == pytest.approx([0.24, 0.24, 0.24])
    for bad in (0.0, -0.1, float('nan'), float('inf')):
        with pytest.raises(ConfigError, match='positive'):
            bank.set_range(bad)


def test_padded_terms_give_zero_and_output_shape() -> None:
    centres = torch.tensor([[-1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    bank = MembershipBank(centres, mask)
    mu = bank(torch.zeros(4, 2))
    assert mu.shape == (4, 2, 3)
    assert torch.all(mu[:, 1, 2] == 0.0)
    assert mu[0, 0].tolist() == pytest.approx([2.0 ** -(1 / 0.16), 1.0, 2.0 ** -(1 / 0.16)])


def test_learnable_parameters_get_gradients_and_fixed_ones_are_buffers() -> None:
    bank = MembershipBank(torch.tensor([0.0, 1.0]), shape='bell', learnable=True)
    assert {n for n, _ in bank.named_parameters()} == {'centres', 'log_scale'}
    bank(torch.tensor([[0.3], [0.7]])).sum().backward()
    assert bank.centres.grad is not None and torch.all(bank.centres.grad != 0)
    assert bank.log_scale.grad is not None and torch.all(bank.log_scale.grad != 0)
    fixed = MembershipBank(torch.tensor([0.0, 1.0]), learnable=False)
    assert list(fixed.parameters()) == []
    assert set(fixed.state_dict()) == {'centres', 'log_scale'}  # range comes from the config


@settings(max_examples=50, deadline=None)
@given(
    x=st.floats(min_value=-1e30, max_value=1e30, allow_nan=False),
    shape=st.sampled_from(SHAPES),
    rng=st.floats(min_value=1e-3, max_value=10.0),
)
def test_memberships_stay_in_unit_interval_for_any_input(x: float, shape: str, rng: float) -> None:
    bank = MembershipBank(torch.tensor([-1.0, 0.0, 1.0]), shape=shape, range_=rng)
    mu = bank(torch.tensor([x]))
    assert torch.all(torch.isfinite(mu))
    assert torch.all((mu >= 0.0) & (mu <= 1.0))
