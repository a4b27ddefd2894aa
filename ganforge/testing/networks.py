"""Tiny CPU networks and a tiny method, registered by a plugin object that only tests load.

They make a training step take milliseconds, so a plugin's test suite can train for real (engine,
optimizers, regularizers, samples, checkpoints) on any image shape without a GPU. They are never
registered through entry points: :func:`ganforge.testing.make_registry` adds :data:`TINY_PLUGIN`.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from ganforge import BuildContext, Critic, Generator, Method, hookimpl

TINY = "tiny"


class TinyOptions(BaseModel):
    """Width of the tiny networks' single hidden layer."""

    model_config = ConfigDict(extra="forbid")
    hidden: int = Field(32, ge=1, le=4096, description="Hidden units.")


class TinyGenerator(Generator):
    """latent → FC hidden → ReLU → FC C·H·W → tanh, reshaped to ``(B, C, H, W)``."""

    def __init__(self, latent_width: int, image_shape: tuple[int, int, int], hidden: int = 32) -> None:
        super().__init__()
        self.shape = image_shape
        self.net = nn.Sequential(nn.Linear(latent_width, hidden), nn.ReLU(),
                                 nn.Linear(hidden, math.prod(image_shape)), nn.Tanh())

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.shape)  # (B, C, H, W)


class TinyCritic(Critic):
    """Trunk: flatten → FC hidden → LeakyReLU(0.2) (``feature_width = hidden``); head: FC → 1. Ignores ``cond``."""

    def __init__(self, image_shape: tuple[int, int, int], hidden: int = 32) -> None:
        super().__init__()
        self.feature_width = hidden
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(image_shape), hidden), nn.LeakyReLU(0.2))
        self.out = nn.Linear(hidden, 1)

    def features(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.trunk(x)  # (B, hidden)

    def head(self, features: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.out(features).squeeze(1)  # (B,)


def build_generator(options: TinyOptions, ctx: BuildContext) -> TinyGenerator:
    """Factory for ``[generator] kind = "tiny"``."""
    return TinyGenerator(ctx.latent_width, ctx.image_shape, options.hidden)


def build_critic(options: TinyOptions, ctx: BuildContext) -> TinyCritic:
    """Factory for ``[critic] kind = "tiny"``."""
    return TinyCritic(ctx.image_shape, options.hidden)


def build_method(options: object = None) -> Method:
    """Factory for ``[model] method = "tiny"``: tiny networks and the core's non-saturating loss."""
    return Method(
        name=TINY,
        description="Tiny CPU networks for tests (ganforge.testing).",
        defaults=lambda raw: {"generator": {"kind": TINY}, "critic": {"kind": TINY},
                              "objective": {"kind": "nonsaturating"}},
    )


class TinyPlugin:
    """The plugin object behind :data:`TINY_PLUGIN`: a generator, a critic and a method named ``tiny``."""

    @hookimpl
    def register_generators(self, register: Any) -> None:
        register(TINY, build_generator, TinyOptions, help="Tiny one-hidden-layer generator (tests only).")

    @hookimpl
    def register_critics(self, register: Any) -> None:
        register(TINY, build_critic, TinyOptions, help="Tiny one-hidden-layer critic (tests only).")

    @hookimpl
    def register_methods(self, register: Any) -> None:
        register(TINY, build_method, help="Tiny networks, non-saturating loss (tests only).")


#: registered under the name ``"ganforge.testing"`` by :func:`ganforge.testing.make_registry`
TINY_PLUGIN = TinyPlugin()
