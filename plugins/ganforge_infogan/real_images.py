"""InfoGAN plus terms on real images (beyond the paper): Q learns to assign real digits to balanced, stable codes.

The paper's Q only ever sees generated images, whose code is known. Category merging (two digits in
one category, one digit split over two) is a property of how Q and G carve up the *data*, so the
levers that work in the clustering literature all read Q on real images x (a data batch, no labels):

- balance (IMSAT, RIM): KL(p̄ ‖ P(c)) with p̄ = mean_x Q(c | x): over a batch every category is used
  as often as the prior says, so no category can hold two digits while another holds none;
- confidence: mean_x H(Q(c | x)): each image belongs clearly to one category (with balance, the two
  make up the mutual information I(x; c) of IMSAT);
- consistency: KL(Q(c | x) ‖ Q(c | aug(x))) for a random small shift, rotation and scaling of x, the
  clean side held fixed: the category is a property of the digit, not of its position (the
  augmentation-invariance of IMSAT's VAT and of Elastic-InfoGAN's contrastive term);
- pairs (IIC, Ji et al. 2019): log K − I(c; c') for the codes Q gives an image and its augmented copy,
  from their joint distribution over the batch; both sides learn. One term that asks for all three
  at once: balanced (H(c) = log K), confident and agreeing (H(c | c') = 0).

They act in the critic step, where Q is trained (the trunk's real features are detached unless
``real_trunk_gradient``); the generator step is the paper's. ``until_step`` applies them only early.
Only categorical codes (``OneHotFactor``: Q gives K logits) take part; the prior is uniform, as
InfoGAN's categorical codes are. The augmentations draw from torch's global generator, which the
engine seeds from ``run.seed`` and stores in every checkpoint, so a resumed run draws the same ones.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge import BuildContext, OneHotFactor, StepView, Terms
from ganforge_infogan.options import MutualInformationPlusOptions
from ganforge_infogan.regularizer import MutualInformation


def balance_kl(probs: Tensor) -> Tensor:
    """KL(p̄ ‖ uniform) = log K − H(p̄) for p̄ = the mean of ``probs`` (B, K) over the batch: () nats, 0 when balanced."""
    marginal = probs.mean(0)  # (K,)
    return math.log(probs.shape[1]) + (marginal * marginal.clamp_min(1e-12).log()).sum()


def mean_entropy(probs: Tensor) -> Tensor:
    """mean_x H(Q(c | x)) for ``probs`` (B, K): () nats, 0 when every row is one-hot."""
    return -(probs * probs.clamp_min(1e-12).log()).sum(1).mean()


def consistency_kl(clean_logits: Tensor, aug_logits: Tensor) -> Tensor:
    """mean_x KL(softmax(clean) ‖ softmax(aug)), the clean side held fixed: () nats, 0 when predictions agree."""
    target = F.softmax(clean_logits.detach(), dim=1)  # (B, K)
    return F.kl_div(F.log_softmax(aug_logits, dim=1), target, reduction="batchmean")


def pair_information_gap(probs: Tensor, aug_probs: Tensor) -> Tensor:
    """log K − I(c; c') for Q's ``probs`` (B, K) on images and ``aug_probs`` (B, K) on their augmented copies.

    The joint P(c, c') is the batch mean of the outer products, symmetrised (IIC). () nats: 0 when every
    pair is one-hot and agrees and the categories are balanced; log K when the two codes are independent.
    """
    joint = probs.T @ aug_probs / probs.shape[0]  # (K, K)
    joint = ((joint + joint.T) / 2).clamp_min(1e-12)
    marginal = joint.sum(1)  # (K,) equal to joint.sum(0) by symmetry
    information = (joint * (joint.log() - marginal.log()[:, None] - marginal.log()[None, :])).sum()
    return math.log(probs.shape[1]) - information


def augment(x: Tensor, generator: torch.Generator | None, shift: float, rotation: float, scale: float) -> Tensor:
    """A random affine map per image of ``x`` (B, C, H, W) in [-1, 1]: shift up to ``shift`` px, rotation up to
    ``rotation`` degrees, scaling in [1 − scale, 1 + scale]; the border is filled with the background (−1)."""
    b, _, h, w = x.shape
    dev = x.device

    def uniform(n: int) -> Tensor:  # U(-1, 1), (n,)
        return torch.rand(n, generator=generator, device=dev) * 2 - 1

    angle = uniform(b) * math.radians(rotation)
    factor = 1 + uniform(b) * scale
    tx, ty = uniform(b) * 2 * shift / w, uniform(b) * 2 * shift / h  # in the [-1, 1] grid units
    cos, sin = angle.cos() / factor, angle.sin() / factor
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1


class MutualInformationPlus(MutualInformation):
    """:class:`MutualInformation` (the paper's Q and loss) plus balance, confidence and consistency on real images."""

    def __init__(self, options: MutualInformationPlusOptions, ctx: BuildContext) -> None:
        super().__init__(options, ctx)
        self.options = options
        self.categorical = [f for f in ctx.spec.factors if isinstance(f, OneHotFactor)]
        if not self.categorical:
            raise ValueError("mutual_information_plus needs a categorical code (kind = \"categorical\"): its real-image "
                             "terms are about categories; use mutual_information otherwise")
        if options.optimizer == "generator":
            raise ValueError("mutual_information_plus trains Q on real images in the critic step: optimizer must be "
                             "'critic'")

    def critic_terms(self, view: StepView) -> Terms:
        terms = super().critic_terms(view)
        o = self.options
        if view.real is None or view.real_features is None or (o.until_step is not None and view.step >= o.until_step):
            return terms
        features = view.real_features if o.real_trunk_gradient else view.real_features.detach()  # (B, F)
        logits = self.posterior(features)  # name → (B, K)
        aug_logits: dict[str, Tensor] = {}
        if o.consistency > 0 or o.pairs > 0:
            assert view.critic is not None  # the engine always gives the critic to the critic phase
            aug = augment(view.real.detach(), None, o.shift, o.rotation, o.scale)  # (B, C, H, W)
            aug_features = view.critic.features(aug, view.cond_real)
            aug_logits = self.posterior(aug_features if o.real_trunk_gradient else aug_features.detach())
        loss = features.new_zeros((), dtype=torch.float32)
        logs: dict[str, Tensor] = {}
        for f in self.categorical:
            probs = F.softmax(logits[f.name].float(), dim=1)  # (B, K)
            parts = {"balance": (o.balance, balance_kl(probs)), "confidence": (o.confidence, mean_entropy(probs))}
            if aug_logits:
                aug_f = aug_logits[f.name].float()  # (B, K)
                if o.consistency > 0:
                    parts["consistency"] = (o.consistency, consistency_kl(logits[f.name].float(), aug_f))
                if o.pairs > 0:
                    parts["pairs"] = (o.pairs, pair_information_gap(probs, F.softmax(aug_f, dim=1)))
            for key, (weight, value) in parts.items():
                loss = loss + weight * value
                logs[f"real/{key}/{f.name}"] = value.detach()
        return Terms(losses={**terms.losses, "real": loss}, logs={**terms.logs, **logs})
