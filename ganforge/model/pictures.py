"""Pictures people would rather look at than read: sample grids and latent traversals."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import Tensor

from ganforge.safefiles import atomic_write
from ganforge.interfaces import Generator
from ganforge.latent import LatentBatch, LatentSpec


def save_grid(images: Tensor, path: Path, nrow: int = 8) -> Path:
    """Save images in ``[-1, 1]`` as one PNG grid (torchvision's grid utilities), atomically."""
    from torchvision.utils import make_grid
    from PIL import Image

    grid = make_grid(images.detach().float().cpu().clamp(-1, 1), nrow=nrow, padding=2, normalize=True,
                     value_range=(-1, 1), pad_value=1.0)
    array = grid.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(array.squeeze(-1) if array.shape[-1] == 1 else array).save(buf, format="PNG")
    atomic_write(path, buf.getvalue())
    return path


def fixed_latent(spec: LatentSpec, n: int, seed: int, device: torch.device | str = "cpu") -> LatentBatch:
    """The same latent draw every time for a given seed (grids comparable across steps)."""
    g = torch.Generator().manual_seed(seed + 2)
    batch = spec.sample(n, g, "cpu")
    return LatentBatch(batch.noise.to(device), {k: v.to(device) for k, v in batch.codes.items()})


@torch.no_grad()
def generate(generator: Generator, spec: LatentSpec, latent: LatentBatch) -> Tensor:
    """Images from ``latent`` with the generator in eval mode (batch-norm running statistics)."""
    was_training = generator.training
    generator.eval()
    try:
        return generator(spec.generator_input(latent)).float()
    finally:
        generator.train(was_training)


def traversal_latent(spec: LatentSpec, factor: str, rows: int, steps: int, span: tuple[float, float] | None,
                     seed: int, device: torch.device | str = "cpu") -> tuple[LatentBatch, int]:
    """Rows share noise and other codes; columns walk ``factor`` (all classes if discrete).

    Returns the latent batch (row-major, ``rows × cols``) and the number of columns.
    """
    f = spec.factor(factor)
    values = f.traversal(steps, span).to(device)  # (cols, …)
    cols = len(values)
    base = fixed_latent(spec, rows, seed, device)
    noise = base.noise.repeat_interleave(cols, dim=0)
    codes = {k: v.repeat_interleave(cols, dim=0) for k, v in base.codes.items()}
    codes[factor] = values.repeat(rows, *([1] * (values.dim() - 1))).to(codes[factor].dtype)
    return LatentBatch(noise, codes), cols


def save_traversal(generator: Generator, spec: LatentSpec, factor: str, path: Path, rows: int = 8, steps: int = 10,
                   span: tuple[float, float] | None = None, seed: int = 0, by_row: bool = False) -> Path:
    """The InfoGAN paper's Figure-2 style grid for one factor.

    By default each row is one fixed noise (and other codes) and the columns walk the factor; with
    ``by_row`` the grid is transposed: each row is one value of the factor (one category, as in the
    paper's 10×10 MNIST figure) and the columns are the fixed noises.
    """
    device = next(generator.parameters()).device
    latent, cols = traversal_latent(spec, factor, rows, steps, span, seed, device)
    images = generate(generator, spec, latent)  # (rows·cols, C, H, W), row-major
    if by_row:
        images = images.view(rows, cols, *images.shape[1:]).transpose(0, 1).reshape(images.shape)
        return save_grid(images, path, nrow=rows)
    return save_grid(images, path, nrow=cols)


def sample_with_codes(generator: Generator, spec: LatentSpec, n: int, seed: int, codes: dict[str, float]) -> Tensor:
    """``n`` images in ``[-1, 1]`` from a latent drawn with ``seed``, the factors in ``codes`` fixed
    (:func:`fix_codes`; a ``ValueError`` names a bad value)."""
    latent = fix_codes(spec, spec.sample(n, torch.Generator().manual_seed(seed), "cpu"), codes)
    device = next(generator.parameters()).device
    return generate(generator, spec, LatentBatch(latent.noise.to(device), {k: v.to(device) for k, v in latent.codes.items()}))


def fix_codes(spec: LatentSpec, latent: LatentBatch, values: dict[str, float]) -> LatentBatch:
    """``latent`` with each factor named in ``values`` set to that value in every row.

    A discrete factor takes one of its classes (``factor.traversal`` lists them); anything else is a
    ``ValueError`` that names the factor and the allowed values.
    """
    codes = dict(latent.codes)
    for name, value in values.items():
        f = spec.factor(name)
        current = codes[name]
        if f.discrete:
            allowed = [int(v) for v in f.traversal(2).tolist()]
            if float(value) != int(value) or int(value) not in allowed:
                raise ValueError(f"factor {name!r} is discrete: its value must be one of {allowed[0]}..{allowed[-1]}, "
                                 f"not {value:g}")
            value = int(value)
        codes[name] = torch.full_like(current, value)
    return LatentBatch(latent.noise, codes)
