"""Recipes: TOML files validated by pydantic models that forbid unknown keys.

A component table (``[generator]``, ``[[latent.factors]]``, …) holds the core keys listed in
its model plus the keys of the registered component it names (``kind = "…"``); those are
validated by the component's own options model, so the error still points at the key path.
The models below *are* the recipe format's reference: every field carries a description, and
``docs/recipes.md`` is generated from them (``python -m ganforge.cli.docgen``).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field as dataclass_field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from ganforge.errors import RecipeError
from ganforge.recipe.files import apply_override, apply_overrides, read_toml  # noqa: F401 - part of the recipe API
from ganforge.recipe.train import AugmentSection, EmaSection, TrainSection  # noqa: F401 - part of the recipe API
from ganforge.registry import Entry, Registry

_STRICT = ConfigDict(extra="forbid", populate_by_name=True)
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"  # names that become file or directory names: no '/', no '..' start
_OPEN = ConfigDict(extra="allow", populate_by_name=True)


class RunSection(BaseModel):
    """Where the run goes and how it is seeded."""

    model_config = _STRICT
    name: str = Field("run", pattern=_NAME, description="Run name; the run directory is named '<name>-<timestamp>'. "
                      "Letters, digits, '_', '-' and '.', starting with a letter or digit (it becomes a path).")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Seed for every random number in the run (weights, data order, latents).")
    device: str = Field("auto", description="'auto' (cuda, then mps, then cpu), 'cpu', 'cuda', 'cuda:N' or 'mps'.")
    out: str = Field("runs", description="Parent directory of run directories (relative to the working directory).")
    deterministic: StrictBool = Field(
        False,
        description="Ask PyTorch for deterministic algorithms (torch.use_deterministic_algorithms; cuDNN autotuning off). "
        "CPU runs are bit-reproducible without it; on GPU it makes runs repeatable at some speed cost, and an "
        "operation with no deterministic version then fails with an error naming it.",
    )

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", v):
            raise ValueError("must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
        return v


class DataSection(BaseModel):
    """The data source; keys other than those below go to the source's own options."""

    model_config = _OPEN
    source: str = Field(description="Registered data source, e.g. 'mnist', 'idx', 'synthetic' (see `ganforge plugins`).")
    batch_size: int = Field(64, ge=1, le=65536, description="Images per critic and generator step (at most 65536).")
    limit: int | None = Field(None, ge=1, description="Use only the first N images (quick experiments).")


class ModelSection(BaseModel):
    """Which method composes the run."""

    model_config = _STRICT
    method: str = Field(description="Registered method, e.g. 'vanilla' or 'infogan'; supplies defaults for the sections below.")


class Component(BaseModel):
    """A registered component chosen by ``kind``; other keys are that component's options."""

    model_config = _OPEN
    kind: str = Field(description="Registered name of the component (see `ganforge plugins`).")


class RegularizerSpec(Component):
    """One [[regularizers]] table: the regularizer's kind, its name and schedule; other keys are its options."""

    name: str | None = Field(
        None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
        description="Name the regularizer's loss terms are logged under (critic/<name>/<term>) and its modules "
        "checkpointed under; defaults to the kind. Two entries need different names.",
    )
    every: int = Field(
        1, ge=1, le=1_000_000,
        description="Run the regularizer only in every N-th step of each phase, its loss terms multiplied by N "
        "(StyleGAN2's lazy regularization); logs show the unscaled terms. Adam's learning rate and betas are "
        "not rescaled for it (StyleGAN2 does: set optim.* yourself for that).",
    )

    @property
    def instance_name(self) -> str:
        return self.name or self.kind


class FactorSpec(BaseModel):
    """One structured latent code factor; other keys are the factor kind's options."""

    model_config = _OPEN
    name: str = Field(pattern=_NAME, description="Unique name of the factor, e.g. 'c1' (used by eval and traverse; it "
                      "becomes part of file names, so letters, digits, '_', '-' and '.', starting with a letter or digit).")
    kind: str = Field(description="Registered factor kind, e.g. 'categorical', 'uniform', 'gaussian'.")
    lam: float = Field(1.0, ge=0, le=1e6, allow_inf_nan=False, alias="lambda",
                       description="λ: weight of this factor's term in the mutual-information loss.")


