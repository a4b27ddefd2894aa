"""The core's critic regularizers: R1 and R2 (Mescheder et al. 2018) and WGAN-GP's gradient penalty.

Plugins like any other: each returns a loss term for the critic step, computed with
``torch.autograd.grad(..., create_graph=True)`` so the penalty's own gradient trains the critic.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganforge.builtins.options import GradientPenaltyOptions, R1Options
from ganforge.interfaces import BuildContext, Regularizer, StepView, Terms


def input_gradient(logits: Tensor, x: Tensor) -> Tensor:
    """∇ₓ Σ_b D(x_b): ``(B, C, H, W)``, itself differentiable (the penalty trains the critic through it)."""
    (grad,) = torch.autograd.grad(logits.float().sum(), x, create_graph=True)
    return grad


class R1(Regularizer):
    """R1: γ/2 · E_x‖∇ₓD(x)‖² on the real batch, from the logits the critic step computed anyway."""

    needs_real_grad = True

    def __init__(self, options: R1Options, ctx: BuildContext) -> None:
        super().__init__()
        self.gamma = options.gamma

    def critic_terms(self, view: StepView) -> Terms:
        assert view.real is not None and view.real_logits is not None
        grad = input_gradient(view.real_logits, view.real)  # (B, C, H, W)
        penalty = grad.float().square().flatten(1).sum(1).mean()  # E‖∇ₓD(x)‖²: ()
        return Terms(losses={"penalty": 0.5 * self.gamma * penalty})


class R2(Regularizer):
    """R2: γ/2 · E‖∇D(x̃)‖² on the generated batch (one more critic pass, on the detached fakes)."""

    def __init__(self, options: R1Options, ctx: BuildContext) -> None:
        super().__init__()
        self.gamma = options.gamma

    def critic_terms(self, view: StepView) -> Terms:
        assert view.critic is not None
        fake = view.fake.detach().requires_grad_(True)  # (B, C, H, W)
        grad = input_gradient(view.critic(fake, view.cond_fake), fake)
        penalty = grad.float().square().flatten(1).sum(1).mean()
        return Terms(losses={"penalty": 0.5 * self.gamma * penalty})


class GradientPenalty(Regularizer):
    """WGAN-GP (Gulrajani et al. 2017): λ · E[(‖∇D(x̂)‖ − 1)²], x̂ = εx + (1 − ε)x̃, ε ~ U[0, 1] per image.

    Pair it with ``objective.kind = "wasserstein"`` and a critic without batch norm (a penalty per image
    is not what batch statistics compute). ε comes from torch's global generator, which checkpoints
    save, so a resumed run draws the same interpolates.
    """

    def __init__(self, options: GradientPenaltyOptions, ctx: BuildContext) -> None:
        super().__init__()
        self.weight = options.weight
        self.one_sided = options.one_sided

    def critic_terms(self, view: StepView) -> Terms:
        assert view.real is not None and view.critic is not None
        real, fake = view.real.detach(), view.fake.detach().to(view.real.dtype)  # (B, C, H, W) each
        eps = torch.rand(len(real), 1, 1, 1, device=real.device, dtype=real.dtype)  # (B, 1, 1, 1)
        mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)  # x̂
        norm = input_gradient(view.critic(mixed, view.cond_real), mixed).float().flatten(1).norm(dim=1)  # (B,)
        gap = (norm - 1).clamp(min=0) if self.one_sided else norm - 1
        return Terms(losses={"penalty": self.weight * gap.square().mean()}, logs={"grad_norm": norm.mean().detach()})
