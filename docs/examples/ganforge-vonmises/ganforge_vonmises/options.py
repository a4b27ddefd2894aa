"""Recipe keys of the ``vonmises`` factor (pydantic only, so validating a recipe never imports torch)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class VonMisesOptions(BaseModel):
    """An angle code c ∈ [−π, π]: uniform on the circle, or von Mises(mu, kappa)."""

    model_config = ConfigDict(extra="forbid")
    prior: Literal["uniform", "vonmises"] = Field(
        "uniform", description="'uniform': every angle equally likely (H = ln 2π); 'vonmises': VM(mu, kappa)."
    )
    mu: float = Field(0.0, ge=-math.pi, le=math.pi, description="Mean direction of a von Mises prior, in radians.")
    kappa: float = Field(
        1.0, gt=0, le=500, allow_inf_nan=False,
        description="Concentration of a von Mises prior (ignored when prior = 'uniform'); larger is narrower.",
    )
