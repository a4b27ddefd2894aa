"""How far a 2-process run (gloo, CPU) lands from a 1-process run with the same global batch and seed.

Trains the tiny test recipe of ``tests/test_distributed.py`` (tiny networks without batch norm, 64
synthetic 8x8 images, global batch 16) for ``--steps`` steps both ways and prints the largest
absolute weight and logged-metric differences; docs/distributed.md quotes its output.

    OMP_NUM_THREADS=1 python benchmarks/distributed_equality.py --steps 6
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import tomli_w

from ganforge import checkpoint
from ganforge.engine import train
from ganforge.recipe import resolve
from ganforge.testing import make_registry, tiny_recipe

WORKER = Path(__file__).resolve().parents[1] / "tests" / "distributed_worker.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    raw = tiny_recipe(train={"steps": args.steps, "log_every": 1, "sample_every": args.steps,
                             "checkpoint_every": args.steps})
    with tempfile.TemporaryDirectory() as tmp:
        one, out = Path(tmp) / "one", Path(tmp) / "two"
        one.mkdir()
        registry = make_registry()
        train(resolve(raw, registry), registry, one, progress=False, say=lambda m: None)
        (Path(tmp) / "r.toml").write_text(tomli_w.dumps(raw))
        subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", str(WORKER),
                        "run", str(Path(tmp) / "r.toml"), "--out", str(out), "--no-progress"], check=True,
                       capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        two = next(out.iterdir())
        a, b = (checkpoint.load_latest(d / "checkpoints")[0] for d in (one, two))  # type: ignore[index]
        keys = [k for k in a if not k.startswith(("rng.", "acc."))]
        weights = max(float((a[k] - b[k]).abs().max()) for k in keys if a[k].is_floating_point())
        ma, mb = ([json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()] for d in (one, two))
        metrics = max(abs(x[k] - y[k]) for x, y in zip(ma, mb, strict=True) for k in x if k not in ("step", "images_per_s", "time"))
    print(f"{args.steps} steps, 1 vs 2 processes: max |weight diff| = {weights:.3g} over {len(keys)} tensors "
          f"(weights and Adam moments), max |metric diff| = {metrics:.3g}")


if __name__ == "__main__":
    main()
