"""The core's critic regularizers: R1 and R2 (Mescheder et al. 2018), WGAN-GP's gradient penalty, LeCam
(Tseng et al. 2021) and balanced consistency regularization (bCR, Zhao et al. 2021).

Plugins like any other: each returns a loss term for the critic step, computed with
``torch.autograd.grad(..., create_graph=True)`` so the penalty's own gradient trains the critic.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganforge.model.augmentations import translation
from ganforge.builtins.options import ConsistencyOptions, GradientPenaltyOptions, LeCamOptions, R1Options
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


class LeCam(Regularizer):
    """LeCam regularization (Tseng et al. 2021): keeps D's outputs near moving anchors of each other's.

    ``λ · (E[(D(x) − α_F)²] + E[(D(G(z)) − α_R)²])`` on the logits of the critic step, where α_R and α_F
    are exponential moving averages of the mean logit on real and on generated images (buffers, so a
    checkpoint restores them; under several processes rank 0's are broadcast like batch-norm statistics).
    The anchors are updated after the penalty is computed, with this step's detached means.
    """

    def __init__(self, options: LeCamOptions, ctx: BuildContext) -> None:
        super().__init__()
        self.weight, self.decay, self.one_sided = options.weight, options.decay, options.one_sided
        self.register_buffer("anchor_real", torch.zeros(()))  # α_R
        self.register_buffer("anchor_fake", torch.zeros(()))  # α_F

    def critic_terms(self, view: StepView) -> Terms:
        assert view.real_logits is not None and view.fake_logits is not None
        real, fake = view.real_logits.float(), view.fake_logits.float()  # (B,) each
        above, below = real - self.anchor_fake, self.anchor_real - fake  # D(x) − α_F, α_R − D(G(z))
        if self.one_sided:
            above, below = above.clamp(min=0), below.clamp(min=0)
        penalty = above.square().mean() + below.square().mean()
        with torch.no_grad():
            self.anchor_real.lerp_(real.mean(), 1 - self.decay)
            self.anchor_fake.lerp_(fake.mean(), 1 - self.decay)
        return Terms(losses={"penalty": self.weight * penalty},
                     logs={"anchor_real": self.anchor_real.clone(), "anchor_fake": self.anchor_fake.clone()})


class Consistency(Regularizer):
    """Balanced consistency regularization, bCR (Zhao et al. 2021): D's output should not change under a
    semantics-preserving transformation T (a random shift) of real and of generated images.

    Two more critic passes per step (on T(x) and T(G(z)), G's output detached); logits compared in float32.
    """

    def __init__(self, options: ConsistencyOptions, ctx: BuildContext) -> None:
        super().__init__()
        self.real_weight, self.fake_weight, self.ratio = options.real_weight, options.fake_weight, options.translation

    def critic_terms(self, view: StepView) -> Terms:
        assert view.real is not None and view.real_logits is not None and view.fake_logits is not None
        assert view.critic is not None
        losses: dict[str, Tensor] = {}
        for name, weight, x, logits, cond in (("real", self.real_weight, view.real, view.real_logits, view.cond_real),
                                              ("fake", self.fake_weight, view.fake, view.fake_logits, view.cond_fake)):
            if weight > 0:
                moved = view.critic(translation(x.detach(), self.ratio), cond).float()  # D(T(·)): (B,)
                losses[name] = weight * (logits.float() - moved).square().mean()
        return Terms(losses=losses)
