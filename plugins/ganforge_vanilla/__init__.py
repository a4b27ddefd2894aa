"""The vanilla GAN plugin: Goodfellow et al.'s non-saturating GAN with DCGAN-style or MLP networks.

Registered through the ``ganforge`` entry-point group like any third-party plugin.
"""

from __future__ import annotations

from typing import Any

from ganforge import hookimpl
from ganforge_vanilla.options import DCGANCriticOptions, DCGANGeneratorOptions, MLPCriticOptions, MLPOptions


@hookimpl
def register_generators(register: Any) -> None:
    register("dcgan", "ganforge_vanilla.networks:DCGANGenerator", DCGANGeneratorOptions,
             help="DCGAN-style transposed-conv generator for 28/32/64-pixel images.")
    register("mlp", "ganforge_vanilla.networks:MLPGenerator", MLPOptions, help="Fully connected generator.")


@hookimpl
def register_critics(register: Any) -> None:
    register("dcgan", "ganforge_vanilla.networks:DCGANCritic", DCGANCriticOptions,
             help="DCGAN-style strided-conv critic for 28/32/64-pixel images.")
    register("mlp", "ganforge_vanilla.networks:MLPCritic", MLPCriticOptions, help="Fully connected critic.")


@hookimpl
def register_methods(register: Any) -> None:
    register("vanilla", "ganforge_vanilla.method:vanilla",
             help="Non-saturating GAN, DCGAN networks; latent factors (if any) are plain inputs.")
