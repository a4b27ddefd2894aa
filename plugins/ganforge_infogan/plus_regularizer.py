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

With ``cluster_critic`` a last term ties G's categories to Q's categories of real images (self-conditioned GAN,
Liu et al. 2020): a projection head on the critic trunk scores ⟨e_k, φ(x)⟩ + b_k, k being Q's category for a
real image and the code c for a fake; the critic learns to tell real from fake within each category, and G
to fool it. Without it, Q only has to *read* G's categories, and G can draw them as anything readable (a
size, a blur, a texture), whatever Q's categories of real images are. With ``cluster_features = 'conv'`` the
projection scores the conv categorical head's pooled features instead of the trunk's, so the category-wise
critic is convolutional even where the critic itself is an MLP.

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
from torch import Tensor, nn

from ganforge import BuildContext, LatentFactor, OneHotFactor, StepView, Terms
from ganforge_infogan.cluster_heads import CategoricalHeads
from ganforge_infogan.image_ops import augment, conv_encoder, gaussian_blur, normalize_size, object_moments
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


def size_mismatch(log_size: Tensor, category: Tensor, k: int) -> Tensor:
    """How much the object sizes of a batch's categories differ, () ≥ 0: for ``log_size`` (B,) (log RMS radii)
    and ``category`` (B,) in [0, k), the squared gaps between each category's mean and standard deviation and
    the whole batch's, in units of the batch's variance (held fixed), averaged over the categories present.
    0 when every category draws the same sizes; about 2 per category for categories that split the sizes."""
    def std(t: Tensor) -> Tensor:  # population standard deviation, (); differentiable at 0 spread too
        return (t - t.mean()).pow(2).mean().clamp_min(1e-12).sqrt()

    mean, spread = log_size.mean(), std(log_size)
    var = log_size.var(unbiased=False).detach().clamp_min(1e-6)
    gaps = []
    for j in range(k):
        part = log_size[category == j]  # (n_j,)
        if part.numel() < 2:
            continue
        gaps.append(((part.mean() - mean) ** 2 + (std(part) - spread) ** 2) / var)
    return torch.stack(gaps).mean() if gaps else log_size.new_zeros(())


