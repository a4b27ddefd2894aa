"""A third party's R1 (``r1_penalty.py``, public API only): its value, its gradient, a run."""

from __future__ import annotations

from pathlib import Path

import pytest
import r1_penalty
import torch
from torch import Tensor, nn

import ganforge
from ganforge.testing import RegularizerContract, make_registry, tiny_recipe, train_steps
from ganforge.recipe.model import resolve


class Quadratic(ganforge.Critic):
    """D(x) = a · Σ x²: ∇ₓD = 2a·x, so R1 = γ/2 · 4a² · E‖x‖² by hand."""

    feature_width = 1

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(0.7))

    def features(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return x.flatten(1).square().sum(1, keepdim=True)  # (B, 1)

    def head(self, features: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.a * features.squeeze(1)  # (B,)


def test_r1_matches_the_hand_computation_and_trains_the_critic() -> None:
    critic, gamma = Quadratic(), 3.0
    real = torch.randn(5, 1, 4, 4, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    logits = critic(real)
    spec = ganforge.LatentSpec(noise_dim=2)
    latent = spec.sample(5, torch.Generator().manual_seed(1))
    fake = torch.zeros(5, 1, 4, 4)
    view = ganforge.StepView(phase="critic", step=0, spec=spec, latent=latent, fake=fake, fake_features=critic.features(fake), real=real, real_features=critic.features(real),
                             critic=ganforge.CriticAccess(critic), real_logits=logits, fake_logits=critic(fake))
    reg = r1_penalty.R1(r1_penalty.R1Options(gamma=gamma), None)  # type: ignore[arg-type]
    penalty = reg.critic_terms(view).losses["r1"]
    sq_norms = real.detach().flatten(1).square().sum(1)  # ‖x‖² per image
    expected = gamma / 2 * (4 * 0.7**2 * sq_norms).mean()
    torch.testing.assert_close(penalty, expected)
    penalty.backward()  # d/da [γ/2 · 4a² E‖x‖²] = 4γa · E‖x‖²
    torch.testing.assert_close(critic.a.grad, 4 * gamma * 0.7 * sq_norms.mean())


def test_r1_plugin_trains_in_a_run_and_is_logged_under_its_name(tmp_path: Path) -> None:
    recipe = tiny_recipe(regularizers=[{"kind": "my_r1", "gamma": 1.0}])
    log = train_steps(recipe, 3, tmp_path, plugins=[("r1_example", r1_penalty)])
    assert all(row["critic/my_r1/r1"] > 0 for row in log)


def test_an_unknown_option_is_rejected_at_its_key_path() -> None:
    registry = make_registry([("r1_example", r1_penalty)])
    with pytest.raises(ganforge.RecipeError, match=r"regularizers\[0\]\.gama"):
        resolve(tiny_recipe(regularizers=[{"kind": "my_r1", "gama": 1.0}]), registry)


class TestR1PassesTheRegularizerContract(RegularizerContract):
    """The contract as written, with no method overridden: its views give R1 a critic, logits and real images
    with gradients, as the training step does."""

    plugin = r1_penalty
    plugin_name = "r1_example"
    kind = "my_r1"
    options = {"gamma": 2.0}
    recipe = tiny_recipe(regularizers=[{"kind": "my_r1", "gamma": 1.0}])
