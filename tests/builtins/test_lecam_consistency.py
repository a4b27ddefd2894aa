"""LeCam and bCR (ganforge/builtins/regularizers.py) against hand computations, and in a training run."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ganforge import CriticAccess, LatentSpec, StepView
from ganforge.builtins.options import ConsistencyOptions, LeCamOptions
from ganforge.builtins.regularizers import Consistency, LeCam
from ganforge.testing import tiny_recipe, train_steps


class SumOfSquares(nn.Module):
    """D(x) = w · Σ x² + b: unchanged by a shift that keeps every non-zero pixel inside the image."""

    feature_width = 16

    def __init__(self) -> None:
        super().__init__()
        self.w, self.b = nn.Parameter(torch.tensor(0.7)), nn.Parameter(torch.tensor(0.1))

    def features(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return x.flatten(1)

    def head(self, f: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.w * f.square().sum(1) + self.b


def _view(real_logits: Tensor, fake_logits: Tensor, real: Tensor | None = None, fake: Tensor | None = None,
          critic: nn.Module | None = None) -> StepView:
    spec = LatentSpec(noise_dim=2)
    n = len(real_logits)
    real = real if real is not None else torch.zeros(n, 1, 4, 4)
    fake = fake if fake is not None else torch.zeros(n, 1, 4, 4)
    return StepView(phase="critic", step=0, spec=spec, latent=spec.sample(n, torch.Generator().manual_seed(0)), fake=fake, fake_features=fake.flatten(1), real=real,
                    real_features=real.flatten(1), critic=None if critic is None else CriticAccess(critic),  # type: ignore[arg-type]
                    real_logits=real_logits, fake_logits=fake_logits)


def test_lecam_penalty_and_anchors_match_a_hand_computation() -> None:
    reg = LeCam(LeCamOptions(weight=0.5, decay=0.9), None)  # type: ignore[arg-type]
    alpha_r = alpha_f = 0.0
    for real, fake in (([2.0, 4.0], [-1.0, -3.0]), ([1.0, 0.0], [0.5, -0.5])):
        r, f = torch.tensor(real), torch.tensor(fake)
        terms = reg.critic_terms(_view(r, f))
        expected = 0.5 * (((r - alpha_f) ** 2).mean() + ((f - alpha_r) ** 2).mean())
        torch.testing.assert_close(terms.losses["penalty"], expected)
        alpha_r, alpha_f = 0.9 * alpha_r + 0.1 * r.mean().item(), 0.9 * alpha_f + 0.1 * f.mean().item()
        torch.testing.assert_close(terms.logs["anchor_real"], torch.tensor(alpha_r))
        torch.testing.assert_close(terms.logs["anchor_fake"], torch.tensor(alpha_f))
    restored = LeCam(LeCamOptions(), None)  # type: ignore[arg-type]
    restored.load_state_dict(reg.state_dict())  # the anchors are buffers: a checkpoint keeps them
    assert torch.equal(restored.anchor_real, reg.anchor_real) and torch.equal(restored.anchor_fake, reg.anchor_fake)
    assert restored.anchor_real.item() != 0


def test_one_sided_lecam_ignores_outputs_on_the_anchors_safe_side() -> None:
    reg = LeCam(LeCamOptions(one_sided=True), None)  # type: ignore[arg-type]
    # anchors 0: D(x) below α_F and D(G(z)) above α_R cost nothing
    assert reg.critic_terms(_view(torch.tensor([-1.0, -2.0]), torch.tensor([1.0, 3.0]))).losses["penalty"].item() == 0.0


def test_lecam_gradient_pulls_the_logits_towards_the_anchors() -> None:
    real, fake = torch.tensor([3.0, 5.0], requires_grad=True), torch.tensor([-2.0, -4.0], requires_grad=True)
    LeCam(LeCamOptions(weight=1.0), None).critic_terms(_view(real, fake)).losses["penalty"].backward()  # type: ignore[arg-type]
    assert bool((real.grad > 0).all()) and bool((fake.grad < 0).all())  # descent lowers D(x), raises D(G(z))


def test_consistency_is_zero_for_a_shift_invariant_critic_and_trains_otherwise() -> None:
    critic = SumOfSquares()
    centred = torch.zeros(3, 1, 4, 4)
    centred[:, :, 1:3, 1:3] = torch.randn(3, 1, 2, 2)  # a one-pixel shift (1/8 of 4, rounded) keeps it inside
    reg = Consistency(ConsistencyOptions(real_weight=10.0, fake_weight=2.0), None)  # type: ignore[arg-type]
    logits = critic.head(critic.features(centred))
    terms = reg.critic_terms(_view(logits, logits, centred, centred, critic))
    assert set(terms.losses) == {"real", "fake"}
    torch.testing.assert_close(terms.losses["real"], torch.tensor(0.0), atol=1e-6, rtol=0)
    torch.testing.assert_close(terms.losses["fake"], torch.tensor(0.0), atol=1e-6, rtol=0)
    torch.manual_seed(1)
    edges = torch.randn(8, 1, 4, 4)  # pixels on the border leave the image under a shift
    logits = critic.head(critic.features(edges))
    terms = reg.critic_terms(_view(logits, logits.detach(), edges, edges, critic))
    assert terms.losses["real"].item() > 0 and terms.losses["fake"].item() > 0
    terms.losses["real"].backward()
    assert critic.w.grad is not None and critic.w.grad.abs().item() > 0


def test_lecam_and_consistency_train_with_finite_terms(tmp_path: Path) -> None:
    recipe = tiny_recipe(regularizers=[{"kind": "lecam"}, {"kind": "consistency"}])
    log = train_steps(recipe, 3, tmp_path)
    assert all(row["critic/lecam/penalty"] >= 0 and row["critic/consistency/real"] >= 0 for row in log)
    assert any(row["critic/lecam/anchor_real"] != 0 for row in log)
