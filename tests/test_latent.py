"""The latent contract: plain factors beside factors Q can infer."""

from __future__ import annotations

import math
import types
from typing import Any

import torch
from torch import Tensor

import ganforge
from ganforge import InferableFactor, LatentFactor, LatentSpec, OneHotFactor
from ganforge.latent import inferable
from ganforge.testing import LatentFactorContract


class Offset(LatentFactor):
    """A plain factor: a nuisance input to G that no Q reads."""

    input_width = 1

    def __init__(self, name: str, lam: float = 1.0, options: Any = None) -> None:
        super().__init__(name, lam)

    def sample(self, n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
        return torch.rand(n, generator=generator, device=device)

    def encode(self, value: Tensor) -> Tensor:
        return value[:, None].float()

    def traversal(self, steps: int, span: tuple[float, float] | None = None) -> Tensor:
        return torch.linspace(0, 1, steps)


class OldStyle(Offset):
    """A factor written before the split: a LatentFactor that defines Q's methods itself."""

    posterior_width = 1
    posterior_meaning = "mean"

    def nll(self, params: Tensor, value: Tensor) -> Tensor:
        return (params[:, 0] - value).square()

    def entropy(self) -> float:
        return 0.0

    def predict(self, params: Tensor) -> Tensor:
        return params[:, 0]


def test_a_plain_factor_feeds_g_and_q_sees_only_the_inferable_ones() -> None:
    spec = LatentSpec(noise_dim=2, factors=[Offset("o"), OneHotFactor("c", 1.0, 3)])
    assert not inferable(spec.factors[0]) and inferable(spec.factors[1])
    batch = spec.sample(5, torch.Generator().manual_seed(0))
    assert spec.generator_input(batch).shape == (5, 2 + 1 + 3)  # the plain factor is an input to G
    assert [f.name for f in spec.inferable] == ["c"] and spec.posterior_width == 3
    assert list(spec.split_posterior(torch.zeros(5, 3))) == ["c"]
    assert math.isclose(spec.total_entropy(), math.log(3))


def test_a_latent_factor_that_defines_q_methods_counts_as_inferable() -> None:
    assert isinstance(OldStyle("x"), InferableFactor) and issubclass(OldStyle, InferableFactor)
    assert not isinstance(Offset("x"), InferableFactor)
    assert LatentSpec(noise_dim=1, factors=[OldStyle("x")]).posterior_width == 1


def _register(register: Any) -> None:
    register("offset", Offset, ganforge.NoOptions, help="a plain nuisance input")


PLAIN_PLUGIN = types.SimpleNamespace(register_latent_factors=ganforge.hookimpl(_register))


class TestAPlainFactorPassesTheFactorContract(LatentFactorContract):
    """Q's checks are skipped for it; sampling, encoding, traversals and the spec are checked."""

    plugin = PLAIN_PLUGIN
    plugin_name = "plain"
    kind = "offset"
