"""The latent specification: noise plus named structured code factors.

The generator input is the concatenation, in this order, of the noise ``z`` (``noise_dim``
columns) and each factor's ``encode(value)`` in the order the factors are listed in the recipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from ganforge.interfaces import LatentFactor

NoisePrior = Literal["normal", "uniform"]


@dataclass
class LatentBatch:
    """One draw from the latent spec: noise ``(B, noise_dim)`` and each factor's values."""

    noise: Tensor
    codes: dict[str, Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.noise)

    def rows(self, index: slice) -> LatentBatch:
        """The rows ``index`` of the noise and of every code (a process's slice of a global batch)."""
        return LatentBatch(self.noise[index], {k: v[index] for k, v in self.codes.items()})


@dataclass
class LatentSpec:
    """Noise dimension and prior, and the structured factors in generator-input order."""

    noise_dim: int
    noise_prior: NoisePrior = "normal"
    factors: list[LatentFactor] = field(default_factory=list)

    @property
    def width(self) -> int:
        return self.noise_dim + sum(f.input_width for f in self.factors)

    @property
    def posterior_width(self) -> int:
        return sum(f.posterior_width for f in self.factors)

    @property
    def condition(self) -> LatentFactor | None:
        """The factor the critic is conditioned on (class-conditional GANs), if any."""
        conds = [f for f in self.factors if f.conditions_critic]
        if len(conds) > 1:
            raise ValueError(f"at most one conditioning factor is allowed, got {', '.join(f.name for f in conds)}")
        return conds[0] if conds else None

    def condition_values(self, batch: LatentBatch) -> Tensor | None:
        """The values of the conditioning factor in ``batch`` (``None`` without a condition)."""
        cond = self.condition
        return None if cond is None else batch.codes[cond.name]

    def factor(self, name: str) -> LatentFactor:
        for f in self.factors:
            if f.name == name:
                return f
        raise KeyError(f"no latent factor {name!r}; factors: {', '.join(f.name for f in self.factors) or 'none'}")

    def sample_noise(self, n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
        if self.noise_prior == "uniform":
            u = torch.rand(n, self.noise_dim, generator=generator, device=device)
            return u * 2 - 1
        return torch.randn(n, self.noise_dim, generator=generator, device=device)

    def sample(self, n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> LatentBatch:
        """Noise first, then each factor in order, all from ``generator``."""
        noise = self.sample_noise(n, generator, device)
        codes = {f.name: f.sample(n, generator, device) for f in self.factors}
        return LatentBatch(noise, codes)

    def generator_input(self, batch: LatentBatch) -> Tensor:
        """``(B, width)``: ``[z, encode(c_1), …, encode(c_L)]``."""
        parts = [batch.noise] + [f.encode(batch.codes[f.name]).to(batch.noise.dtype) for f in self.factors]
        return torch.cat(parts, dim=1)

    def split_posterior(self, params: Tensor) -> dict[str, Tensor]:
        """Split Q's output ``(B, posterior_width)`` into each factor's columns."""
        out, start = {}, 0
        for f in self.factors:
            out[f.name] = params[:, start : start + f.posterior_width]
            start += f.posterior_width
        return out

    def total_entropy(self) -> float:
        return sum(f.entropy() for f in self.factors)
