"""The ``[augment]`` stage: every image the critic sees goes through the same policy (``ganforge/augment.py``).

``step.py`` calls the stage on the real and the generated batch of the critic step, on the generated
batch of the generator step, and inside ``CriticAccess`` (so R1, a gradient penalty or bCR evaluate
the critic on augmented inputs too). Each augmentation of the policy is applied to each image with
probability ``p``; with ``ada_target`` > 0, ``p`` follows ADA's rule (Karras et al. 2020): every
``ada_interval`` critic steps, ``r = E[sign D(x)]`` over the real batches since the last adjustment is
compared with the target and ``p`` moves by ``± images / (1000·ada_kimg)``, clamped to [0, 1].

``p`` and the running sums behind ``r`` are buffers: checkpoints save them and, under several
processes, rank 0's are broadcast before each step like batch-norm statistics. Nothing leaves the
device (no host synchronisation in the step).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ganforge.recipe.model import AugmentSection

Augmentation = Callable[[Tensor], Tensor]


class AugmentStage(nn.Module):
    """The recipe's augmentation policy with its (possibly adaptive) probability ``p``."""

    def __init__(self, augmentations: list[tuple[str, Augmentation]], options: AugmentSection) -> None:
        super().__init__()
        self.augmentations = augmentations
        self.adaptive = options.ada_target > 0
        self.target, self.interval, self.kimg = options.ada_target, options.ada_interval, options.ada_kimg
        self.fixed_p = options.p  # read when p cannot move, so the step never reads the buffer back from the device
        self.register_buffer("p", torch.tensor(float(options.p)))
        self.register_buffer("sign_sum", torch.zeros(()))  # Σ sign D(x) over the reals since the last adjustment
        self.register_buffer("seen", torch.zeros(()))  # how many reals that sum holds

    def forward(self, x: Tensor) -> Tensor:
        """Apply each augmentation to each image of ``x`` (B, C, H, W) with probability ``p``."""
        if not self.adaptive and self.fixed_p == 0:
            return x
        for _, augment in self.augmentations:
            if not self.adaptive and self.fixed_p >= 1.0:
                x = augment(x)
            else:  # per image: augmented where a uniform draw falls below p (no host sync on p)
                chosen = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < self.p.to(x.device)
                x = torch.where(chosen, augment(x), x)
        return x

    @torch.no_grad()
    def observe(self, real_logits: Tensor, index: int) -> None:
        """Count the signs of D on a real batch; at every ``ada_interval``-th critic step (``index`` counts
        them from 0) move ``p`` towards where ``r`` meets the target."""
        if not self.adaptive:
            return
        self.sign_sum += real_logits.detach().float().sign().sum()
        self.seen += real_logits.numel()
        if (index + 1) % self.interval == 0:
            r = self.sign_sum / self.seen.clamp(min=1)
            self.p.copy_((self.p + torch.sign(r - self.target) * self.seen / (self.kimg * 1000)).clamp(0.0, 1.0))
            self.sign_sum.zero_()
            self.seen.zero_()

    def logs(self) -> dict[str, Tensor]:
        """What the critic step logs: ``p`` (and nothing when the policy is empty)."""
        return {"critic/augment/p": self.p.detach().float().clone()}
