"""Run directories: where a run lives, and how a finished run is loaded back."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganforge import checkpoint
from ganforge.checkpoint import atomic_write
from ganforge.errors import CheckpointError, GanforgeError
from ganforge.recipe import Resolved, apply_override, read_toml, resolve
from ganforge.registry import Registry
from ganforge.system import System, build_system

RECIPE_FILE = "recipe.toml"
METRICS_FILE = "metrics.jsonl"


def new_run_dir(name: str, out: str | Path) -> Path:
    """``<out>/<name>-<YYYYmmdd-HHMMSS>`` (with a suffix if that exists already)."""
    base = Path(out) / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, i = base, 1
    while path.exists():
        path, i = base.with_name(f"{base.name}-{i}"), i + 1
    path.mkdir(parents=True)
    return path


def write_recipe(run_dir: Path, raw: dict[str, Any], command: str) -> None:
    import tomli_w

    from ganforge.recipe import Recipe

    order = list(Recipe.model_fields)
    raw = {k: raw[k] for k in sorted(raw, key=lambda k: order.index(k) if k in order else len(order))}
    header = f"# {command}\n# The resolved recipe of this run (method defaults and --set overrides applied).\n"
    atomic_write(run_dir / RECIPE_FILE, (header + tomli_w.dumps(raw)).encode())


def run_recipe(run_dir: Path, registry: Registry, overrides: list[str] | tuple[str, ...] = ()) -> Resolved:
    """The validated recipe a run directory was started with (plus ``overrides``)."""
    path = Path(run_dir) / RECIPE_FILE
    if not Path(run_dir).is_dir():
        raise GanforgeError(f"{run_dir}: run directory not found")
    if not path.is_file():
        raise GanforgeError(f"{run_dir}: not a ganforge run directory (no {RECIPE_FILE})")
    raw = read_toml(path)
    for assignment in overrides:
        apply_override(raw, assignment)
    return resolve(raw, registry, str(path))


@dataclass
class LoadedRun:
    """A trained run ready for sampling and evaluation (networks in eval mode)."""

    run_dir: Path
    resolved: Resolved
    system: System
    step: int
    meta: dict[str, Any]


def load_run(run_dir: str | Path, registry: Registry, device: torch.device | str = "cpu",
             overrides: list[str] | tuple[str, ...] = (), step: int | None = None) -> LoadedRun:
    """Rebuild the run's networks and load the weights of its newest valid checkpoint (or of ``step``)."""
    run_dir = Path(run_dir)
    resolved = run_recipe(run_dir, registry, overrides)
    directory = run_dir / "checkpoints"
    if step is None:
        found = checkpoint.load_latest(directory)
        if found is None:
            raise CheckpointError(f"{run_dir}: no valid checkpoint in {directory}")
    else:
        sidecar = directory / f"step-{step:08d}.json"
        if not sidecar.is_file():
            kept = ", ".join(str(int(p.stem.removeprefix("step-"))) for p in checkpoint.list_checkpoints(directory))
            raise CheckpointError(f"{run_dir}: no checkpoint for step {step} (kept: {kept or 'none'})")
        found = checkpoint.load(sidecar)
    tensors, meta = found
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
    return LoadedRun(run_dir, resolved, system, int(meta["step"]), meta)
