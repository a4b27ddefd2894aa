"""The one pixel convention: data sources hold ``uint8`` images, networks see floats in [-1, 1]."""

from __future__ import annotations

import torch
from torch import Tensor


def to_unit(images: Tensor) -> Tensor:
    """``uint8`` images (any shape) as float32 in [-1, 1]: 0 → -1, 255 → 1 (x / 127.5 - 1)."""
    return images.float().div(127.5).sub(1.0)


def to_uint8(images: Tensor) -> Tensor:
    """Floats in [-1, 1] (a generator's output) as ``uint8`` images, the inverse of :func:`to_unit`: rounded to
    the nearest level, values outside [-1, 1] clipped, so ``to_uint8(to_unit(x)) == x``."""
    return images.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
