"""How far a 2-process run (gloo, CPU) lands from a 1-process run with the same global batch and seed.

Trains the tiny test recipe of ``tests/training/test_distributed.py`` (tiny networks without batch norm, 64
synthetic 8x8 images, global batch 16) for ``--steps`` steps both ways and prints the largest
absolute weight and logged-metric differences; docs/distributed.md quotes its output. With
``--infogan`` it trains the InfoGAN recipe's networks instead (batch norm, a Q head, 28x28 synthetic
images, as ``test_infogan_networks_train_under_ddp_…``) and also prints the cosine similarity of the two
runs' weight updates: per-process batch statistics make that a different computation.

    OMP_NUM_THREADS=1 python benchmarks/distributed_equality.py --steps 6
    OMP_NUM_THREADS=1 python benchmarks/distributed_equality.py --steps 6 --infogan
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
import torch

from ganforge.runs import checkpoint
from ganforge.training.loop import train
from ganforge.recipe.model import resolve
from ganforge.testing import make_registry, tiny_recipe

WORKER = Path(__file__).resolve().parents[1] / "tests" / "distributed_worker.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--infogan", action="store_true", help="the InfoGAN recipe's networks (batch norm, Q head)")
    args = parser.parse_args()
    train_cfg = {"steps": args.steps, "log_every": 1, "sample_every": args.steps, "checkpoint_every": args.steps}
    raw = tiny_recipe(train=train_cfg) if not args.infogan else tiny_recipe(
        "infogan", [{"name": "c1", "kind": "categorical", "k": 3}, {"name": "c2", "kind": "uniform"}],
        data={"image_size": 28, "size": 64, "batch_size": 16}, generator={"kind": "infogan_mnist"},
        critic={"kind": "infogan_mnist"}, train=train_cfg)
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
        init = initial_weights(raw, registry)
        params = [k for k in init if init[k].is_floating_point() and "running" not in k]
        da, db = (torch.cat([(w[k] - init[k]).flatten() for k in params]) for w in (a, b))
        cosine = float(torch.nn.functional.cosine_similarity(da, db, dim=0))
    print(f"{args.steps} steps, 1 vs 2 processes: max |weight diff| = {weights:.3g} over {len(keys)} tensors "
          f"(weights and Adam moments), max |metric diff| = {metrics:.3g}, cosine of the weight updates = {cosine:.3f}")


def initial_weights(raw: dict, registry: object) -> dict[str, torch.Tensor]:
    """The weights both runs start from (built from the same seed, as the trainer builds them)."""
    from ganforge.training.state import Trainer
    from ganforge.data.load import load_data

    resolved = resolve(raw, registry)  # type: ignore[arg-type]
    trainer = Trainer(resolved, load_data(resolved), torch.device("cpu"))
    return {f"{prefix}.{k}": v.clone() for prefix, m in trainer.system.modules().items() for k, v in m.state_dict().items()}


if __name__ == "__main__":
    main()
