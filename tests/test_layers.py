"""The package layering declared in pyproject.toml ([tool.importlinter]) holds, and the check can fail.

``lint-imports`` (import-linter) reads the imports of every module: a package may import only those
below it (cli > reporting > training > evaluation > runs > model > data > recipe > the contracts), so
an import circle between packages or an upward import breaks the build, as does a core module that
imports a plugin, the built-in plugin or the test tooling.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports")
pytestmark = pytest.mark.skipif(LINT is None, reason="import-linter is not installed (pip install -e '.[dev]')")


def lint(cwd: Path, package_root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{package_root}{os.pathsep}{ROOT / 'plugins'}"}
    return subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
                           "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_declared_layers_hold_on_this_checkout() -> None:
    done = lint(ROOT, ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("model/system.py", "import ganforge.training.loop", "layers"),  # an upward import: a circle model ↔ training
    ("training/step.py", "import ganforge_infogan", "the core never imports a plugin"),
    ("evaluation/run.py", "from ganforge.testing import tiny_recipe", "the core never imports a plugin"),
])
def test_an_upward_import_or_a_plugin_import_breaks_the_check(tmp_path: Path, module: str, line: str, contract: str) -> None:
    shutil.copytree(ROOT / "ganforge", tmp_path / "ganforge", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "ganforge" / module
    target.write_text(target.read_text() + f"\n{line}  # added by the test\n")
    done = lint(tmp_path, tmp_path)
    assert done.returncode != 0
    broken = done.stdout[done.stdout.index("Broken contracts"):]
    assert contract in broken and f"ganforge.{module[:-3].replace('/', '.')}" in broken
