"""ganforge.testing: the contracts pass on the built-in plugins and fail on broken components."""

from __future__ import annotations

import math
import types
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor
from torch.distributions import Categorical as TorchCategorical
from torch.distributions import Distribution, Normal
from torch.distributions import Uniform as TorchUniform

import ganforge
import ganforge.builtins
import ganforge_infogan
import ganforge_vanilla
from ganforge import LatentSpec, PluginError
from ganforge.testing import (
    TINY,
    DatasetContract,
    LatentFactorContract,
    MethodContract,
    RegularizerContract,
    make_registry,
    tiny_recipe,
    train_steps,
)
from ganforge_infogan.factors import Categorical, Uniform
from ganforge_infogan.options import CategoricalOptions, UniformOptions


# --- the contracts applied to the built-in InfoGAN factors ---------------------------------------------
class TestCategoricalFactor(LatentFactorContract):
    plugin = ganforge_infogan
    plugin_name = "infogan"
    kind = "categorical"
    options = {"k": 4, "probs": [0.1, 0.2, 0.3, 0.4]}

    def prior(self, factor: Any) -> Distribution:
        return TorchCategorical(probs=torch.tensor(factor.probs))

    def posterior(self, factor: Any, params: Tensor) -> Distribution:
        return TorchCategorical(logits=params)


class TestUniformFactor(LatentFactorContract):
    plugin = ganforge_infogan
    plugin_name = "infogan"
    kind = "uniform"
    options = {"low": -1.0, "high": 1.0}

    def prior(self, factor: Any) -> Distribution:
        return TorchUniform(factor.low, factor.high)

    def posterior(self, factor: Any, params: Tensor) -> Distribution:
        mean, log_std = factor.mean_log_std(params)
        return Normal(mean, log_std.exp())


class TestUniformFactorFixedPosterior(TestUniformFactor):
    options = {"low": 2.0, "high": 5.0, "posterior": "fixed", "fixed_std": 1.0}


class TestGaussianFactor(TestUniformFactor):
    kind = "gaussian"
    options = {"mean": 3.0, "std": 0.5}

    def prior(self, factor: Any) -> Distribution:
        return Normal(factor.mean, factor.std)


# --- the other contracts applied to built-in components -------------------------------------------------
class TestMutualInformationRegularizer(RegularizerContract):
    plugin = ganforge_infogan
    plugin_name = "infogan"
    kind = "mutual_information"
    options = {"hidden": 8}
    recipe = tiny_recipe("infogan", [{"name": "c1", "kind": "categorical", "k": 3}])

    def make_spec(self) -> LatentSpec:
        return LatentSpec(4, factors=[Categorical("c1", 1.0, CategoricalOptions(k=3)),
                                      Uniform("c2", 0.1, UniformOptions())])


class TestInfoGANMethod(MethodContract):
    plugin = ganforge_infogan
    plugin_name = "infogan"
    name = "infogan"
    recipe = tiny_recipe("infogan", [{"name": "c1", "kind": "categorical", "k": 3}])


class TestVanillaMethod(MethodContract):
    plugin = ganforge_vanilla
    plugin_name = "vanilla"
    name = "vanilla"
    recipe = tiny_recipe("vanilla")


class TestSyntheticDataset(DatasetContract):
    plugin = ganforge.builtins
    plugin_name = "core"
    source = "synthetic"
    options = {"size": 16, "image_size": 8}


class TestShapesDataset(DatasetContract):
    plugin = ganforge.builtins
    plugin_name = "core"
    source = "shapes"
    options = {"size": 16, "image_size": 28, "supersample": 1}


# --- the contracts can fail --------------------------------------------------------------------------
class _Broken(Uniform):
    """A uniform code with one planted bug, chosen by ``bug``."""

    bug = ""

    def sample(self, n: int, generator: torch.Generator, device: Any = "cpu") -> Tensor:
        if self.bug == "global_rng":
            return self.low + (self.high - self.low) * torch.rand(n, device=device)
        return super().sample(n, generator, device)

    def entropy(self) -> float:
        return super().entropy() + (1.0 if self.bug == "entropy" else 0.0)

    def nll(self, params: Tensor, value: Tensor) -> Tensor:
        nll = super().nll(params, value)
        return nll - 1.0 if self.bug == "constant" else nll.detach() if self.bug == "no_grad" else nll

    def predict(self, params: Tensor) -> Tensor:
        return -params[:, 0] if self.bug == "predict" else super().predict(params)


