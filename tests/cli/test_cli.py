"""The CLI through typer's test runner: one-line errors, exit codes, and the main commands."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from typer.testing import CliRunner

from ganforge.cli.app import app

runner = CliRunner()


def _write(tmp_path: Path, raw: dict[str, Any], name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text("# ganforge run tiny.toml\n" + tomli_w.dumps(raw))
    return path


def _one_line_error(result: Any, *fragments: str) -> None:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert lines, result.output
    for fragment in fragments:
        assert any(fragment in line for line in lines), (fragment, result.output)


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "validate", "plugins", "sample"):
        assert command in result.output


def test_plugins_json_lists_builtins() -> None:
    result = runner.invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["vanilla"]["provides"]["method"] == ["vanilla"]
    assert rows["core"]["source"] == "built-in" and rows["core"]["version"]


def test_validate_ok_and_override(tiny_raw: dict[str, Any], tmp_path: Path) -> None:
    path = _write(tmp_path, tiny_raw)
    result = runner.invoke(app, ["validate", str(path), "--set", "train.steps=77"])
    assert result.exit_code == 0 and "77 steps" in result.output


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (lambda r: r["train"].update(stepz=1), ["tiny.toml: train.stepz: unknown key"]),
        (lambda r: r["train"].update(steps="x"), ["train.steps:"]),
        (lambda r: r["model"].update(method="gan9000"), ["model.method", "available: ", "vanilla"]),
        (lambda r: r["critic"].update(kind="nope"), ["critic.kind", "available: ", "dcgan", "mlp"]),
    ],
)
def test_bad_recipes_give_one_line_errors(tiny_raw: dict[str, Any], tmp_path: Path, change: Any, fragments: list[str]) -> None:
    change(tiny_raw)
    path = _write(tmp_path, tiny_raw)
    for command in ("validate", "run"):
        _one_line_error(runner.invoke(app, [command, str(path)]), *fragments)


def test_missing_recipe_file(tmp_path: Path) -> None:
    _one_line_error(runner.invoke(app, ["run", str(tmp_path / "nope.toml")]), "file not found")


def test_missing_data_directory(tiny_raw: dict[str, Any], tmp_path: Path) -> None:
    tiny_raw["data"] = {"source": "idx", "path": str(tmp_path / "nowhere")}
    _one_line_error(runner.invoke(app, ["run", str(_write(tmp_path, tiny_raw)), "--out", str(tmp_path)]),
                    "data directory not found")


def test_run_then_sample_then_resume_of_finished_run(tiny_raw: dict[str, Any], tmp_path: Path) -> None:
    path = _write(tmp_path, tiny_raw)
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "runs"), "--no-progress"])
    assert result.exit_code == 0, result.output
    run_dir = next((tmp_path / "runs").glob("tiny-*"))
    assert f"run directory: {run_dir}" in result.output
    grid = tmp_path / "grid.png"
    result = runner.invoke(app, ["sample", str(run_dir), "-n", "9", "--out", str(grid), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert grid.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = runner.invoke(app, ["run", "--resume", str(run_dir), "--set", "train.steps=8", "--no-progress"])
    assert result.exit_code == 0 and "finished step 8" in result.output, result.output
    assert re.search(r"^finished step 8 in \d+ min \d\d s \(\d+ images/s at the end\)$", result.output, re.M), result.output


def test_unreadable_checkpoint_is_a_clear_error(tiny_raw: dict[str, Any], tmp_path: Path) -> None:
    path = _write(tmp_path, tiny_raw)
    assert runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "runs"), "--no-progress"]).exit_code == 0
    run_dir = next((tmp_path / "runs").glob("tiny-*"))
    for f in (run_dir / "checkpoints").glob("*.safetensors"):
        f.write_bytes(f.read_bytes()[:100])
    _one_line_error(runner.invoke(app, ["sample", str(run_dir), "--out", str(tmp_path / "g.png")]), "no valid checkpoint")


def test_not_a_run_directory(tmp_path: Path) -> None:
    _one_line_error(runner.invoke(app, ["sample", str(tmp_path)]), "not a ganforge run directory")
    _one_line_error(runner.invoke(app, ["run", "--resume", str(tmp_path / "nope")]), "run directory not found")


def test_debug_shows_traceback(tmp_path: Path) -> None:
    env = {"GANFORGE_DEBUG": "1", "PATH": ""}
    import os

    proc = subprocess.run([sys.executable, "-m", "ganforge", "validate", str(tmp_path / "x.toml")],
                          capture_output=True, text=True, env={**os.environ, **env})
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_cli_import_does_not_import_torch() -> None:
    code = "import sys, ganforge.cli.app; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("device", ["foo", "xpu:0", "cuda:x", "cpu "])
def test_a_bad_device_on_the_command_line_is_refused_before_anything_runs(tiny_raw: dict[str, Any], tmp_path: Path,
                                                                         device: str) -> None:
    result = runner.invoke(app, ["run", str(_write(tmp_path, tiny_raw)), "--out", str(tmp_path / "runs"), "--device", device])
    assert result.exit_code == 2 and "Invalid value for '--device'" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "runs").exists()