class LatentSection(BaseModel):
    """Generator input: noise, then the factors in the order listed."""

    model_config = _STRICT
    noise_dim: int = Field(100, ge=1, le=65536, description="Dimension of the incompressible noise z.")
    noise_prior: Literal["normal", "uniform"] = Field("normal", description="Prior of z: 'normal' N(0, I) or 'uniform' U(-1, 1).")
    factors: list[FactorSpec] = Field(default_factory=list, description="Structured code factors ([[latent.factors]] tables).")


class OptimizerSection(BaseModel):
    """Adam settings for one network."""

    model_config = _STRICT
    lr: float = Field(2e-4, gt=0, allow_inf_nan=False, description="Learning rate (finite).")
    betas: tuple[Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)], Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]] = Field(
        (0.5, 0.999), description="Adam's (β1, β2), each in [0, 1) as torch requires.")
    weight_decay: float = Field(0.0, ge=0, allow_inf_nan=False, description="L2 weight decay (finite).")


class OptimSection(BaseModel):
    """One Adam optimizer per network; regularizer modules join the one they name."""

    model_config = _STRICT
    generator: OptimizerSection = Field(default_factory=OptimizerSection, description="Generator optimizer.")
    critic: OptimizerSection = Field(default_factory=OptimizerSection, description="Critic optimizer.")


class Recipe(BaseModel):
    """A complete, validated recipe (the top level of the TOML file)."""

    model_config = _STRICT
    run: RunSection = Field(default_factory=RunSection, description="Seed, device and output directory.")
    data: DataSection = Field(description="The training data.")
    model: ModelSection = Field(description="The method.")
    latent: LatentSection = Field(default_factory=LatentSection, description="The generator's input.")
    generator: Component = Field(description="The generator network.")
    critic: Component = Field(description="The critic (discriminator) network.")
    objective: Component = Field(
        default_factory=lambda: Component(kind="nonsaturating"), description="The adversarial loss."
    )
    regularizers: list[RegularizerSpec] = Field(default_factory=list, description="Extra loss terms ([[regularizers]] tables).")
    augment: AugmentSection = Field(default_factory=AugmentSection, description="Augmentation of the critic's inputs.")
    optim: OptimSection = Field(default_factory=OptimSection, description="Optimizers.")
    train: TrainSection = Field(default_factory=TrainSection, description="The training loop.")


# --- resolved recipe --------------------------------------------------------------------------
@dataclass
class Resolved:
    """A validated recipe with each component's registry entry and validated options."""

    recipe: Recipe
    raw: dict[str, Any]
    source: str
    data: tuple[Entry, BaseModel]
    generator: tuple[Entry, BaseModel]
    critic: tuple[Entry, BaseModel]
    objective: tuple[Entry, BaseModel]
    regularizers: list[tuple[Entry, BaseModel]]
    factors: list[tuple[FactorSpec, Entry, BaseModel]]
    augmentations: list[tuple[Entry, BaseModel]] = dataclass_field(default_factory=list)  # [augment] policy, in order


