"""train.loggers = ["tensorboard"]: an event file is written during a run and read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganforge.errors import RecipeError
from ganforge.recipe.model import resolve
from ganforge.testing import make_registry, tiny_recipe, train_steps


def test_scalars_and_images_are_written_and_read_back(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")  # the dev extra installs it (CI does)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    recipe = tiny_recipe("infogan", [{"name": "c", "kind": "categorical", "k": 3}], train={"loggers": ["tensorboard"]})
    train_steps(recipe, 4, tmp_path)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    assert "critic/adv" in tags["scalars"] and "generator/mutual_information/L_I/c" in tags["scalars"]
    assert [e.step for e in events.Scalars("critic/adv")] == [1, 2, 3, 4]
    assert {"samples", "traversals/c"} <= set(tags["images"])


def test_without_loggers_nothing_is_written(tmp_path: Path) -> None:
    train_steps(tiny_recipe(), 2, tmp_path)
    assert not (tmp_path / "run" / "tensorboard").exists()


def test_a_missing_tensorboard_package_is_a_one_line_recipe_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    registry = make_registry()
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(RecipeError, match=r"train\.loggers.*pip install -e \"\.\[tensorboard\]\""):
        resolve(tiny_recipe(train={"loggers": ["tensorboard"]}), registry)
    with pytest.raises(RecipeError, match=r"train\.loggers\[0\]"):
        resolve(tiny_recipe(train={"loggers": ["wandb"]}), registry)
