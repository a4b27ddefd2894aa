"""The von Mises factor passes ganforge.testing's latent-factor contract, plus circle-specific checks."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import Tensor
from torch.distributions import Distribution, Uniform, VonMises

import ganforge_vonmises
from ganforge.testing import LatentFactorContract

PI = torch.tensor(math.pi, dtype=torch.float32).item()  # π as float32 rounds it: the largest valid value


class TestUniformAngle(LatentFactorContract):
    plugin = ganforge_vonmises
    kind = "vonmises"
    options: dict[str, Any] = {"prior": "uniform"}

    def in_support(self, factor: Any, values: Tensor) -> Tensor:
        return (values >= -PI) & (values <= PI) & (values.dtype == torch.float32)

    def prior(self, factor: Any) -> Distribution:
        return Uniform(-math.pi, math.pi)

    def posterior(self, factor: Any, params: Tensor) -> Distribution:
        unit, kappa = factor.direction_concentration(params)
        return VonMises(torch.atan2(unit[:, 1], unit[:, 0]), kappa)


class TestVonMisesAngle(TestUniformAngle):
    options = {"prior": "vonmises", "mu": 2.5, "kappa": 4.0}

    def prior(self, factor: Any) -> Distribution:
        return VonMises(torch.tensor(factor.mu), torch.tensor(factor.kappa))

    def test_sample_circular_mean_and_spread(self) -> None:
        f = self.make_factor()
        v = self.draw(f, 20000).double()
        resultant = torch.stack([v.cos().mean(), v.sin().mean()])
        expected_length = torch.special.i1e(torch.tensor(4.0)) / torch.special.i0e(torch.tensor(4.0))
        assert math.atan2(resultant[1], resultant[0]) == pytest.approx(2.5, abs=0.03)
        assert resultant.norm().item() == pytest.approx(float(expected_length), abs=0.01)

    def test_samples_wrap_around_pi(self) -> None:
        # mu = 2.5 with kappa = 4 puts mass past π: it must come back at −π, not leave the circle
        v = self.draw(self.make_factor(), 20000)
        assert (v < -2.5).any() and v.max() <= PI and v.min() >= -PI


def test_the_code_has_no_seam_at_pi() -> None:
    f = TestUniformAngle().make_factor()
    near = torch.tensor([math.pi - 1e-3, -math.pi + 1e-3])
    enc = f.encode(near)
    assert torch.allclose(enc[0], enc[1], atol=3e-3), "−π and π are the same direction for G"
    params = torch.tensor([[-1.0, 0.0, 3.0]])  # Q: mean direction π, κ ≈ e³
    assert torch.allclose(f.nll(params.repeat(2, 1), near), f.nll(params, near[:1]).repeat(2), atol=1e-3)


def test_default_traversal_walks_the_whole_circle_once() -> None:
    t = TestUniformAngle().make_factor().traversal(8)
    assert len(t) == 8 and t[0].item() == pytest.approx(-math.pi)
    steps = torch.diff(t)
    assert torch.allclose(steps, torch.full_like(steps, 2 * math.pi / 8))
    assert t[-1].item() < math.pi - 0.1  # no repeated end point: π is −π