class MutualInformationPlus(MutualInformation):
    """:class:`MutualInformation` (the paper's Q and loss) plus balance, confidence and consistency on real images,
    and optionally the categorical codes read off the image by a convolutional head (``categorical_head = "conv"``)."""


    def __init__(self, options: MutualInformationPlusOptions, ctx: BuildContext) -> None:
        categorical = [f for f in ctx.spec.factors if isinstance(f, OneHotFactor)]
        if not categorical:
            raise ValueError("mutual_information_plus needs a categorical code (kind = \"categorical\"): its real-image "
                             "terms are about categories; use mutual_information otherwise")
        if options.optimizer == "generator":
            raise ValueError("mutual_information_plus trains Q on real images in the critic step: optimizer must be "
                             "'critic'")
        conv = options.categorical_head == "conv"
        super().__init__(options, ctx, [f for f in ctx.spec.factors if not (conv and f in categorical)])
        self.options = options
        self.categorical = categorical
        #: the 'conv' head: every categorical code's logits side by side, (B, C, H, W) → (B, Σ K); None with 'trunk'
        self.encoder = conv_encoder(ctx.image_shape[0], options.conv_width,
                                    sum(f.posterior_width for f in categorical)) if conv else None
        #: the cluster critic's projection per categorical code: e_k (K, F) and b_k (K,); empty when it is off
        assert ctx.critic_feature_width is not None  # MutualInformation.__init__ checked it
        width = 2 * options.conv_width if options.cluster_features == "conv" else ctx.critic_feature_width
        self.projection = nn.ModuleDict({f.name: nn.Embedding(f.posterior_width, width + 1)
                                         for f in categorical} if options.cluster_critic > 0 else {})
        for table in self.projection.values():
            nn.init.zeros_(table.weight)  # starts neutral: every category scores 0 until the critic learns
        #: several heads per categorical code and the choice between them (cluster_heads.py); None: Q's one head
        self.heads = CategoricalHeads(options.hidden, {f.name: f.posterior_width for f in categorical}, options.heads,
                                      options.overcluster) if options.heads > 1 or options.overcluster else None

    def _conv_features(self, images: Tensor) -> Tensor:
        """The 'conv' head's pooled features of ``images`` (B, C, H, W), the layer before its logits: (B, 2w)."""
        assert self.encoder is not None
        if self.options.normalize_size:
            images = normalize_size(images, self.options.normalize_radius,
                                    self.options.normalize_antialias)  # (B, C, H, W), centred, of one size
            if self.options.normalize_blur > 0:
                images = gaussian_blur(images, self.options.normalize_blur)  # (B, C, H, W)
        # unlike Q's trunk head (MutualInformation.posterior) this head runs under autocast (bf16 where the CPU
        # has it): in fp32 it cost 4-12 % of the shapes recipe's step and found the shape on 0 of 4 seeds against
        # 1 of 5 in bf16 (docs/lab/shapes-categorical-code.md)
        return self.encoder[:-1](images)  # (B, 2w)

    def _encoded(self, images: Tensor) -> dict[str, Tensor]:
        """The 'conv' head's logits per categorical code for ``images`` (B, C, H, W): name → (B, K)."""
        logits = self.encoder[-1](self._conv_features(images))  # (B, Σ K)
        return dict(zip([f.name for f in self.categorical],
                        logits.split([f.posterior_width for f in self.categorical], dim=1), strict=True))

    def weight(self, factor: LatentFactor, step: int) -> float:
        """λ, but 0 for a categorical code before ``categorical_from_step``: the continuous codes settle first."""
        late = self.options.categorical_from_step
        return 0.0 if late is not None and step < late and factor in self.categorical else factor.lam

    def _terms(self, features: Tensor, codes: dict[str, Tensor], images: Tensor, step: int) -> Terms:
        """The paper's MI terms on fakes; with ``fake_augmentation`` the 'conv' head reads an augmented copy of them
        (differentiable: G's reward goes through the warp)."""
        o = self.options
        if o.fake_augmentation:
            images = augment(images, None, o.shift, o.rotation, o.scale, o.shear)  # (B, C, H, W)
        return super()._terms(features, codes, images, step)

    def _every_head(self, features: Tensor) -> tuple[dict[str, Tensor], dict[str, tuple[list[Tensor], Tensor | None]]]:
        """For trunk ``features`` (B, F): Q's posterior parameters per trunk factor (each categorical code's from
        its chosen head) and, per categorical code, every head's logits (B, K) and the over-clustering head's."""
        assert self.q is not None and self.heads is not None
        with torch.autocast(features.device.type, enabled=False):  # in fp32, as MutualInformation.posterior
            hidden = self.q[:-1](features.float())  # (B, hidden)
            params = dict(zip([f.name for f in self.trunk_factors],
                              self.q[-1](hidden).split([f.posterior_width for f in self.trunk_factors], dim=1),
                              strict=True))
            every = {f.name: self.heads.split(f.name, params[f.name], hidden) for f in self.categorical}
        return {**params, **{n: self.heads.chosen(n, hs) for n, (hs, _) in every.items()}}, every

    def posterior(self, features: Tensor) -> dict[str, Tensor]:
        if self.heads is None:
            return super().posterior(features)
        return self._every_head(features)[0]

    def posterior_of(self, features: Tensor, images: Tensor) -> dict[str, Tensor]:
        params = self.posterior(features)  # the trunk factors: all of them, or the non-categorical ones with 'conv'
        return params if self.encoder is None else {**params, **self._encoded(images)}

    def _real_features(self, view: StepView, images: Tensor, features: Tensor | None) -> Tensor:
        """The trunk features (B, F) of real ``images`` (computed here when ``features`` is None), detached unless
        ``real_trunk_gradient``."""
        if features is None:
            assert view.critic is not None  # the engine always gives the critic to the critic phase
            features = view.critic.features(images, view.cond_real)  # (B, F)
        return features if self.options.real_trunk_gradient else features.detach()

    def _categorical_logits(self, view: StepView, images: Tensor, features: Tensor | None) -> dict[str, Tensor]:
        """Q's logits per categorical code for real ``images`` (B, C, H, W): off the image with the 'conv' head, else
        off their trunk ``features`` (B, F) (computed here when None), detached unless ``real_trunk_gradient``."""
        if self.encoder is not None:
            return self._encoded(images)
        return self.posterior(self._real_features(view, images, features))

    def _category_scores(self, name: str, features: Tensor, category: Tensor) -> Tensor:
        """The cluster critic's logit ⟨e_k, φ(x)⟩ + b_k for ``features`` (B, F) in ``category`` (B,): (B,)."""
        row = self.projection[name](category)  # (B, F + 1)
        return (features.float() * row[:, :-1]).sum(1) + row[:, -1]

    def _cluster_critic(self, view: StepView, real_logits: dict[str, Tensor] | None) -> dict[str, Tensor]:
        """Per categorical code, the cluster critic's loss: the critic's (real in Q's category vs fake in its code)
        when ``real_logits`` (name → (B, K), Q on the real batch) are given, else the generator's (non-saturating)."""
        conv = self.options.cluster_features == "conv"
        fake_features = self._conv_features(view.fake) if conv else view.fake_features  # (B, 2w) or (B, F)
        real_features = view.real_features
        if conv and real_logits is not None:
            assert view.real is not None
            real_features = self._conv_features(view.real)  # (B, 2w)
        out = {}
        for f in self.categorical:
            fake = self._category_scores(f.name, fake_features, view.latent.codes[f.name])  # (B,)
            if real_logits is None:
                out[f.name] = F.softplus(-fake).mean()
                continue
            assert real_features is not None
            real = self._category_scores(f.name, real_features, real_logits[f.name].detach().argmax(1))  # (B,)
            out[f.name] = F.softplus(-real).mean() + F.softplus(fake).mean()
        return out

    @staticmethod
    def _with_parts(terms: Terms, key: str, weight: float, parts: dict[str, Tensor]) -> Terms:
        """``terms`` plus the loss ``key``: ``weight`` × the sum of ``parts`` (categorical code name → ()), each part
        logged as ``key/name``."""
        loss = weight * torch.stack(list(parts.values())).sum()
        return Terms(losses={**terms.losses, key: loss},
                     logs={**terms.logs, **{f"{key}/{k}": v.detach() for k, v in parts.items()}})

    def generator_terms(self, view: StepView) -> Terms:
        terms = super().generator_terms(view)
        if self.projection:
            terms = self._with_parts(terms, "cluster", self.options.cluster_critic, self._cluster_critic(view, None))
        if self.options.size_match > 0:
            terms = self._with_parts(terms, "size", self.options.size_match, self._size_mismatch(view))
        return terms

    def _size_mismatch(self, view: StepView) -> dict[str, Tensor]:
        """G's size-matching loss per categorical code, name → (): the gap between its categories' object sizes
        in the generated batch and the batch's (:func:`size_mismatch`), so a category cannot be a size."""
        _, _, rms, _ = object_moments(view.fake)  # (B,) RMS radius per generated image
        log_size = rms.log()  # (B,)
        return {f.name: size_mismatch(log_size, view.latent.codes[f.name].long(), f.posterior_width)
                for f in self.categorical}

    def critic_terms(self, view: StepView) -> Terms:
        terms = super().critic_terms(view)
        o = self.options
        if view.real is None or view.real_features is None:
            return terms
        real_terms = o.until_step is None or view.step < o.until_step
        if not (real_terms or self.projection):
            return terms
        every: dict[str, tuple[list[Tensor], Tensor | None]] = {}
        with torch.set_grad_enabled(real_terms):  # the cluster critic alone only needs Q's argmax
            if self.heads is not None and real_terms:
                every = self._every_head(self._real_features(view, view.real, view.real_features))[1]
                logits = {n: self.heads.chosen(n, hs) for n, (hs, _) in every.items()}
            else:
                logits = self._categorical_logits(view, view.real, view.real_features)  # name → (B, K): Q on the reals
        if self.projection:
            terms = self._with_parts(terms, "cluster", self.options.cluster_critic, self._cluster_critic(view, logits))
        if not real_terms:
            return terms
        aug_logits: dict[str, Tensor] = {}
        aug_every: dict[str, tuple[list[Tensor], Tensor | None]] = {}
        if o.consistency > 0 or o.pairs > 0:
            aug = augment(view.real.detach(), None, o.shift, o.rotation, o.scale, o.shear)  # (B, C, H, W)
            if self.heads is not None:
                aug_every = self._every_head(self._real_features(view, aug, None))[1]
                aug_logits = {n: self.heads.chosen(n, hs) for n, (hs, _) in aug_every.items()}
            else:
                aug_logits = self._categorical_logits(view, aug, None)
        loss = view.real.new_zeros((), dtype=torch.float32)
        logs: dict[str, Tensor] = {}
        for f in self.categorical:
            parts = self._real_parts(logits[f.name], aug_logits.get(f.name))
            for key, (weight, value) in parts.items():
                loss = loss + weight * value
                logs[f"real/{key}/{f.name}"] = value.detach()
            if every:
                extra, extra_logs = self._other_heads(f.name, every[f.name], aug_every.get(f.name), view.step)
                loss = loss + extra
                logs.update(extra_logs)
        return Terms(losses={**terms.losses, "real": loss}, logs={**terms.logs, **logs})

    def _real_parts(self, logits: Tensor, aug_logits: Tensor | None) -> dict[str, tuple[float, Tensor]]:
        """The real-image terms of one head, key → (weight, value ()), for its ``logits`` (B, K) on the real batch
        and ``aug_logits`` (B, K) on its augmented copy (None when no term needs it)."""
        o = self.options
        probs = F.softmax(logits.float(), dim=1)  # (B, K)
        parts = {"balance": (o.balance, balance_kl(probs)), "confidence": (o.confidence, mean_entropy(probs))}
        if aug_logits is not None:
            aug_f = aug_logits.float()  # (B, K)
            if o.consistency > 0:
                parts["consistency"] = (o.consistency, consistency_kl(logits.float(), aug_f))
            if o.pairs > 0:
                parts["pairs"] = (o.pairs, pair_information_gap(probs, F.softmax(aug_f, dim=1)))
        return parts

    def _other_heads(self, name: str, heads: tuple[list[Tensor], Tensor | None],
                     aug_heads: tuple[list[Tensor], Tensor | None] | None, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        """The real-image loss of code ``name``'s heads other than the chosen one (its own is counted already) and
        of its over-clustering head, (); every head's loss folded into the running figures that choose the head,
        which may change at this ``step``. Logs: the chosen head and each head's loss."""
        assert self.heads is not None
        logits, over = heads
        aug_logits, aug_over = aug_heads if aug_heads is not None else ([None] * len(logits), None)
        choice = self.heads.choice[name]
        per_head = [sum(w * v for w, v in self._real_parts(h, a).values()) for h, a in zip(logits, aug_logits, strict=True)]
        chosen = int(choice.chosen)
        loss = sum((v for h, v in enumerate(per_head) if h != chosen), torch.zeros(()))
        if over is not None:
            loss = loss + sum(w * v for w, v in self._real_parts(over, aug_over).values())
        probs = [F.softmax(h.detach().float(), dim=1) for h in logits]  # H × (B, K)
        choice.update(torch.stack(per_head).detach(), probs[chosen][:, choice.perm], probs)
        if step > 0 and step % self.options.select_every == 0:
            choice.select()
        logs = {f"heads/chosen/{name}": choice.chosen.float(),
                **{f"heads/loss/{name}/{h}": v.detach() for h, v in enumerate(per_head)}}
        return loss, logs

