"""InfoGAN's latent code factors: categorical, uniform and Gaussian codes with their Q posteriors.

Each factor knows its prior (for sampling and H(c)), how it enters the generator (``encode``) and
how Q parameterises its posterior (``nll``, ``predict``). ``nll`` is the exact −log Q(c | x) in nats,
constants included, so that the logged L_I = H(c) − E[NLL] is a true lower bound on I(c; G(z, c)).

Factories are called by the core as ``factory(name, lam, options)``; the classes themselves are the
factories.
"""

from __future__ import annotations

import math
from abc import abstractmethod

import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge import InferableFactor, OneHotFactor
from ganforge_infogan.options import CategoricalOptions, GaussianOptions, UniformOptions

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)

#: Q's log σ for a continuous code is soft-clamped to [ln s − LOG_STD_BELOW, ln s + LOG_STD_ABOVE], s being
#: the prior's standard deviation: σ_Q ∈ [0.0025·s, 7.4·s]. The floor stops the NLL running off to −∞ once
#: Q predicts a code almost exactly; the ceiling stops early blow-ups. Relative bounds work at any scale.
LOG_STD_BELOW = 6.0
LOG_STD_ABOVE = 2.0


def soft_clamp(x: Tensor, lo: float, hi: float) -> Tensor:
    """Smoothly squash ``x`` into ``(lo, hi)``: ≈ identity well inside; just past a bound the gradient is
    small but not zero (``clamp``'s is), so a log σ pushed over the edge can come back."""
    return lo + F.softplus(x - lo) - F.softplus(x - hi)


class Categorical(OneHotFactor):
    """c ~ Cat(K, p). Into G: one-hot ``(B, K)``. Out of Q: K logits. Values: ``int64`` indices ``(B,)``."""

    def __init__(self, name: str, lam: float, options: CategoricalOptions) -> None:
        super().__init__(name, lam, options.k)
        self.probs = None if options.probs is None else list(options.probs)

    def __repr__(self) -> str:
        prior = "uniform" if self.probs is None else f"p={self.probs}"
        return f"Categorical({self.name!r}, k={self.k}, {prior}, λ={self.lam})"

    def sample(self, n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
        if self.probs is None:
            return super().sample(n, generator, device)  # (B,)
        p = torch.tensor(self.probs, dtype=torch.float64, device=device)  # (K,)
        return torch.multinomial(p, n, replacement=True, generator=generator)  # (B,)

    def entropy(self) -> float:
        if self.probs is None:
            return super().entropy()
        return -math.fsum(p * math.log(p) for p in self.probs)


class _Continuous(InferableFactor):
    """A scalar continuous code with a Gaussian posterior Q(c | x) = N(μ(x), σ(x)²).

    ``posterior = "learned"``: Q outputs (μ, log σ), σ = exp(log σ) after a soft clamp (the paper).
    ``posterior = "fixed"``: Q outputs μ only and σ = ``fixed_std`` (the official code, σ = 1:
    the NLL is then ½·(c − μ)² plus a constant).
    """

    def __init__(self, name: str, lam: float, options: UniformOptions | GaussianOptions) -> None:
        super().__init__(name, lam)
        self.learned = options.posterior == "learned"
        self.fixed_std = options.fixed_std
        self.log_std_bounds = (math.log(self.prior_std) - LOG_STD_BELOW, math.log(self.prior_std) + LOG_STD_ABOVE)

    @property
    @abstractmethod
    def prior_std(self) -> float:
        """Standard deviation of the prior (scales the log σ bounds)."""

    @abstractmethod
    def default_span(self) -> tuple[float, float]:
        """Traversal range when none is given."""

    @property
    def input_width(self) -> int:
        return 1

    @property
    def posterior_width(self) -> int:
        return 2 if self.learned else 1

    @property
    def posterior_meaning(self) -> str:
        return "mean, log std" if self.learned else f"mean (std fixed at {self.fixed_std:g})"

    def mean_log_std(self, params: Tensor) -> tuple[Tensor, Tensor]:
        """Q's posterior mean and log σ, each ``(B,)``, in float32 (NLLs are not computed in bf16)."""
        params = params.float()
        mean = params[:, 0]  # (B,)
        if self.learned:
            return mean, soft_clamp(params[:, 1], *self.log_std_bounds)  # (B,)
        return mean, torch.full_like(mean, math.log(self.fixed_std))

    def encode(self, value: Tensor) -> Tensor:
        return value.float().reshape(-1, 1)  # (B, 1)

    def nll(self, params: Tensor, value: Tensor) -> Tensor:
        mean, log_std = self.mean_log_std(params)  # (B,), (B,)
        z = (value.float() - mean) * torch.exp(-log_std)  # (B,)
        return 0.5 * z.square() + log_std + HALF_LOG_2PI  # (B,) exact Gaussian −log density

    def predict(self, params: Tensor) -> Tensor:
        return params[:, 0].float()  # (B,) the posterior mean

    def traversal(self, steps: int, span: tuple[float, float] | None = None) -> Tensor:
        lo, hi = span if span is not None else self.default_span()
        return torch.linspace(lo, hi, steps)  # (steps,)


class Uniform(_Continuous):
    """c ~ Unif(low, high); H(c) = ln(high − low). Traversals default to twice the support, centred
    (−2..2 for Unif(−1, 1), as in the paper's figures)."""

    def __init__(self, name: str, lam: float, options: UniformOptions) -> None:
        self.low, self.high = options.low, options.high
        super().__init__(name, lam, options)

    def __repr__(self) -> str:
        return f"Uniform({self.name!r}, [{self.low:g}, {self.high:g}], {self.posterior_meaning}, λ={self.lam})"

    @property
    def prior_std(self) -> float:
        return (self.high - self.low) / math.sqrt(12)

    def default_span(self) -> tuple[float, float]:
        half = (self.high - self.low) / 2
        return self.low - half, self.high + half

    def sample(self, n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
        u = torch.rand(n, generator=generator, device=device)  # (B,) in [0, 1)
        return self.low + (self.high - self.low) * u

    def entropy(self) -> float:
        return math.log(self.high - self.low)


class Gaussian(_Continuous):
    """c ~ N(mean, std²); H(c) = ½ ln(2πe·std²). Traversals default to mean ± 2·std."""

    def __init__(self, name: str, lam: float, options: GaussianOptions) -> None:
        self.mean, self.std = options.mean, options.std
        super().__init__(name, lam, options)

    def __repr__(self) -> str:
        return f"Gaussian({self.name!r}, N({self.mean:g}, {self.std:g}²), {self.posterior_meaning}, λ={self.lam})"

    @property
    def prior_std(self) -> float:
        return self.std

    def default_span(self) -> tuple[float, float]:
        return self.mean - 2 * self.std, self.mean + 2 * self.std

    def sample(self, n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
        return self.mean + self.std * torch.randn(n, generator=generator, device=device)  # (B,)

    def entropy(self) -> float:
        return 0.5 * math.log(2 * math.pi * math.e * self.std**2)
