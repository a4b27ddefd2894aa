"""Contracts for regularizers, methods and data sources: subclass, name the plugin and the kind.

Each contract builds its component through the registry exactly as a recipe does, checks the
interface the engine relies on, and (where it can) trains a few real steps with the tiny networks.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
import tomli_w
from torch import Tensor

from ganforge import (
    BuildContext,
    Critic,
    CriticAccess,
    Encoder,
    DataContext,
    ImageData,
    LatentSpec,
    Method,
    Metric,
    MetricResult,
    Recipe,
    Regularizer,
    StepView,
    Terms,
    evaluate,
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

    def views(self, spec: LatentSpec, reg: Regularizer | None = None) -> tuple[StepView, StepView, TinyGenerator, TinyCritic]:
        """A critic-phase and a generator-phase view of one step, built as the training step builds them.

        Both views carry the critic (:class:`~ganforge.CriticAccess`) and its logits; when ``reg`` sets
        ``needs_real_grad`` the real batch is a leaf that requires grad and ``real_logits`` were computed
        from it, so ``torch.autograd.grad(view.real_logits.sum(), view.real)`` is ∇ₓD(x) (R1).
        """
        torch.manual_seed(0)
        g, d = TinyGenerator(spec.width, self.image_shape), TinyCritic(self.image_shape, self.feature_width)
        latent = spec.sample(self.batch, torch.Generator().manual_seed(0))
        cond = spec.condition_values(latent)
        fake = g(spec.generator_input(latent))  # (B, C, H, W), differentiable into G
        real = torch.rand(self.batch, *self.image_shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
        if reg is not None and reg.needs_real_grad:
            real.requires_grad_(True)
        access = CriticAccess(d)
        real_f, fake_f = d.features(real, cond), d.features(fake.detach(), cond)
        critic = StepView(phase="critic", step=0, spec=spec, latent=latent, fake=fake.detach(), fake_features=fake_f,
                          real=real, real_features=real_f, cond_real=cond, cond_fake=cond, critic=access,
                          real_logits=d.head(real_f, cond), fake_logits=d.head(fake_f, cond))
        gen_f = d.features(fake, cond)
        generator = StepView(phase="generator", step=0, spec=spec, latent=latent, fake=fake, fake_features=gen_f,
                             cond_fake=cond, critic=access, fake_logits=d.head(gen_f, cond))
        return critic, generator, g, d

    def test_builds_a_regularizer_for_an_optimizer(self) -> None:
        reg = self.build(self.make_spec())
        assert isinstance(reg, Regularizer)
        assert reg.optimizer in ("critic", "generator")

    def test_terms_are_finite_scalars_and_logs_are_detached(self) -> None:
        spec = self.make_spec()
        reg = self.build(spec)
        critic, generator, _, _ = self.views(spec, reg)
        for terms in (reg.critic_terms(critic), reg.generator_terms(generator)):
            assert isinstance(terms, Terms)
            _finite_scalars(terms.losses, "loss")
            _finite_scalars(terms.logs, "log")
            assert not any(v.requires_grad for v in terms.logs.values()), "logs must be detached"

    def test_gradients_reach_the_parameters_each_phase_trains(self) -> None:
        spec = self.make_spec()
        reg = self.build(spec)
        critic, generator, g, d = self.views(spec, reg)
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

    def test_an_encoder_gives_one_row_per_image(self) -> None:
        spec = self.make_spec()
        reg = self.build(spec).eval()
        if not isinstance(reg, Encoder):
            pytest.skip("not an encoder: the regularizer has no encode(features, images)")
        features = torch.randn(self.batch, self.feature_width)
        with torch.no_grad():
            out = reg.encode(features, torch.rand(self.batch, *self.image_shape) * 2 - 1)
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


class CriticContract(PluginContract):
    """Checks for one ``register_critics`` kind: the trunk/head split the step and the regularizers rely on."""

    component = "critic"
    #: the registered critic kind (``[critic] kind = ...``)
    kind: ClassVar[str]
    image_shape: ClassVar[tuple[int, int, int]] = (1, 28, 28)
    #: the number of classes for a conditional critic (``None``: unconditional)
    num_classes: ClassVar[int | None] = None
    batch: ClassVar[int] = 4

    def registered_name(self) -> str:
        return self.kind

    def make_spec(self) -> LatentSpec:
        """The latent spec the critic is built for (override to add, e.g., the label a conditional critic reads)."""
        return LatentSpec(noise_dim=4)

    def build(self) -> Critic:
        entry, options = self.entry_and_options()
        ctx = BuildContext(self.image_shape, self.make_spec(), num_classes=self.num_classes)
        return entry.build(options, ctx)

    def inputs(self) -> tuple[Tensor, Tensor | None]:
        """Images (B, C, H, W) in [-1, 1] and, for a conditional critic, a class per image (B,)."""
        x = torch.rand(self.batch, *self.image_shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
        cond = None if self.num_classes is None else torch.arange(self.batch) % self.num_classes
        return x, cond

    def test_features_are_feature_width_wide_and_the_head_gives_one_logit_per_image(self) -> None:
        torch.manual_seed(0)
        critic, (x, cond) = self.build(), self.inputs()
        assert isinstance(critic, Critic)
        features = critic.features(x, cond)
        assert features.shape == (self.batch, critic.feature_width), "features must be (B, feature_width)"
        logits = critic.head(features, cond)
        assert logits.shape == (self.batch,), "head must give one logit per image, (B,)"
        assert bool(torch.isfinite(logits).all())

    def test_forward_is_head_of_features(self) -> None:
        torch.manual_seed(0)
        critic, (x, cond) = self.build().eval(), self.inputs()
        with torch.no_grad():
            torch.testing.assert_close(critic(x, cond), critic.head(critic.features(x, cond), cond))

    def test_gradients_reach_the_input_and_every_parameter(self) -> None:
        torch.manual_seed(0)
        critic, (x, cond) = self.build(), self.inputs()
        x.requires_grad_(True)  # R1 and the gradient penalty differentiate D with respect to its input
        critic(x, cond).sum().backward()
        assert x.grad is not None and bool(x.grad.abs().sum() > 0)
        missing = [n for n, p in critic.named_parameters() if p.requires_grad and p.grad is None]
        assert not missing, f"parameters that get no gradient: {missing[:3]}"

    def test_state_dict_round_trip(self) -> None:
        torch.manual_seed(1)
        a = self.build()
        torch.manual_seed(2)
        b = self.build()
        b.load_state_dict(a.state_dict())
        for (key, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y), key


class MetricContract(PluginContract):
    """Checks for one ``register_metrics`` name on a run trained a few steps from ``recipe`` (tiny networks by
    default): ``applies`` answers a bool, and where it applies ``compute`` returns a :class:`~ganforge.MetricResult`
    whose headlines are finite numbers and whose details are JSON, as ``ganforge eval --json`` writes them."""

    component = "metric"
    #: the registered metric name (``ganforge eval --metric NAME``)
    name: ClassVar[str]
    #: a raw recipe whose run the metric applies to (default: :func:`ganforge.testing.tiny_recipe`)
    recipe: ClassVar[dict[str, Any] | None] = None
    steps: ClassVar[int] = 2

    def registered_name(self) -> str:
        return self.name

    @pytest.fixture
    def evaluated(self, tmp_path: Path) -> Any:
        recipe = self.recipe if self.recipe is not None else tiny_recipe()
        plugins = [(self.name_of_plugin(), self.plugin)]
        train_steps(recipe, self.steps, tmp_path, plugins=plugins)
        return evaluate(tmp_path / "run", self.registry(), only=[self.name])

    def test_builds_a_metric(self) -> None:
        entry, options = self.entry_and_options()
        metric = entry.build(options)
        assert isinstance(metric, Metric)

    def test_computes_a_typed_result_with_finite_headlines(self, evaluated: Any) -> None:
        from ganforge import Evaluation

        if self.name in evaluated.not_applicable:
            pytest.fail(f"metric {self.name!r} does not apply to the contract's run ({evaluated.not_applicable[self.name]}); "
                        "set `recipe` to a run it applies to")
        result = evaluated.results[self.name]
        assert isinstance(result, MetricResult)
        assert all(math.isfinite(h.value) for h in result.headlines), "headline values must be finite numbers"
        again = Evaluation.from_json(json.loads(json.dumps(evaluated.to_json())))  # details must be JSON (eval --json)
        assert again.results[self.name].headlines == result.headlines and again.results[self.name].score == result.score
