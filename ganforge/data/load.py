"""The recipe's data source, built through the registry (``data.source`` and its options)."""

from __future__ import annotations

from pathlib import Path

from ganforge.interfaces import DataContext, ImageData
from ganforge.errors import blame
from ganforge.recipe.model import Resolved


def load_data(resolved: Resolved, cache_dir: str = "~/.cache/ganforge") -> ImageData:
    """Build the recipe's data source (and apply ``data.limit``)."""
    entry, options = resolved.data
    ctx = DataContext(seed=resolved.recipe.run.seed, cache_dir=cache_dir, recipe_dir=str(Path(resolved.source).parent))
    with blame(entry.plugin, f"loading data source {entry.name!r}"):
        data: ImageData = entry.build(options, ctx)
    limit = resolved.recipe.data.limit
    if limit is not None and limit < len(data):
        data = ImageData(data.images[:limit], None if data.labels is None else data.labels[:limit], data.num_classes,
                         None if data.factors is None else {k: v[:limit] for k, v in data.factors.items()},
                         data.factor_kinds, data.description + f", first {limit}", data.render_factors)
    return data
