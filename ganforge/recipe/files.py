"""Recipe files and ``--set`` overrides: reading TOML safely (bounded, one-line errors) and applying
``key.path=value`` assignments to the raw table before :func:`ganforge.recipe.model.resolve` validates it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from ganforge.errors import RecipeError


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a recipe file, turning every read or syntax problem into a one-line RecipeError."""
    from ganforge.safefiles import UnsafeFile, read_bounded

    p = Path(path)
    try:
        text = read_bounded(p, MAX_RECIPE).decode("utf-8")
    except FileNotFoundError:
        raise RecipeError(str(p), [("", "file not found")]) from None
    except IsADirectoryError:
        raise RecipeError(str(p), [("", "is a directory, not a recipe file")]) from None
    except UnsafeFile as exc:
        raise RecipeError(str(p), [("", str(exc))]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(str(p), [("", f"cannot read: {exc}")]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(str(p), [("", f"invalid TOML: {exc}")]) from None
    except (ValueError, RecursionError) as exc:  # an integer past Python's digit limit; nesting past the stack
        raise RecipeError(str(p), [("", f"invalid TOML: {_first_line(exc)}")]) from None


MAX_RECIPE = 16 * 1024 * 1024  # a recipe file is read to at most this many bytes

_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0] if not isinstance(exc, RecursionError) \
        else "nested too deeply"


def _parse_value(text: str, key: str, source: str = "--set") -> Any:
    """``text`` as a TOML value (a bare word as a string); an unusable one is an error naming ``key``."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word: take it as a string
    except (ValueError, RecursionError) as exc:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise RecipeError(source, [(key, f"not a usable value {shown!r}: {_first_line(exc)}")]) from None


def apply_override(raw: dict[str, Any], assignment: str, source: str = "--set") -> None:
    """Apply one ``key.path=value`` (``value`` parsed as TOML, else a string) in place.

    List items are addressed as ``latent.factors[0].k`` or ``latent.factors.0.k``.
    """
    key, sep, value = assignment.partition("=")
    if not sep or not key.strip():
        raise RecipeError(source, [(assignment, "expected KEY.PATH=VALUE")])
    if re.search(r"(^|\.)(\.|$)|^\[", key.strip()):
        raise RecipeError(source, [(key, "empty part in the key path (two dots, or a dot at an end)")])
    parts: list[str | int] = []
    for name, index in _PATH_PART.findall(key.strip()):
        number = index or (name if re.fullmatch(r"[0-9]+", name) else "")  # ASCII digits only ('¹' is no index)
        parts.append(int(number) if number else name)
    if not parts:
        raise RecipeError(source, [(assignment, "expected KEY.PATH=VALUE")])
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                raise RecipeError(source, [(key, f"no list item [{part}] here")])
            node = node[part]
        else:
            if not isinstance(node, dict):
                raise RecipeError(source, [(key, f"{part!r} is not inside a table")])
            node = node.setdefault(part, [] if isinstance(nxt, int) else {})
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise RecipeError(source, [(key, f"no list item [{last}] here")])
        node[last] = _parse_value(value.strip(), key.strip(), source)
    elif isinstance(node, dict):
        node[last] = _parse_value(value.strip(), key.strip(), source)
    else:
        raise RecipeError(source, [(key, "cannot set a key inside a non-table value")])


_DATA_CORE_KEYS = {"source", "batch_size", "limit"}


def apply_overrides(raw: dict[str, Any], overrides: list[str] | tuple[str, ...], source: str = "--set") -> None:
    """Apply ``--set`` overrides in order. Switching ``data.source`` to another source drops the file's
    options of the previous one (``path``, ``root``, …) unless an override sets them too, so
    ``--set data.source=idx --set data.path=DIR`` works on a recipe written for torchvision's MNIST."""
    data = raw.get("data")
    before = data.get("source") if isinstance(data, dict) else None
    data_keys: set[str] = set()
    for assignment in overrides:
        apply_override(raw, assignment, source)
        key = assignment.partition("=")[0].strip()
        if key.startswith("data."):
            data_keys.add(re.split(r"[.\[]", key[5:], maxsplit=1)[0])
    data = raw.get("data")
    if isinstance(data, dict) and "source" in data_keys and data.get("source") != before:
        for key in [k for k in data if k not in _DATA_CORE_KEYS | data_keys]:
            del data[key]
