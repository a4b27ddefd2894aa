"""What the sample-quality metrics read on real MNIST digits: ``python benchmarks/sample_metrics.py [DATA_DIR]``.

No generator: the "generated" sets are made of real images, so the right answer is known. The local MNIST
test split (default ``../shared/data/mnist-t10k``) is cut, seeded, into two disjoint halves; the first
half's 2,000 images are the reference, and each case below takes 2,000 images of the second half:

* ``other real images``: a perfect generator;
* ``digit 0 dropped``: no 0s (one class in ten lost: recall and coverage should fall, precision not);
* ``digits 0-4 only``: a generator that draws half the classes;
* ``blurred``: every image blurred (Gaussian, σ = 1 px): all classes, drawn badly.

Every number is computed in the cached evaluator's features (trained first when there is none), as
``ganforge eval`` does: domain FID, domain KID (± std over subsets), precision / recall (k = 3), density /
coverage (k = 5).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from torchvision.transforms.functional import gaussian_blur

from ganforge.data.options import IdxOptions
from ganforge.data.idx import load
from ganforge.data.pixels import to_unit
from ganforge.evaluation.evaluator import evaluator_for
from ganforge.interfaces import DataContext
from ganforge.evaluation.metrics import density_coverage, feature_statistics, frechet_distance, kernel_distance, precision_recall

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist-t10k"
N = 2000


def scores(real: torch.Tensor, fake: torch.Tensor) -> str:
    """One table row: FID, KID ± std, precision, recall, density, coverage."""
    fid = frechet_distance(*feature_statistics(real), *feature_statistics(fake))
    kid, std = kernel_distance(real, fake)
    p, r = precision_recall(real, fake)
    d, c = density_coverage(real, fake)
    return f"{fid:9.2f} | {kid:.4f} ± {std:.4f} | {p:.3f} | {r:.3f} | {d:.3f} | {c:.3f}"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATA
    data = load(IdxOptions(path=str(path)), DataContext(seed=0, cache_dir="~/.cache/ganforge"))
    assert data.labels is not None
    evaluator = evaluator_for(data)
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    first, second = perm[: len(data) // 2], perm[len(data) // 2 :]
    images, labels = to_unit(data.images), data.labels
    real, _ = evaluator.embed(images[first[:N]])
    cases = {
        "other real images": second[:N],
        "digit 0 dropped": second[labels[second] != 0][:N],
        "digits 0-4 only": second[labels[second] <= 4][:N],
    }
    print(f"data: {data.description}; {N} reference images, {N} per case; torch threads: {torch.get_num_threads()}")
    print("case | domain FID | domain KID | precision | recall | density | coverage")
    start = time.perf_counter()
    for name, idx in cases.items():
        assert len(idx) == N, (name, len(idx))
        print(f"{name} | {scores(real, evaluator.embed(images[idx])[0])}")
    blurred = gaussian_blur(images[second[:N]], kernel_size=5, sigma=1.0)
    print(f"blurred (σ = 1 px) | {scores(real, evaluator.embed(blurred)[0])}")
    print(f"metrics time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
