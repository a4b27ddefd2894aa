"""Recipe options of the CGAN plugin's components (pydantic only: importing them stays cheap)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid")


class LabelOptions(BaseModel):
    """The class label a conditional GAN generates: uniform over K classes."""

    model_config = _STRICT
    k: int = Field(ge=2, le=1000, description="Number of classes K (2 to 1000); must equal the data's number of classes (10 for MNIST).")


class ConditionalNetOptions(BaseModel):
    """Sizes of a cgan_mnist network (the defaults are the InfoGAN paper's MNIST networks)."""

    model_config = _STRICT
    hidden: int = Field(1024, ge=8, le=16384, description="Width of the fully connected layer (the paper: 1024).")
    channels: int = Field(
        64, ge=4, le=1024, description="Channels of the outer conv layer; the inner one has twice as many (the paper: 64)."
    )


class ConditionalCriticOptions(ConditionalNetOptions):
    """Sizes of the cgan_mnist critic, and how it sees the label."""

    conditioning: Literal["concat", "projection"] = Field(
        "concat",
        description="'concat': K one-hot label maps join the image channels at the input (the CGAN paper's "
        "concatenation, for conv nets); 'projection': an unconditional trunk plus <embed(y), features> in the "
        "head (Miyato & Koyama 2018).",
    )
