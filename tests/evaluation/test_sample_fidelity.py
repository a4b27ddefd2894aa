"""KID, precision / recall and density / coverage on a tiny trained run: in ``eval --json`` with the domain
FID's sample count, in ``eval``'s table with KID's ± std, and in the one-run HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomli_w
from typer.testing import CliRunner

from ganforge.cli.app import app
from ganforge.testing import tiny_recipe

runner = CliRunner()
NEW = ("domain_kid", "precision_recall", "density_coverage")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A vanilla GAN trained 4 steps on 256 labelled synthetic images (enough for an evaluator)."""
    tmp = tmp_path_factory.mktemp("fidelity")
    raw = tiny_recipe("vanilla", data={"size": 256}, generator={"kind": "mlp", "hidden": 32, "layers": 1},
                      critic={"kind": "mlp", "hidden": 32, "layers": 1})
    (tmp / "r.toml").write_text(tomli_w.dumps(raw))
    result = runner.invoke(app, ["run", str(tmp / "r.toml"), "--out", str(tmp / "runs"), "--no-progress"])
    assert result.exit_code == 0, result.output
    return next((tmp / "runs").iterdir())


def test_eval_json_has_the_new_metrics_on_the_domain_fids_samples(
        run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    result = runner.invoke(app, ["eval", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    results = json.loads(result.output[result.output.index("{"):])["results"]
    samples = results["domain_fid"]["details"]["samples"]
    assert samples == 256 and all(results[name]["details"]["samples"] == samples for name in NEW)
    kid = results["domain_kid"]
    assert kid["headlines"][0]["label"] == "domain KID" and kid["headlines"][0]["std"] == kid["details"]["std"] > 0
    assert kid["details"]["subset_size"] == 128 and kid["details"]["kid"] > kid["details"]["real_vs_real"]
    assert [h["key"] for h in results["precision_recall"]["headlines"]] == ["precision", "recall"]
    assert [h["key"] for h in results["density_coverage"]["headlines"]] == ["density", "coverage"]
    for name, keys in (("precision_recall", ("precision", "recall")), ("density_coverage", ("coverage",))):
        for key in keys:  # an untrained generator against the real images' own level
            assert 0.0 <= results[name]["details"][key] <= results[name]["details"]["real_vs_real"][key]


def test_eval_table_and_the_one_run_report_show_them(
        run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    shown = runner.invoke(app, ["eval", str(run_dir)], env={"COLUMNS": "200"}).output
    assert " ± " in shown.split("domain KID")[1].splitlines()[0]  # mean ± std over subsets
    assert "precision (real vs real halves = " in shown and "coverage (real vs real halves = " in shown
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["report", str(run_dir)]).exit_code == 0
    page = (tmp_path / f"report-{run_dir.name}" / "report.html").read_text()
    for label in ("domain KID", "precision (real vs real halves", "recall (", "density (", "coverage ("):
        assert label in page, label
    assert "domain KID, real vs real halves" in page  # the data's reference number
