"""Image operations of the InfoGAN plus regularizer (beyond the paper): augmentations, object moments and
size normalisation, blurs, and a position-blind convolutional encoder.

All work on image batches (B, C, H, W) in [-1, 1] with a dark (-1) background, and are differentiable in the
pixels; the random ones draw from the ``generator`` they are given (torch's global one when None).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


#: RMS radius of the object after :func:`normalize_size`, in grid units (the frame spans [-1, 1]): a filled disk
#: of this RMS radius has radius 0.57, a bit over half the frame's half-width, room to turn and to see the edges
NORMAL_RADIUS = 0.4


def augment(x: Tensor, generator: torch.Generator | None, shift: float, rotation: float, scale: float,
            shear: float = 0.0) -> Tensor:
    """A random affine map per image of ``x`` (B, C, H, W) in [-1, 1]: shift up to ``shift`` px, rotation up to
    ``rotation`` degrees, scaling in [1 − scale, 1 + scale] and, when ``shear`` > 0, a horizontal shear
    x += s·y with s in [−shear, shear] (a slant); the border is filled with the background (−1)."""
    b, _, h, w = x.shape
    dev = x.device

    def uniform(n: int) -> Tensor:  # U(-1, 1), (n,)
        return torch.rand(n, generator=generator, device=dev) * 2 - 1

    angle = uniform(b) * math.radians(rotation)
    factor = 1 + uniform(b) * scale
    tx, ty = uniform(b) * 2 * shift / w, uniform(b) * 2 * shift / h  # in the [-1, 1] grid units
    cos, sin = angle.cos() / factor, angle.sin() / factor
    # rotation·scaling times the shear [[1, s], [0, 1]]; drawn only when asked, so shear = 0 keeps the old stream
    s = uniform(b) * shear if shear > 0 else torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, cos * s - sin, tx], 1), torch.stack([sin, sin * s + cos, ty], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return grid_sample_background(x, grid)


def object_moments(x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Where the object of each image of ``x`` (B, C, H, W) in [-1, 1] lies and how large it is: its centre
    (cx, cy), its RMS radius (grid units: the frame spans [-1, 1]), each (B,), and which images have no object
    (B,) bool. The object is the brightness above a tenth of the range (so a generator's near-black background
    does not count); differentiable in the pixels."""
    _, _, h, w = x.shape
    mass = ((x.float() + 1) / 2 - 0.1).clamp_min(0).mean(1)  # (B, H, W)
    ys = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=x.device)[None, :, None]  # pixel centres, (1, H, 1)
    xs = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=x.device)[None, None, :]  # (1, 1, W)
    total = mass.sum((1, 2))  # (B,)
    empty = total < 1e-3
    total = total.clamp_min(1e-3)
    cx, cy = (mass * xs).sum((1, 2)) / total, (mass * ys).sum((1, 2)) / total  # (B,)
    spread = (mass * ((xs - cx[:, None, None]) ** 2 + (ys - cy[:, None, None]) ** 2)).sum((1, 2)) / total  # (B,)
    return cx, cy, spread.clamp_min(1e-6).sqrt(), empty


def normalize_size(x: Tensor, radius: float = NORMAL_RADIUS, antialias: bool = False) -> Tensor:
    """Each image of ``x`` (B, C, H, W) in [-1, 1] moved and zoomed so its object (:func:`object_moments`) is
    centred and of one size.

    The warp maps the object's centre to the middle of the frame and its RMS radius to ``radius`` (grid units).
    The warp's parameters are held fixed (no gradient), the resampling is differentiable in the pixels. An image
    with no bright pixel is left as it is. A code read off the result cannot stand for where an object lies or
    how large it is. With ``antialias``, an image that is shrunk is first low-passed (:func:`shrink_blur`), so
    a large object shrunk looks like a small one drawn at that size; choose ``radius`` at the data's smallest
    objects, so nothing is blown up (a blown-up object has soft edges that still tell its size).
    """
    with torch.no_grad():
        cx, cy, rms, empty = object_moments(x)  # (B,) each
        zoom = torch.where(empty, torch.ones_like(rms), rms / radius)  # (B,) > 1: the image is shrunk
        cx, cy = torch.where(empty, 0.0, cx), torch.where(empty, 0.0, cy)
        zero = torch.zeros_like(zoom)
        theta = torch.stack([torch.stack([zoom, zero, cx], 1), torch.stack([zero, zoom, cy], 1)], 1)  # (B, 2, 3)
    if antialias:
        x = shrink_blur(x, zoom)  # (B, C, H, W)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return grid_sample_background(x, grid)


