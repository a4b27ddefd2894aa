"""bf16 quality guard: the MNIST InfoGAN recipe in fp32 and in bf16, same seeds: ``python benchmarks/precision_guard.py``.

``train.precision = "auto"`` trains in bf16 on hardware with native bf16. This benchmark checks that
doing so changes nothing but speed: for each seed it trains ``recipes/infogan_mnist.toml`` (or
``--recipe``, e.g. ``recipes/infogan_plus_mnist.toml``, whose outcome does not depend on the seed, so a
difference there is the precision's) on the local MNIST files once with ``train.precision=fp32`` and once
with ``bf16`` (through
``benchmarks/infogan_mnist.py``, so runs finished under ``--out`` are reused), evaluates the final
checkpoint (code accuracy of c1, L_I per factor with Q in eval mode) and prints, per precision, the
median and range over seeds, and the training wall time.

The guard holds when, for every number, the bf16 median lies inside the fp32 runs' range over seeds
and the fp32 median inside the bf16 range: the difference is then within seed noise. Every flag after
``--`` goes to ``ganforge run``, e.g. ``-- --set train.steps=1500``.

That rule is strict with few seeds: even if precision made no difference at all, it would hold for one
number only in 40 % of cases with 3 seeds per precision (71 % with 5), so for four numbers at once rarely.
Each row therefore also shows, over every split of the pooled runs into two groups of the original sizes
(what the numbers could have been had the seeds' outcomes not depended on precision):
- ``p``: the share of splits whose means differ at least as much as the measured ones (Fisher-Pitman
  permutation test of the mean difference, two-sided; its smallest possible value is 2 / C(2n, n): 0.1 for
  3 seeds, 0.008 for 5, so 3 seeds cannot show a difference at the 5 % level, 5 can);
- ``rule by chance``: the share of splits for which the rule holds, i.e. how often it would pass these
  very numbers if precision did not matter.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import math
import statistics
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("infogan_mnist_bench", HERE / "infogan_mnist.py")
bench = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(bench)  # type: ignore[union-attr]

PRECISIONS = ("fp32", "bf16")


def final_numbers(run_dir: Path, data: Path) -> dict[str, float]:
    """Code accuracy of c1 and L_I per factor at the run's newest checkpoint, and its wall time in minutes."""
    from ganforge.evaluation.run import evaluate
    from ganforge.registry import load_registry

    got = evaluate(run_dir, load_registry(), ["data.source=idx", f"data.path={data}"], "cpu",
                   ["code_accuracy", "mutual_information"])
    wall = json.loads((run_dir / "finished.json").read_text())["wall_s"]
    l_i = got.details("mutual_information")["L_I"]
    return {"accuracy c1": got.details("code_accuracy")["c1"]["accuracy"],
            **{f"L_I {k} (nats)": v for k, v in l_i.items()}, "train min": wall / 60}


def within_ranges(a: list[float], b: list[float]) -> bool:
    """The guard's rule: each group's median lies inside the other group's range."""
    return min(a) <= statistics.median(b) <= max(a) and min(b) <= statistics.median(a) <= max(b)


def splits(a: list[float], b: list[float]) -> list[tuple[list[float], list[float]]]:
    """Every split of the pooled values into groups of ``len(a)`` and ``len(b)``: the outcomes if the group
    labels (the precisions) did not matter."""
    pooled = [*a, *b]
    out = []
    for chosen in itertools.combinations(range(len(pooled)), len(a)):
        rest = [v for i, v in enumerate(pooled) if i not in chosen]
        out.append(([pooled[i] for i in chosen], rest))
    return out


def permutation_p(a: list[float], b: list[float]) -> float:
    """Share of :func:`splits` whose means differ at least as much as ``a``'s and ``b``'s (two-sided)."""
    observed = abs(statistics.fmean(a) - statistics.fmean(b))
    every = splits(a, b)
    return sum(abs(statistics.fmean(x) - statistics.fmean(y)) >= observed - 1e-12 for x, y in every) / len(every)


def rule_by_chance(a: list[float], b: list[float]) -> float:
    """Share of :func:`splits` for which :func:`within_ranges` holds."""
    every = splits(a, b)
    return sum(within_ranges(x, y) for x, y in every) / len(every)


def spread(values: list[float]) -> str:
    med = f"{statistics.median(values):.3f}"
    return med if len(values) == 1 else f"{med} ({min(values):.3f}–{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data", type=Path, default=bench.DEFAULT_DATA, help="directory with MNIST idx(.gz) files")
    parser.add_argument("--recipe", type=Path, default=bench.RECIPE, help="the recipe to train (default: the paper's)")
    parser.add_argument("--out", type=Path, default=Path("bench-runs/precision-guard"))
    parser.add_argument("--jobs", type=int, default=2, help="runs trained at once, each with cores/jobs threads")
    parser.add_argument("--fresh", action="store_true", help="retrain runs that already finished")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]

    runs = bench.train_many([(seed, args.out / p, [*extra, "--set", f"train.precision={p}"])
                             for seed in args.seeds for p in PRECISIONS], args.data, args.fresh, args.jobs,
                            args.recipe)
    numbers: dict[str, list[dict[str, float]]] = {}
    for precision in PRECISIONS:
        numbers[precision] = [final_numbers(runs[(seed, args.out / precision)], args.data) for seed in args.seeds]
        for seed, n in zip(args.seeds, numbers[precision], strict=True):
            print(f"{precision} seed {seed}: " + "  ".join(f"{k} {v:.3f}" for k, v in n.items()), flush=True)

    keys = list(numbers["fp32"][0])
    n = len(args.seeds)
    print(f"\n| number | fp32 ({n} seeds) | bf16 ({n} seeds) | within seed noise | p | rule by chance |")
    print("|---|---|---|---|---|---|")
    holds = True
    lowest: tuple[float, str] = (1.0, "")
    for key in keys:
        a, b = ([run[key] for run in numbers[p]] for p in PRECISIONS)
        inside = within_ranges(a, b)
        p_value = permutation_p(a, b)
        if key != "train min":
            holds &= inside
            lowest = min(lowest, (p_value, key))
        print(f"| {key} | {spread(a)} | {spread(b)} | {'yes' if inside else 'no'}{' (speed)' if key == 'train min' else ''} "
              f"| {p_value:.3f} | {rule_by_chance(a, b):.2f} |")
    print(f"\nguard {'holds' if holds else 'FAILS'}: " + ("each bf16 median lies in fp32's range over seeds and vice "
          "versa" if holds else "some median lies outside the other precision's range over seeds") + f" (seeds {args.seeds})")
    print(f"permutation test of the means: smallest p = {lowest[0]:.3f} ({lowest[1]}); the smallest p {n} seeds per "
          f"precision can give is {2 / math.comb(2 * n, n):.3f}")


if __name__ == "__main__":
    main()