def _broken_plugin(bug: str) -> types.SimpleNamespace:
    cls = type(f"Broken_{bug}", (_Broken,), {"bug": bug})

    def register_latent_factors(register: Any) -> None:
        register("broken", cls, UniformOptions, help="a uniform code with a planted bug")

    hook = ganforge.hookimpl(register_latent_factors)
    return types.SimpleNamespace(__name__="broken_plugin", register_latent_factors=hook)


@pytest.mark.parametrize(
    ("bug", "check"),
    [
        ("global_rng", "test_sampling_is_reproducible_with_a_seeded_generator"),
        ("entropy", "test_entropy_is_finite_and_bounds_the_best_constant_posterior"),
        ("entropy", "test_samples_and_entropy_match_the_reference_prior"),
        ("constant", "test_entropy_is_finite_and_bounds_the_best_constant_posterior"),
        ("constant", "test_nll_matches_the_reference_posterior"),
        ("no_grad", "test_nll_is_finite_and_gradients_reach_the_posterior_parameters"),
        ("predict", "test_best_posterior_recovers_the_value_and_beats_a_wrong_one"),
    ],
)
def test_factor_contract_catches_planted_bugs(bug: str, check: str) -> None:
    contract = type("Contract", (TestUniformFactor,), {"plugin": _broken_plugin(bug), "plugin_name": None,
                                                       "kind": "broken"})()
    getattr(TestUniformFactor(), check)()  # the healthy factor passes the same check
    with pytest.raises((AssertionError, RuntimeError)):
        getattr(contract, check)()


def test_regularizer_contract_catches_attached_logs() -> None:
    class LeakyLogs(ganforge.Regularizer):
        def critic_terms(self, view: ganforge.StepView) -> ganforge.Terms:
            return ganforge.Terms(losses={}, logs={"x": view.fake_features.mean()})  # not detached

    def register_regularizers(register: Any) -> None:
        register("leaky", lambda options, ctx: LeakyLogs(), help="logs a tensor that still has a graph")

    plugin = types.SimpleNamespace(__name__="leaky_plugin", register_regularizers=ganforge.hookimpl(register_regularizers))
    contract = type("Contract", (RegularizerContract,), {"plugin": plugin, "kind": "leaky"})()
    with pytest.raises(AssertionError, match="detached"):
        contract.test_terms_are_finite_scalars_and_logs_are_detached()


# --- the helpers ---------------------------------------------------------------------------------------
def test_train_steps_returns_the_metrics_log(tmp_path: Path) -> None:
    log = train_steps(tiny_recipe(), 3, tmp_path)
    assert [row["step"] for row in log] == [1, 2, 3]
    assert all(math.isfinite(row["critic/adv"]) and math.isfinite(row["generator/adv"]) for row in log)
    assert list((tmp_path / "run" / "checkpoints").glob("step-*.safetensors"))
    assert list((tmp_path / "run" / "samples").glob("*.png"))


def test_train_steps_reads_a_recipe_file_and_overrides(tmp_path: Path) -> None:
    import tomli_w

    path = tmp_path / "r.toml"
    path.write_text(tomli_w.dumps(tiny_recipe()))
    log = train_steps(path, 4, tmp_path, overrides=["data.batch_size=8"], log_every=2)
    assert [row["step"] for row in log] == [2, 4]


def test_make_registry_takes_an_installed_plugin_once() -> None:
    registry = make_registry([("infogan", ganforge_infogan)])  # also installed through its entry point
    assert registry.get("latent_factor", "uniform").plugin == "infogan"
    assert registry.get("generator", TINY).plugin == "ganforge.testing"
    assert not [w for w in registry.warnings if "infogan" in w]


def test_make_registry_raises_for_a_broken_plugin_under_test() -> None:
    def register_generators(register: Any) -> None:
        raise RuntimeError("boom")

    plugin = types.SimpleNamespace(register_generators=ganforge.hookimpl(register_generators))
    with pytest.raises(PluginError, match="'mine' failed in register_generators: RuntimeError: boom"):
        make_registry([("mine", plugin)])


def test_tiny_recipe_merges_sections() -> None:
    raw = tiny_recipe("infogan", [{"name": "c", "kind": "uniform"}], train={"steps": 9}, run={"seed": 3})
    assert raw["train"]["steps"] == 9 and raw["train"]["log_every"] == 1
    assert raw["run"] == {"name": "test", "seed": 3, "device": "cpu"}
    assert raw["latent"]["factors"] == [{"name": "c", "kind": "uniform"}]
