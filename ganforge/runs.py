"""Run directories: where a run lives, and how a finished run is loaded back."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganforge import checkpoint
from ganforge.checkpoint import atomic_write
from ganforge.ema import pick_generator, weights_note
from ganforge.errors import CheckpointError, GanforgeError
from ganforge.recipe import Resolved, apply_overrides, read_toml, resolve
from ganforge.registry import Registry
from ganforge.system import System, build_system

RECIPE_FILE = "recipe.toml"
METRICS_FILE = "metrics.jsonl"
LOCK_FILE = ".lock"


@contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``run_dir`` while a process trains in it (``fcntl.flock`` on ``.lock``).

    A second process (another ``--resume`` of the same run) gets a one-line error naming the holder's
    PID instead of mixing two trajectories into one directory. The kernel drops the lock when the
    holder exits, however it exits, so a killed run never leaves a stale lock.
    """
    import fcntl

    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise GanforgeError(f"{run_dir}: another process (PID {holder}) is training in this run directory; "
                            "wait for it to finish or stop it first") from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def remove_if_unused(run_dir: Path) -> None:
    """Remove a run directory that a failed start left empty (nothing but the lock file)."""
    try:
        if run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= {LOCK_FILE}:
            (run_dir / LOCK_FILE).unlink(missing_ok=True)
            run_dir.rmdir()
    except OSError:
        pass


def check_out(out: str | Path, key: str = "run.out") -> Path:
    """Refuse a parent directory for run directories that cannot be one: a file (or a file above it), or a
    directory this process may not create entries in. ``key`` names where it came from (``run.out``, ``--out``)."""
    path = Path(out).expanduser()
    existing = next((p for p in (path, *path.parents) if p.exists() or p.is_symlink()), Path("."))
    if not existing.is_dir():
        where = "" if existing == path else f" ({existing} is a file)"
        raise GanforgeError(f"{key}: {path} is not a directory{where}; give a directory for the run directories")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise GanforgeError(f"{key}: cannot create run directories in {existing}: permission denied")
    return path


def new_run_dir(name: str, out: str | Path, key: str = "run.out") -> Path:
    """Create ``<out>/<name>-<YYYYmmdd-HHMMSS>`` (``-1``, ``-2``, … when taken) and return it.

    The name is claimed by ``os.mkdir`` itself, which fails when another process made it first, so runs
    started at the same moment get different directories (checking first and creating after races).
    """
    parent = check_out(out, key)
    parent.mkdir(parents=True, exist_ok=True)
    base = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    for i in range(100_000):
        path = parent / (base if i == 0 else f"{base}-{i}")
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue
    raise GanforgeError(f"{key}: {parent}: no free run directory name {base}-N")


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


def summary(run_dir: Path, step: int, metrics: dict[str, float], resolved: Resolved,
            wall_s: float | None = None, evaluation: list[str] = ()) -> list[str]:
    """The end-of-run report: headline numbers, the wall time of this process's training (start-up, data and
    ``train.final_eval`` included), that evaluation's lines, what the run directory holds, and the next commands."""
    from ganforge.progress import short_metrics

    took = f" in {round(wall_s) // 60} min {round(wall_s) % 60:02d} s" if wall_s is not None else ""
    rate = f" ({metrics['images_per_s']:.0f} images/s at the end)" if "images_per_s" in metrics else ""
    lines = [f"finished step {step}{took}{rate}"]
    if short_metrics(metrics):
        lines.append(f"  {short_metrics(metrics, limit=6)}")
    lines.extend(evaluation)
    lines.append(f"{run_dir} holds:")

    def count(folder: str, pattern: str) -> list[Path]:
        return sorted((run_dir / folder).glob(pattern)) if (run_dir / folder).is_dir() else []

    samples, traversals = count("samples", "step-*.png"), count("traversals", "*.png")
    kept = checkpoint.list_checkpoints(run_dir / "checkpoints")
    if samples:
        lines.append(f"  samples/      {len(samples)} grid{'s' if len(samples) != 1 else ''}, newest {samples[-1].name}")
    if traversals:
        import textwrap

        newest = max(p.stem.rsplit("-step-", 1)[-1] for p in traversals)
        names = " ".join(p.name for p in traversals if p.stem.endswith(f"-step-{newest}"))
        lines.append(f"  traversals/   {len(traversals)} grids, one per factor and sample step; newest:")
        lines.extend(textwrap.wrap(names, 80, initial_indent=" " * 16, subsequent_indent=" " * 16))
    if kept:
        lines.append(f"  checkpoints/  {len(kept)} kept, newest step {int(kept[-1].stem.removeprefix('step-'))}")
    if (run_dir / METRICS_FILE).is_file():
        n = sum(1 for _ in (run_dir / METRICS_FILE).open("rb"))
        lines.append(f"  {METRICS_FILE} {n} line{'s' if n != 1 else ''} (one per {resolved.recipe.train.log_every} steps)")
    factors = resolved.recipe.latent.factors
    lines.append("next:")
    lines.append(f"  ganforge eval {run_dir}")
    if factors:
        lines.append(f"  ganforge traverse {run_dir} --factor {factors[0].name}" +
                     (" --by-row" if factors[0].kind == "categorical" else ""))
    lines.append(f"  ganforge sample {run_dir} -n 64 --out samples.png")
    lines.append(f"  ganforge report {run_dir}")
    lines.append(f"  ganforge export {run_dir} --out exported-generator")
    return lines
