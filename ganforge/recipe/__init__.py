"""Recipes: TOML files validated by pydantic models that forbid unknown keys (``model.py``), the loop's own
sections (``train.py``: ``[train]``, ``[train.ema]``, ``[augment]``) and reading recipe files safely (``files.py``).

``load_recipe`` and ``Recipe`` are public as ``ganforge.load_recipe`` / ``ganforge.Recipe``.
"""
