"""InfoGAN's mutual-information regularizer: the Q head and the variational bound L_I.

L_I(G, Q) = H(c) + E_{c~P(c), x~G(z,c)}[log Q(c | x)] ≤ I(c; G(z, c)). H(c) is a constant, so the loss
is the λ-weighted negative log-likelihood of the sampled codes under Q, summed over factors; L_I itself
(in nats, per factor and in total) is what gets logged. Q shares the critic's trunk and is only ever
evaluated on generated images, where the code c is known.

Who learns from what (the official code's choice, the defaults here):
- critic step: Q (and, with ``trunk_gradient``, the shared trunk) minimise the MI loss on fakes that
  are detached from G; Q's parameters belong to the critic's optimizer (``optimizer = "critic"``).
- generator step: G minimises the same loss through the trunk and Q (``generator_reward``); only G's
  optimizer steps, so the gradients this leaves on Q and the trunk must be zeroed before the next
  critic step (the engine's job).

With ``optimizer = "generator"`` (the arrangement of common PyTorch ports), Q's parameters join G's
Adam instead: Q learns only in the generator step, from the same non-detached fakes as G, and the MI
loss never reaches the critic trunk's weights.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganforge import BuildContext, LatentFactor, Regularizer, StepView, Terms
from ganforge_infogan.options import MutualInformationOptions


class MutualInformation(Regularizer):
    """Q head (FC hidden → BN → LeakyReLU(0.1) → FC posterior_width) on the critic trunk's features."""

    def __init__(self, options: MutualInformationOptions, ctx: BuildContext,
                 trunk_factors: list[LatentFactor] | None = None) -> None:
        super().__init__()
        if not ctx.spec.factors:
            raise ValueError(
                "mutual_information needs at least one structured code: add a [[latent.factors]] table "
                "(e.g. name = \"c1\", kind = \"categorical\", k = 10)"
            )
        if ctx.critic_feature_width is None:
            raise ValueError("mutual_information needs the critic's trunk width (BuildContext.critic_feature_width)")
        self.spec = ctx.spec
        self.optimizer = options.optimizer
        self.trunk_gradient = options.trunk_gradient
        self.generator_reward = options.generator_reward
        #: the factors whose posterior Q's head reads off the trunk features: all of them (a subclass may read
        #: some off the image instead)
        self.trunk_factors = list(self.spec.inferable if trunk_factors is None else trunk_factors)
        width = sum(f.posterior_width for f in self.trunk_factors)
        self.q = None if not width else nn.Sequential(
            nn.Linear(ctx.critic_feature_width, options.hidden, bias=False),  # bias is redundant before BN
            nn.BatchNorm1d(options.hidden),
            nn.LeakyReLU(0.1),
            nn.Linear(options.hidden, width),
        )

    def posterior(self, features: Tensor) -> dict[str, Tensor]:
        """Q's posterior parameters per trunk factor: ``(B, feature_width)`` → name → ``(B, posterior_width_i)``."""
        if self.q is None:
            return {}
        # Q's head runs in float32 even under bf16 autocast: it is ~0.5 % of an iteration's FLOPs, and its outputs
        # are the posteriors whose log-likelihoods are the loss (bf16 logits cost ~0.004 nats of L_I/c1:
        # docs/lab/bf16-precision-guard.md, "Q's head in fp32")
        with torch.autocast(features.device.type, enabled=False):
            params = self.q(features.float())  # (B, Σ posterior_width_i) over the trunk factors, in the spec's order
        return dict(zip([f.name for f in self.trunk_factors],
                        params.split([f.posterior_width for f in self.trunk_factors], dim=1), strict=True))

    def posterior_of(self, features: Tensor, images: Tensor) -> dict[str, Tensor]:
        """Q's posterior parameters per factor for ``images`` (B, C, H, W) whose trunk features are ``features``
        (B, F): the paper's Q reads only the features; a subclass may read the images too."""
        return self.posterior(features)

    def weight(self, factor: LatentFactor, step: int) -> float:
        """The weight of ``factor``'s NLL in the loss at generator step ``step``: the paper's λ (a subclass may
        schedule it)."""
        return factor.lam

    def _terms(self, features: Tensor, codes: dict[str, Tensor], images: Tensor, step: int) -> Terms:
        """Weighted NLL of the sampled codes (the loss) and L_I per factor and in total (the logs)."""
        params = self.posterior_of(features, images)
        loss = features.new_zeros((), dtype=torch.float32)  # () scalar; NLLs are float32 even under bf16
        logs: dict[str, Tensor] = {}
        for f in self.spec.factors:
            nll = f.nll(params[f.name], codes[f.name]).mean()  # () mean over the batch, nats
            loss = loss + self.weight(f, step) * nll
            logs[f"L_I/{f.name}"] = f.entropy() - nll.detach()
        logs["L_I"] = torch.stack(list(logs.values())).sum()
        return Terms(losses={"mi": loss}, logs=logs)

    def critic_terms(self, view: StepView) -> Terms:
        """Train Q (and the trunk unless ``trunk_gradient`` is off) to recover c from detached fakes."""
        if self.optimizer == "generator":
            return Terms()  # Q learns in the generator step; here it would only add gradients nobody applies
        features = view.fake_features if self.trunk_gradient else view.fake_features.detach()  # (B, F)
        return self._terms(features, view.latent.codes, view.fake, view.step)

    def generator_terms(self, view: StepView) -> Terms:
        """Reward G for codes Q can recover; without ``generator_reward`` only log L_I (Figure 1's baseline)."""
        if self.generator_reward:
            return self._terms(view.fake_features, view.latent.codes, view.fake, view.step)  # gradient reaches G via both
        if self.optimizer == "generator":  # Q must still learn, but G must not: Q sees detached features
            return self._terms(view.fake_features.detach(), view.latent.codes, view.fake.detach(), view.step)
        with torch.no_grad():
            return Terms(logs=self._terms(view.fake_features, view.latent.codes, view.fake, view.step).logs)

    def encode(self, features: Tensor, images: Tensor) -> dict[str, Tensor]:
        """Q's posterior parameters per factor for real images' trunk features (``ganforge.Encoder``).

        The paper's Q reads only the features (B, F); a subclass's head may read ``images`` (B, C, H, W) too. The
        caller chooses the mode: ``eval()`` (batch-norm running statistics) and ``torch.no_grad()``; values come from
        ``factor.predict(params)``.
        """
        return self.posterior_of(features, images)
