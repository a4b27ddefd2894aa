"""The README's first run (recipes/infogan_glyphs.toml), shortened: it trains, evaluates itself at the end and
says where its pictures are; and train.final_eval's errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from typer.testing import CliRunner

from ganforge.cli.app import app

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_first_run_recipe_trains_and_reports_its_codes(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ganforge", "run", str(ROOT / "recipes" / "infogan_glyphs.toml"), "--out", str(tmp_path),
         "--set", "data.size=640", "--set", "train.steps=20", "--set", "train.sample_every=20",
         "--set", "train.checkpoint_every=20", "--set", "train.log_every=10", "--no-progress"],
        capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert out.returncode == 0, out.stderr
    run_dir = next(tmp_path.glob("infogan-glyphs-*"))
    assert "finished step 20" in out.stdout
    newest = out.stdout.split("newest:", 1)[1].split("checkpoints/", 1)[0]
    assert newest.split() == [f"c{i}-step-00000020.png" for i in (1, 2, 3, 4)]
    # the summary stays readable at 80 columns (but for lines that name the run directory, as long as the user's path)
    assert max(len(line) for line in out.stdout.splitlines() if str(tmp_path) not in line) <= 80
    for name in ("c1", "c2", "c3", "c4"):
        assert (run_dir / "traversals" / f"{name}-step-00000020.png").is_file()
    # the factor table: every code with the factor it is most informative about
    assert "digit" in out.stdout and all(f"│ {c}" in out.stdout for c in ("c1", "c2", "c3", "c4")), out.stdout
    saved = json.loads((run_dir / "eval.json").read_text())
    assert set(saved["results"]) == {"factor_codes"}
    assert set(saved["results"]["factor_codes"]["details"]["codes"]) == {"c1", "c2", "c3", "c4"}


def test_unknown_final_eval_metric_fails_before_training(tiny_raw: dict[str, Any], tmp_path: Path) -> None:
    tiny_raw["train"]["final_eval"] = ["no_such_metric"]
    path = tmp_path / "tiny.toml"
    path.write_text(tomli_w.dumps(tiny_raw))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "runs"), "--no-progress"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "train.final_eval: no metric 'no_such_metric'" in result.output
    assert not list((tmp_path / "runs").glob("*"))  # nothing trained, nothing left behind
    validated = CliRunner().invoke(app, ["validate", str(path)])
    assert validated.exit_code == result.exit_code and "train.final_eval: no metric 'no_such_metric'" in validated.output


def test_final_eval_rejects_malformed_names(tiny_raw: dict[str, Any], tmp_path: Path) -> None:
    tiny_raw["train"]["final_eval"] = ["../x"]
    path = tmp_path / "tiny.toml"
    path.write_text(tomli_w.dumps(tiny_raw))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code != 0 and "train.final_eval" in result.output
