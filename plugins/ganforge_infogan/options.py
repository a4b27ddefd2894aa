"""Recipe options of the InfoGAN plugin's components (pydantic only: importing them stays cheap).

These models are the reference for the recipe keys each component accepts; every field has a
description, and validators reject bad values with a message that says what to write instead.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator

_STRICT = ConfigDict(extra="forbid")

Posterior = Literal["learned", "fixed"]

_POSTERIOR_HELP = (
    "Q's Gaussian posterior for this code: 'learned' = Q outputs a mean and a log standard deviation "
    "(the paper's factored Gaussian); 'fixed' = Q outputs only a mean, σ = fixed_std (the official code, σ = 1)."
)


class CategoricalOptions(BaseModel):
    """A categorical code Cat(K, p): one-hot into G, K logits out of Q."""

    model_config = _STRICT
    k: int = Field(ge=2, le=1000, description="Number of categories K (2 to 1000), e.g. 10 for MNIST digits.")
    probs: list[float] | None = Field(
        None, description="Prior class probabilities (K positive numbers summing to 1); uniform 1/K when omitted."
    )

    @field_validator("probs")
    @classmethod
    def _check_probs(cls, probs: list[float] | None, info: ValidationInfo) -> list[float] | None:
        # a field validator (not a model validator) so the error's key path ends in ".probs"
        k = info.data.get("k")  # absent when k itself failed validation
        if probs is None:
            return None
        if k is not None and len(probs) != k:
            raise ValueError(f"probs has {len(probs)} entries but k = {k}; give one probability per category")
        if any(not (p > 0) or not math.isfinite(p) for p in probs):
            raise ValueError("every entry of probs must be positive and finite (drop a category instead of p = 0)")
        total = math.fsum(probs)
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"probs must sum to 1, they sum to {total:.6g}")
        return probs


class _ContinuousOptions(BaseModel):
    """Shared keys of the continuous codes: how Q models the posterior."""

    model_config = _STRICT
    posterior: Posterior = Field("learned", description=_POSTERIOR_HELP)
    fixed_std: float = Field(
        1.0, gt=0, allow_inf_nan=False, description="σ of Q's posterior when posterior = 'fixed' (ignored otherwise)."
    )


class UniformOptions(_ContinuousOptions):
    """A continuous code c ~ Unif(low, high), e.g. the paper's rotation and width codes Unif(−1, 1)."""

    low: float = Field(-1.0, allow_inf_nan=False, description="Lower end of the prior's support.")
    high: float = Field(1.0, allow_inf_nan=False, description="Upper end of the prior's support (must exceed low).")

    @field_validator("high")
    @classmethod
    def _check_range(cls, high: float, info: ValidationInfo) -> float:
        low = info.data.get("low")  # absent when low itself failed validation
        if low is not None and low >= high:
            raise ValueError(f"high ({high}) must be greater than low ({low})")
        return high


class GaussianOptions(_ContinuousOptions):
    """A continuous code c ~ N(mean, std²)."""

    mean: float = Field(0.0, allow_inf_nan=False, description="Mean of the prior.")
    std: float = Field(1.0, gt=0, allow_inf_nan=False, description="Standard deviation of the prior (> 0).")


class MutualInformationOptions(BaseModel):
    """InfoGAN's Q head and its variational mutual-information loss (λ per factor comes from the factor)."""

    model_config = _STRICT
    hidden: int = Field(
        128, ge=1, le=16384, description="Width of Q's hidden layer (the paper: FC 128, batch norm, leaky ReLU 0.1)."
    )
    trunk_gradient: StrictBool = Field(
        True,
        description="In the critic step, let the MI loss also update the shared critic trunk (the official code: "
        "true). When false, Q sees detached trunk features there and only Q's own layers learn from it.",
    )
    generator_reward: StrictBool = Field(
        True,
        description="Give the generator the MI loss term. False = the paper's Figure-1 baseline: Q is trained "
        "(so L_I is still measured) but G gets no reward for making codes recoverable.",
    )
    optimizer: Literal["critic", "generator"] = Field(
        "critic",
        description="Which Adam trains Q. 'critic' (the official code): Q learns in the critic step on detached "
        "fakes, at the critic's learning rate. 'generator' (common PyTorch ports): Q learns in the generator step, "
        "on the same non-detached fakes and at the generator's learning rate, and the MI loss never updates the "
        "critic trunk (trunk_gradient then has no effect).",
    )


