"""Why a trained run scores what it does: ``python benchmarks/run_diagnostics.py RUN_DIR [RUN_DIR ...]``.

For each run (newest checkpoint, or ``--step``) on the local MNIST files (``--own-data``: the data
the run trained on, e.g. procedural shapes) it prints:

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
- for data with ground-truth factors (shapes): the **MIG** of Q's codes on the real images with batch
  norm in eval mode and with batch statistics.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import torch

from ganforge.data.load import load_data
from ganforge.evaluation.run import CodeAccuracy, EvalRun
from ganforge.evaluation.evaluator import evaluator_for
from ganforge.evaluation.factor_metrics import MutualInformationGap
from ganforge.evaluation.metrics import hungarian_accuracy
from ganforge.registry import load_registry
from ganforge.runs.loaded import load_run

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


def with_batch_statistics(run: EvalRun, compute: Callable[[EvalRun], float]) -> float:
    """``compute`` on a fresh view of the run with every batch-norm layer of the critic and Q using batch statistics."""
    modules = [run.system.critic, *run.system.regularizers.values()]
    saved = [{k: v.clone() for k, v in m.state_dict().items()} for m in modules]  # train mode updates running stats
    for m in modules:
        m.train()
    try:
        return compute(EvalRun(run.loaded, run.data, run.device))
    finally:
        for m, state in zip(modules, saved, strict=True):
            m.load_state_dict(state)
            m.eval()


def code_accuracy(factor: str) -> Callable[[EvalRun], float]:
    """Q's Hungarian-matched accuracy for one categorical code, as a function of the run view."""
    return lambda run: CodeAccuracy().compute(run)[factor]["accuracy"]


def mig(run: EvalRun) -> float:
    """MIG of Q's codes on the run's real images (data with ground-truth factors only)."""
    return MutualInformationGap().compute(run)["mig"]


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
    parser.add_argument("--own-data", action="store_true", help="evaluate on the run's own data source, not --data")
    parser.add_argument("--step", type=int, help="checkpoint step (default: the newest)")
    args = parser.parse_args()
    registry = load_registry()
    for run_dir in args.runs:
        overrides = [] if args.own_data else ["data.source=idx", f"data.path={args.data}"]
        loaded = load_run(run_dir, registry, "cpu", overrides, args.step)
        run = EvalRun(loaded, load_data(loaded.resolved), torch.device("cpu"))
        spread = sample_spread(run)
        print(f"{run_dir} step {loaded.step}: sample spread eval {spread['eval']:.3g}, train {spread['train']:.3g}")
        if run.data.factors is not None:
            print(f"  MIG {mig(run):.3f} (eval BN), {with_batch_statistics(run, mig):.3f} (batch statistics)")
            continue
        for f in run.spec.factors:
            if not f.discrete or f.name not in run.real_posterior:
                continue
            acc = code_accuracy(f.name)(run)
            batch = with_batch_statistics(run, code_accuracy(f.name))
            purity = category_purity(run, f.name, len(f.traversal(0)))
            print(f"  {f.name}: code accuracy {acc:.3f} (eval BN), {batch:.3f} (batch statistics); "
                  f"category purity under the evaluator {purity:.3f}")


if __name__ == "__main__":
    main()
