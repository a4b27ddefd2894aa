"""Every hook in ganforge.hookspecs, exercised end to end: what a plugin registers is what a run uses.

Each test registers a component through one hook (as a third-party plugin would), names it in a
recipe, and checks that the run built and used it. ``test_hook_docs.py`` checks that every hook has
a test here (or elsewhere) and a section in docs/plugins/hooks.md.
"""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import torch
import pytest
import tomli_w
from pydantic import BaseModel, ConfigDict
from torch import Tensor

import ganforge
from ganforge import events
from ganforge.evaluation.run import evaluate
from ganforge.testing import TinyCritic, TinyGenerator, make_registry, tiny_recipe, train_steps
from ganforge_infogan.factors import Uniform
from ganforge_infogan.options import UniformOptions


def _plugin(**hooks: Any) -> types.SimpleNamespace:
    return types.SimpleNamespace(__name__="hooktest", **{n: ganforge.hookimpl(f) for n, f in hooks.items()})


class Scale(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: float = 1.0


def test_register_latent_factors_kind_is_built_and_trained_by_infogan(tmp_path: Path) -> None:
    def register_latent_factors(register: Any) -> None:
        register("my_code", Uniform, UniformOptions, help="a uniform code under another name")

    recipe = tiny_recipe("infogan", [{"name": "mine", "kind": "my_code", "low": 0.0, "high": 2.0}])
    plugin = _plugin(register_latent_factors=register_latent_factors)
    log = train_steps(recipe, 2, tmp_path, plugins=[("hooktest", plugin)])
    assert "critic/mutual_information/L_I/mine" in log[-1] and "generator/mutual_information/L_I/mine" in log[-1]


def test_register_generators_and_register_critics_build_the_networks(tmp_path: Path) -> None:
    built: list[str] = []

    def register_generators(register: Any) -> None:
        def factory(options: Scale, ctx: ganforge.BuildContext) -> TinyGenerator:
            built.append(f"generator {ctx.latent_width} {ctx.image_shape} on {torch.get_default_device().type}")
            return TinyGenerator(ctx.latent_width, ctx.image_shape)

        register("my_gen", factory, Scale, help="tiny generator")

    def register_critics(register: Any) -> None:
        def factory(options: Scale, ctx: ganforge.BuildContext) -> TinyCritic:
            built.append(f"critic {options.scale} on {torch.get_default_device().type}")
            return TinyCritic(ctx.image_shape)

        register("my_critic", factory, Scale, help="tiny critic")

    plugin = _plugin(register_generators=register_generators, register_critics=register_critics)
    recipe = tiny_recipe(generator={"kind": "my_gen"}, critic={"kind": "my_critic", "scale": 2.5})
    train_steps(recipe, 2, tmp_path, plugins=[("hooktest", plugin)])
    # first on the meta device (the pre-flight `validate` shares: shapes only), then for training
    assert built == ["generator 4 (1, 8, 8) on meta", "critic 2.5 on meta", "generator 4 (1, 8, 8) on cpu", "critic 2.5 on cpu"]


def test_register_objectives_loss_is_what_the_engine_minimises(tmp_path: Path) -> None:
    class Constant(ganforge.Objective):
        def critic_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
            return 0 * (real_logits.mean() + fake_logits.mean()) + 7.0

        def generator_loss(self, fake_logits: Tensor) -> Tensor:
            return 0 * fake_logits.mean() + 3.0

    def register_objectives(register: Any) -> None:
        register("my_objective", lambda options: Constant(), help="constant losses")

    recipe = tiny_recipe(objective={"kind": "my_objective"})
    log = train_steps(recipe, 2, tmp_path, plugins=[("hooktest", _plugin(register_objectives=register_objectives))])
    assert (log[-1]["critic/adv"], log[-1]["generator/adv"]) == (7.0, 3.0)


def test_register_regularizers_terms_are_added_and_logged(tmp_path: Path) -> None:
    class Penalty(ganforge.Regularizer):
        def __init__(self, options: Scale, ctx: ganforge.BuildContext) -> None:
            super().__init__()
            self.scale = options.scale

        def critic_terms(self, view: ganforge.StepView) -> ganforge.Terms:
            penalty = self.scale * view.fake_features.square().mean()
            return ganforge.Terms(losses={"penalty": penalty}, logs={"feature_energy": penalty.detach()})

    def register_regularizers(register: Any) -> None:
        register("my_penalty", Penalty, Scale, help="feature energy penalty")

    recipe = tiny_recipe(regularizers=[{"kind": "my_penalty", "scale": 0.5}])
    log = train_steps(recipe, 2, tmp_path, plugins=[("hooktest", _plugin(register_regularizers=register_regularizers))])
    assert log[-1]["critic/my_penalty/penalty"] > 0 and log[-1]["critic/my_penalty/feature_energy"] == log[-1]["critic/my_penalty/penalty"]


def test_register_methods_defaults_and_check_apply(tmp_path: Path) -> None:
    def register_methods(register: Any) -> None:
        register("my_method", lambda options: ganforge.Method(
            "my_method", "tiny networks, hinge loss",
            defaults=lambda raw: {"generator": {"kind": "tiny"}, "critic": {"kind": "tiny"},
                                  "objective": {"kind": "hinge"}},
            check=lambda recipe: [] if recipe.latent.noise_dim >= 2 else [("latent.noise_dim", "needs at least 2")],
        ), help="a preset")

    registry = make_registry([("hooktest", _plugin(register_methods=register_methods))])
    raw = tiny_recipe("my_method")
    del raw["generator"], raw["critic"]
    path = tmp_path / "r.toml"
    path.write_text(tomli_w.dumps(raw))
    resolved = ganforge.load_recipe(path, registry)
    assert (resolved.recipe.objective.kind, resolved.recipe.generator.kind) == ("hinge", "tiny")
    try:
        ganforge.load_recipe(path, registry, ["latent.noise_dim=1"])
    except ganforge.RecipeError as exc:
        assert "latent.noise_dim: needs at least 2" in str(exc)
    else:
        raise AssertionError("the method's check() was not applied")


def test_register_datasets_source_feeds_the_run(tmp_path: Path) -> None:
    seen: list[int] = []

    def load(options: Any, ctx: ganforge.DataContext) -> ganforge.ImageData:
        seen.append(ctx.seed)
        g = torch.Generator().manual_seed(ctx.seed)
        return ganforge.ImageData(torch.randint(0, 256, (32, 3, 6, 6), generator=g, dtype=torch.uint8),
                                  description="noise images")

    def register_datasets(register: Any) -> None:
        register("my_data", load, help="random RGB noise")

    recipe = tiny_recipe(data={"source": "my_data", "batch_size": 8}, run={"seed": 11})
    del recipe["data"]["size"], recipe["data"]["image_size"]
    log = train_steps(recipe, 2, tmp_path, plugins=[("hooktest", _plugin(register_datasets=register_datasets))])
    assert seen == [11] and len(log) == 2


def test_register_metrics_metric_is_evaluated(tmp_path: Path) -> None:
    class StepCount(ganforge.Metric):
        name = "my_metric"

        def applies(self, run: Any) -> bool:
            return True

        def compute(self, run: Any) -> ganforge.MetricResult:
            return ganforge.MetricResult(details={"logged_steps": len(run.training_log),
                                                  "factors": [f.name for f in run.spec.factors]})

    class Untyped(StepCount):
        name = "untyped"

        def compute(self, run: Any) -> dict[str, Any]:  # type: ignore[override]
            return {"logged_steps": len(run.training_log)}

    def register_metrics(register: Any) -> None:
        register("my_metric", lambda options: StepCount(), help="how many steps were logged")
        register("untyped", lambda options: Untyped(), help="returns a plain dict")

    plugins = [("hooktest", _plugin(register_metrics=register_metrics))]
    train_steps(tiny_recipe(), 3, tmp_path, plugins=plugins)
    results = evaluate(tmp_path / "run", make_registry(plugins), only=["my_metric"])
    assert results.details("my_metric") == {"logged_steps": 3, "factors": []}
    assert results.results["my_metric"].headlines == ()  # details only
    with pytest.raises(ganforge.PluginError, match=r"plugin 'hooktest': metric 'untyped' returned dict from compute\(\)"):
        evaluate(tmp_path / "run", make_registry(plugins), only=["untyped"])


def test_a_typed_metric_result_is_shown_by_eval(tmp_path: Path) -> None:
    """A plugin's MetricResult reaches `ganforge eval` as it is: its headline (name, unit, format, reference line)
    in the metrics table, its own table after it; --json keeps every field."""
    from rich.console import Console

    from ganforge.reporting.terminal import print_eval

    class Logged(ganforge.Metric):
        name = "logged"

        def applies(self, run: Any) -> bool:
            return True

        def compute(self, run: Any) -> ganforge.MetricResult:
            n = len(run.training_log)
            head = ganforge.Headline("logged rows", n, unit="rows", format="{:.0f}", reference=5, reference_label="planned")
            table = ganforge.ResultTable("rows per phase", ("phase", "rows"), (("critic", str(n)),), bold=((0, 1),))
            return ganforge.MetricResult((head,), {"rows": n}, (table,), score=n)

    def register_metrics(register: Any) -> None:
        register("logged", lambda options: Logged(), help="rows in metrics.jsonl")

    plugins = [("hooktest", _plugin(register_metrics=register_metrics))]
    train_steps(tiny_recipe(), 3, tmp_path, plugins=plugins)
    results = evaluate(tmp_path / "run", make_registry(plugins), only=["logged"])
    console = Console(record=True, width=120)
    print_eval(results, console)
    text = console.export_text()
    assert "logged rows (rows; planned = 5)" in text and "3 rows" in text and "rows per phase" in text
    assert ganforge.Evaluation.from_json(json.loads(json.dumps(results.to_json()))) == results


def test_track_event_sees_the_documented_lifecycle(tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []

    def track_event(event: Any) -> None:
        seen.append((type(event).__name__, event.step))
        if isinstance(event, events.RunFinished):
            assert event.reason == "completed"

    registry = make_registry([("hooktest", _plugin(track_event=track_event))])
    raw = tiny_recipe(train={"steps": 4, "log_every": 2, "sample_every": 2, "checkpoint_every": 4})
    path = tmp_path / "r.toml"
    path.write_text(tomli_w.dumps(raw))
    ganforge.train(ganforge.load_recipe(path, registry), registry, tmp_path / "run", progress=False, say=lambda m: None)
    assert seen == [("RunStarted", 0), ("MetricsLogged", 2), ("SamplesSaved", 2), ("MetricsLogged", 4),
                    ("SamplesSaved", 4), ("CheckpointSaved", 4), ("RunFinished", 4)]


def test_track_event_exception_stops_the_run_naming_the_plugin(tmp_path: Path) -> None:
    def track_event(event: Any) -> None:
        if isinstance(event, events.MetricsLogged) and event.step == 2:
            raise ValueError("tracker offline")

    plugin = _plugin(track_event=track_event)
    try:
        train_steps(tiny_recipe(), 3, tmp_path, plugins=[("observer", plugin)])
    except ganforge.PluginError as exc:
        assert "plugin 'observer' failed in track_event: ValueError: tracker offline" in str(exc)
    else:
        raise AssertionError("an observer's exception must stop the run")
    assert (tmp_path / "run" / "metrics.jsonl").read_text().count("\n") == 2  # steps 1 and 2 were logged


def test_an_observer_failing_again_at_the_end_does_not_hide_the_first_error(tmp_path: Path) -> None:
    finished: list[str] = []

    def track_event(event: Any) -> None:
        if isinstance(event, events.RunFinished):
            finished.append(event.reason)
            raise ValueError("still offline")
        if isinstance(event, events.MetricsLogged):
            raise ValueError("tracker offline")

    with pytest.raises(ganforge.PluginError, match="ValueError: tracker offline"):
        train_steps(tiny_recipe(), 3, tmp_path, plugins=[("observer", _plugin(track_event=track_event))])
    assert finished == ["failed"]  # the observer was still told how the run ended
