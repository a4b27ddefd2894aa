"""dSprites-style procedural shapes with known ground-truth factors, rendered in memory.

Every image is one white shape on black, single channel, ``uint8`` ``(1, S, S)`` with
``S`` in {28, 32, 64}. Five generative factors, all returned with the data:

==========  ============  ==========================================================================
factor      kind          range (and meaning)
==========  ============  ==========================================================================
shape       categorical   0 = square, 1 = ellipse, 2 = heart (uniform)
scale       continuous    [0.5, 1.0]; size relative to the largest shape (uniform)
rotation    continuous    radians, counter-clockwise on screen; [0, 2π) for every shape by default
                          (as dSprites). A square looks the same after π/2 and an ellipse after π,
                          so with ``rotation_range = "full"`` those shapes' rotation is only
                          identifiable modulo their symmetry period; ``"symmetry"`` draws each
                          shape's rotation from its own period (square [0, π/2), ellipse [0, π),
                          heart [0, 2π)) instead.
pos_x       continuous    [0, 1]: 0 = leftmost, 1 = rightmost position (uniform)
pos_y       continuous    [0, 1]: 0 = top, 1 = bottom (image rows grow downwards)
==========  ============  ==========================================================================

Geometry. Each shape is defined in its own unit coordinates and normalised so that its
*circumscribed circle has radius 1* (so no rotation can make it leave that circle):

* square:  ``max(|x|, |y|) <= 1/√2``  (side √2, corners on the unit circle);
* ellipse: ``x² + (y / 0.6)² <= 1``   (semi-axes 1 and 0.6, long axis horizontal at rotation 0);
* heart:   ``(X² + Y² − 1)³ − X² Y³ <= 0`` with ``X = 1.25 x``, ``Y = 1.25 y + 0.25`` — the classic
  implicit heart (|X| <= 1.14, −1 <= Y <= 1.24) shifted and shrunk so its smallest enclosing circle
  is the unit circle; lobes up, tip down at rotation 0.

Unit areas are heart 2.34 > square 2.00 > ellipse 1.88, so at equal scale the shapes' pixel mass
follows that order. In the frame (coordinates ``[0, 1]²``, y down), a shape of ``scale`` s has
circumradius ``s · R`` with ``R = max_radius`` (default ``MAX_RADIUS = 0.2``, as dSprites: the largest
shape's circle spans 40 % of the frame) and its centre (the circle's centre) is at
``R + pos · (1 − 2 · R)``, i.e. in [0.2, 0.8] by default, so every shape stays wholly inside the frame at
every scale, rotation and position. A larger ``max_radius`` draws larger shapes that travel less: at
28 px and the default a scale-0.5 shape spans about 6 pixels, too few for a fully connected network
to tell a heart from an ellipse (docs/results.md, "Shapes").

Grid mode (``grid = true``) draws scale, rotation and positions uniformly from dSprites-like grids
(defaults: 6 scales ``linspace(0.5, 1, 6)``, 40 rotations ``period · k / 40`` for k = 0..39 — unlike
dSprites, which uses ``linspace(0, 2π, 40)`` and so counts 0 and 2π twice — and 32 × 32 positions
``linspace(0, 1, 32)``). Grid points are *sampled*, not enumerated.

Rendering is vectorised over images (no Python loop per image): per image, the sub-pixel
coordinates of a window just large enough for its circumscribed circle are inverse-transformed
by its position, rotation and scale, the shape's implicit inside-test is evaluated at
``supersample²`` points per pixel, and the coverage is averaged (anti-aliasing), so pixel values
change smoothly with the continuous factors. The window is then pasted into a black frame.

Public API, for metrics that must render images with one factor held fixed:

* :func:`sample_factors` ``(n, generator, options)`` → dict of the five factors, drawn from the
  ranges above using only ``generator``;
* :func:`render` ``(shape, scale, rotation, pos_x, pos_y, image_size, supersample)`` → ``uint8``
  ``(N, 1, S, S)``; a pure function of its arguments. Its parameter names match the factor names,
  so ``render(**factors, image_size=o.image_size, supersample=o.supersample)`` works;
* :func:`load` ``(options, ctx)`` → :class:`~ganforge.interfaces.ImageData`, the registered factory;
  its ``render_factors`` renders factor dicts at the data's image size and supersampling.

E.g. FactorVAE votes: ``f = sample_factors(L, g, o); f["scale"][:] = f["scale"][0]; x = render(**f, ...)``.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import Tensor

from ganforge.data.options import ShapesOptions
from ganforge.interfaces import DataContext, ImageData

SHAPES: tuple[str, ...] = ("square", "ellipse", "heart")
FACTOR_NAMES: tuple[str, ...] = ("shape", "scale", "rotation", "pos_x", "pos_y")
FACTOR_KINDS: dict[str, str] = {
    "shape": "categorical", "scale": "continuous", "rotation": "continuous", "pos_x": "continuous",
    "pos_y": "continuous",
}
IMAGE_SIZES: tuple[int, ...] = (28, 32, 64)
SCALE_RANGE: tuple[float, float] = (0.5, 1.0)
POS_RANGE: tuple[float, float] = (0.0, 1.0)
#: rotation period of each shape's appearance (square 4-fold, ellipse 2-fold, heart none)
SYMMETRY_PERIOD: tuple[float, ...] = (math.pi / 2, math.pi, 2 * math.pi)
#: circumradius of a scale-1 shape, as a fraction of the frame side
MAX_RADIUS = 0.2

_SQUARE_HALF = 1 / math.sqrt(2)
_ELLIPSE_B = 0.6
_HEART_SCALE, _HEART_SHIFT = 1.25, 0.25  # unit circle -> the heart curve's smallest enclosing circle
_CHUNK = 64  # images of one shape evaluated at once (bounds memory: ~3.7 MB per temporary at 64 px, supersample 4)
_SEED_OFFSET = 104_729  # keeps this source's stream apart from other consumers of ctx.seed


def _rotation_period(shape: Tensor, rotation_range: str) -> Tensor:
    """(N,) float64 period from which each image's rotation is drawn."""
    if rotation_range == "full":
        return torch.full(shape.shape, 2 * math.pi, dtype=torch.float64)
    return torch.tensor(SYMMETRY_PERIOD, dtype=torch.float64)[shape]


