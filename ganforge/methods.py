"""Methods: named presets that compose a run. Kept free of torch so validating a recipe is fast."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Method:
    """A named preset: a recipe fragment merged *under* the user's recipe before validation.

    ``defaults(raw_recipe)`` returns nested dicts (e.g. ``{"generator": {"kind": "dcgan"}}``);
    the user's own keys always win. ``check`` returns ``(key_path, message)`` problems.
    """

    name: str
    description: str
    defaults: Callable[[dict[str, Any]], dict[str, Any]]
    check: Callable[[Any], list[tuple[str, str]]] = lambda recipe: []
