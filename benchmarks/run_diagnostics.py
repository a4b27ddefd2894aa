"""Why a trained run scores what it does: ``python benchmarks/run_diagnostics.py RUN_DIR [RUN_DIR ...]``.

For each run (newest checkpoint, or ``--step``) on the local MNIST files it prints:

- **sample spread**: the per-pixel standard deviation over 500 generated images, averaged over
  pixels, with the generator in eval mode and in train mode (batch statistics). Near 0 means every
  latent draws the same image: a collapsed generator, whichever batch-norm mode draws it.
- for runs with a categorical code (InfoGAN):
  - **code accuracy** of Q on the real digits with batch norm in eval mode (what ``ganforge eval``
    reports) and with batch statistics, to see whether the evaluation mode costs accuracy;
  - **category purity**: 5000 generated images per run, each category's images classified by the
    evaluator classifier (``docs/evaluation.md``), categories Hungarian-matched to digits. If this is
    about Q's accuracy on real digits, the generator's categories, not Q's transfer to real images,
    limit the accuracy.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ganforge.engine import load_data
from ganforge.evaluation import CodeAccuracy, EvalRun
from ganforge.evaluator import evaluator_for
from ganforge.metrics import hungarian_accuracy
from ganforge.registry import load_registry
from ganforge.runs import load_run

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-t10k"


@torch.no_grad()
def sample_spread(run: EvalRun, n: int = 500) -> dict[str, float]:
    spec, G = run.spec, run.system.generator
    latent = spec.sample(n, torch.Generator().manual_seed(0), run.device)
    out = {}
    for mode in ("eval", "train"):
        G.train(mode == "train")
        out[mode] = float(G(spec.generator_input(latent)).std(dim=0).mean())
    G.eval()
    return out


def accuracy_with_batch_statistics(run: EvalRun, factor: str) -> float:
    """Q's code accuracy on the real images with every batch-norm layer of the critic and Q using batch statistics."""
    modules = [run.system.critic, *run.system.regularizers.values()]
    saved = [{k: v.clone() for k, v in m.state_dict().items()} for m in modules]  # train mode updates running stats
    for m in modules:
        m.train()
    try:
        fresh = EvalRun(run.loaded, run.data, run.device)
        return CodeAccuracy().compute(fresh)[factor]["accuracy"]
    finally:
        for m, state in zip(modules, saved, strict=True):
            m.load_state_dict(state)
            m.eval()


@torch.no_grad()
def category_purity(run: EvalRun, factor: str, k: int, n: int = 5000) -> float:
    evaluator = evaluator_for(run.data)
    g = torch.Generator().manual_seed(7)
    cats, digits = [], []
    for _ in range(0, n, 500):
        latent = run.spec.sample(500, g, run.device)
        _, probs = evaluator.embed(run.system.generator(run.spec.generator_input(latent)))
        cats.append(latent.codes[factor].cpu())
        digits.append(probs.argmax(dim=1))
    acc, _, _ = hungarian_accuracy(torch.cat(cats).numpy(), torch.cat(digits).numpy(), n_pred=k,
                                   n_labels=run.data.num_classes)
    return acc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="directory with MNIST idx(.gz) files")
    parser.add_argument("--step", type=int, help="checkpoint step (default: the newest)")
    args = parser.parse_args()
    registry = load_registry()
    for run_dir in args.runs:
        loaded = load_run(run_dir, registry, "cpu", ["data.source=idx", f"data.path={args.data}"], args.step)
        run = EvalRun(loaded, load_data(loaded.resolved), torch.device("cpu"))
        spread = sample_spread(run)
        print(f"{run_dir} step {loaded.step}: sample spread eval {spread['eval']:.3g}, train {spread['train']:.3g}")
        for f in run.spec.factors:
            if not f.discrete or f.name not in run.real_posterior:
                continue
            acc = CodeAccuracy().compute(run)[f.name]["accuracy"]
            batch = accuracy_with_batch_statistics(run, f.name)
            purity = category_purity(run, f.name, len(f.traversal(0)))
            print(f"  {f.name}: code accuracy {acc:.3f} (eval BN), {batch:.3f} (batch statistics); "
                  f"category purity under the evaluator {purity:.3f}")


if __name__ == "__main__":
    main()
