"""Recipe options of the vanilla networks."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DCGANOptions(BaseModel):
    """Width of a DCGAN-style network."""

    model_config = ConfigDict(extra="forbid")
    width: int = Field(64, ge=4, description="Channels of the widest-resolution conv layer (doubling per stage).")


class MLPOptions(BaseModel):
    """Size of a fully connected network."""

    model_config = ConfigDict(extra="forbid")
    hidden: int = Field(512, ge=8, description="Units per hidden layer.")
    layers: int = Field(2, ge=1, le=8, description="Number of hidden layers.")