class SpatialBroadcastOptions(BaseModel):
    """Size of the spatial-broadcast generator (latent tiled over a coordinate grid, then up-convolutions)."""

    model_config = _STRICT
    channels: int = Field(
        32, ge=4, le=1024, description="Channels of the two 3×3 convolutions on the coarse grid (halved by each up-convolution)."
    )


class MutualInformationPlusOptions(MutualInformationOptions):
    """InfoGAN's Q and MI loss, plus terms that put Q to work on *real* images (beyond the paper)."""

    balance: float = Field(
        1.0, ge=0, le=1e3, allow_inf_nan=False,
        description="Weight of KL(mean_x Q(c | x_real) ‖ P(c)) per categorical code: Q's marginal over a real batch "
        "kept at the uniform prior, so no category can absorb two digits (IMSAT / RIM information maximisation).",
    )
    confidence: float = Field(
        0.0, ge=0, le=1e3, allow_inf_nan=False,
        description="Weight of the mean entropy H(Q(c | x_real)) per categorical code: confident assignments.",
    )
    consistency: float = Field(
        1.0, ge=0, le=1e3, allow_inf_nan=False,
        description="Weight of KL(Q(c | x) ‖ Q(c | aug(x))) on real images (the clean side held fixed): the code must "
        "not change under a small shift, rotation and scaling of the image.",
    )
    pairs: float = Field(
        0.0, ge=0, le=1e3, allow_inf_nan=False,
        description="Weight of log K − I(c; c') per categorical code, c and c' Q's codes for a real image and its "
        "augmented copy (IIC, Ji et al. 2019): balanced, confident and augmentation-invariant in one term; both "
        "sides learn.",
    )
    shift: float = Field(2.0, ge=0, le=16, allow_inf_nan=False,
                         description="Augmentation: largest shift, in pixels, along each axis.")
    rotation: float = Field(15.0, ge=0, le=180, allow_inf_nan=False,
                            description="Augmentation: largest rotation, in degrees, either way.")
    scale: float = Field(0.1, ge=0, le=0.5, allow_inf_nan=False,
                         description="Augmentation: scale factor drawn from [1 − scale, 1 + scale].")
    shear: float = Field(0.0, ge=0, le=1, allow_inf_nan=False,
                         description="Augmentation: largest horizontal shear x += s·y, |s| <= shear (a change of slant), so a "
                         "category cannot mean a slant; 0: none.")
    until_step: int | None = Field(
        None, ge=1, le=10**9,
        description="Apply the real-image terms only before this generator step (a warm-up: they set the categories "
        "early, then leave the paper's objective alone); none: always.",
    )
    categorical_from_step: int | None = Field(
        None, ge=1, le=10**9,
        description="The categorical codes' MI loss counts only from this generator step on (weight 0 before; "
        "L_I is still logged): the continuous codes take the factors a continuous code can carry (size, position) "
        "first, and what is left for a category is what the object is. None: from the start, as the paper.",
    )
    categorical_head: Literal["trunk", "conv"] = Field(
        "trunk",
        description="Where Q reads the categorical codes: 'trunk' = Q's head on the critic's trunk features, as every "
        "other code (the paper); 'conv' = a small convolutional encoder of its own on the image, its answer the "
        "maximum over positions, so a category cannot mean a position in the frame (for a code meant to find what "
        "an object is wherever it lies, e.g. a shape). Continuous codes stay on the trunk.",
    )
    conv_width: int = Field(
        32, ge=4, le=512,
        description="Channels of the first of the 'conv' head's three convolutions (the others have twice as many).",
    )
    fake_augmentation: StrictBool = Field(
        False,
        description="With categorical_head = 'conv': the MI loss reads the categorical codes off a randomly shifted, "
        "rotated and scaled copy of each generated image (the ranges below), in both steps, so G must draw a "
        "category as something those leave unchanged (what the object is, not where, how large or how turned).",
    )
    normalize_size: StrictBool = Field(
        False,
        description="With categorical_head = 'conv': the conv head reads each image (real or generated) moved and "
        "zoomed so its object is centred and of one size (from the moments of its bright pixels), so a category "
        "cannot mean how large an object is either, only what it is.",
    )
    normalize_radius: float = Field(
        0.4, gt=0.05, le=0.9, allow_inf_nan=False,
        description="With normalize_size: the RMS radius every object is zoomed to, in grid units (the frame spans "
        "[-1, 1]; a filled disk of RMS radius 0.4 has radius 0.57). At the data's smallest objects (0.2 for the "
        "shapes recipe) nothing is blown up, only shrunk.",
    )
    normalize_antialias: StrictBool = Field(
        False,
        description="With normalize_size: low-pass each image before it is shrunk (a Gaussian of 0.42·√(zoom² − 1) "
        "px), so a large object shrunk has the soft edges of one drawn small and its size leaves no trace.",
    )
    normalize_blur: float = Field(
        0.0, ge=0, le=4, allow_inf_nan=False,
        description="With normalize_size: the standard deviation, in pixels, of a Gaussian blur of the normalised "
        "image before the conv head reads it. Zooming leaves a trace of the object's size (a small object blown "
        "up has soft edges, a large one shrunk has sharp ones) and G can hide a category in fine texture; a blur "
        "of about a pixel hides both. 0: off.",
    )
    size_match: float = Field(
        0.0, ge=0, le=1e3, allow_inf_nan=False,
        description="Weight of a generator-side term: per categorical code, how far each category's object sizes in "
        "the generated batch (mean and spread of the log RMS radius of the bright pixels) are from the whole "
        "batch's, in units of its variance. G then cannot spend a category on a size (the easiest thing to draw "
        "and to read), and it leaves the size to a continuous code. For data with one object on a dark "
        "background. 0: off.",
    )
    cluster_critic: float = Field(
        0.0, ge=0, le=1e3, allow_inf_nan=False,
        description="Weight of a class-conditional critic term (self-conditioned GAN, Liu et al. 2020): a projection "
        "head on the critic's trunk scores an image within a category, a real image's category being Q's own "
        "answer for it and a fake's its categorical code. The critic learns to tell real from fake within each "
        "category and G to fool it, so category k of G must look like the real images Q puts in category k "
        "(not merely be readable by Q). 0: off.",
    )
    cluster_features: Literal["trunk", "conv"] = Field(
        "trunk",
        description="What the cluster critic scores: 'trunk', the critic trunk's features; 'conv' (needs "
        "categorical_head = 'conv'), the conv head's pooled features (the layer before its logits), which the "
        "cluster critic then trains as a convolutional, category-conditional discriminator beside the critic.",
    )
    heads: int = Field(
        1, ge=1, le=16,
        description="Categorical heads per categorical code on Q's hidden layer (IIC's sub-heads): every head learns the "
        "real-image terms, and the one of lowest running real-image loss is the code's posterior (G's MI reward, Q's "
        "MI loss on fakes, evaluation), its categories matched to G's code when the choice changes. Against a bad "
        "clustering (two categories each holding half of two classes). 1: Q's one head, as the paper.",
    )
    overcluster: int = Field(
        0, ge=0, le=1000,
        description="Categories of an extra over-clustering head per categorical code (IIC: several times K, e.g. 50 "
        "for K = 10), trained on the real-image terms only, so the shared features must tell finer groups apart. "
        "Never read as a code. 0: none.",
    )
    select_every: int = Field(
        250, ge=1, le=10**9,
        description="With heads > 1: every this many steps the head of lowest running real-image loss (by over 0.02 "
        "nats) becomes the chosen one.",
    )
    real_trunk_gradient: StrictBool = Field(
        False,
        description="Let the real-image terms update the critic trunk too; false: only Q's own layers learn from them "
        "(the trunk features of real images are detached).",
    )

    @field_validator("fake_augmentation", "normalize_size", "cluster_features")
    @classmethod
    def _needs_conv(cls, value: bool | str, info: ValidationInfo) -> bool | str:
        # a field validator (not a model validator) so the error's key path ends in the field's name
        if value not in (False, "trunk") and info.data.get("categorical_head", "trunk") != "conv":
            why = {"fake_augmentation": "on the trunk, the continuous codes would be read off the augmented copy too",
                   "normalize_size": "the trunk reads every code, and the continuous ones need position and size",
                   "cluster_features": "'conv' scores the conv head's features"}
            raise ValueError(f"{info.field_name} needs categorical_head = 'conv' ({why[str(info.field_name)]})")
        return value

    @field_validator("heads", "overcluster", "select_every")
    @classmethod
    def _needs_trunk(cls, value: int, info: ValidationInfo) -> int:
        default = cls.model_fields[str(info.field_name)].default
        if value != default and info.data.get("categorical_head", "trunk") != "trunk":
            raise ValueError(f"{info.field_name} needs categorical_head = 'trunk' (the heads sit on Q's hidden layer)")
        return value

    @field_validator("normalize_radius", "normalize_antialias", "normalize_blur")
    @classmethod
    def _needs_normalize(cls, value: float | bool, info: ValidationInfo) -> float | bool:
        default = cls.model_fields[str(info.field_name)].default
        if value != default and not info.data.get("normalize_size", False):
            raise ValueError(f"{info.field_name} needs normalize_size = true (it changes the normalised image)")
        return value
