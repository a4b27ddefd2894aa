"""DCGAN-style and MLP generators and critics (Radford et al. 2016 design rules)."""

from __future__ import annotations

import math

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

import ganforge
from ganforge_vanilla.options import DCGANCriticOptions, DCGANGeneratorOptions, MLPCriticOptions, MLPOptions


def spectral(module: nn.Module) -> nn.Module:
    """Spectral normalisation of every conv and linear layer in ``module`` (torch's parametrization: the
    weight is ``original / σ``, σ from one power iteration per training forward, its vectors ``_u``, ``_v``
    buffers; so the state dict holds all of it and a checkpoint round trip is exact)."""
    for layer in list(module.modules()):
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            spectral_norm(layer)
    return module


def _stages(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    """(number of stride-2 stages, base resolution) for 28/32/64-pixel square images."""
    c, h, w = image_shape
    if h != w or h not in (28, 32, 64):
        raise ValueError(f"dcgan networks support 28, 32 or 64-pixel square images, got {h}×{w}")
    return (2, 7) if h == 28 else (int(math.log2(h // 4)), 4)


class DCGANGenerator(ganforge.Generator):
    """z → [FC hidden, BN, ReLU] → FC → (width·2^(n−1), r, r) → n × [up-conv 4×4 s2, BN, ReLU] → tanh image."""

    def __init__(self, options: DCGANGeneratorOptions, ctx: ganforge.BuildContext) -> None:
        super().__init__()
        c, _, _ = ctx.image_shape
        n, r = _stages(ctx.image_shape)
        chans = [options.width * 2 ** (n - 1 - i) for i in range(n)]  # e.g. [128, 64]
        self.base = (chans[0], r)
        widths = [ctx.latent_width, *([options.hidden] if options.hidden else []), chans[0] * r * r]
        fc: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            fc += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.ReLU(True)]
        self.fc = nn.Sequential(*fc)
        layers: list[nn.Module] = []
        for a, b in zip(chans[:-1], chans[1:], strict=True):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(chans[-1], c, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        ch, r = self.base
        return self.net(self.fc(z).view(-1, ch, r, r))  # (B, C, H, W)


class DCGANCritic(ganforge.Critic):
    """n × [conv 4×4 s2, (norm), LeakyReLU 0.2] → flatten (trunk features) → linear head."""

    def __init__(self, options: DCGANCriticOptions, ctx: ganforge.BuildContext) -> None:
        super().__init__()
        c, h, _ = ctx.image_shape
        n, r = _stages(ctx.image_shape)
        layers: list[nn.Module] = []
        a = c
        for i in range(n):
            b = options.width * 2**i
            normed = i > 0 and options.norm in ("batch", "layer")  # no normalisation on the input layer (DCGAN)
            layers += [nn.Conv2d(a, b, 4, 2, 1, bias=not normed)]
            if normed:  # layer norm = one group over (C, H, W) per image
                layers += [nn.BatchNorm2d(b) if options.norm == "batch" else nn.GroupNorm(1, b)]
            layers += [nn.LeakyReLU(0.2, True)]
            a = b
        self.trunk = nn.Sequential(*layers, nn.Flatten())
        self.feature_width = a * r * r
        self.out = nn.Linear(self.feature_width, 1)
        if options.norm == "spectral":
            spectral(self)

    def features(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.trunk(x)  # (B, F)

    def head(self, features: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.out(features).squeeze(1)  # (B,)


class MLPGenerator(ganforge.Generator):
    def __init__(self, options: MLPOptions, ctx: ganforge.BuildContext) -> None:
        super().__init__()
        self.shape = ctx.image_shape
        dims = [ctx.latent_width] + [options.hidden] * options.layers
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            layers += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU(True)]
        self.net = nn.Sequential(*layers, nn.Linear(dims[-1], math.prod(self.shape)), nn.Tanh())

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.shape)


class MLPCritic(ganforge.Critic):
    def __init__(self, options: MLPCriticOptions, ctx: ganforge.BuildContext) -> None:
        super().__init__()
        dims = [math.prod(ctx.image_shape)] + [options.hidden] * options.layers
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2, True)]
        self.trunk = nn.Sequential(*layers)
        self.feature_width = dims[-1]
        self.out = nn.Linear(dims[-1], 1)
        if options.norm == "spectral":
            spectral(self)

    def features(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.trunk(x)

    def head(self, features: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.out(features).squeeze(1)


__all__ = ["DCGANGenerator", "DCGANCritic", "MLPGenerator", "MLPCritic"]
