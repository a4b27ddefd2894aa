"""The von Mises factor trains with InfoGAN's regularizer, is found when installed, and its recipe validates."""

from __future__ import annotations

import importlib.metadata as md
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ganforge_vonmises
from ganforge import load_recipe
from ganforge.testing import make_registry, tiny_recipe, train_steps

PLUGINS = [("vonmises", ganforge_vonmises)]
RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "infogan_mnist_vonmises.toml"


def test_infogan_learns_the_angle_code(tmp_path: Path) -> None:
    # InfoGAN's own defaults (Q head, MI loss, learning rates), with tiny networks so 60 steps take a second
    recipe = tiny_recipe("infogan", [{"name": "angle", "kind": "vonmises", "lambda": 1.0}])
    log = train_steps(recipe, 60, tmp_path, plugins=PLUGINS)
    l_i = [row["critic/mutual_information/L_I/angle"] for row in log]  # L_I = H(c) − E[NLL] of the code under Q, in nats
    assert len(l_i) == 60 and all(key in log[-1] for key in ("generator/mutual_information/L_I/angle", "critic/mutual_information/L_I"))
    first, last = sum(l_i[:10]) / 10, sum(l_i[-10:]) / 10
    assert last > first + 0.3, f"L_I/angle did not rise: {first:.3f} → {last:.3f} nats"
    assert list((tmp_path / "run" / "traversals").glob("angle-step-*.png"))


def test_example_recipe_validates() -> None:
    resolved = load_recipe(RECIPE, make_registry(PLUGINS), ["data.source=synthetic"])
    kinds = {f.name: f.kind for f in resolved.recipe.latent.factors}
    assert kinds == {"digit": "categorical", "angle": "vonmises", "width": "uniform"}


def test_installed_package_is_discovered_through_its_entry_point() -> None:
    eps = [ep for ep in md.entry_points(group="ganforge") if ep.module == "ganforge_vonmises"]
    if not eps:
        pytest.skip("ganforge-vonmises is not installed: pip install -e docs/examples/ganforge-vonmises")
    # what a user runs: `ganforge plugins --json`, in a fresh interpreter
    proc = subprocess.run([sys.executable, "-m", "ganforge", "plugins", "--json"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    row = rows[eps[0].name]
    assert row["distribution"] == "ganforge-vonmises" and row["source"] == "entry point" and row["version"]
    assert row["provides"] == {"latent_factor": ["vonmises"]} and row["error"] is None
