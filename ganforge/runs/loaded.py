"""A trained run loaded back from its directory: the recipe it ran, its networks with the weights of a
checkpoint (the EMA generator by default), ready for sampling, evaluation and export."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganforge.errors import CheckpointError, GanforgeError
from ganforge.model.ema import pick_generator, weights_note
from ganforge.model.system import System, build_system
from ganforge.recipe.model import Resolved, apply_overrides, read_toml, resolve
from ganforge.registry import Registry
from ganforge.runs import checkpoint
from ganforge.runs.directory import RECIPE_FILE


def run_recipe(run_dir: Path, registry: Registry, overrides: list[str] | tuple[str, ...] = ()) -> Resolved:
    """The validated recipe a run directory was started with (plus ``overrides``)."""
    path = Path(run_dir) / RECIPE_FILE
    if not Path(run_dir).is_dir():
        raise GanforgeError(f"{run_dir}: run directory not found")
    if not path.is_file():
        raise GanforgeError(f"{run_dir}: not a ganforge run directory (no {RECIPE_FILE})")
    raw = read_toml(path)
    apply_overrides(raw, overrides)
    return resolve(raw, registry, str(path))


@dataclass
class LoadedRun:
    """A trained run ready for sampling and evaluation (networks in eval mode)."""

    run_dir: Path
    resolved: Resolved
    system: System
    step: int
    meta: dict[str, Any]
    weights: str = "raw"  # the generator's: "ema" (train.ema's average) or "raw" (the trained weights)

    @property
    def generator_note(self) -> str:
        """Which generator weights the images come from, for a command's output line."""
        return weights_note(self.weights)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def load_run(run_dir: str | Path, registry: Registry, device: torch.device | str = "cpu",
             overrides: list[str] | tuple[str, ...] = (), step: int | str | None = None,
             warn: Callable[[str], None] = _warn, raw_generator: bool = False) -> LoadedRun:
    """Rebuild the run's networks and load the weights of its newest valid checkpoint (or of ``step``).

    The generator gets the checkpoint's moving average of its weights (``train.ema``) when it holds one,
    unless ``raw_generator``; ``LoadedRun.weights`` says which.

    Newer checkpoints that do not verify are skipped, each reported through ``warn`` (stderr by default),
    so a fallback to an older step is never silent.
    """
    run_dir = Path(run_dir)
    resolved = run_recipe(run_dir, registry, overrides)
    directory = run_dir / "checkpoints"
    if step == "best":
        marked = checkpoint.best(directory)
        if marked is None:
            raise CheckpointError(f"{run_dir}: no best checkpoint recorded (train.keep_best was not set for this run)")
        step = int(marked["step"])
    if isinstance(step, str):
        raise CheckpointError(f"{run_dir}: --step takes a step number or 'best', not {step[:20]!r}")
    if step is None:
        found = checkpoint.load_latest(directory, warn=warn)
        if found is None:
            raise CheckpointError(f"{run_dir}: no valid checkpoint in {directory}")
    else:
        sidecar = directory / f"step-{step:08d}.json"
        if not sidecar.is_file():
            kept = ", ".join(str(int(p.stem.removeprefix("step-"))) for p in checkpoint.list_checkpoints(directory))
            raise CheckpointError(f"{run_dir}: no checkpoint for step {step} (kept: {kept or 'none'})")
        found = checkpoint.load(sidecar)
    tensors, meta = found
    tensors, weights = pick_generator(tensors, raw_generator)
    shape = meta.get("image_shape")
    if not shape:
        raise CheckpointError(f"{run_dir}: checkpoint sidecar lacks image_shape")
    torch.manual_seed(0)
    system = build_system(resolved, tuple(shape), meta.get("num_classes")).to(torch.device(device))
    for prefix, module in system.modules().items():
        sub = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        try:
            module.load_state_dict(sub, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"{run_dir}: checkpoint does not fit the run's {prefix}: {str(exc).splitlines()[0]}") from None
        module.eval()
    return LoadedRun(run_dir, resolved, system, int(meta["step"]), meta, weights)