def sample_factors(n: int, generator: torch.Generator, options: ShapesOptions | None = None) -> dict[str, Tensor]:
    """Draw ``n`` factor tuples from the ranges in the module docstring, using only ``generator``.

    Returns ``{"shape": (n,) int64, "scale", "rotation", "pos_x", "pos_y": (n,) float32}``.
    ``options`` (default :class:`ShapesOptions()`) supplies ``grid``, the grid sizes and
    ``rotation_range``; the draws are made in a fixed order, so the result is a deterministic
    function of the generator's state and the options.
    """
    o = options if options is not None else ShapesOptions()
    g = generator
    shape = torch.randint(len(SHAPES), (n,), generator=g)
    period = _rotation_period(shape, o.rotation_range)
    lo, hi = SCALE_RANGE
    if o.grid:
        scales = torch.linspace(lo, hi, o.grid_scales, dtype=torch.float64)
        scale = scales[torch.randint(o.grid_scales, (n,), generator=g)]
        rotation = period * torch.randint(o.grid_rotations, (n,), generator=g, dtype=torch.float64) / o.grid_rotations
        positions = torch.linspace(*POS_RANGE, o.grid_positions, dtype=torch.float64)
        pos_x = positions[torch.randint(o.grid_positions, (n,), generator=g)]
        pos_y = positions[torch.randint(o.grid_positions, (n,), generator=g)]
    else:
        scale = lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64)
        rotation = period * torch.rand(n, generator=g, dtype=torch.float64)
        pos_x = torch.rand(n, generator=g, dtype=torch.float64)
        pos_y = torch.rand(n, generator=g, dtype=torch.float64)
    f32 = torch.float32
    return {"shape": shape, "scale": scale.to(f32), "rotation": rotation.to(f32), "pos_x": pos_x.to(f32),
            "pos_y": pos_y.to(f32)}


def _check_factor(name: str, t: Tensor, n: int) -> Tensor:
    if t.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {tuple(t.shape)}")
    return t.detach().to("cpu", torch.float64)


