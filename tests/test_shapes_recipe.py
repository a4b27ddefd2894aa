"""End to end: ``ganforge run recipes/infogan_shapes.toml`` (shrunk to seconds) and ``ganforge eval``.

The recipe is the dSprites-like benchmark beside the first run, so it must train offline and ``eval`` must
show the ground-truth factor metrics for it; here with tiny data, networks and step counts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ganforge.cli.app import app
from ganforge.data.shapes import FACTOR_NAMES
from ganforge.evaluation.factor_metrics import FactorVAEScore

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "infogan_shapes.toml"
TINY = ["data.size=256", "data.batch_size=32", "generator.channels=8", "critic.hidden=16", "train.steps=4",
        "train.log_every=2", "train.sample_every=4", "train.checkpoint_every=4"]
METRICS = ["code_accuracy", "factor_codes", "mig", "factor_vae"]
runner = CliRunner()


def test_recipe_first_line_is_its_command() -> None:
    assert RECIPE.read_text().splitlines()[0] == "# ganforge run recipes/infogan_shapes.toml"


def test_shapes_recipe_trains_and_eval_reports_factor_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FactorVAEScore, "n_train", 40)
    monkeypatch.setattr(FactorVAEScore, "n_eval", 20)
    overrides = [a for o in TINY for a in ("--set", o)]
    result = runner.invoke(app, ["run", str(RECIPE), *overrides, "--out", str(tmp_path), "--device", "cpu",
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    traversals = sorted(p.name.split("-step-")[0] for p in (run_dir / "traversals").glob("*.png"))
    assert traversals == ["c1", "c2", "c3", "c4", "c5"]

    args = ["eval", str(run_dir), "--device", "cpu", *(a for m in METRICS for a in ("--metric", m))]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    res = {name: r["details"] for name, r in json.loads(result.stdout)["results"].items()}
    codes = res["factor_codes"]["codes"]
    assert list(codes) == ["c1", "c2", "c3", "c4", "c5"]
    assert all(r["factor"] in FACTOR_NAMES and 0 <= r["normalized_mi"] <= 1 for r in codes.values())
    # the categorical code against the shape factor = code_accuracy against the labels (which are the shapes)
    assert codes["c1"]["accuracy"]["shape"] == pytest.approx(res["code_accuracy"]["c1"]["accuracy"])
    assert 0 <= res["mig"]["mig"] <= 1 and set(res["mig"]["gaps"]) == set(FACTOR_NAMES)
    assert 0 <= res["factor_vae"]["score"] <= 1 and res["factor_vae"]["sampler"] == "rendered"

    shown = runner.invoke(app, args)
    assert shown.exit_code == 0, shown.output
    assert "codes vs ground-truth factors" in shown.stdout and "MIG (ground-truth factors)" in shown.stdout
    assert "FactorVAE score (ground-truth factors)" in shown.stdout
    assert "[full]" in shown.stdout  # the data description is printed as text, not eaten as rich markup
