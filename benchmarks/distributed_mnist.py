"""InfoGAN on MNIST in 2 processes against 1 process: ``python benchmarks/distributed_mnist.py``.

Trains ``recipes/infogan_mnist.toml`` on the local MNIST files twice with the same seed and global
batch: once in one process, once in ``--nproc`` processes (``ganforge run --nproc N``: torchrun's
launcher, gloo on CPU), each with one torch thread per process. Then it evaluates every kept
checkpoint of both (categorical-code accuracy, Hungarian-matched, and L_I/c1) and prints them side
by side. The two runs are not expected to be equal: batch norm normalises each process's half of the
batch (docs/distributed.md), so the question is whether the multi-process run lands in the same
accuracy band as the single-process one.

Runs already finished under ``--out`` are reused; flags after ``--`` go to ``ganforge run``, e.g.
``-- --set train.steps=1000``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from infogan_mnist import DEFAULT_DATA, evaluate_steps, train_all  # noqa: E402  (a sibling script)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nproc", type=int, default=2, help="processes of the data-parallel run")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="directory with MNIST idx(.gz) files")
    parser.add_argument("--out", type=Path, default=Path("bench-runs/distributed-mnist"))
    parser.add_argument("--fresh", action="store_true", help="retrain runs that already finished")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"  # one thread per process in both runs

    table = {}
    for label, flags in (("1 process", []), (f"{args.nproc} processes", ["--nproc", str(args.nproc)])):
        out = args.out / label.replace(" ", "-")
        run_dir = train_all([args.seed], out, args.data, [*extra, *flags], args.fresh, jobs=1)[args.seed]
        wall = json.loads((run_dir / "finished.json").read_text())["wall_s"]
        table[label] = (wall, {r["step"]: r for r in evaluate_steps(run_dir, args.data)})

    labels = list(table)
    steps = sorted(set.intersection(*(set(rows) for _, rows in table.values())))
    print(f"\nseed {args.seed}; code accuracy (L_I/c1 in nats) at each kept checkpoint")
    print(f"{'step':>6} " + " ".join(f"{label:>22}" for label in labels))
    for step in steps:
        cells = [f"{rows[step]['accuracy']:.4f} ({rows[step]['L_I']['c1']:.3f})" for _, rows in table.values()]
        print(f"{step:>6} " + " ".join(f"{c:>22}" for c in cells))
    print("train wall min: " + ", ".join(f"{label} {wall / 60:.1f}" for label, (wall, _) in table.items()))


if __name__ == "__main__":
    main()
