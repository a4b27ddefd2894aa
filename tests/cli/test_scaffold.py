"""``ganforge new-plugin``: the scaffolded package is complete, and its own tests pass as generated."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ganforge.cli.app import app
from ganforge.cli.scaffold import names, scaffold

runner = CliRunner()


@pytest.mark.slow
def test_scaffolded_package_passes_its_own_tests(tmp_path: Path) -> None:
    result = runner.invoke(app, ["new-plugin", "wrapped_laplace", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    package = tmp_path / "ganforge-wrapped-laplace"
    assert f"created {package}" in result.stdout
    # run the package's tests as its author would, in a fresh interpreter; tests/conftest.py puts the
    # (not installed) package on sys.path
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=package,
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout and "skipped" not in proc.stdout


def test_scaffold_writes_an_entry_point_and_a_recipe_for_the_name(tmp_path: Path) -> None:
    package = scaffold("wrapped_laplace", tmp_path)
    meta = tomllib.loads((package / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "ganforge-wrapped-laplace"
    assert meta["project"]["entry-points"]["ganforge"] == {"wrapped_laplace": "ganforge_wrapped_laplace"}
    assert (package / "ganforge_wrapped_laplace" / "factor.py").read_text().count("class WrappedLaplace(") == 1
    recipe = tomllib.loads((package / "recipes" / "infogan_mnist_wrapped_laplace.toml").read_text())
    assert recipe["latent"]["factors"][1]["kind"] == "wrapped_laplace"
    assert not [p for p in package.rglob("*") if "$" in p.name or (p.is_file() and "$" in p.read_text())]


def test_names() -> None:
    assert names("wrapped_laplace") == {"name": "wrapped_laplace", "package": "ganforge_wrapped_laplace",
                                        "dist": "ganforge-wrapped-laplace", "cls": "WrappedLaplace",
                                        "ganforge_version": names("x")["ganforge_version"]}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["Bad-Name"], "is not a valid plugin name"),
        (["1st"], "is not a valid plugin name"),
        (["class"], "is not a valid plugin name"),
        (["uniform"], "a latent factor kind 'uniform' is already registered"),
        (["fresh", "--dir", "nowhere"], "directory not found"),
    ],
)
def test_new_plugin_errors_are_one_line(tmp_path: Path, args: list[str], fragment: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["new-plugin", *args])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("error: ")] and fragment in result.stderr


def test_new_plugin_refuses_an_existing_target(tmp_path: Path) -> None:
    (tmp_path / "ganforge-laplace").mkdir()
    result = runner.invoke(app, ["new-plugin", "laplace", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and "ganforge-laplace already exists" in result.stderr
    assert not list((tmp_path / "ganforge-laplace").iterdir())