#: the blur levels (pixels) :func:`shrink_blur` interpolates between; 1 px covers shrinking by up to 2.6
_SHRINK_SIGMAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def shrink_blur(x: Tensor, zoom: Tensor) -> Tensor:
    """``x`` (B, C, H, W) low-passed before being shrunk by ``zoom`` (B,) (≥ 1; below 1 nothing is done): a
    Gaussian of σ = 0.42·√(zoom² − 1) pixels, so that after shrinking the edges are as soft as those of an object
    drawn small (if an edge is a Gaussian of σ₀, shrinking by z after the blur leaves √(σ₀² + σ²) / z, which is σ₀
    for σ = σ₀·√(z² − 1); σ₀ = 0.42 px makes the share of soft edge pixels uncorrelated with the size on the
    shapes data, where 0.5 over-blurs the large ones). σ per image is interpolated between a few fixed blurs
    (held fixed: no gradient to zoom); differentiable in the pixels."""
    step = _SHRINK_SIGMAS[1]
    sigma = 0.42 * (zoom.float().clamp_min(1) ** 2 - 1).sqrt()  # (B,) pixels
    pos = (sigma / step).clamp(max=len(_SHRINK_SIGMAS) - 1)  # (B,) fractional index into the levels
    low = pos.floor().long()  # (B,)
    high = (low + 1).clamp(max=len(_SHRINK_SIGMAS) - 1)
    frac = (pos - low).to(x.dtype)[:, None, None, None]  # (B, 1, 1, 1)
    levels = torch.stack([x] + [gaussian_blur(x, s) for s in _SHRINK_SIGMAS[1:]], 1)  # (B, L, C, H, W)
    rows = torch.arange(x.shape[0], device=x.device)
    return levels[rows, low] * (1 - frac) + levels[rows, high] * frac


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """``x`` (B, C, H, W) blurred by a Gaussian of standard deviation ``sigma`` pixels (separable, ±2σ support),
    the edge continued (replicate padding, so the background stays the background)."""
    radius = max(1, math.ceil(2 * sigma))
    taps = torch.arange(-radius, radius + 1, device=x.device, dtype=torch.float32)
    kernel = torch.exp(-taps**2 / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).to(x.dtype)  # (2r+1,)
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")  # (B, C, H+2r, W+2r)
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)  # rows: (B, C, H+2r, W)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)  # columns: (B, C, H, W)


def grid_sample_background(x: Tensor, grid: Tensor) -> Tensor:
    """``x`` (B, C, H, W) in [-1, 1] resampled at ``grid`` (B, H, W, 2), bilinear, the background (−1) outside."""
    return F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1


def conv_encoder(channels: int, width: int, outputs: int) -> nn.Sequential:
    """Images (B, C, H, W) → (B, outputs): three convolutions, then the maximum of each channel over positions.

    The answer does not depend on where in the frame a pattern lies (up to the strides' sampling), so a code
    read through it cannot stand for a position: what is left for it is what the object is (its shape), its
    size or its orientation. No batch norm: the same answer in training and evaluation mode.
    """
    pad = {"padding_mode": "replicate"}  # the frame's edge continues the background: no edge to respond to
    return nn.Sequential(
        nn.Conv2d(channels, width, 5, stride=2, padding=2, **pad), nn.LeakyReLU(0.1),  # (B, w, H/2, W/2)
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1, **pad), nn.LeakyReLU(0.1),  # (B, 2w, H/4, W/4)
        nn.Conv2d(2 * width, 2 * width, 3, padding=1, **pad), nn.LeakyReLU(0.1),  # (B, 2w, H/4, W/4)
        nn.AdaptiveMaxPool2d(1), nn.Flatten(),  # (B, 2w): the strongest response anywhere in the frame
        nn.Linear(2 * width, outputs),  # (B, outputs)
    )
