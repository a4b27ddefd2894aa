"""Recipe validation, error paths, and --set overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ganforge.errors import RecipeError
from ganforge.recipe.model import Recipe, apply_override, load_recipe, read_toml, resolve


def _paths(exc: RecipeError) -> list[str]:
    return [p for p, _ in exc.problems]


def test_valid_recipe_resolves_with_method_defaults(tiny_raw: dict[str, Any], registry: Any) -> None:
    del tiny_raw["generator"], tiny_raw["critic"]
    resolved = resolve(tiny_raw, registry, "t.toml")
    assert resolved.recipe.generator.kind == "dcgan"  # from the vanilla method's defaults
    assert resolved.data[0].name == "synthetic" and resolved.data[1].size == 64


def test_user_keys_win_over_method_defaults(tiny_raw: dict[str, Any], registry: Any) -> None:
    assert resolve(tiny_raw, registry).recipe.generator.kind == "mlp"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda r: r["train"].update(stepz=3), "train.stepz"),
        (lambda r: r["train"].update(steps="many"), "train.steps"),
        (lambda r: r["train"].update(steps=0), "train.steps"),
        (lambda r: r.update(extra={}), "extra"),
        (lambda r: r["run"].update(device="tpu"), "run.device"),
        (lambda r: r["generator"].update(hiden=3), "generator.hiden"),
        (lambda r: r["data"].update(size="x"), "data.size"),
        (lambda r: r["generator"].update(kind="nope"), "generator.kind"),
        (lambda r: r["data"].update(source="nope"), "data.source"),
        (lambda r: r["model"].update(method="nope"), "model.method"),
        (lambda r: r.pop("data"), "data"),
    ],
)
def test_problems_name_the_key_path(tiny_raw: dict[str, Any], registry: Any, change: Any, path: str) -> None:
    change(tiny_raw)
    with pytest.raises(RecipeError) as info:
        resolve(tiny_raw, registry, "bad.toml")
    assert path in _paths(info.value)
    assert str(info.value).startswith("bad.toml: ")


def test_every_problem_is_reported(tiny_raw: dict[str, Any], registry: Any) -> None:
    tiny_raw["generator"]["hiden"] = 1
    tiny_raw["critic"]["kind"] = "nope"
    with pytest.raises(RecipeError) as info:
        resolve(tiny_raw, registry)
    assert {"generator.hiden", "critic.kind"} <= set(_paths(info.value))


def test_unknown_name_lists_the_available_ones(tiny_raw: dict[str, Any], registry: Any) -> None:
    tiny_raw["objective"] = {"kind": "lsgan"}
    with pytest.raises(RecipeError, match="available: hinge, nonsaturating, wasserstein"):
        resolve(tiny_raw, registry)


def test_overrides_parse_toml_values() -> None:
    raw: dict[str, Any] = {"train": {"steps": 1}, "latent": {"factors": [{"name": "c", "k": 3}]}}
    apply_override(raw, "train.steps=20")
    apply_override(raw, "train.precision=bf16")
    apply_override(raw, "optim.critic.betas=[0.0, 0.9]")
    apply_override(raw, "latent.factors[0].k=10")
    apply_override(raw, "latent.factors.0.name='c1'")
    assert raw["train"] == {"steps": 20, "precision": "bf16"}
    assert raw["optim"]["critic"]["betas"] == [0.0, 0.9]
    assert raw["latent"]["factors"][0] == {"name": "c1", "k": 10}


@pytest.mark.parametrize("bad", ["nonsense", "=3", "latent.factors[3].k=1", "train.steps.x=1"])
def test_bad_overrides_are_errors(bad: str) -> None:
    with pytest.raises(RecipeError):
        apply_override({"train": {"steps": 1}, "latent": {"factors": []}}, bad)


def test_file_errors(tmp_path: Path, registry: Any) -> None:
    with pytest.raises(RecipeError, match="file not found"):
        load_recipe(tmp_path / "missing.toml", registry)
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nsteps = 3")
    with pytest.raises(RecipeError, match="invalid TOML"):
        load_recipe(bad, registry)
    with pytest.raises(RecipeError, match="directory"):
        load_recipe(tmp_path, registry)


def test_every_field_is_documented() -> None:
    def walk(model: type) -> None:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            ann = field.annotation
            if isinstance(ann, type) and hasattr(ann, "model_fields"):
                walk(ann)

    walk(Recipe)


def test_shipped_recipes_validate_and_start_with_their_command(registry: Any) -> None:
    import ganforge.builtins  # noqa: F401
    from ganforge.registry import load_registry

    full = load_registry()
    user_data = {"infogan_celeba.toml": [f"data.path={Path(__file__).parent}"]}  # CelebA is the user's own folder
    for path in sorted(Path(__file__).parents[2].joinpath("recipes").glob("*.toml")):
        assert path.read_text().startswith(f"# ganforge run recipes/{path.name}"), path
        load_recipe(path, full, user_data.get(path.name, []))


# --- values that must be rejected, not accepted (each names its key) ---------------------------------
@pytest.mark.parametrize(("section", "key", "value", "path"), [
    ("optim", "critic", {"lr": float("inf")}, "optim.critic.lr"),
    ("optim", "critic", {"lr": float("nan")}, "optim.critic.lr"),
    ("optim", "generator", {"betas": [2.0, 0.999]}, "optim.generator.betas[0]"),
    ("optim", "generator", {"betas": [0.5, float("nan")]}, "optim.generator.betas[1]"),
    ("optim", "generator", {"betas": [-0.5, 0.9]}, "optim.generator.betas[0]"),
    ("optim", "critic", {"weight_decay": float("inf")}, "optim.critic.weight_decay"),
    ("run", "seed", 18446744073709551615, "run.seed"),
    ("run", "name", "../escape", "run.name"),
    ("run", "name", "a\x00b", "run.name"),
    ("latent", "noise_dim", 10**9, "latent.noise_dim"),
    ("train", "steps", 10**12, "train.steps"),
])
def test_out_of_range_values_are_rejected_at_their_key(tiny_raw: dict[str, Any], registry: Any, section: str,
                                                        key: str, value: Any, path: str) -> None:
    table = tiny_raw.setdefault(section, {})
    table[key] = {**table.get(key, {}), **value} if isinstance(value, dict) else value
    with pytest.raises(RecipeError) as err:
        resolve(tiny_raw, registry)
    assert path in str(err.value), str(err.value)


@pytest.mark.parametrize("name", ["../up", "a/b", "", ".hidden"])
def test_factor_names_that_would_be_paths_are_rejected(tiny_raw: dict[str, Any], registry: Any, name: str) -> None:
    tiny_raw["latent"]["factors"] = [{"name": name, "kind": "uniform"}]
    with pytest.raises(RecipeError, match=r"latent\.factors\[0\]\.name"):
        resolve(tiny_raw, registry)


def test_infinite_lambda_is_rejected(tiny_raw: dict[str, Any], registry: Any) -> None:
    tiny_raw["latent"]["factors"] = [{"name": "c", "kind": "uniform", "lambda": float("inf")}]
    with pytest.raises(RecipeError, match=r"latent\.factors\[0\]\.lambda"):
        resolve(tiny_raw, registry)


@pytest.mark.parametrize("assignment", ["train..steps=5", "train.steps.=5", ".train.steps=5"])
def test_set_with_an_empty_key_part_is_an_error(assignment: str) -> None:
    raw: dict[str, Any] = {"train": {}}
    with pytest.raises(RecipeError, match="empty part in the key path"):
        apply_override(raw, assignment)
    assert raw == {"train": {}}


def test_huge_and_deeply_nested_values_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="not a usable value"):
        apply_override({}, "train.steps=" + "9" * 5000)
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(RecipeError, match="invalid TOML"):
        read_toml(deep)
    huge = tmp_path / "huge.toml"
    huge.write_text("x = " + "9" * 5000 + "\n")
    with pytest.raises(RecipeError, match="invalid TOML"):
        read_toml(huge)
