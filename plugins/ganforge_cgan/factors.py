"""The ``label`` latent factor: a class label that conditions both the generator and the critic.

It is a categorical code whose ``conditions_critic`` flag tells the engine to condition the critic on
it: with the data's labels for real images, with the sampled value for fakes. Its Q-side methods
(``nll``, ``predict``) let an InfoGAN-style head measure it too, though CGAN itself trains no Q.
"""

from __future__ import annotations

from ganforge import OneHotFactor
from ganforge_cgan.options import LabelOptions


class Label(OneHotFactor):
    """y ~ Cat(K, 1/K). Into G: one-hot ``(B, K)``. Values: ``int64`` class indices ``(B,)``."""

    conditions_critic = True

    def __init__(self, name: str, lam: float, options: LabelOptions) -> None:
        super().__init__(name, lam, options.k)

    def __repr__(self) -> str:
        return f"Label({self.name!r}, k={self.k})"
