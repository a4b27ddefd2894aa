"""Procedural stroke glyphs: the ten digits drawn with a pen, with known factors, rendered in memory.

The offline counterpart of InfoGAN's MNIST demonstration (the paper's Figure 2: digit type, slant,
stroke width). Each image is one white glyph on black, single channel, ``uint8`` ``(1, S, S)`` with
``S`` in {28, 32, 64}. Four generative factors come with the data:

=======  ============  ===========================================================================
factor   kind          range (and meaning)
=======  ============  ===========================================================================
digit    categorical   0-9, uniform: which glyph is drawn
slant    continuous    [-0.4, 0.4]: horizontal shear x += slant · (y − ½); positive leans right
width    continuous    [0.05, 0.12]: pen diameter as a fraction of the frame (1.4-3.4 px at 28 px)
scale    continuous    [0.55, 0.7]: glyph height as a fraction of the frame (MNIST's box: 20/28 ≈ 0.71)
=======  ============  ===========================================================================

Nuisance, not a factor: each stroke of each image gets its own small random affine distortion
(``jitter``), so two images of one factor cell differ the way two people's digits do.

Geometry. A glyph is a few polylines (segments, sampled elliptic arcs, quadratic Bézier curves) in a
unit box, x right and y up, the digit spanning y in [0, 1] and x in about [0.2, 0.8]. Per image the
strokes are jittered, sheared by ``slant``, scaled to ``scale`` of the frame, and the glyph's bounding
box is centred in the frame (as MNIST centres its digits), so every glyph stays inside the frame. A pixel's
value is the pen's coverage estimated from its distance d to the nearest segment, ``clamp(w/2 − d +
½ px, 0, 1)`` (a round pen with a one-pixel anti-aliased edge), so images change smoothly with every
continuous factor. Rendering is vectorised over images and segments (no Python loop per image).

Public API, as :mod:`ganforge.data.shapes`: :func:`sample_factors`, :func:`render` (a pure function
of the factors and a jitter seed) and :func:`load`, the registered factory, whose ``ImageData`` has
``render_factors`` for metrics that render images with one factor held fixed (FactorVAE).
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import Tensor

from ganforge.data.options import GlyphsOptions
from ganforge.interfaces import DataContext, ImageData

FACTOR_NAMES: tuple[str, ...] = ("digit", "slant", "width", "scale")
FACTOR_KINDS: dict[str, str] = {"digit": "categorical", "slant": "continuous", "width": "continuous",
                                "scale": "continuous"}
RANGES: dict[str, tuple[float, float]] = {"slant": (-0.4, 0.4), "width": (0.05, 0.12), "scale": (0.55, 0.7)}
NUM_DIGITS = 10
_CHUNK = 64  # images rendered at once: (chunk, segments, pixels) float32 temporaries, ~10 MB at 28 px
_SEED_OFFSET = 7_919  # keeps this source's stream apart from other consumers of ctx.seed

Point = tuple[float, float]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> list[Point]:
    """An elliptic arc from ``start`` to ``end`` degrees (counter-clockwise when end > start)."""
    n = max(3, round(abs(end - start) / 20))  # a segment per 20°: chords within 0.3 px of the arc at 64 px
    return [(cx + rx * math.cos(math.radians(start + (end - start) * i / n)),
             cy + ry * math.sin(math.radians(start + (end - start) * i / n))) for i in range(n + 1)]


def _bezier(p0: Point, p1: Point, p2: Point, n: int = 8) -> list[Point]:
    """A quadratic Bézier curve from ``p0`` to ``p2`` pulled towards ``p1``."""
    def at(t: float) -> Point:
        a, b, c = (1 - t) ** 2, 2 * t * (1 - t), t * t
        return (a * p0[0] + b * p1[0] + c * p2[0], a * p0[1] + b * p1[1] + c * p2[1])
    return [at(i / n) for i in range(n + 1)]


def _glyph_strokes() -> tuple[tuple[list[Point], ...], ...]:
    """The ten digits, each a tuple of polylines in the unit box (x right, y up)."""
    two = _arc(0.5, 0.72, 0.27, 0.26, 160, -40)
    three = _arc(0.48, 0.75, 0.24, 0.23, 150, -90) + _arc(0.48, 0.27, 0.28, 0.25, 90, -150)[1:]
    five = [(0.76, 1.0), (0.3, 1.0), (0.27, 0.56)] + _arc(0.48, 0.30, 0.28, 0.28, 135, -145)
    six = _bezier((0.72, 0.97), (0.28, 0.85), (0.22, 0.3)) + _arc(0.48, 0.28, 0.26, 0.27, 180, -180)[1:]
    return (
        (_arc(0.5, 0.5, 0.28, 0.5, 90, 450),),                               # 0: an upright oval
        ([(0.36, 0.8), (0.55, 1.0), (0.55, 0.0)],),                           # 1: flag and stem
        (two + [(0.22, 0.0), (0.8, 0.0)],),                                   # 2: hook, diagonal, base
        (three,),                                                             # 3: two right-open bowls
        ([(0.62, 0.0), (0.62, 1.0), (0.18, 0.32), (0.82, 0.32)],),            # 4: stem, diagonal, bar
        (five,),                                                              # 5: bar, stem, bowl
        (six,),                                                               # 6: curve into a loop
        ([(0.2, 1.0), (0.8, 1.0), (0.4, 0.0)],),                              # 7: bar and diagonal
        (_arc(0.5, 0.76, 0.21, 0.23, -90, 270), _arc(0.5, 0.27, 0.26, 0.27, 90, 450)),  # 8: two loops
        (_arc(0.52, 0.72, 0.25, 0.27, 0, 360), _bezier((0.77, 0.72), (0.74, 0.3), (0.62, 0.0))),  # 9
    )


def _segment_table() -> tuple[Tensor, Tensor, Tensor]:
    """Every glyph's segments padded to one count: endpoints ``(10, K, 4)`` (x0, y0, x1, y1), stroke index
    ``(10, K)`` and each glyph's own segment count ``(10,)``. Padding repeats the glyph's first segment, so it
    changes neither a distance nor a bounding box."""
    glyphs = _glyph_strokes()
    rows = [[(*a, *b, s) for s, line in enumerate(strokes) for a, b in zip(line, line[1:])] for strokes in glyphs]
    k = max(len(r) for r in rows)
    seg = torch.zeros(NUM_DIGITS, k, 4, dtype=torch.float64)
    stroke = torch.zeros(NUM_DIGITS, k, dtype=torch.int64)
    for d, r in enumerate(rows):
        t = torch.tensor(r, dtype=torch.float64)
        seg[d], stroke[d] = t[0, :4], int(t[0, 4])
        seg[d, :len(r)], stroke[d, :len(r)] = t[:, :4], t[:, 4].long()
    return seg, stroke, torch.tensor([len(r) for r in rows])


_SEGMENTS, _STROKE, _COUNT = _segment_table()
MAX_STROKES = int(_STROKE.max()) + 1


def sample_factors(n: int, generator: torch.Generator) -> dict[str, Tensor]:
    """Draw ``n`` factor tuples uniformly from the module docstring's ranges, using only ``generator``.

    Returns ``{"digit": (n,) int64, "slant", "width", "scale": (n,) float32}``, a deterministic
    function of the generator's state.
    """
    out: dict[str, Tensor] = {"digit": torch.randint(NUM_DIGITS, (n,), generator=generator)}
    for name, (lo, hi) in RANGES.items():
        out[name] = (lo + (hi - lo) * torch.rand(n, generator=generator, dtype=torch.float64)).float()
    return out


def render(digit: Tensor, slant: Tensor, width: Tensor, scale: Tensor, image_size: int = 28, *,
           jitter: float = 0.03, seed: int = 0) -> Tensor:
    """Render one glyph per factor tuple: ``uint8`` ``(N, 1, S, S)``, white on black.

    ``digit`` is ``(N,)`` int64 in 0-9; ``slant``, ``width`` and ``scale`` are ``(N,)`` floats as in
    the module docstring (values outside the ranges render too). ``jitter`` is the size of each
    stroke's random affine distortion (0 draws every glyph exactly), drawn from ``seed``: the result
    is a pure function of its arguments.
    """
    if image_size < 1:
        raise ValueError(f"image_size must be >= 1, got {image_size}")
    digit = digit.detach().to("cpu", torch.int64)
    n = digit.shape[0]
    if digit.shape != (n,) or (n and (int(digit.min()) < 0 or int(digit.max()) >= NUM_DIGITS)):
        raise ValueError(f"digit must be (N,) with values in [0, {NUM_DIGITS - 1}]")
    cont = {}
    for name, t in (("slant", slant), ("width", width), ("scale", scale)):
        if t.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {tuple(t.shape)}")
        cont[name] = t.detach().to("cpu", torch.float64)
    if n and (float(cont["width"].min()) <= 0 or float(cont["scale"].min()) <= 0):
        raise ValueError("width and scale must be > 0")
    g = torch.Generator().manual_seed(seed)
    # per image and stroke, a small affine distortion p -> p + J (p − ½) + b
    # (N, strokes, 2, 3), normal truncated at 2σ so that no draw pushes a glyph out of the frame
    jit = jitter * torch.randn(n, MAX_STROKES, 2, 3, generator=g, dtype=torch.float64).clamp_(-2, 2)
    seg = _SEGMENTS[digit]  # (N, K, 4)
    j = jit[torch.arange(n)[:, None], _STROKE[digit]]  # (N, K, 2, 3): each segment's stroke's distortion
    ends = []
    for p in (seg[..., 0:2], seg[..., 2:4]):  # (N, K, 2) unit-box endpoints, y up
        q = p - 0.5
        p = p + torch.einsum("nkij,nkj->nki", j[..., :2], q) + j[..., 2] / 2  # the shift at half the size
        x, y = p[..., 0] - 0.5, p[..., 1] - 0.5
        x = x + cont["slant"][:, None] * y  # shear
        s = cont["scale"][:, None]
        ends.append(torch.stack((s * x, -s * y), dim=-1))  # (N, K, 2) frame offsets, y down
    a, b = ends
    # centre each glyph's bounding box in the frame
    both = torch.cat((a, b), dim=1)  # (N, 2K, 2)
    centre = (both.amax(dim=1) + both.amin(dim=1)) / 2  # (N, 2)
    a, b = a - centre[:, None] + 0.5, b - centre[:, None] + 0.5
    centres = (torch.arange(image_size, dtype=torch.float32) + 0.5) / image_size
    py, px = (c.flatten() for c in torch.meshgrid(centres, centres, indexing="ij"))  # (P,), P = S²
    out = torch.empty(n, image_size * image_size, dtype=torch.uint8)
    half_pen = (cont["width"] / 2).float()  # (N,)
    for d in range(NUM_DIGITS):  # each digit with its own segment count: no padding segments
        idx = (digit == d).nonzero().squeeze(1)
        k = int(_COUNT[d])
        for sel in idx.split(_CHUNK):
            dist = _distance(px, py, a[sel, :k].float(), b[sel, :k].float())  # (m, P) in frame units
            cover = (half_pen[sel, None] - dist).mul_(image_size).add_(0.5)  # pen edge's signed distance, px
            out[sel] = cover.clamp_(0, 1).mul_(255).round_().to(torch.uint8)
    return out.view(n, 1, image_size, image_size)


def _distance(px: Tensor, py: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """``(m, P)``: each pixel centre's (``px``, ``py``: ``(P,)``) distance to the nearest segment
    ``a → b`` (``(m, K, 2)``). Works on x and y planes separately, in place, to stay memory-light."""
    ax, ay = a[..., 0:1], a[..., 1:2]  # (m, K, 1)
    abx, aby = b[..., 0:1] - ax, b[..., 1:2] - ay
    inv = 1 / (abx * abx + aby * aby).clamp_min_(1e-12)
    apx, apy = px - ax, py - ay  # (m, K, P)
    t = (apx * abx).add_(apy * aby).mul_(inv).clamp_(0, 1)  # the nearest point's parameter on each segment
    gx, gy = apx.sub_(t * abx), apy.sub_(t.mul_(aby))
    return gx.mul_(gx).add_(gy.mul_(gy)).amin(dim=1).sqrt_()


def render_named(factors: dict[str, Tensor], image_size: int = 28, jitter: float = 0.03, seed: int = 0) -> Tensor:
    """:func:`render` with the factors as one dict (``ImageData.render_factors``' signature)."""
    return render(**{k: factors[k] for k in FACTOR_NAMES}, image_size=image_size, jitter=jitter, seed=seed)


def load(options: GlyphsOptions, ctx: DataContext) -> ImageData:
    """``options.size`` glyphs with factors from :func:`sample_factors`, seeded by ``ctx.seed``."""
    seed = ctx.seed + _SEED_OFFSET
    factors = sample_factors(options.size, torch.Generator().manual_seed(seed))
    images = render(**factors, image_size=options.image_size, jitter=options.jitter, seed=seed)
    n, s = options.size, options.image_size
    return ImageData(
        images,
        labels=factors["digit"].clone(),
        num_classes=NUM_DIGITS,
        factors=factors,
        factor_kinds=dict(FACTOR_KINDS),
        description=f"procedural stroke glyphs ({n}×1×{s}×{s}; digits 0-9; slant, width, scale; jitter {options.jitter:g})",
        # a fixed jitter seed per call: held-factor batches still vary in nuisance image to image
        render_factors=partial(render_named, image_size=s, jitter=options.jitter, seed=seed + 1),
    )
