"""The recipe's loop sections: ``[train]`` (steps, logging, precision, checkpoints, final evaluation),
``[train.ema]`` (a moving average of G) and ``[augment]`` (differentiable augmentation of the critic's inputs).

Part of the recipe format (:mod:`ganforge.recipe.model` assembles :class:`~ganforge.recipe.model.Recipe` from them); kept
apart because the loop's keys are the largest section. Every field carries the description that
``docs/recipes.md`` is generated from.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

_STRICT = ConfigDict(extra="forbid", populate_by_name=True)


class EmaSection(BaseModel):
    """A moving average of the generator's weights (StyleGAN, BigGAN): the generator every command draws from."""

    model_config = _STRICT
    half_life_kimg: float = Field(
        0.0, ge=0, le=1e6, allow_inf_nan=False,
        description="Half-life of the average in thousands of training images (StyleGAN's ema_kimg; 10 there): "
        "after each generator step θ_ema ← β·θ_ema + (1 − β)·θ with β = 0.5^(batch / (1000·half_life_kimg)). "
        "0 = no average. sample, traverse, eval, compare, report and export then use the averaged weights "
        "unless given --raw-generator.",
    )
    rampup: float = Field(
        0.05, ge=0, le=1e3, allow_inf_nan=False,
        description="Cap the half-life at rampup × the images seen so far, so the early average forgets the random "
        "initial weights quickly (StyleGAN2-ADA's 0.05); 0 = the full half-life from the first step.",
    )


class AugmentSection(BaseModel):
    """Differentiable augmentation of every image the critic sees, real and generated, in both phases and inside
    regularizers that call the critic (DiffAugment; with ada_target, ADA's adaptive probability)."""

    model_config = _STRICT
    policy: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]] = Field(
        default_factory=list,
        description="Registered augmentations applied in this order, e.g. [\"translation\", \"cutout\", \"color\"] "
        "(DiffAugment's policies; `ganforge plugins` lists more); empty = no augmentation.",
    )
    p: float = Field(
        1.0, ge=0, le=1, allow_inf_nan=False,
        description="Probability that each augmentation is applied to each image (DiffAugment: 1). With ada_target "
        "it is the starting value (ADA: 0) and moves during training; logged as critic/augment/p.",
    )
    ada_target: float = Field(
        0.0, ge=0, lt=1, allow_inf_nan=False,
        description="ADA (Karras et al. 2020): raise p when r = E[sign D(x)] on the real batches is above this target "
        "(the critic grows sure of the reals: it overfits), lower it when below; ADA uses 0.6. 0 = p stays fixed.",
    )
    ada_interval: int = Field(4, ge=1, le=10**6, description="Critic steps between two adjustments of p.")
    ada_kimg: float = Field(
        100.0, gt=0, le=1e6, allow_inf_nan=False,
        description="Speed of the adjustment: p can move from 0 to 1 in this many thousand real images (ADA: 500).",
    )


class TrainSection(BaseModel):
    """The loop: how long, how often to log, sample and checkpoint, and at what precision."""

    model_config = _STRICT
    steps: int = Field(1000, ge=1, le=10**9, description="Generator steps to train for.")
    n_critic: int = Field(1, ge=1, le=1000, description="Critic steps per generator step.")
    log_every: int = Field(50, ge=1, description="Write metrics.jsonl (and check for NaN/Inf) every N steps.")
    sample_every: int = Field(500, ge=1, description="Save fixed-noise sample grids (and traversals) every N steps.")
    checkpoint_every: int = Field(500, ge=1, description="Write a checkpoint every N steps (and at the end).")
    keep_checkpoints: int = Field(3, ge=1, description="How many of the newest checkpoints to keep.")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="Autocast precision for the forward passes: 'auto' (bf16 where the hardware runs it natively "
        "and faster: CUDA GPUs with bf16, CPUs with AVX-512-BF16 or AMX whose bf16 matrix products measure >= 1.25x "
        "fp32's; fp32 elsewhere; a resumed run keeps its checkpoint's), 'fp32', or 'bf16'. fp32 runs use TF32 "
        "matrix products on CUDA."
    )
    joint_critic_pass: StrictBool | Literal["auto"] = Field(
        "auto",
        description="Push real and fake images through the critic in one batch. 'auto': when the critic has no batch "
        "norm (then the two passes compute the same thing, one batch is faster); true forces it (batch norm then "
        "normalises over real and fake together, a different method), false never.",
    )
    channels_last: StrictBool = Field(
        True,
        description="Keep convolution weights and activations in channels-last (NHWC) layout: faster convolutions and "
        "batch norm on CPUs (oneDNN) and tensor-core GPUs; same results up to float rounding.",
    )
    compile: StrictBool = Field(
        False,
        description="torch.compile the generator and the critic's trunk and head (opt-in: the first steps pay the "
        "compile time; see docs/performance.md for when it pays off).",
    )
    sync_batch_norm: StrictBool = Field(
        False,
        description="With several processes, compute batch-norm statistics over the global batch (torch's "
        "SyncBatchNorm) instead of each process's slice. CUDA only: a run on another device stops with an error.",
    )
    sample_grid: int = Field(64, ge=1, le=1024, description="Images in each fixed-noise sample grid.")
    ema: EmaSection = Field(default_factory=EmaSection, description="Moving average of the generator's weights.")
    on_nonfinite: Literal["stop", "rollback"] = Field(
        "stop",
        description="What a NaN/Inf loss term or weight does (checked every log_every steps and before each checkpoint): "
        "'stop' ends the run with exit code 6, naming the step and term, the last checkpoint intact; 'rollback' "
        "reloads the last checkpoint, multiplies both learning rates by rollback_lr_factor and continues.",
    )
    rollback_lr_factor: float = Field(0.5, gt=0, lt=1, description="Learning-rate multiplier applied at each rollback.")
    max_rollbacks: int = Field(3, ge=1, description="Rollbacks allowed in a whole run; one more divergence then stops it.")
    keep_best: str | None = Field(
        None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
        description="Evaluate this registered metric (e.g. 'code_accuracy', 'domain_fid') every eval_every steps and keep "
        "the best checkpoint by it besides the newest keep_checkpoints ('--step best' in eval, sample, traverse, export).",
    )
    eval_every: int | None = Field(
        None, ge=1, le=10**9,
        description="Steps between keep_best evaluations; a multiple of checkpoint_every (default: checkpoint_every).",
    )
    final_eval: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]] = Field(
        default_factory=list, max_length=32,
        description="Registered metrics to evaluate once on the final checkpoint (e.g. ['factor_codes']): printed "
        "with the end-of-run summary and written to RUN_DIR/eval.json, as `ganforge eval RUN_DIR --metric ...` would.",
    )
    loggers: list[Literal["tensorboard"]] = Field(
        default_factory=list,
        description="Built-in loggers besides metrics.jsonl: 'tensorboard' writes scalars, sample grids and traversals "
        "to RUN_DIR/tensorboard (needs the extra: pip install -e \".[tensorboard]\").",
    )

    @field_validator("loggers")
    @classmethod
    def _installed(cls, v: list[str]) -> list[str]:
        import importlib.util

        if "tensorboard" in v and importlib.util.find_spec("tensorboard") is None:
            raise ValueError("'tensorboard' needs the tensorboard package: pip install -e \".[tensorboard]\" "
                             "(or pip install tensorboard)")
        return list(dict.fromkeys(v))
