"""Registries and short training runs inside a test: the real engine, tiny networks, a few steps."""

from __future__ import annotations

import copy
import importlib.metadata as md
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import tomli_w

from ganforge import PluginError, Registry, load_recipe, load_registry, train
from ganforge.testing.networks import TINY, TINY_PLUGIN

#: the name :data:`~ganforge.testing.networks.TINY_PLUGIN` is registered under
TESTING_PLUGIN = "ganforge.testing"

Plugins = Iterable[tuple[str, object]]


def _module_name(plugin: object) -> str | None:
    """The module name of a plugin given as a module (what an entry point would load), else None."""
    name = getattr(plugin, "__name__", None)
    return name if isinstance(name, str) else None


def make_registry(plugins: Plugins = (), entry_points: bool = True) -> Registry:
    """A registry with the installed plugins, the tiny test networks, and ``plugins`` added explicitly.

    ``plugins`` are ``(name, plugin_object)`` pairs, e.g. ``[("vonmises", ganforge_vonmises)]``; a
    plugin under test works whether or not its package is installed: an installed entry point that
    loads the same module is skipped, so nothing is registered twice. A plugin of ``plugins`` that
    fails to register raises :class:`ganforge.PluginError` (other broken plugins only warn).
    """
    plugins = list(plugins)
    modules = {m for _, p in plugins if (m := _module_name(p))}
    deny = {v.strip() for v in os.environ.get("GANFORGE_DISABLE_PLUGINS", "").split(",") if v.strip()}
    if entry_points:
        deny |= {ep.name for ep in md.entry_points(group="ganforge") if ep.module in modules}
    registry = load_registry(strict=False, deny=deny, entry_points=entry_points,
                             extra=[(TESTING_PLUGIN, TINY_PLUGIN), *plugins])
    for name, _ in [(TESTING_PLUGIN, None), *plugins]:
        if registry.plugins[name].error:
            raise PluginError(registry.plugins[name].error)
    return registry


def tiny_recipe(method: str = TINY, factors: Sequence[dict[str, Any]] = (), **sections: Any) -> dict[str, Any]:
    """A raw recipe that trains in milliseconds: 64 synthetic 8×8 images, tiny networks, CPU, fp32 (so what a
    test sees does not depend on whether the machine has native bf16, where ``precision = "auto"`` would use it).

    ``factors`` become ``[[latent.factors]]`` tables; ``sections`` are merged over the defaults
    table by table, e.g. ``tiny_recipe("infogan", [{"name": "c", "kind": "uniform"}], train={"steps": 50})``.
    """
    raw: dict[str, Any] = {
        "run": {"name": "test", "seed": 0, "device": "cpu"},
        "data": {"source": "synthetic", "size": 64, "image_size": 8, "batch_size": 16},
        "model": {"method": method},
        "latent": {"noise_dim": 4, "factors": [dict(f) for f in factors]},
        "generator": {"kind": TINY},
        "critic": {"kind": TINY},
        "train": {"steps": 4, "log_every": 1, "sample_every": 4, "checkpoint_every": 4, "sample_grid": 4,
                  "precision": "fp32"},
    }
    for key, table in sections.items():
        raw[key] = {**raw.get(key, {}), **copy.deepcopy(table)} if isinstance(table, dict) else copy.deepcopy(table)
    return raw


def train_steps(
    recipe: dict[str, Any] | str | Path,
    steps: int,
    tmp_path: str | Path,
    *,
    plugins: Plugins = (),
    overrides: Sequence[str] = (),
    log_every: int = 1,
) -> list[dict[str, float]]:
    """Train ``recipe`` (a raw dict or a TOML file) for ``steps`` steps on the CPU; return the metrics log.

    The run directory is ``tmp_path / "run"``; samples, traversals and a checkpoint are written once,
    at the last step, so those code paths run too. Each returned row is one line of
    ``metrics.jsonl`` (``{"step": 3, "generator/mutual_information/L_I": …, …}``), one every ``log_every`` steps.
    ``plugins`` and ``overrides`` (``"key.path=value"``) are as for :func:`make_registry` and
    ``ganforge run --set``.
    """
    tmp_path = Path(tmp_path)
    if isinstance(recipe, dict):
        path = tmp_path / "recipe.toml"
        path.write_text(tomli_w.dumps(recipe))
    else:
        path = Path(recipe)
    forced = [f"train.steps={steps}", f"train.log_every={log_every}", f"train.sample_every={steps}",
              f"train.checkpoint_every={steps}", "run.device=\"cpu\""]
    registry = make_registry(plugins)
    resolved = load_recipe(path, registry, [*overrides, *forced])
    run_dir = tmp_path / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    train(resolved, registry, run_dir, progress=False, say=lambda message: None)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def kill_after_checkpoints(victim: subprocess.Popen, out: str | Path, count: int, timeout: float = 300) -> Path:
    """SIGKILL ``victim`` (a ``ganforge run … --out OUT`` process) once its run directory under ``out``
    holds ``count`` checkpoints; returns that run directory, to be continued with ``ganforge run --resume``.

    Fails the test when the process ends (or ``timeout`` seconds pass) before that many checkpoints appear.
    """
    deadline = time.time() + timeout
    while time.time() < deadline and victim.poll() is None:
        dirs = [d for d in Path(out).glob("*") if d.is_dir()]
        if dirs and len(list((dirs[0] / "checkpoints").glob("step-*.json"))) >= count:  # a sidecar completes one
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            return dirs[0]
        time.sleep(0.02)
    raise AssertionError(f"no run under {out} reached {count} checkpoints before it ended; make it longer")
