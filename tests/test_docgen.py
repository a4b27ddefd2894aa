"""docs/recipes.md is generated from the recipe models; it must never drift from them."""

from __future__ import annotations

from pathlib import Path

from ganforge.docgen import render
from ganforge.registry import load_registry


def test_recipe_reference_is_up_to_date() -> None:
    doc = Path(__file__).parents[1] / "docs" / "recipes.md"
    assert doc.read_text() == render(load_registry(deny=[])), "run: python -m ganforge.docgen > docs/recipes.md"
