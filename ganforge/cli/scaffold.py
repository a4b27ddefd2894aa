"""``ganforge new-plugin NAME``: a new latent-factor plugin package, from templates, that passes its tests.

The templates (``ganforge/templates/plugin/``) are a complete package: ``pyproject.toml`` with the
``ganforge`` entry point, the factor, its options, a recipe that uses it, and tests built on
``ganforge.testing``. In file names ``package`` becomes the package and ``NAME`` the factor kind;
in file contents ``$name``, ``$package``, ``$dist``, ``$cls`` and ``$ganforge_version`` are filled in.
"""

from __future__ import annotations

import keyword
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from ganforge import __version__
from ganforge.errors import GanforgeError

TEMPLATE_SUFFIX = ".tmpl"
_NAME = re.compile(r"[a-z][a-z0-9_]*")


def check_name(name: str) -> None:
    """Reject names that cannot be a factor kind, an entry-point name and part of a module name."""
    if not _NAME.fullmatch(name) or keyword.iskeyword(name) or name.endswith("_"):
        raise GanforgeError(
            f"{name!r} is not a valid plugin name: use a lowercase Python identifier (letters, digits, "
            "underscores; starting with a letter), e.g. 'laplace' or 'wrapped_normal'"
        )


def names(name: str) -> dict[str, str]:
    """Every spelling the templates use: kind, package, distribution, class, required ganforge version."""
    return {
        "name": name,
        "package": f"ganforge_{name}",
        "dist": f"ganforge-{name.replace('_', '-')}",
        "cls": "".join(part.capitalize() for part in name.split("_")),
        "ganforge_version": __version__,
    }


def _files(root: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    out: list[tuple[str, Traversable]] = []
    for item in sorted(root.iterdir(), key=lambda t: t.name):
        if item.is_dir():
            out += _files(item, f"{prefix}{item.name}/")
        elif item.name.endswith(TEMPLATE_SUFFIX):
            out.append((prefix + item.name[: -len(TEMPLATE_SUFFIX)], item))
    return out


def scaffold(name: str, parent: str | Path = ".", taken: set[str] | frozenset[str] = frozenset()) -> Path:
    """Write the package ``<parent>/ganforge-<name>/``; returns its path.

    ``taken`` holds factor kinds already registered (the CLI passes the installed ones), so a name
    that would clash with an existing kind is refused here, not when the package is first loaded.
    """
    check_name(name)
    if name in taken:
        raise GanforgeError(f"a latent factor kind {name!r} is already registered; choose another name")
    spell = names(name)
    target = Path(parent) / spell["dist"]
    if target.exists():
        raise GanforgeError(f"{target} already exists; choose another name or --dir")
    if not Path(parent).is_dir():
        raise GanforgeError(f"{parent}: directory not found")
    templates = resources.files("ganforge") / "templates" / "plugin"
    rendered = []
    for relative, source in _files(templates):
        path = relative.replace("package/", f"{spell['package']}/").replace("NAME", name)
        rendered.append((target / path, Template(source.read_text(encoding="utf-8")).substitute(spell)))
    for path, text in rendered:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
