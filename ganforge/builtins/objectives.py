"""Adversarial objectives. Each returns scalar losses that the engine minimises."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganforge.interfaces import Objective


class NonSaturating(Objective):
    """D: −log D(x) − log(1 − D(G(z))); G: −log D(G(z)) (the non-saturating trick)."""

    def __init__(self, options: object = None) -> None:
        pass

    def critic_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        # softplus(-l) = −log σ(l); softplus(l) = −log(1 − σ(l)); numerically stable BCE on logits
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return F.softplus(-fake_logits).mean()

    def score(self, logits: Tensor) -> Tensor:
        return logits.sigmoid()  # D(x) as a probability


class Hinge(Objective):
    """D: E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))]; G: −E[D(G(z))]."""

    def __init__(self, options: object = None) -> None:
        pass

    def critic_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return -fake_logits.mean()


class Wasserstein(Objective):
    """D: E[D(G(z))] − E[D(x)]; G: −E[D(G(z))]."""

    def __init__(self, options: object = None) -> None:
        pass

    def critic_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return fake_logits.mean() - real_logits.mean()

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return -fake_logits.mean()
