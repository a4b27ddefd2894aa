"""Run directories: where a run lives, and how a finished run is loaded back."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


from ganforge.safefiles import atomic_write
from ganforge.errors import GanforgeError

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

    from ganforge.recipe.model import Recipe

    order = list(Recipe.model_fields)
    raw = {k: raw[k] for k in sorted(raw, key=lambda k: order.index(k) if k in order else len(order))}
    header = f"# {command}\n# The resolved recipe of this run (method defaults and --set overrides applied).\n"
    atomic_write(run_dir / RECIPE_FILE, (header + tomli_w.dumps(raw)).encode())










