"""The CGAN plugin: the label factor, conditional networks, the method's checks, and that training uses labels."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from ganforge.training.state import Trainer
from ganforge.data.load import load_data
from ganforge.errors import PluginError, RecipeError
from ganforge.model.pictures import generate
from ganforge.recipe.model import resolve
from ganforge.registry import Registry
from ganforge.model.system import build_system
from ganforge_cgan.factors import Label
from ganforge_cgan.options import LabelOptions


def _system(raw: dict[str, Any], registry: Registry, num_classes: int | None = 4) -> Any:
    torch.manual_seed(0)
    return build_system(resolve(raw, registry), (1, 28, 28), num_classes)


def test_plugin_registers_its_parts(registry: Registry) -> None:
    assert registry.get("method", "cgan").plugin == "cgan"
    assert registry.get("latent_factor", "label").plugin == "cgan"
    assert registry.get("generator", "cgan_mnist").plugin == "cgan"
    assert registry.get("critic", "cgan_mnist").plugin == "cgan"


def test_label_factor_is_a_uniform_condition() -> None:
    f = Label("y", 1.0, LabelOptions(k=5))
    assert f.conditions_critic and f.discrete
    values = f.sample(1000, torch.Generator().manual_seed(0))
    assert values.dtype == torch.int64 and values.min() == 0 and values.max() == 4
    assert torch.equal(f.encode(torch.tensor([0, 3])), torch.eye(5)[[0, 3]])
    assert f.entropy() == pytest.approx(math.log(5))
    assert torch.equal(f.traversal(10), torch.arange(5))


def test_spec_names_the_label_as_its_condition(cgan_raw: dict[str, Any], registry: Registry) -> None:
    system = _system(cgan_raw, registry)
    assert system.spec.condition is not None and system.spec.condition.name == "y"
    latent = system.spec.sample(3, torch.Generator().manual_seed(0))
    assert torch.equal(system.spec.condition_values(latent), latent.codes["y"])


@pytest.mark.parametrize(
    ("factors", "message"),
    [([], "CGAN needs a label"),
     ([{"name": "a", "kind": "label", "k": 4}, {"name": "b", "kind": "label", "k": 4}], "2 factors are labels")],
)
def test_method_requires_exactly_one_label(cgan_raw: dict[str, Any], registry: Registry, factors: list, message: str) -> None:
    cgan_raw["latent"]["factors"] = factors
    with pytest.raises(RecipeError, match=message):
        resolve(cgan_raw, registry)


def test_label_count_must_match_the_data(cgan_raw: dict[str, Any], registry: Registry) -> None:
    cgan_raw["latent"]["factors"][0]["k"] = 10
    with pytest.raises(PluginError, match="has 10 classes but the data has 4; set its k = 4"):
        _system(cgan_raw, registry, num_classes=4)


def test_concat_critic_features_depend_on_the_label(cgan_raw: dict[str, Any], registry: Registry) -> None:
    critic = _system(cgan_raw, registry).critic.eval()
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    a, b = critic.features(x, torch.zeros(6, dtype=torch.long)), critic.features(x, torch.full((6,), 3))
    assert a.shape == (6, 64) and not torch.allclose(a, b)
    with pytest.raises(ValueError, match="needs the labels"):
        critic.features(x)


def test_projection_critic_conditions_only_the_head(cgan_raw: dict[str, Any], registry: Registry) -> None:
    cgan_raw["critic"]["conditioning"] = "projection"
    critic = _system(cgan_raw, registry).critic.eval()
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    f = critic.features(x)  # the trunk is unconditional: no label needed
    y0, y3 = torch.zeros(6, dtype=torch.long), torch.full((6,), 3)
    assert not torch.allclose(critic.head(f, y0), critic.head(f, y3))
    with torch.no_grad():
        critic.embed.weight.zero_()  # without the projection term the label cannot matter
    assert torch.allclose(critic.head(f, y0), critic.head(f, y3))


def test_engine_conditions_the_critic_on_data_labels(cgan_raw: dict[str, Any], registry: Registry) -> None:
    resolved = resolve(cgan_raw, registry)
    trainer = Trainer(resolved, load_data(resolved), torch.device("cpu"))
    seen: list[tuple[torch.Tensor, torch.Tensor | None]] = []
    features = trainer.system.critic.features
    trainer.system.critic.features = lambda x, cond=None: (seen.append((x, cond)), features(x, cond))[1]  # type: ignore[method-assign]
    batch = []
    stream_next = trainer.stream.next
    trainer.stream.next = lambda: (batch.append(stream_next()), batch[-1])[1]  # type: ignore[method-assign]
    latent = trainer._latent()
    with torch.no_grad():
        fake = trainer.phases.generate(latent)
    trainer.phases.critic(*trainer.stream.next(), latent, fake, 0, 0)
    (real, labels), = batch
    assert seen[0][0] is real and torch.equal(seen[0][1], labels)  # real images with the data's labels
    assert seen[1][1] is not None and not torch.equal(seen[1][1], labels)  # fakes with their sampled labels


def _quadrant_accuracy(system: Any, n: int = 400) -> float:
    """Share of samples whose brightness centroid lies in the quadrant their label asks for."""
    latent = system.spec.sample(n, torch.Generator().manual_seed(5))
    x = (generate(system.generator, system.spec, latent)[:, 0] + 1).clamp(min=0)  # (N, H, W) brightness
    grid = (torch.arange(x.shape[-1]) + 0.5) / x.shape[-1]
    cx = (x.sum(1) * grid).sum(1) / x.sum((1, 2))
    cy = (x.sum(2) * grid).sum(1) / x.sum((1, 2))
    quadrant = (cx > 0.5).long() + 2 * (cy > 0.5).long()  # how the synthetic data labels its blobs
    return float((quadrant == latent.codes["y"]).float().mean())


def test_briefly_trained_generator_draws_the_requested_class(cgan_raw: dict[str, Any], registry: Registry) -> None:
    resolved = resolve(cgan_raw, registry)
    trainer = Trainer(resolved, load_data(resolved), torch.device("cpu"))
    before = _quadrant_accuracy(trainer.system)
    for _ in range(150):
        trainer.train_step()
    after = _quadrant_accuracy(trainer.system)
    assert before < 0.4 < 0.5 < after, (before, after)  # chance is 0.25
