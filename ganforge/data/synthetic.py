"""Synthetic images for tests and smoke runs: one Gaussian blob per image."""

from __future__ import annotations

import torch

from ganforge.data.options import SyntheticOptions
from ganforge.interfaces import DataContext, ImageData


def load(options: SyntheticOptions, ctx: DataContext) -> ImageData:
    """A blob at a random position; the label is the quadrant of its centre (4 classes)."""
    g = torch.Generator().manual_seed(ctx.seed + 7919)
    n, s = options.size, options.image_size
    centre = torch.rand(n, 2, generator=g) * 0.6 + 0.2  # (N, 2) in [0.2, 0.8]
    radius = torch.rand(n, generator=g) * 0.1 + 0.08  # (N,)
    grid = (torch.arange(s, dtype=torch.float32) + 0.5) / s
    yy, xx = torch.meshgrid(grid, grid, indexing="ij")  # (S, S)
    d2 = (xx - centre[:, 0, None, None]) ** 2 + (yy - centre[:, 1, None, None]) ** 2  # (N, S, S)
    img = torch.exp(-d2 / (2 * radius[:, None, None] ** 2))
    images = (img.clamp(0, 1) * 255).round().to(torch.uint8)[:, None].repeat(1, options.channels, 1, 1)
    labels = (centre[:, 0] > 0.5).long() + 2 * (centre[:, 1] > 0.5).long()
    return ImageData(images, labels, num_classes=4, description=f"synthetic blobs ({n}×{s}×{s})")
