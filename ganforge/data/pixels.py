"""The one pixel convention: data sources hold ``uint8`` images, networks see floats in [-1, 1]."""

from __future__ import annotations

from torch import Tensor


def to_unit(images: Tensor) -> Tensor:
    """``uint8`` images (any shape) as float32 in [-1, 1]: 0 → -1, 255 → 1 (x / 127.5 - 1)."""
    return images.float().div(127.5).sub(1.0)
