"""A spatial-broadcast generator: the latent vector is tiled over a coarse grid with its x/y coordinates.

Watters et al. (2019), "Spatial Broadcast Decoder: A Simple Architecture for Learning Disentangled
Representations in VAEs", tile the latent over the image and append coordinate channels, so a unit
can place an object by comparing a latent with its own coordinate: position becomes a simple, near
linear function of one latent per axis. With InfoGAN's independent uniform codes that is a useful bias:
a linear map of a uniform cube is a uniform square (the data's positions) only when each axis follows
one code, so matching the data should favour aligned position codes. How far a short run gets is
measured in docs/results.md ("Shapes").

Layers (for an S×S image, base b = S / 2^n with n stride-2 stages as in the infogan_mnist networks):
  tile z → (L, b, b) ⊕ coordinates (2, b, b) in [−1, 1] → 2 × [3×3 conv `channels`, ReLU]
  → (n − 1) × [4×4 up-conv, stride 2, halving channels, ReLU] → 4×4 up-conv C, stride 2 → tanh
No batch norm (as Watters et al.): samples, traversals and eval run the generator in eval mode, and
with batch norm its running statistics could lag the training batches far enough to turn every
eval-mode sample into the same noise (seen in one of three seeds of the shapes benchmark).
The grid is coarse (7×7 for 28 px) to keep it cheap; the up-convolutions add the detail. Image sizes
are those of the infogan_mnist networks (same rule, same error message).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganforge import BuildContext, Generator
from ganforge_infogan.networks import stride2_stages
from ganforge_infogan.options import SpatialBroadcastOptions


class SpatialBroadcastGenerator(Generator):
    """(B, latent_width) → (B, C, H, W) in [−1, 1], via a latent tiled over a coordinate grid."""

    def __init__(self, latent_width: int, image_shape: tuple[int, int, int], channels: int) -> None:
        super().__init__()
        c, h, w = image_shape
        n = stride2_stages(image_shape)
        self.base = (h // 2**n, w // 2**n)
        ys = torch.linspace(-1, 1, self.base[0]).view(-1, 1).expand(*self.base)
        xs = torch.linspace(-1, 1, self.base[1]).view(1, -1).expand(*self.base)
        self.register_buffer("coords", torch.stack([xs, ys])[None], persistent=False)  # (1, 2, b, b)
        ch = channels
        layers: list[nn.Module] = [
            nn.Conv2d(latent_width + 2, ch, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(ch, ch, 3, 1, 1), nn.ReLU(),
        ]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1), nn.ReLU()]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, c, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        tiled = z[:, :, None, None].expand(-1, -1, *self.base)  # (B, L, b, b)
        grid = self.coords.expand(len(z), -1, -1, -1)  # (B, 2, b, b)
        return self.net(torch.cat([tiled, grid], dim=1))  # (B, C, H, W)


def build_generator(options: SpatialBroadcastOptions, ctx: BuildContext) -> SpatialBroadcastGenerator:
    """Factory for ``[generator] kind = "spatial_broadcast"``."""
    return SpatialBroadcastGenerator(ctx.latent_width, ctx.image_shape, options.channels)