def render(
    shape: Tensor,
    scale: Tensor,
    rotation: Tensor,
    pos_x: Tensor,
    pos_y: Tensor,
    image_size: int = 64,
    supersample: int = 4,
    *,
    window: bool = True,
    max_radius: float = MAX_RADIUS,
) -> Tensor:
    """Render one shape per factor tuple: ``uint8`` ``(N, 1, S, S)``, white shape on black.

    ``shape`` is ``(N,)`` int64 in {0: square, 1: ellipse, 2: heart}; ``scale``, ``rotation``
    (radians, counter-clockwise), ``pos_x`` and ``pos_y`` are ``(N,)`` floats with the meaning and
    ranges given in the module docstring (values outside them are rendered as well, but a shape
    may then be clipped by the frame; the work grows with the largest scale). Each pixel is the fraction of its ``supersample²``
    sub-pixel points inside the shape, times 255, rounded. ``max_radius`` is the circumradius of a
    scale-1 shape as a fraction of the frame side (< 0.5). Pure and deterministic; runs on CPU
    in chunks of images. ``window = False`` evaluates the whole frame instead of a window around
    each shape (slower, same result — kept as a reference for tests).
    """
    if image_size < 1 or supersample < 1:
        raise ValueError(f"image_size and supersample must be >= 1, got {image_size}, {supersample}")
    shape = shape.detach().to("cpu", torch.int64)
    n = shape.shape[0]
    if shape.shape != (n,):
        raise ValueError(f"shape must be (N,), got {tuple(shape.shape)}")
    if n and (int(shape.min()) < 0 or int(shape.max()) >= len(SHAPES)):
        raise ValueError(f"shape indices must be in [0, {len(SHAPES) - 1}]")
    named = (("scale", scale), ("rotation", rotation), ("pos_x", pos_x), ("pos_y", pos_y))
    scale, rotation, pos_x, pos_y = (_check_factor(k, v, n) for k, v in named)
    if n and float(scale.min()) <= 0:
        raise ValueError("scale must be > 0")
    if not 0 < max_radius < 0.5:
        raise ValueError(f"max_radius must be in (0, 0.5), got {max_radius}")
    s, ss, r = image_size, supersample, max_radius
    # window side in pixels: covers the largest circumscribed circle (diameter 2·R·S·scale) plus
    # rounding slack; windows are clamped to the frame, so any factors give the full-frame result
    max_scale = float(scale.max()) if n else 1.0
    w = min(s, math.ceil(2 * r * s * max_scale) + 3) if window else s
    cx = (r + pos_x * (1 - 2 * r)) * s  # (N,) float64, centre in pixels
    cy = (r + pos_y * (1 - 2 * r)) * s
    off_x = torch.floor(cx - w / 2).clamp(0, s - w).to(torch.int64)  # (N,) window's first column
    off_y = torch.floor(cy - w / 2).clamp(0, s - w).to(torch.int64)
    # sub-pixel centres in window pixels, laid out (ss, w): t[b, c] = c + (b + 0.5) / ss
    t = torch.arange(w, dtype=torch.float64)[None, :] + ((torch.arange(ss, dtype=torch.float64) + 0.5) / ss)[:, None]
    k = 1.0 / (scale * r * s)  # (N,) pixels -> unit shape coordinates
    gx = (t[None] + (off_x - cx)[:, None, None]) * k[:, None, None]  # (N, ss, w) x right
    gy = -(t[None] + (off_y - cy)[:, None, None]) * k[:, None, None]  # (N, ss, w) y up
    cos, sin = torch.cos(rotation)[:, None, None], torch.sin(rotation)[:, None, None]
    # inverse rotation, separable: x = cos·gx + sin·gy, y = cos·gy − sin·gx; rows carry gy, columns gx
    x_col, x_row = cos * gx, sin * gy  # (N, ss, w) each
    y_col, y_row = -sin * gx, cos * gy
    pix = torch.empty(n, w, w, dtype=torch.uint8)  # the windows
    for kind in range(len(SHAPES)):
        idx = (shape == kind).nonzero().squeeze(1)
        for start in range(0, idx.numel(), _CHUNK):
            sel = idx[start:start + _CHUNK]
            pix[sel] = _coverage(kind, x_col[sel], x_row[sel], y_col[sel], y_row[sel])
    out = torch.zeros(n, 1, s, s, dtype=torch.uint8)
    rows = off_y[:, None] + torch.arange(w)  # (N, w)
    cols = off_x[:, None] + torch.arange(w)
    out[torch.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]] = pix
    return out


