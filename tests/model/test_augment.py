"""[augment]: DiffAugment's policies pass G's gradient, every critic input goes through the same policy
(a plugin's augmentation registered through register_augmentations included), ADA's p rises when D
overfits and falls when it does not, and p is logged and checkpointed."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import torch
from torch import Tensor, nn
from typer.testing import CliRunner

import ganforge
from ganforge.runs import checkpoint
from ganforge.model.augmentations import BUILTIN
from ganforge.model.augment import AugmentStage
from ganforge.cli.app import app
from ganforge.recipe.model import AugmentSection
from ganforge.testing import tiny_recipe, train_steps


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_the_generator_gets_gradients_through_each_augmentation(name: str) -> None:
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(4, 3 * 8 * 8), nn.Tanh(), nn.Unflatten(1, (3, 8, 8)))
    stage = AugmentStage([(name, BUILTIN[name])], AugmentSection(policy=[name]))
    fake = generator(torch.randn(16, 4))  # (16, 3, 8, 8)
    seen = stage(fake)
    assert seen.shape == fake.shape and not torch.equal(seen, fake)  # it did transform the images
    (seen * torch.randn_like(seen)).sum().backward()  # any critic's loss
    grads = [p.grad for p in generator.parameters()]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0  # type: ignore[union-attr]


def _recorder() -> tuple[list[Tensor], Any]:
    """A ``register_augmentations`` hook whose augmentation ``record`` keeps a copy of every batch it is given
    and returns it unchanged."""
    seen: list[Tensor] = []

    def record(x: Tensor) -> Tensor:
        seen.append(x.detach().clone())
        return x

    def register_augmentations(register: Any) -> None:
        register("record", lambda options: record, help="records its inputs (test)")

    return seen, register_augmentations


def _plugin(hook: Any) -> types.SimpleNamespace:
    return types.SimpleNamespace(__name__="augtest", register_augmentations=ganforge.hookimpl(hook))


def test_reals_and_fakes_in_both_phases_and_in_regularizers_go_through_the_policy(tmp_path: Path) -> None:
    seen, register_augmentations = _recorder()
    recipe = tiny_recipe(augment={"policy": ["record"]}, train={"joint_critic_pass": False},
                         regularizers=[{"kind": "r2", "gamma": 1.0}])
    train_steps(recipe, 1, tmp_path, plugins=[("augtest", _plugin(register_augmentations))])
    assert len(seen) == 4  # critic step: reals, fakes, R2's own critic call on the fakes; generator step: the fakes
    real, fake, in_r2, in_g = seen
    assert torch.allclose((real + 1) * 127.5, ((real + 1) * 127.5).round(), atol=1e-4)  # uint8 data, scaled
    assert torch.equal(fake, in_r2) and torch.equal(fake, in_g)  # the one fake batch, seen three times
    assert not torch.equal(real, fake)


def test_a_joint_critic_pass_augments_reals_and_fakes_as_one_batch(tmp_path: Path) -> None:
    seen, hook = _recorder()
    train_steps(tiny_recipe(augment={"policy": ["record"]}, train={"joint_critic_pass": True}), 1, tmp_path,
                plugins=[("augtest", _plugin(hook))])
    assert [len(x) for x in seen] == [32, 16]  # [x; x̃] in the critic step, x̃ in the generator step


def _ada(**options: Any) -> AugmentStage:
    return AugmentStage([("color", BUILTIN["color"])], AugmentSection(policy=["color"], **options))


def test_ada_raises_p_when_the_critic_overfits_and_lowers_it_when_not() -> None:
    stage = _ada(p=0.0, ada_target=0.6, ada_interval=2, ada_kimg=0.1)  # 100 images move p from 0 to 1
    confident = torch.full((10,), 3.0)  # sign D(x) = +1 on every real: r = 1 > 0.6, D overfits
    stage.observe(confident, 0)
    assert stage.p.item() == 0.0  # adjusted every 2nd critic step only
    stage.observe(confident, 1)
    assert stage.p.item() == pytest.approx(20 / 100)  # + images / (1000·ada_kimg)
    for i in range(2, 20):
        stage.observe(confident, i)
    assert stage.p.item() == 1.0  # clamped
    unsure = torch.tensor([1.0, -1.0] * 5)  # r = 0 < 0.6
    stage.observe(unsure, 20)
    stage.observe(unsure, 21)
    assert stage.p.item() == pytest.approx(0.8)
    for i in range(22, 40):
        stage.observe(unsure, i)
    assert stage.p.item() == 0.0


def test_p_is_the_share_of_images_augmented() -> None:
    torch.manual_seed(0)
    x = torch.zeros(4000, 1, 4, 4)
    for p in (0.0, 0.3, 1.0):
        shifted = _ada(p=p, ada_target=0.6)(x)  # adaptive: drawn per image against the buffer
        assert (shifted.flatten(1).abs().sum(1) > 0).float().mean().item() == pytest.approx(p, abs=0.03)


def test_p_is_logged_checkpointed_and_restored(tmp_path: Path) -> None:
    recipe = tiny_recipe(augment={"policy": ["translation", "cutout", "color"], "p": 0.0, "ada_target": 0.6,
                                  "ada_interval": 1, "ada_kimg": 0.5})
    log = train_steps(recipe, 4, tmp_path)
    assert all("critic/augment/p" in row for row in log)
    tensors, _ = checkpoint.load(tmp_path / "run" / "checkpoints" / "step-00000004.json")
    assert tensors["augment.p"].item() == pytest.approx(log[-1]["critic/augment/p"])
    assert tensors["augment.p"].item() > 0  # a tiny critic is sure of 64 reals at once: p rose


def test_an_unknown_augmentation_is_a_one_line_error(tiny_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = {**tiny_raw, "augment": {"policy": ["translation", "shear"]}}
    (tmp_path / "r.toml").write_text(tomli_w.dumps(raw))
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "r.toml")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "augment.policy[1]: unknown augmentation 'shear'; available: color, cutout, translation" in result.output
