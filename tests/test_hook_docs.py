"""Meta-tests: every hook is documented and tested; plugins use only the public API; the API is documented.

- each hook in ``ganforge.hookspecs`` has a section in docs/plugins/hooks.md headed by its exact
  signature, ``## `register_latent_factors(register)` ``, and at least one test function that names it;
- code in ``plugins/``, in the example package, in a freshly scaffolded package and in
  ``ganforge.testing`` imports nothing from ganforge outside ``ganforge.__all__``;
- every name in ``ganforge.__all__`` has a row in docs/plugins/api.md, and every row is in ``__all__``.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterable
from pathlib import Path

import ganforge
from ganforge import hookspecs
from ganforge.cli.scaffold import scaffold

ROOT = Path(__file__).resolve().parents[1]
HOOKS_DOC = ROOT / "docs" / "plugins" / "hooks.md"
API_DOC = ROOT / "docs" / "plugins" / "api.md"
EXAMPLES = ROOT / "docs" / "examples"
#: modules that are public besides ``ganforge.__all__`` (docs/plugins/api.md)
PUBLIC_MODULES = ("ganforge.events", "ganforge.testing")


def hook_signatures() -> dict[str, str]:
    """Every hook spec: name → ``name(arg, …)``."""
    return {
        name: f"{name}({', '.join(inspect.signature(fn).parameters)})"
        for name, fn in vars(hookspecs).items()
        if hasattr(fn, f"{hookspecs.PROJECT}_spec")
    }


def undocumented(signatures: dict[str, str], doc: str) -> list[str]:
    """Signatures without a ``## `signature` `` heading in ``doc``."""
    headings = set(re.findall(r"^## `([^`]+)`\s*$", doc, flags=re.M))
    return sorted(sig for sig in signatures.values() if sig not in headings)


def test_functions(files: Iterable[Path]) -> dict[str, str]:
    """Source of every test function (module-level or in a class) in ``files``: ``file::name`` → source."""
    out: dict[str, str] = {}
    for path in files:
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
                out[f"{path.name}::{node.name}"] = ast.get_source_segment(text, node) or ""
    return out


test_functions.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def untested(hooks: Iterable[str], tests: dict[str, str]) -> list[str]:
    """Hooks that no test function mentions."""
    return sorted(h for h in hooks if not any(re.search(rf"\b{h}\b", src) for src in tests.values()))


def private_imports(path: Path, public: set[str], own: str | None = None) -> list[str]:
    """``file:line: what`` for every use of ganforge outside ``public`` in one module (``own``: its package)."""
    tree = ast.parse(path.read_text())
    bad: list[str] = []
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ganforge":
            if node.module == "ganforge":
                bad += [f"{path.name}:{node.lineno}: from ganforge import {a.name}" for a in node.names
                        if a.name not in public]
            elif node.module not in PUBLIC_MODULES and not (own and (node.module + ".").startswith(own + ".")):
                bad.append(f"{path.name}:{node.lineno}: from {node.module} import …")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "ganforge":
                    aliases.add(a.asname or "ganforge")
                elif a.name.startswith("ganforge.") and a.name not in PUBLIC_MODULES:
                    bad.append(f"{path.name}:{node.lineno}: import {a.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            if node.attr not in public:
                bad.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
    return bad


# --- hooks: documented and tested ----------------------------------------------------------------
def test_every_hook_has_a_docs_section_headed_by_its_signature() -> None:
    missing = undocumented(hook_signatures(), HOOKS_DOC.read_text())
    headings = ", ".join(f"## `{m}`" for m in missing)
    assert not missing, f"add a section to {HOOKS_DOC.relative_to(ROOT)} headed: {headings}"


def test_every_hook_has_a_test() -> None:
    files = [p for p in (ROOT / "tests").rglob("test_*.py") if p.name != Path(__file__).name]
    missing = untested(hook_signatures(), test_functions(files))
    assert not missing, f"no test function mentions: {', '.join(missing)}"


def test_the_checks_fail_when_a_hook_is_missing() -> None:
    sigs = {**hook_signatures(), "register_widgets": "register_widgets(register, extra)"}
    assert undocumented(sigs, HOOKS_DOC.read_text()) == ["register_widgets(register, extra)"]
    assert undocumented({"track_event": "track_event(event, run)"}, HOOKS_DOC.read_text()) == ["track_event(event, run)"]
    tests = {"a::test_x": "def test_x():\n    register_widgetsX()\n", "a::test_y": "def test_y():\n    track_event(1)\n"}
    assert untested(["register_widgets", "track_event"], tests) == ["register_widgets"]


# --- the public API ----------------------------------------------------------------------------------
def _plugin_modules(extra_root: Path) -> list[Path]:
    roots = [ROOT / "plugins", *(p for p in EXAMPLES.glob("*/ganforge_*") if p.is_dir()), extra_root]
    return sorted(p for root in roots for p in root.rglob("*.py") if "tests" not in p.relative_to(root).parts)


def test_plugins_import_only_the_public_api(tmp_path: Path) -> None:
    scaffolded = scaffold("meta_check", tmp_path) / "ganforge_meta_check"
    modules = _plugin_modules(scaffolded)
    assert any(p.parts[-2] == "ganforge_infogan" for p in modules) and any(p.parent == scaffolded for p in modules)
    bad = [b for p in modules for b in private_imports(p, set(ganforge.__all__))]
    assert not bad, "plugins reach into the core outside ganforge.__all__:\n" + "\n".join(bad)


def test_ganforge_testing_uses_only_the_public_api() -> None:
    """What plugin authors import from ganforge.testing shows them the public API only; faults.py (fault
    injection for ganforge's own reliability tests, which patches the trainer and the CLI) is exempt."""
    modules = sorted(p for p in (ROOT / "ganforge" / "testing").glob("*.py") if p.name != "faults.py")
    assert len(modules) >= 4
    bad = [b for p in modules for b in private_imports(p, set(ganforge.__all__), own="ganforge.testing")]
    assert not bad, "ganforge.testing reaches into the core outside ganforge.__all__:\n" + "\n".join(bad)


def test_the_import_scan_catches_private_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import ganforge\nimport ganforge.training.loop\nfrom ganforge.registry import Registry\n"
                      "from ganforge.events import RunStarted\nimport ganforge.testing\n"
                      "from ganforge import LatentFactor, blame\nx = ganforge.Generator\ny = ganforge.model.system\n")
    assert [b.split(": ", 1)[1] for b in private_imports(module, set(ganforge.__all__))] == [
        "import ganforge.training.loop", "from ganforge.registry import …", "from ganforge import blame", "ganforge.model"]


def test_every_public_name_is_documented() -> None:
    section = API_DOC.read_text().split("## `ganforge.__all__`", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Za-z_]+)` \|", section, flags=re.M))
    assert set(ganforge.__all__) <= documented, f"undocumented: {sorted(set(ganforge.__all__) - documented)}"
    assert documented <= set(ganforge.__all__), f"documented but not public: {sorted(documented - set(ganforge.__all__))}"
    for name in ganforge.__all__:
        getattr(ganforge, name)  # every public name resolves
