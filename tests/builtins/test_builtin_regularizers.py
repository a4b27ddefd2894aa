"""The core's critic regularizers (ganforge/builtins/regularizers.py): R1, R2 and WGAN-GP's penalty
against hand computations on critics whose input gradient is known in closed form."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from ganforge import CriticAccess, LatentSpec, StepView
from ganforge.builtins.options import GradientPenaltyOptions, R1Options
from ganforge.builtins.regularizers import R1, R2, GradientPenalty
import ganforge.builtins
from ganforge.testing import RegularizerContract, tiny_recipe, train_steps


class Linear(nn.Module):
    """D(x) = w·x + b: ∇ₓD = w for every x, so ‖∇D(x̂)‖ = ‖w‖ wherever x̂ lies."""

    feature_width = 16

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.full((16,), scale))
        self.b = nn.Parameter(torch.zeros(()))

    def features(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return x.flatten(1)

    def head(self, f: Tensor, cond: Tensor | None = None) -> Tensor:
        return f @ self.w + self.b


class Quadratic(Linear):
    """D(x) = Σ w·x²: ∇ₓD = 2w·x."""

    def head(self, f: Tensor, cond: Tensor | None = None) -> Tensor:
        return f.square() @ self.w


def _view(critic: nn.Module, real_grad: bool = False) -> StepView:
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(6, 1, 4, 4, generator=g), torch.randn(6, 1, 4, 4, generator=g)
    if real_grad:
        real.requires_grad_(True)
    spec = LatentSpec(noise_dim=2)
    f_real, f_fake = critic.features(real), critic.features(fake)  # type: ignore[operator]
    return StepView(phase="critic", step=0, spec=spec, latent=spec.sample(6, g), fake=fake, fake_features=f_fake, real=real, real_features=f_real, critic=CriticAccess(critic),  # type: ignore[arg-type]
                    real_logits=critic.head(f_real), fake_logits=critic.head(f_fake))  # type: ignore[operator]


@pytest.mark.parametrize("scale", [0.1, 0.5])
def test_gradient_penalty_is_lambda_times_squared_norm_gap(scale: float) -> None:
    critic = Linear(scale)
    terms = GradientPenalty(GradientPenaltyOptions(weight=10.0), None).critic_terms(_view(critic))  # type: ignore[arg-type]
    norm = scale * 4  # ‖w‖ = scale · √16
    torch.testing.assert_close(terms.losses["penalty"], torch.tensor(10.0 * (norm - 1) ** 2))
    torch.testing.assert_close(terms.logs["grad_norm"], torch.tensor(norm))
    terms.losses["penalty"].backward()  # d/dw λ(‖w‖ − 1)² = 2λ(‖w‖ − 1) · w/‖w‖
    torch.testing.assert_close(critic.w.grad, 2 * 10.0 * (norm - 1) * critic.w.detach() / norm)


def test_one_sided_gradient_penalty_ignores_norms_below_one() -> None:
    small, large = Linear(0.1), Linear(0.5)  # ‖w‖ = 0.4 and 2.0
    opts = GradientPenaltyOptions(one_sided=True)
    assert float(GradientPenalty(opts, None).critic_terms(_view(small)).losses["penalty"].detach()) == 0.0  # type: ignore[arg-type]
    torch.testing.assert_close(GradientPenalty(opts, None).critic_terms(_view(large)).losses["penalty"],  # type: ignore[arg-type]
                               torch.tensor(10.0))


def test_r1_and_r2_are_half_gamma_times_the_squared_input_gradient() -> None:
    critic = Quadratic(0.3)
    view = _view(critic, real_grad=True)
    r1 = R1(R1Options(gamma=2.0), None).critic_terms(view).losses["penalty"]  # type: ignore[arg-type]
    r2 = R2(R1Options(gamma=2.0), None).critic_terms(view).losses["penalty"]  # type: ignore[arg-type]
    for images, got in ((view.real.detach(), r1), (view.fake, r2)):  # type: ignore[union-attr]
        expected = (2.0 / 2) * (2 * 0.3 * images.flatten(1)).square().sum(1).mean()
        torch.testing.assert_close(got, expected)
    r1.backward()
    assert critic.w.grad is not None and bool(critic.w.grad.abs().sum() > 0)  # the penalty trains the critic


def test_wgan_gp_trains_with_finite_terms(tmp_path: Path) -> None:
    recipe = tiny_recipe(objective={"kind": "wasserstein"}, regularizers=[{"kind": "gradient_penalty"}],
                         train={"n_critic": 2})
    log = train_steps(recipe, 3, tmp_path)
    assert all(row["critic/gradient_penalty/penalty"] >= 0 for row in log)
    assert all(row["critic/gradient_penalty/grad_norm"] > 0 for row in log)


class TestR1Contract(RegularizerContract):
    plugin = ganforge.builtins
    plugin_name = "core"
    kind = "r1"
    options = {"gamma": 1.0}
    recipe = tiny_recipe(regularizers=[{"kind": "r1", "gamma": 1.0}])


class TestGradientPenaltyContract(RegularizerContract):
    plugin = ganforge.builtins
    plugin_name = "core"
    kind = "gradient_penalty"
    options = {"weight": 10.0}
    recipe = tiny_recipe(regularizers=[{"kind": "gradient_penalty"}], objective={"kind": "wasserstein"})
