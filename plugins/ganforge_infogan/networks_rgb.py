"""The paper's 32×32 colour networks, used for its SVHN and CelebA experiments (appendix, Table 1, as
we read it; the two experiments share the architecture and differ in their codes):

  G: FC 2·2·448 → 4×4 up-conv 256 → 4×4 up-conv 128 → 4×4 up-conv 64 → 4×4 up-conv C, each stride 2 → tanh
     (batch norm after the FC and the first up-conv; ReLU throughout)
  D trunk: 4×4 conv 64 → 4×4 conv 128 → 4×4 conv 256, stride 2, leaky ReLU 0.1 (batch norm but on the
     input layer), flattened: the features Q shares;  D head: FC → 1

As in ``networks.py``, batch norm comes before the activation and layers followed by it have no bias.
"""

from __future__ import annotations

from torch import Tensor, nn

from ganforge import BuildContext, Critic, Generator
from ganforge_infogan.networks import SLOPE


def _check(image_shape: tuple[int, int, int]) -> None:
    if image_shape[1:] != (32, 32):
        raise ValueError(f"the infogan_rgb32 networks take 32×32 images (the paper's SVHN / CelebA size), got "
                         f"{image_shape[1]}×{image_shape[2]}; set the data source's image_size = 32")


class RGB32Generator(Generator):
    """(B, latent_width) → (B, C, 32, 32) in [−1, 1]."""

    def __init__(self, latent_width: int, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        _check(image_shape)
        self.fc = nn.Sequential(nn.Linear(latent_width, 448 * 2 * 2, bias=False), nn.BatchNorm1d(448 * 2 * 2), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(448, 256, 4, 2, 1, bias=False), nn.BatchNorm2d(256), nn.ReLU(),  # (B, 256, 4, 4)
            nn.ConvTranspose2d(256, 128, 4, 2, 1), nn.ReLU(),  # (B, 128, 8, 8)
            nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.ReLU(),  # (B, 64, 16, 16)
            nn.ConvTranspose2d(64, image_shape[0], 4, 2, 1), nn.Tanh(),  # (B, C, 32, 32)
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.up(self.fc(z).view(-1, 448, 2, 2))


class RGB32Critic(Critic):
    """Trunk (B, C, 32, 32) → (B, 256·4·4) shared with Q; head → (B,) logits."""

    feature_width = 256 * 4 * 4

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        _check(image_shape)
        self.trunk = nn.Sequential(
            nn.Conv2d(image_shape[0], 64, 4, 2, 1), nn.LeakyReLU(SLOPE),  # (B, 64, 16, 16)
            nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(SLOPE),  # (B, 128, 8, 8)
            nn.Conv2d(128, 256, 4, 2, 1, bias=False), nn.BatchNorm2d(256), nn.LeakyReLU(SLOPE),  # (B, 256, 4, 4)
            nn.Flatten(),
        )
        self.out = nn.Linear(self.feature_width, 1)

    def features(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.trunk(x)  # (B, 4096)

    def head(self, features: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.out(features).squeeze(1)  # (B,)


def build_generator(options: object, ctx: BuildContext) -> RGB32Generator:
    """Factory for ``[generator] kind = "infogan_rgb32"``."""
    return RGB32Generator(ctx.latent_width, ctx.image_shape)


def build_critic(options: object, ctx: BuildContext) -> RGB32Critic:
    """Factory for ``[critic] kind = "infogan_rgb32"``."""
    return RGB32Critic(ctx.image_shape)
