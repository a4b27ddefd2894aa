"""Rendering speed of the procedural shapes source: ``python benchmarks/render_shapes.py``.

Prints images/s of :func:`ganforge.data.shapes.render` at 64×64 (median of a few repeats), for
each supersample factor, plus one timed ``load`` of the default 20 000-image data set. Pass
``--threads N`` to pin torch's intra-op threads (useful on a busy machine: oversubscribed OpenMP
threads can make small ops much slower than one thread).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from ganforge.builtins.options import ShapesOptions  # noqa: E402
from ganforge.data.shapes import load, render, sample_factors  # noqa: E402
from ganforge.interfaces import DataContext  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="images per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, {args.size}x{args.size}, "
          f"{args.n} images x {args.repeats} repeats")
    factors = sample_factors(args.n, torch.Generator().manual_seed(0), ShapesOptions())
    for ss in (1, 2, 3, 4):
        render(**factors, image_size=args.size, supersample=ss)  # warm-up
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            render(**factors, image_size=args.size, supersample=ss)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(f"supersample {ss}: {args.n / med:9.0f} images/s  (median {med * 1e3:.0f} ms per {args.n})")
    t0 = time.perf_counter()
    data = load(ShapesOptions(), DataContext(seed=0, cache_dir="/tmp"))
    print(f"load(ShapesOptions()) = {len(data)} images at 64x64, supersample 4: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
