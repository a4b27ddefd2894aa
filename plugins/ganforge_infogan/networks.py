"""The paper's MNIST networks (appendix, Table 1), sized from the image shape.

For 28×28 (and any image up to 32×32) the layers are exactly the paper's:
  G: FC 1024 → FC 128·(H/4)·(W/4) → 4×4 up-conv 64, stride 2 → 4×4 up-conv C, stride 2 → tanh
  D trunk: 4×4 conv 64, stride 2 → 4×4 conv 128, stride 2 → FC 1024;  D head: FC → 1
Images up to 64×64 get one more stride-2 stage on each side (256 channels), an extension of ours that
keeps the FC layer's input small; larger images are rejected.

Batch norm comes before the activation, as in the official code (``fc_batch_norm().apply(relu)``);
the paper's table lists "ReLU, batchnorm" without fixing their order. Layers followed by batch norm
have no bias (it would be cancelled). Weights use PyTorch's default initialisation. The generator
ends in tanh because ganforge's images are in [−1, 1] (the official code's sigmoid targets [0, 1]).
"""

from __future__ import annotations

from torch import Tensor, nn

from ganforge import BuildContext, Critic, Generator

SLOPE = 0.1  # leaky ReLU slope of the paper's critic and Q head


def stride2_stages(image_shape: tuple[int, int, int]) -> int:
    """How many stride-2 (up-)convolutions: 2 up to 32×32 (the paper's), 3 up to 64×64."""
    _, h, w = image_shape
    n = 2 if max(h, w) <= 32 else 3 if max(h, w) <= 64 else 0
    if n == 0 or h % 2**n or w % 2**n or min(h, w) < 2**n:
        raise ValueError(
            f"the infogan_mnist networks take images up to 32×32 with sides divisible by 4 (e.g. 28×28) or up to "
            f"64×64 with sides divisible by 8; got {h}×{w}. Resize the data or pick another generator/critic kind."
        )
    return n


class InfoGANGenerator(Generator):
    """(B, latent_width) → (B, C, H, W) in [−1, 1]."""

    def __init__(self, latent_width: int, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        c, h, w = image_shape
        n = stride2_stages(image_shape)
        ch = 64 * 2 ** (n - 1)  # 128 for the paper's two stages
        self.base = (ch, h // 2**n, w // 2**n)  # (128, 7, 7) for 28×28
        self.fc = nn.Sequential(
            nn.Linear(latent_width, 1024, bias=False), nn.BatchNorm1d(1024), nn.ReLU(),
            nn.Linear(1024, ch * self.base[1] * self.base[2], bias=False),
            nn.BatchNorm1d(ch * self.base[1] * self.base[2]), nn.ReLU(),
        )
        ups: list[nn.Module] = []
        for _ in range(n - 1):
            ups += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU()]
            ch //= 2
        ups += [nn.ConvTranspose2d(ch, c, 4, 2, 1), nn.Tanh()]  # last stage: 64 → C channels
        self.up = nn.Sequential(*ups)

    def forward(self, z: Tensor) -> Tensor:
        x = self.fc(z)  # (B, 128·7·7)
        x = x.view(-1, *self.base)  # (B, 128, 7, 7)
        return self.up(x)  # (B, C, 28, 28)


class InfoGANCritic(Critic):
    """Trunk (B, C, H, W) → (B, 1024) shared with Q; head (B, 1024) → (B,) logits."""

    feature_width = 1024

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        c, h, w = image_shape
        n = stride2_stages(image_shape)
        layers: list[nn.Module] = [nn.Conv2d(c, 64, 4, 2, 1), nn.LeakyReLU(SLOPE)]  # no batch norm on the input layer
        ch = 64
        for _ in range(n - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(SLOPE)]
            ch *= 2
        flat = ch * (h // 2**n) * (w // 2**n)  # 128·7·7 for 28×28
        layers += [
            nn.Flatten(),
            nn.Linear(flat, self.feature_width, bias=False), nn.BatchNorm1d(self.feature_width), nn.LeakyReLU(SLOPE),
        ]
        self.trunk = nn.Sequential(*layers)
        self.out = nn.Linear(self.feature_width, 1)

    def features(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.trunk(x)  # (B, 1024)

    def head(self, features: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.out(features).squeeze(1)  # (B,)


def build_generator(options: object, ctx: BuildContext) -> InfoGANGenerator:
    """Factory for ``[generator] kind = "infogan_mnist"``."""
    return InfoGANGenerator(ctx.latent_width, ctx.image_shape)


def build_critic(options: object, ctx: BuildContext) -> InfoGANCritic:
    """Factory for ``[critic] kind = "infogan_mnist"``."""
    return InfoGANCritic(ctx.image_shape)
