"""Options models of the built-in regularizers (pydantic only: importing them stays cheap); the data
sources' are in ``ganforge.data.options``."""

from __future__ import annotations


from pydantic import BaseModel, ConfigDict, Field, StrictBool

_STRICT = ConfigDict(extra="forbid")




















class R1Options(BaseModel):
    """R1 / R2: a zero-centred gradient penalty γ/2 · E‖∇ₓD(x)‖² on real (R1) or generated (R2) images."""

    model_config = _STRICT
    gamma: float = Field(10.0, gt=0, le=1e6, allow_inf_nan=False,
                         description="γ: the penalty's weight (Mescheder et al. 2018; StyleGAN2 uses 10 at 1024 px, less for small images).")


class GradientPenaltyOptions(BaseModel):
    """WGAN-GP: λ · E[(‖∇D(x̂)‖ − 1)²] on random interpolates x̂ of real and generated images."""

    model_config = _STRICT
    weight: float = Field(10.0, gt=0, le=1e6, allow_inf_nan=False, description="λ (Gulrajani et al. 2017 use 10).")
    one_sided: StrictBool = Field(False, description="Penalise only gradient norms above 1: λ · E[max(0, ‖∇D(x̂)‖ − 1)²].")


class LeCamOptions(BaseModel):
    """LeCam (Tseng et al. 2021): λ · (E[(D(x) − α_F)²] + E[(D(G(z)) − α_R)²]), α_R / α_F moving averages of D's outputs."""

    model_config = _STRICT
    weight: float = Field(0.3, gt=0, le=1e6, allow_inf_nan=False,
                          description="λ (the paper: 0.3 with BigGAN, 0.01 with StyleGAN2).")
    decay: float = Field(0.99, ge=0, lt=1, allow_inf_nan=False,
                         description="Decay of the anchors α_R, α_F: α ← decay·α + (1 − decay)·mean D(·) each critic step.")
    one_sided: StrictBool = Field(False, description="Penalise only D(x) above α_F and D(G(z)) below α_R (the authors' code, "
                            "with ReLU) instead of both directions (the paper's equation).")


class ConsistencyOptions(BaseModel):
    """bCR (Zhao et al. 2021): λ_real · E[(D(x) − D(T(x)))²] + λ_fake · E[(D(G(z)) − D(T(G(z))))²], T a random shift."""

    model_config = _STRICT
    real_weight: float = Field(10.0, ge=0, le=1e6, allow_inf_nan=False, description="λ_real (the paper: 10).")
    fake_weight: float = Field(10.0, ge=0, le=1e6, allow_inf_nan=False, description="λ_fake (the paper: 10).")
    translation: float = Field(0.125, gt=0, le=0.5, allow_inf_nan=False,
                               description="Largest shift of T, as a share of the image's size (the paper: 1/8).")
