"""Discovery through real entry points: installed distributions that are broken, clash, or are filtered.

Each fake distribution is a ``*.dist-info`` folder and a module on a temporary ``sys.path`` entry,
which is all ``importlib.metadata`` needs, so these tests exercise the same code path as a
``pip install``-ed third-party package.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from typer.testing import CliRunner

from ganforge import PluginError
from ganforge.cli.app import app
from ganforge.registry import load_registry

runner = CliRunner()

GOOD = '''
from ganforge import hookimpl
@hookimpl
def register_objectives(register):
    register("good_hinge", "ganforge.builtins.objectives:Hinge", help="a working third-party objective")
'''
BROKEN = {
    "import": "import surely_not_an_installed_module_xyz\n",
    "raises": "from ganforge import hookimpl\n@hookimpl\n"
              "def register_critics(register):\n    raise RuntimeError('boom')\n",
    "misspelt": "from ganforge import hookimpl\n@hookimpl\ndef register_critic(register):\n    pass\n",
    "argument": "from ganforge import hookimpl\n@hookimpl\ndef register_critics(registr):\n    pass\n",
}

MakeDist = Callable[..., str]


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeDist]:
    """``make_dist(dist, ep_name, source)`` installs a fake distribution whose entry point loads ``source``."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    made: list[str] = []

    def make(dist: str, ep_name: str, source: str, module: str | None = None) -> str:
        module = module or f"gftest_{dist.replace('-', '_')}"
        (site / f"{module}.py").write_text(source)
        info = site / f"{dist.replace('-', '_')}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.1\n")
        (info / "entry_points.txt").write_text(f"[ganforge]\n{ep_name} = {module}\n")
        made.append(module)
        monkeypatch.delitem(sys.modules, module, raising=False)
        return module

    yield make
    for module in made:
        sys.modules.pop(module, None)


@pytest.fixture
def broken(make_dist: MakeDist) -> None:
    make_dist("ganforge-good", "good", GOOD)
    for what, source in BROKEN.items():
        make_dist(f"ganforge-broken-{what}", f"broken_{what}", source)


def _recipe(tmp_path: Path, raw: dict[str, Any]) -> str:
    path = tmp_path / "tiny.toml"
    path.write_text(tomli_w.dumps(raw))
    return str(path)


def test_broken_distributions_are_named_and_the_rest_keep_working(broken: None) -> None:
    registry = load_registry()
    for what in BROKEN:
        assert any(f"(distribution 'ganforge-broken-{what}')" in w for w in registry.warnings), (what, registry.warnings)
    text = "\n".join(registry.warnings)
    assert "failed to import: ModuleNotFoundError" in text
    assert "failed in register_critics: RuntimeError: boom" in text
    assert "unknown hook(s): register_critic " in text
    assert "register_critics(registr) takes 'registr'" in text
    assert registry.get("objective", "good_hinge").plugin == "good"
    assert registry.plugins["good"].source == "entry point" and registry.plugins["good"].version == "0.0.1"
    assert {"categorical", "uniform"} <= set(registry.names("latent_factor"))  # the built-ins are untouched


def test_cli_plugins_validate_and_run_survive_broken_plugins(broken: None, tiny_raw: dict[str, Any],
                                                            tmp_path: Path) -> None:
    listed = runner.invoke(app, ["plugins", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["good"]["distribution"] == "ganforge-good" and rows["good"]["provides"] == {"objective": ["good_hinge"]}
    for what in BROKEN:
        row = rows[f"broken_{what}"]
        assert row["distribution"] == f"ganforge-broken-{what}" and row["version"] == "0.0.1" and row["error"]
    table = runner.invoke(app, ["plugins"], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "ganforge-broken-import" in table.stdout and "good_hinge" in table.stdout
    assert "warning: plugin 'broken_import' (distribution 'ganforge-broken-import') failed to import" in table.stderr

    path = _recipe(tmp_path, {**tiny_raw, "objective": {"kind": "good_hinge"}})
    validated = runner.invoke(app, ["validate", path])
    assert validated.exit_code == 0, validated.output
    assert all(f"ganforge-broken-{what}" in validated.stderr for what in BROKEN)
    ran = runner.invoke(app, ["run", path, "--set", "train.steps=2", "--out", str(tmp_path / "runs"), "--no-progress"])
    assert ran.exit_code == 0 and "finished step 2" in ran.stdout, ran.output


def test_strict_mode_turns_a_broken_distribution_into_an_error(broken: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANFORGE_STRICT_PLUGINS", "1")
    result = runner.invoke(app, ["plugins"])
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert "error: plugin 'broken_argument' (distribution 'ganforge-broken-argument')" in result.stderr


def test_deny_list_by_distribution_name_silences_a_broken_plugin(broken: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANFORGE_DISABLE_PLUGINS", ",".join(f"ganforge-broken-{w}" for w in BROKEN))
    registry = load_registry()
    assert registry.warnings == [] and "good" in registry.plugins


def test_allow_list_loads_only_the_named_plugins(broken: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANFORGE_PLUGINS", "core,ganforge-good")
    registry = load_registry()
    assert set(registry.plugins) == {"core", "good"} and registry.warnings == []


def test_two_distributions_registering_one_name_fail_naming_both(make_dist: MakeDist, tmp_path: Path) -> None:
    make_dist("ganforge-first", "first", GOOD)
    make_dist("ganforge-second", "second", GOOD)
    with pytest.raises(PluginError) as info:
        load_registry()
    message = str(info.value)
    assert "objective 'good_hinge' is registered twice" in message
    assert "'first' (distribution 'ganforge-first')" in message and "'second' (distribution 'ganforge-second')" in message
    result = runner.invoke(app, ["plugins", "--json"])  # the command to diagnose it still works, listing both
    assert result.exit_code == 0, result.output
    rows = {r["distribution"]: r for r in json.loads(result.stdout)}
    assert {"ganforge-first", "ganforge-second"} <= set(rows)
    assert "registered twice" in (rows["ganforge-second"]["error"] or "")
    assert "registered twice" in result.stderr  # and warns about the clash
    other = runner.invoke(app, ["validate", "nothing.toml"])  # other commands stop with the clash, in one line
    assert other.exit_code == 3 and "registered twice" in other.stderr and "Traceback" not in other.output


def test_a_plugin_that_calls_sys_exit_at_import_is_reported_not_obeyed(make_dist: MakeDist) -> None:
    make_dist("ganforge-quitter", "quitter", "import sys\nsys.exit(7)\n")
    registry = load_registry()
    [warning] = [w for w in registry.warnings if "quitter" in w]
    assert "failed to import: SystemExit: 7" in warning
    result = runner.invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0 and "quitter" in result.stdout


def test_two_distributions_with_one_entry_point_name_are_both_named(make_dist: MakeDist) -> None:
    make_dist("ganforge-one", "same", GOOD, module="gftest_one")
    make_dist("ganforge-two", "same", GOOD.replace("good_hinge", "other_hinge"), module="gftest_two")
    registry = load_registry()
    [warning] = [w for w in registry.warnings if "two plugins are named 'same'" in w]
    assert "ganforge-one" in warning and "ganforge-two" in warning
