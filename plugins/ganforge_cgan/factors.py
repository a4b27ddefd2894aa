"""The ``label`` latent factor: a class label that conditions both the generator and the critic.

It is a categorical code whose ``conditions_critic`` flag tells the engine to condition the critic on
it: with the data's labels for real images, with the sampled value for fakes. Its Q-side methods
(``nll``, ``predict``) let an InfoGAN-style head measure it too, though CGAN itself trains no Q.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge import LatentFactor
from ganforge_cgan.options import LabelOptions


class Label(LatentFactor):
    """y ~ Cat(K, 1/K). Into G: one-hot ``(B, K)``. Values: ``int64`` class indices ``(B,)``."""

    discrete = True
    conditions_critic = True

    def __init__(self, name: str, lam: float, options: LabelOptions) -> None:
        super().__init__(name, lam)
        self.k = options.k

    def __repr__(self) -> str:
        return f"Label({self.name!r}, k={self.k})"

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
        return F.one_hot(value.long(), self.k).float()  # (B, K)

    def nll(self, params: Tensor, value: Tensor) -> Tensor:
        return F.cross_entropy(params.float(), value.long(), reduction="none")  # (B,) from raw logits

    def entropy(self) -> float:
        return math.log(self.k)

    def predict(self, params: Tensor) -> Tensor:
        return params.argmax(dim=1)  # (B,)

    def traversal(self, steps: int, span: tuple[float, float] | None = None) -> Tensor:
        """Every class once, in order (a traversal grid shows one column per class)."""
        return torch.arange(self.k)  # (K,)