def _coverage(kind: int, x_col: Tensor, x_row: Tensor, y_col: Tensor, y_row: Tensor) -> Tensor:
    """Anti-aliased ``uint8`` windows ``(m, w, w)`` of shape ``kind``.

    The unit coordinates of sub-pixel (a, b) of pixel (r, c) are ``x = x_col[b, c] + x_row[a, r]``
    and ``y = y_col[b, c] + y_row[a, r]`` (inputs ``(m, ss, w)`` float64). Each shape's constants
    are folded into these vectors first, so the (m, ss, ss, w, w) work is a few in-place passes.
    """
    m, ss, w = x_col.shape
    if kind == 0:  # square: max(|x|, |y|) <= 1/√2
        f = 1 / _SQUARE_HALF
        x_col, x_row, y_col, y_row = x_col * f, x_row * f, y_col * f, y_row * f
    elif kind == 1:  # ellipse: x² + (y / b)² <= 1
        y_col, y_row = y_col / _ELLIPSE_B, y_row / _ELLIPSE_B
    else:  # heart: X = 1.25 x, Y = 1.25 y + 0.25
        x_col, x_row = x_col * _HEART_SCALE, x_row * _HEART_SCALE
        y_col, y_row = y_col * _HEART_SCALE, y_row * _HEART_SCALE + _HEART_SHIFT
    f32 = torch.float32
    # (m, ss_a, ss_b, w_r, w_c): sub-pixel rows a, r from the *_row terms, columns b, c from *_col
    x = x_col.to(f32)[:, None, :, None, :] + x_row.to(f32)[:, :, None, :, None]
    y = y_col.to(f32)[:, None, :, None, :] + y_row.to(f32)[:, :, None, :, None]
    if kind == 0:
        inside = torch.maximum(x.abs_(), y.abs_()) <= 1
    elif kind == 1:
        inside = x.mul_(x).add_(y.mul_(y)) <= 1
    else:  # (X² + Y² − 1)³ <= X² Y³
        x2 = x.mul_(x)
        q = torch.addcmul(x2, y, y).sub_(1)
        rhs = x2.mul_(y).mul_(y).mul_(y)
        inside = q.mul(q).mul_(q) <= rhs
    count = inside.view(m, ss * ss, w, w).sum(dim=1, dtype=torch.int32)  # (m, w, w) in [0, ss²]
    return ((count * 255 + (ss * ss) // 2) // (ss * ss)).to(torch.uint8)


def render_named(factors: dict[str, Tensor], image_size: int = 64, supersample: int = 4,
                 max_radius: float = MAX_RADIUS) -> Tensor:
    """:func:`render` with the factors given as one dict (``ImageData.render_factors``' signature)."""
    return render(**{k: factors[k] for k in FACTOR_NAMES}, image_size=image_size, supersample=supersample,
                  max_radius=max_radius)


def load(options: ShapesOptions, ctx: DataContext) -> ImageData:
    """``options.size`` shapes with factors from :func:`sample_factors`, seeded by ``ctx.seed``."""
    g = torch.Generator().manual_seed(ctx.seed + _SEED_OFFSET)
    factors = sample_factors(options.size, g, options)
    images = render(**factors, image_size=options.image_size, supersample=options.supersample,
                    max_radius=options.max_radius)
    n, s = options.size, options.image_size
    mode = "grid" if options.grid else "continuous"
    return ImageData(
        images,
        labels=factors["shape"].clone(),
        num_classes=len(SHAPES),
        factors=factors,
        factor_kinds=dict(FACTOR_KINDS),
        description=(
            f"procedural shapes ({n}×1×{s}×{s}; square/ellipse/heart; scale, rotation "
            f"[{options.rotation_range}], pos_x, pos_y {mode}; supersample {options.supersample}"
            + (f"; max radius {options.max_radius:g}" if options.max_radius != MAX_RADIUS else "") + ")"
        ),
        render_factors=partial(render_named, image_size=s, supersample=options.supersample,
                               max_radius=options.max_radius),
    )
