"""Recipe options of the vanilla networks."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DCGANOptions(BaseModel):
    """Width of a DCGAN-style network."""

    model_config = ConfigDict(extra="forbid")
    width: int = Field(64, ge=4, le=1024, description="Channels of the widest-resolution conv layer (doubling per stage).")


class DCGANGeneratorOptions(DCGANOptions):
    """Width of a DCGAN-style generator, and an optional fully connected layer before its projection."""

    hidden: int = Field(
        0, ge=0, le=16384,
        description="Units of a fully connected layer (batch norm, ReLU) between the latent input and the projection to "
        "the first feature maps; 0: none (DCGAN). 1024 with width 64 on 28-pixel images is the InfoGAN paper's MNIST "
        "generator, the one recipes/vanilla_mnist.toml trains (docs/results.md, 'Baselines on MNIST').",
    )


class DCGANCriticOptions(DCGANOptions):
    """Width and normalisation of a DCGAN-style critic."""

    norm: Literal["batch", "layer", "spectral", "none"] = Field(
        "batch",
        description="Normalisation after each conv but the first: 'batch' (DCGAN), 'layer' (per-image, over channels "
        "and pixels: what WGAN-GP uses, since a gradient penalty is per image and batch norm mixes the batch), "
        "'spectral' (no normalisation layers; every conv and the head divided by its largest singular value, "
        "Miyato et al. 2018, which bounds D's Lipschitz constant) or 'none'.",
    )


class MLPOptions(BaseModel):
    """Size of a fully connected network."""

    model_config = ConfigDict(extra="forbid")
    hidden: int = Field(512, ge=8, le=16384, description="Units per hidden layer.")
    layers: int = Field(2, ge=1, le=8, description="Number of hidden layers.")


class MLPCriticOptions(MLPOptions):
    """Size and normalisation of a fully connected critic."""

    norm: Literal["spectral", "none"] = Field(
        "none", description="'spectral': every layer divided by its largest singular value (Miyato et al. 2018); 'none'.")

