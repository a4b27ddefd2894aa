"""The von Mises angle factor: an InfoGAN latent code that lives on the circle.

An angle has no ends: a uniform code on [−π, π] fed to G as a number would put −π and π (the same
direction) at opposite ends of G's input, and a Gaussian posterior in Q would punish a prediction of
3.1 for a code of −3.1. So the angle enters G as the point (cos c, sin c) on the unit circle, and Q's
posterior is a von Mises distribution (the circle's Gaussian):

    Q(c | x) = exp(κ cos(c − μ)) / (2π I₀(κ)),   −log Q = −κ cos(c − μ) + ln 2π + ln I₀(κ)

with ln I₀(κ) = ln i0e(κ) + κ (``torch.special.i0e`` stays finite for large κ). Q outputs three
numbers per image: a direction (x, y), μ = atan2(y, x), which never wraps, and a log-concentration,
soft-clamped so that κ ∈ [e^LOG_KAPPA_MIN, e^LOG_KAPPA_MAX].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge import InferableFactor
from ganforge_vonmises.options import VonMisesOptions

LOG_2PI = math.log(2 * math.pi)
#: Q's log κ is kept in [−3, 6]: κ from 0.05 (nearly uniform) to 403 (an angular σ of about 3°)
LOG_KAPPA_MIN, LOG_KAPPA_MAX = -3.0, 6.0
#: keeps the length of Q's direction vector away from 0 (where its direction is undefined)
EPS = 1e-6


def log_i0(kappa: Tensor) -> Tensor:
    """ln I₀(κ), finite for any κ ≥ 0 (I₀ itself overflows float32 past κ ≈ 88)."""
    return torch.log(torch.special.i0e(kappa)) + kappa


def wrap(angle: Tensor) -> Tensor:
    """An angle in radians mapped into [−π, π)."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


def sample_von_mises(n: int, mu: float, kappa: float, generator: torch.Generator,
                     device: torch.device | str = "cpu") -> Tensor:
    """``n`` draws from VM(mu, kappa) by Best & Fisher's (1979) rejection sampler, using only ``generator``.

    ``torch.distributions.VonMises.sample`` draws from the global RNG, which would break a run's
    reproducibility; this is the same algorithm with an explicit generator. Acceptance is ≥ 65 %.
    """
    tau = 1 + math.sqrt(1 + 4 * kappa**2)
    rho = (tau - math.sqrt(2 * tau)) / (2 * kappa)
    r = (1 + rho**2) / (2 * rho) if kappa > 1e-5 else 1 / kappa + kappa  # Taylor expansion near κ = 0
    accepted: list[Tensor] = []
    have = 0
    while have < n:
        u1, u2, u3 = torch.rand(3, n, generator=generator, device=device, dtype=torch.float64)  # (3, n)
        z = torch.cos(math.pi * u1)
        f = (1 + r * z) / (r + z)
        c = kappa * (r - f)
        ok = (c * (2 - c) - u2 > 0) | (torch.log(c / u2) + 1 - c >= 0)  # (n,) bool
        theta = torch.sign(u3 - 0.5) * torch.acos(f.clamp(-1, 1))
        accepted.append(theta[ok])
        have += int(ok.sum())
    return wrap(mu + torch.cat(accepted)[:n]).float()  # (n,)


class VonMises(InferableFactor):
    """c ∈ [−π, π] (float, ``(B,)``). Into G: (cos c, sin c). Out of Q: x, y (direction), log κ."""

    def __init__(self, name: str, lam: float, options: VonMisesOptions) -> None:
        super().__init__(name, lam)
        self.prior = options.prior
        self.mu, self.kappa = options.mu, options.kappa

    def __repr__(self) -> str:
        prior = "uniform" if self.prior == "uniform" else f"VM({self.mu:g}, {self.kappa:g})"
        return f"VonMises({self.name!r}, {prior}, λ={self.lam})"

    @property
    def input_width(self) -> int:
        return 2

    @property
    def posterior_width(self) -> int:
        return 3

    @property
    def posterior_meaning(self) -> str:
        return "direction x, direction y, log concentration"

    def sample(self, n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
        if self.prior == "uniform":
            return (2 * torch.rand(n, generator=generator, device=device) - 1) * math.pi  # (B,) in [−π, π)
        return sample_von_mises(n, self.mu, self.kappa, generator, device)  # (B,)

    def encode(self, value: Tensor) -> Tensor:
        value = value.float()
        return torch.stack([torch.cos(value), torch.sin(value)], dim=1)  # (B, 2)

    def direction_concentration(self, params: Tensor) -> tuple[Tensor, Tensor]:
        """Q's mean direction as a unit vector ``(B, 2)`` and its concentration κ ``(B,)``, in float32."""
        params = params.float()
        xy = params[:, :2]  # (B, 2)
        unit = xy / torch.sqrt(xy.square().sum(1, keepdim=True) + EPS**2)
        raw = params[:, 2]
        log_kappa = LOG_KAPPA_MIN + F.softplus(raw - LOG_KAPPA_MIN) - F.softplus(raw - LOG_KAPPA_MAX)
        return unit, torch.exp(log_kappa)

    def nll(self, params: Tensor, value: Tensor) -> Tensor:
        unit, kappa = self.direction_concentration(params)
        cos_dev = (unit * self.encode(value)).sum(1)  # (B,) cos(c − μ)
        return -kappa * cos_dev + LOG_2PI + log_i0(kappa)  # (B,) exact −log density, in nats

    def entropy(self) -> float:
        if self.prior == "uniform":
            return LOG_2PI
        k = torch.tensor(self.kappa, dtype=torch.float64)
        ratio = torch.special.i1e(k) / torch.special.i0e(k)  # I₁(κ)/I₀(κ), the mean resultant length
        return float(LOG_2PI + log_i0(k) - k * ratio)

    def predict(self, params: Tensor) -> Tensor:
        params = params.float()
        return torch.atan2(params[:, 1], params[:, 0])  # (B,) Q's mean direction μ

    def traversal(self, steps: int, span: tuple[float, float] | None = None) -> Tensor:
        """Once around the circle from −π (no repeated end point), or ``steps`` points across ``span``."""
        if span is None:
            return -math.pi + 2 * math.pi * torch.arange(steps, dtype=torch.float32) / steps  # (steps,)
        return torch.linspace(span[0], span[1], steps)  # (steps,)
