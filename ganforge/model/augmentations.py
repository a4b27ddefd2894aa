"""Differentiable augmentation of the critic's inputs (DiffAugment, Zhao et al. 2020; ADA, Karras et al. 2020).

A critic trained on few images memorises them; showing it randomly transformed images instead, the
real and the generated ones alike, keeps it from doing so without teaching G the transformations, as
long as every transformation is differentiable (G's gradient flows back through it) and applied to
both batches the same way. Each augmentation below maps ``(B, C, H, W)`` images in ``[-1, 1]`` to
the same shape, draws its randomness per image from torch's global generator (which checkpoints
save), and is differentiable in ``x``.

The core's augmentations are DiffAugment's three policies:

- ``translation``: shift each image by up to ``1/8`` of its size in each direction, zero-filled;
- ``cutout``: zero a square of half the image's size at a random place;
- ``color``: random brightness (± 0.5), saturation (× [0, 2]) and contrast (× [0.5, 1.5]).

Plugins register more through the ``register_augmentations`` hook; :class:`AugmentStage` (in
``augment_stage.py``) applies the recipe's ``[augment]`` policy, with ADA's adaptive probability.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _uniform(x: Tensor, *shape: int) -> Tensor:
    """U[0, 1) of ``shape`` (the batch dimension first) on ``x``'s device, in ``x``'s dtype."""
    return torch.rand(x.shape[0], *shape, device=x.device, dtype=x.dtype)


def brightness(x: Tensor) -> Tensor:
    """Add one value from U[−0.5, 0.5) to every pixel of each image."""
    return x + (_uniform(x, 1, 1, 1) - 0.5)


def saturation(x: Tensor) -> Tensor:
    """Scale each pixel's distance to its grey value (the channel mean) by U[0, 2) per image."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_uniform(x, 1, 1, 1) * 2) + mean


def contrast(x: Tensor) -> Tensor:
    """Scale each image's distance to its mean by U[0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, 1, 1, 1) + 0.5) + mean


def color(x: Tensor) -> Tensor:
    """DiffAugment's colour policy: brightness, then saturation, then contrast."""
    return contrast(saturation(brightness(x)))


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each image by whole pixels, up to ``ratio`` of its height / width each way; vacated pixels are 0."""
    _, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (x.shape[0], 1), device=x.device)  # (B, 1) shifts
    dx = torch.randint(-sx, sx + 1, (x.shape[0], 1), device=x.device)
    rows = torch.arange(h, device=x.device)[None] + sy - dy  # (B, H): source row in the padded image
    cols = torch.arange(w, device=x.device)[None] + sx - dx  # (B, W)
    padded = F.pad(x, [sx, sx, sy, sy])  # (B, C, H + 2sy, W + 2sx), zeros around
    batch = torch.arange(x.shape[0], device=x.device)[:, None, None]
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C): advanced indices come first
    return out.permute(0, 3, 1, 2)  # (B, C, H, W), laid out channels-last


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero one square of ``ratio`` × the image's size per image, centred anywhere in the image."""
    _, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (x.shape[0], 1, 1), device=x.device)  # (B, 1, 1) centres
    cx = torch.randint(0, w + (1 - cw % 2), (x.shape[0], 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device)[None, :, None]  # (1, H, 1)
    xs = torch.arange(w, device=x.device)[None, None, :]  # (1, 1, W)
    inside = ((ys - cy + ch // 2) >= 0) & ((ys - cy + ch // 2) < ch) & ((xs - cx + cw // 2) >= 0) & ((xs - cx + cw // 2) < cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)  # (B, 1, H, W) mask broadcast over channels


#: the core's augmentations by recipe name (``[augment] policy``)
BUILTIN = {"translation": translation, "cutout": cutout, "color": color}
