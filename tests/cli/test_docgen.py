"""docs/recipes.md is generated from the recipe models; it must never drift from them."""

from __future__ import annotations

from pathlib import Path

from ganforge.cli.docgen import render
from ganforge.registry import load_registry


def test_recipe_reference_is_up_to_date() -> None:
    doc = Path(__file__).parents[2] / "docs" / "recipes.md"
    assert doc.read_text() == render(load_registry(deny=[])), "run: python -m ganforge.cli.docgen > docs/recipes.md"


def test_cli_reference_is_up_to_date() -> None:
    from ganforge.cli.docgen import render_cli

    doc = Path(__file__).parents[2] / "docs" / "cli.md"
    assert doc.read_text() == render_cli(), "run: python -m ganforge.cli.docgen cli > docs/cli.md"


def test_cli_reference_names_every_command() -> None:
    import typer

    from ganforge.cli.app import app
    from ganforge.cli.docgen import render_cli

    text = render_cli()
    for name in typer.main.get_command(app).commands:  # type: ignore[attr-defined]
        assert f"## `ganforge {name}`" in text
