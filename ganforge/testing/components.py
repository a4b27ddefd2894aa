"""Contracts for regularizers, methods and data sources: subclass, name the plugin and the kind.

Each contract builds its component through the registry exactly as a recipe does, checks the
interface the engine relies on, and (where it can) trains a few real steps with the tiny networks.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
import tomli_w
from torch import Tensor

from ganforge import (
    BuildContext,
    DataContext,
    ImageData,
    LatentSpec,
    Method,
    Recipe,
    Regularizer,
    StepView,
    Terms,
    load_recipe,
)
from ganforge.testing.base import PluginContract
from ganforge.testing.networks import TinyCritic, TinyGenerator
from ganforge.testing.runs import tiny_recipe, train_steps


def _finite_scalars(named: dict[str, Tensor], what: str) -> None:
    for key, value in named.items():
        assert isinstance(value, Tensor) and value.dim() == 0, f"{what} {key!r} must be a scalar tensor"
        assert bool(torch.isfinite(value)), f"{what} {key!r} is {value.item()}"


class RegularizerContract(PluginContract):
    """Checks for one ``register_regularizers`` kind on tiny networks (override :meth:`make_spec` for codes)."""

    component = "regularizer"
    #: the registered regularizer kind (``[[regularizers]] kind = ...``)
    kind: ClassVar[str]
    image_shape: ClassVar[tuple[int, int, int]] = (1, 8, 8)
    feature_width: ClassVar[int] = 16
    batch: ClassVar[int] = 16
    #: a raw recipe using the regularizer (e.g. from :func:`ganforge.testing.tiny_recipe`) to train with
    recipe: ClassVar[dict[str, Any] | None] = None

    def registered_name(self) -> str:
        return self.kind

    def make_spec(self) -> LatentSpec:
        """The latent spec the regularizer is built for (override to add the factors it needs)."""
        return LatentSpec(noise_dim=4)

    def build(self, spec: LatentSpec) -> Regularizer:
        entry, options = self.entry_and_options()
        ctx = BuildContext(self.image_shape, spec, num_classes=None, critic_feature_width=self.feature_width)
        return entry.build(options, ctx)

    def views(self, spec: LatentSpec) -> tuple[StepView, StepView, TinyGenerator, TinyCritic]:
        """A critic-phase and a generator-phase view of one step, as the engine makes them."""
        torch.manual_seed(0)
        g, d = TinyGenerator(spec.width, self.image_shape), TinyCritic(self.image_shape, self.feature_width)
        latent = spec.sample(self.batch, torch.Generator().manual_seed(0))
        cond = spec.condition_values(latent)
        fake = g(spec.generator_input(latent))
        real = torch.rand(self.batch, *self.image_shape) * 2 - 1
        critic = StepView("critic", 0, spec, latent, fake.detach(), d.features(fake.detach(), cond), real,
                          d.features(real, cond), cond, cond)
        generator = StepView("generator", 0, spec, latent, fake, d.features(fake, cond), cond_fake=cond)
        return critic, generator, g, d

    def test_builds_a_regularizer_for_an_optimizer(self) -> None:
        reg = self.build(self.make_spec())
        assert isinstance(reg, Regularizer)
        assert reg.optimizer in ("critic", "generator")

    def test_terms_are_finite_scalars_and_logs_are_detached(self) -> None:
        spec = self.make_spec()
        reg = self.build(spec)
        critic, generator, _, _ = self.views(spec)
        for terms in (reg.critic_terms(critic), reg.generator_terms(generator)):
            assert isinstance(terms, Terms)
            _finite_scalars(terms.losses, "loss")
            _finite_scalars(terms.logs, "log")
            assert not any(v.requires_grad for v in terms.logs.values()), "logs must be detached"

    def test_gradients_reach_the_parameters_each_phase_trains(self) -> None:
        spec = self.make_spec()
        reg = self.build(spec)
        critic, generator, g, d = self.views(spec)
        phases = [(reg.critic_terms(critic), [*d.parameters()]), (reg.generator_terms(generator), [*g.parameters()])]
        for terms, trained in phases:
            if not terms.losses:
                continue
            own = [p for p in reg.parameters() if p.requires_grad]
            for p in [*g.parameters(), *d.parameters(), *own]:
                p.grad = None
            torch.stack(list(terms.losses.values())).sum().backward(retain_graph=True)
            grads = [p.grad for p in [*trained, *own] if p.grad is not None]
            assert grads and any(bool(gr.abs().sum() > 0) for gr in grads), "a loss term that trains nothing"
            assert all(bool(torch.isfinite(gr).all()) for gr in grads)
            if terms is phases[0][0]:
                assert all(p.grad is None for p in g.parameters()), "critic-phase terms must not reach the generator"

    def test_state_dict_round_trip(self) -> None:
        spec = self.make_spec()
        torch.manual_seed(1)
        a = self.build(spec)
        torch.manual_seed(2)
        b = self.build(spec)
        b.load_state_dict(a.state_dict())
        for (key, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y), key

    def test_evaluate_gives_one_row_per_image(self) -> None:
        spec = self.make_spec()
        reg = self.build(spec).eval()
        features = torch.randn(self.batch, self.feature_width)
        with torch.no_grad():
            if reg.evaluate_reads_images:
                out = reg.evaluate(features, torch.rand(self.batch, *self.image_shape) * 2 - 1)  # type: ignore[call-arg]
            else:
                out = reg.evaluate(features)
        assert isinstance(out, dict)
        assert all(isinstance(v, Tensor) and v.shape[0] == self.batch for v in out.values())

    def test_trains_a_few_steps(self, tmp_path: Path) -> None:
        if self.recipe is None:
            pytest.skip("set `recipe` (e.g. ganforge.testing.tiny_recipe(...)) to train with the regularizer")
        log = train_steps(self.recipe, 3, tmp_path, plugins=[(self.name_of_plugin(), self.plugin)])
        assert log and all(math.isfinite(v) for row in log for v in row.values())


class MethodContract(PluginContract):
    """Checks for one ``register_methods`` name; ``recipe`` is a raw recipe that uses it (tiny networks advised)."""

    component = "method"
    #: the registered method name (``[model] method = ...``)
    name: ClassVar[str]
    #: a minimal raw recipe using the method, e.g. ``tiny_recipe("mymethod")``
    recipe: ClassVar[dict[str, Any]]

    def registered_name(self) -> str:
        return self.name

    def method(self) -> Method:
        entry, options = self.entry_and_options()
        return entry.build(options)

    def test_builds_a_method(self) -> None:
        m = self.method()
        assert isinstance(m, Method)
        assert m.name == self.name and m.description

    def test_defaults_are_recipe_sections(self) -> None:
        defaults = self.method().defaults(dict(self.recipe))
        assert isinstance(defaults, dict)
        unknown = set(defaults) - set(Recipe.model_fields)
        assert not unknown, f"defaults name sections no recipe has: {sorted(unknown)}"

    def test_recipe_validates_and_user_keys_win(self, tmp_path: Path) -> None:
        path = tmp_path / "recipe.toml"
        path.write_text(tomli_w.dumps(self.recipe))
        resolved = load_recipe(path, self.registry())
        for section in ("generator", "critic", "objective"):
            if isinstance(self.recipe.get(section), dict) and "kind" in self.recipe[section]:
                assert getattr(resolved.recipe, section).kind == self.recipe[section]["kind"]
        problems = self.method().check(resolved.recipe)
        assert isinstance(problems, list) and problems == [], problems

    def test_trains_a_few_steps(self, tmp_path: Path) -> None:
        log = train_steps(self.recipe, 3, tmp_path, plugins=[(self.name_of_plugin(), self.plugin)])
        assert [row["step"] for row in log] == [1, 2, 3]
        assert all(math.isfinite(v) for row in log for v in row.values())


class DatasetContract(PluginContract):
    """Checks for one ``register_datasets`` source; keep ``options`` small (the data is built several times)."""

    component = "dataset"
    #: the registered source name (``[data] source = ...``)
    source: ClassVar[str]

    def registered_name(self) -> str:
        return self.source

    def load(self, tmp_path: Path, seed: int = 0) -> ImageData:
        entry, options = self.entry_and_options()
        return entry.build(options, DataContext(seed=seed, cache_dir=str(tmp_path / "cache"), recipe_dir=str(tmp_path)))

    def test_images_labels_and_factors(self, tmp_path: Path) -> None:
        data = self.load(tmp_path)
        assert isinstance(data, ImageData) and len(data) >= 1
        assert data.images.dtype == torch.uint8 and data.images.dim() == 4
        if data.labels is not None:
            assert data.labels.dtype == torch.int64 and data.labels.shape == (len(data),)
            assert data.num_classes is not None, "labelled data must say how many classes it has"
            assert 0 <= int(data.labels.min()) and int(data.labels.max()) < data.num_classes
        for name, values in (data.factors or {}).items():
            assert values.shape == (len(data),), f"factor {name!r}"
            assert data.factor_kinds.get(name) in ("categorical", "continuous"), f"factor_kinds[{name!r}]"

    def test_same_seed_same_data(self, tmp_path: Path) -> None:
        a, b = self.load(tmp_path), self.load(tmp_path)
        assert torch.equal(a.images, b.images)
        assert (a.labels is None) == (b.labels is None) and (a.labels is None or torch.equal(a.labels, b.labels))

    def test_trains_a_few_steps(self, tmp_path: Path) -> None:
        recipe = tiny_recipe()
        recipe["data"] = {"source": self.source, "batch_size": 8, **self.options}
        log = train_steps(recipe, 2, tmp_path, plugins=[(self.name_of_plugin(), self.plugin)])
        assert [row["step"] for row in log] == [1, 2]
