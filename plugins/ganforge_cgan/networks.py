"""Class-conditional versions of the InfoGAN paper's MNIST networks (its appendix, Table 1).

Both networks read the label through the latent spec's conditioning factor, whatever its name:
  G: [z, one-hot y] → FC 1024 → FC 128·(H/4)·(W/4) → ⊕ one-hot y maps → 4×4 up-conv 64 → 4×4 up-conv C, tanh
  D trunk: [x ⊕ one-hot y maps] → 4×4 conv 64, s2 → 4×4 conv 128, s2 → FC 1024;  D head: FC → 1
The generator already gets the one-hot label in its input (the core concatenates every factor's
encoding); repeating it as feature maps before the up-convolutions makes the label hard to ignore.
With ``conditioning = "projection"`` the critic's trunk is unconditional and the head adds
<embed(y), features> (Miyato & Koyama 2018, "cGANs with Projection Discriminator").
With the default sizes (``hidden = 1024``, ``channels = 64``) the layers, batch norm placement and
leaky-ReLU slope are those of the ``infogan_mnist`` networks, so a comparison of the two differs only
in how the class enters; smaller sizes make quick experiments and tests cheap.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganforge import BuildContext, Critic, Generator, LatentFactor, LatentSpec
from ganforge_cgan.options import ConditionalCriticOptions, ConditionalNetOptions

SLOPE = 0.1  # leaky ReLU slope of the paper's critic


def condition_factor(spec: LatentSpec, num_classes: int | None) -> LatentFactor:
    """The spec's conditioning factor, checked against the data's number of classes."""
    cond = spec.condition
    if cond is None:
        raise ValueError("cgan_mnist networks need a label to condition on: add [[latent.factors]] "
                         "name = \"y\", kind = \"label\", k = 10")
    if num_classes is not None and cond.input_width != num_classes:
        raise ValueError(f"latent factor {cond.name!r} has {cond.input_width} classes but the data has "
                         f"{num_classes}; set its k = {num_classes}")
    return cond


def condition_columns(spec: LatentSpec, cond: LatentFactor) -> slice:
    """Where the condition's encoding sits in the generator input (noise first, then factors in order)."""
    start = spec.noise_dim
    for f in spec.factors:
        if f is cond:
            return slice(start, start + f.input_width)
        start += f.input_width
    raise ValueError(f"factor {cond.name!r} is not in the latent spec")


def _quarter(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    """(H/4, W/4): two stride-2 stages, as the paper's networks for images up to 32×32."""
    _, h, w = image_shape
    if h % 4 or w % 4 or max(h, w) > 32:
        raise ValueError(f"cgan_mnist networks take images up to 32×32 with sides divisible by 4 (e.g. 28×28); "
                         f"got {h}×{w}")
    return h // 4, w // 4


def _maps(onehot: Tensor, like: Tensor) -> Tensor:
    """One-hot ``(B, K)`` tiled to ``(B, K, H, W)`` feature maps matching ``like``'s spatial size."""
    return onehot.to(like.dtype)[:, :, None, None].expand(-1, -1, *like.shape[2:])


class ConditionalGenerator(Generator):
    """(B, latent_width) with the label's one-hot inside → (B, C, H, W) in [−1, 1]."""

    def __init__(self, options: ConditionalNetOptions, ctx: BuildContext) -> None:
        super().__init__()
        cond = condition_factor(ctx.spec, ctx.num_classes)
        self.cols = condition_columns(ctx.spec, cond)
        k, ch, hidden = cond.input_width, options.channels, options.hidden
        self.base = (2 * ch, *_quarter(ctx.image_shape))  # (128, 7, 7) for 28×28
        flat = self.base[0] * self.base[1] * self.base[2]
        self.fc = nn.Sequential(
            nn.Linear(ctx.latent_width, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, flat, bias=False), nn.BatchNorm1d(flat), nn.ReLU(),
        )
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * ch + k, ch, 4, 2, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU(),
            nn.ConvTranspose2d(ch, ctx.image_shape[0], 4, 2, 1), nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        h = self.fc(z).view(-1, *self.base)  # (B, 128, 7, 7)
        h = torch.cat([h, _maps(z[:, self.cols], h)], dim=1)  # (B, 128 + K, 7, 7)
        return self.up(h)  # (B, C, 28, 28)


class ConditionalCritic(Critic):
    """Trunk (B, C, H, W) [+ label] → (B, hidden); head (B, hidden) [+ label] → (B,) logits."""

    def __init__(self, options: ConditionalCriticOptions, ctx: BuildContext) -> None:
        super().__init__()
        self.cond = condition_factor(ctx.spec, ctx.num_classes)
        self.concat = options.conditioning == "concat"
        self.feature_width = options.hidden
        k, ch = self.cond.input_width, options.channels
        c = ctx.image_shape[0] + (k if self.concat else 0)
        qh, qw = _quarter(ctx.image_shape)
        self.trunk = nn.Sequential(
            nn.Conv2d(c, ch, 4, 2, 1), nn.LeakyReLU(SLOPE),  # no batch norm on the input layer
            nn.Conv2d(ch, 2 * ch, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ch), nn.LeakyReLU(SLOPE),
            nn.Flatten(),
            nn.Linear(2 * ch * qh * qw, self.feature_width, bias=False), nn.BatchNorm1d(self.feature_width),
            nn.LeakyReLU(SLOPE),
        )
        self.out = nn.Linear(self.feature_width, 1)
        self.embed = None if self.concat else nn.Linear(k, self.feature_width, bias=False)  # one-hot @ W = embedding

    def _onehot(self, cond: Tensor | None) -> Tensor:
        if cond is None:
            raise ValueError("the cgan_mnist critic is class-conditional: it needs the labels (cond), got None")
        return self.cond.encode(cond)  # (B, K)

    def features(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        if self.concat:
            x = torch.cat([x, _maps(self._onehot(cond), x)], dim=1)  # (B, C + K, H, W)
        return self.trunk(x)  # (B, hidden)

    def head(self, features: Tensor, cond: Tensor | None = None) -> Tensor:
        logits = self.out(features).squeeze(1)  # (B,)
        if self.embed is not None:
            y = self.embed(self._onehot(cond).to(features.dtype))  # (B, hidden)
            logits = logits + (y * features).sum(dim=1)  # the projection term
        return logits