def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _problems(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        loc = _loc(tuple(err["loc"]))
        path = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif "input" in err and not isinstance(err["input"], dict | list):
            msg = f"{msg} (got {err['input']!r})"
        out.append((path, msg))
    return out


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, recursively for tables; lists and values from ``top`` win whole."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _options(entry: Entry, values: dict[str, Any], path: str, problems: list[tuple[str, str]]) -> BaseModel | None:
    try:
        return entry.options.model_validate(values)
    except ValidationError as exc:
        problems.extend(_problems(exc, path))
        return None


def resolve(raw: dict[str, Any], registry: Registry, source: str = "<recipe>") -> Resolved:
    """Merge the method's defaults under ``raw``, validate everything, report every problem."""
    problems: list[tuple[str, str]] = []
    method_name = (raw.get("model") or {}).get("method") if isinstance(raw.get("model"), dict) else None
    method = None
    if isinstance(method_name, str):
        if method_name in registry.entries["method"]:
            entry = registry.entries["method"][method_name]
            method = entry.build(entry.options())
            raw = deep_merge(method.defaults(raw), raw)
        else:
            available = ", ".join(registry.names("method")) or "none"
            raise RecipeError(source, [("model.method", f"unknown method {method_name!r}; available: {available}")])
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as exc:
        raise RecipeError(source, _problems(exc)) from None

    def component(kind: str, comp: Component, path: str, key: str = "kind") -> tuple[Entry, BaseModel] | None:
        name = getattr(comp, key)
        if name not in registry.entries[kind]:
            available = ", ".join(registry.names(kind)) or "none"
            problems.append((f"{path}.{key}", f"unknown {kind.replace('_', ' ')} {name!r}; available: {available}"))
            return None
        entry = registry.entries[kind][name]
        opts = _options(entry, dict(comp.model_extra or {}), path, problems)
        return None if opts is None else (entry, opts)

    data = component("dataset", recipe.data, "data", key="source")
    gen = component("generator", recipe.generator, "generator")
    critic = component("critic", recipe.critic, "critic")
    objective = component("objective", recipe.objective, "objective")
    regs = [component("regularizer", r, f"regularizers[{i}]") for i, r in enumerate(recipe.regularizers)]
    named: dict[str, int] = {}
    for i, r in enumerate(recipe.regularizers):
        if r.instance_name in named:
            j = named[r.instance_name]
            problems.append((f"regularizers[{i}]", f"regularizers[{j}] and regularizers[{i}] are both named "
                             f"{r.instance_name!r} (their terms and modules would collide); give one a name = \"...\""))
        named.setdefault(r.instance_name, i)
    factors: list[tuple[FactorSpec, Entry, BaseModel]] = []
    seen: set[str] = set()
    for i, f in enumerate(recipe.latent.factors):
        if f.name in seen:
            problems.append((f"latent.factors[{i}].name", f"duplicate factor name {f.name!r}"))
        seen.add(f.name)
        got = component("latent_factor", Component(kind=f.kind, **(f.model_extra or {})), f"latent.factors[{i}]")
        if got is not None:
            factors.append((f, *got))
    augmentations = []
    for i, name in enumerate(recipe.augment.policy):
        if name not in registry.entries["augmentation"]:
            problems.append((f"augment.policy[{i}]", f"unknown augmentation {name!r}; available: "
                             f"{', '.join(registry.names('augmentation')) or 'none'}"))
        else:
            augmentations.append((registry.entries["augmentation"][name], registry.entries["augmentation"][name].options()))
    train = recipe.train
    if train.keep_best is not None and train.keep_best not in registry.entries["metric"]:
        problems.append(("train.keep_best", f"unknown metric {train.keep_best!r}; available: "
                         f"{', '.join(registry.names('metric')) or 'none'}"))
    if train.eval_every is not None and train.eval_every % train.checkpoint_every:
        problems.append(("train.eval_every", f"{train.eval_every} is not a multiple of train.checkpoint_every "
                         f"({train.checkpoint_every}): the best checkpoint must be one that is written"))
    if method is not None:
        problems.extend(method.check(recipe))
    if problems:
        raise RecipeError(source, problems)
    assert data and gen and critic and objective
    return Resolved(recipe, raw, source, data, gen, critic, objective, [r for r in regs if r], factors,
                    augmentations)


def load_recipe(path: str | Path, registry: Registry, overrides: list[str] | tuple[str, ...] = ()) -> Resolved:
    """Read, override and validate a recipe file."""
    raw = read_toml(path)
    apply_overrides(raw, overrides)
    return resolve(raw, registry, str(path))
