"""The latent specification: noise plus named structured code factors.

The generator input is the concatenation, in this order, of the noise ``z`` (``noise_dim``
columns) and each factor's ``encode(value)`` in the order the factors are listed in the recipe.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import torch
from torch import Tensor


NoisePrior = Literal["normal", "uniform"]


# --- latent codes -----------------------------------------------------------------------------
class LatentFactor(ABC):
    """One structured latent code factor c_i: its prior, its encoding for G and the values a traversal walks.

    Values are tensors with a leading batch dimension; their dtype and trailing shape are the
    factor's own business (a categorical factor uses ``int64`` indices of shape ``(B,)``,
    a continuous one ``float`` of shape ``(B,)``). Everything else sees only the methods below.
    A factor that Q can infer from an image (InfoGAN's codes) is an :class:`InferableFactor`; a plain
    one (a conditioning label, a nuisance input) needs nothing more than this.
    """

    #: ``True`` for factors whose values are discrete classes (shown as such in traversals and eval).
    discrete: ClassVar[bool] = False
    #: ``True`` for a *condition*: the critic sees its value too, and for real images the value is
    #: the data's label (class-conditional GANs). At most one factor of a spec may be a condition.
    conditions_critic: ClassVar[bool] = False

    def __init__(self, name: str, lam: float = 1.0) -> None:
        self.name = name
        self.lam = float(lam)  # λ_i: the weight of this factor's NLL in the MI loss (inferable factors)

    @property
    @abstractmethod
    def input_width(self) -> int:
        """Number of columns this factor contributes to the generator input."""

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
        """Draw ``n`` values from the prior, using only ``generator`` for randomness."""

    @abstractmethod
    def encode(self, value: Tensor) -> Tensor:
        """The generator-input columns for ``value``: shape ``(B, input_width)``, float."""

    @abstractmethod
    def traversal(self, steps: int, span: tuple[float, float] | None = None) -> Tensor:
        """Values to walk in a traversal grid (all classes for a discrete factor)."""


#: what makes a factor inferable by Q (a factor class that defines all of them counts as one)
_POSTERIOR = ("posterior_width", "posterior_meaning", "nll", "entropy", "predict")


class InferableFactor(LatentFactor):
    """A factor Q can infer from an image: its posterior's parameters, the NLL of a value under them, the
    prior's entropy (L_I = H(c) − NLL) and Q's point estimate. The MI regularizers and the factor metrics
    read only factors of this kind.

    A :class:`LatentFactor` subclass written before this split that defines these methods counts as one
    (``isinstance`` checks the methods), so older plugins keep working unchanged.
    """

    @classmethod
    def __subclasshook__(cls, other: type) -> bool:
        if cls is InferableFactor and LatentFactor in getattr(other, "__mro__", ()):
            defined = {name for klass in other.__mro__ for name in vars(klass)
                       if not getattr(vars(klass)[name], "__isabstractmethod__", False)}
            if all(name in defined for name in _POSTERIOR):
                return True
        return NotImplemented

    @property
    @abstractmethod
    def posterior_width(self) -> int:
        """Number of columns of Q's output that parameterise this factor's posterior."""

    @property
    @abstractmethod
    def posterior_meaning(self) -> str:
        """Human-readable meaning of the posterior columns, e.g. ``"10 logits"``."""

    @abstractmethod
    def nll(self, params: Tensor, value: Tensor) -> Tensor:
        """−log Q(value | x) under posterior parameters ``params`` ``(B, posterior_width)``: shape ``(B,)``."""

    @abstractmethod
    def entropy(self) -> float:
        """Prior entropy H(c_i) in nats (a constant; L_I = H(c) − NLL)."""

    @abstractmethod
    def predict(self, params: Tensor) -> Tensor:
        """Q's point estimate of the value (argmax class or posterior mean), same shape as values."""


def inferable(factor: LatentFactor) -> bool:
    """Whether Q can infer ``factor`` (an :class:`InferableFactor`, or a factor that defines its methods)."""
    return isinstance(factor, InferableFactor)


class OneHotFactor(InferableFactor):
    """A discrete code with ``k`` classes: one-hot into G, ``k`` raw logits out of Q, ``int64`` values ``(B,)``.

    The prior is uniform (override ``sample`` and ``entropy`` for another one). A base for plugins'
    categorical codes and class labels, so each writes only what makes it different.
    """

    discrete = True

    def __init__(self, name: str, lam: float, k: int) -> None:
        super().__init__(name, lam)
        self.k = k

    @property
    def input_width(self) -> int:
        return self.k

    @property
    def posterior_width(self) -> int:
        return self.k

    @property
    def posterior_meaning(self) -> str:
        return f"{self.k} logits"

    def sample(self, n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
        return torch.randint(0, self.k, (n,), generator=generator, device=device)  # (B,)

    def encode(self, value: Tensor) -> Tensor:
        return torch.nn.functional.one_hot(value.long(), self.k).float()  # (B, K)

    def nll(self, params: Tensor, value: Tensor) -> Tensor:
        # params are raw logits: cross_entropy applies the one and only (log-)softmax
        return torch.nn.functional.cross_entropy(params.float(), value.long(), reduction="none")  # (B,)

    def entropy(self) -> float:
        return math.log(self.k)

    def predict(self, params: Tensor) -> Tensor:
        return params.argmax(dim=1)  # (B,) int64

    def traversal(self, steps: int, span: tuple[float, float] | None = None) -> Tensor:
        """Every class once, in order; ``steps`` and ``span`` do not apply to a discrete code."""
        return torch.arange(self.k)  # (K,)


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
    def inferable(self) -> list[InferableFactor]:
        """The factors Q can infer, in generator-input order (its posterior's layout)."""
        return [f for f in self.factors if isinstance(f, InferableFactor)]

    @property
    def posterior_width(self) -> int:
        return sum(f.posterior_width for f in self.inferable)

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
        """Split Q's output ``(B, posterior_width)`` into each inferable factor's columns."""
        out, start = {}, 0
        for f in self.inferable:
            out[f.name] = params[:, start : start + f.posterior_width]
            start += f.posterior_width
        return out

    def total_entropy(self) -> float:
        """H(c) of the inferable factors (nats)."""
        return sum(f.entropy() for f in self.inferable)
