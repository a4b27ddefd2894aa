"""The README's first run over several seeds: ``python benchmarks/glyphs_first_run.py``.

Trains ``recipes/infogan_glyphs.toml`` (or ``--recipe``) once per seed, ``--jobs`` at a time (give each child
one thread: ``OMP_NUM_THREADS=1``), times each run (wall and that child's own CPU seconds) and evaluates it
with the registered ground-truth and sample metrics. Per seed it prints:

* **c1 accuracy**: Q's categorical code on the real glyphs against the digit (Hungarian-matched);
* each continuous code's most informative factor, I(code; factor) / H(factor);
* **G accuracy**: the evaluator's digit of G's samples per category of c1, matched (``generated_code_accuracy``),
  and G's smallest digit share against the real one (``class_coverage``: does G draw every digit?);
* MIG and FactorVAE, the domain FID of G's samples, and the training time.

Then the median (min–max) of each column and the success counts of issue 36's acceptance: c1 accuracy ≥ 0.95,
slant and width each the top factor of a distinct continuous code, G accuracy ≥ 0.95 and every digit drawn at
≥ half its real share. The first line names the CPU (model, AVX-512 / AMX flags, torch's capability) and the
precision ``auto`` resolved to. Finished runs under ``--out`` are reused (``--fresh`` retrains); flags after
``--`` go to ``ganforge run`` as is, e.g. ``-- --set train.precision=fp32``.
"""

from __future__ import annotations

import concurrent.futures
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared train / evaluate helpers below

import shapes_disentanglement as shared  # noqa: E402
from shapes_disentanglement import details, evaluate_run, parse_sweep, sweep_parser, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "infogan_glyphs.toml"
shared.METRICS.append("domain_fid")  # G's sample quality too (the evaluator is trained once per data set)
TARGET = 0.95  # c1 accuracy and G accuracy every seed must reach (issue 36)
SHARE = 0.5  # G's smallest digit share, as a fraction of the real share, that still counts as drawing it


def machine() -> str:
    """The CPU model, its vector / matrix flags and torch's view of it."""
    import torch

    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    shown = [f for f in flags if f.startswith(("avx512_bf16", "amx", "avx512f", "avx2"))]
    return f"{model}; {' '.join(sorted(shown))}; torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}"


def precision(run_dir: str) -> str:
    """The precision the run trained at ('auto' resolved), from its newest checkpoint's sidecar."""
    newest = sorted((Path(run_dir) / "checkpoints").glob("step-*.json"))[-1]
    return str(json.loads(newest.read_text()).get("precision", "?"))


def numbers(r: dict[str, Any]) -> dict[str, float]:
    """One run's figures (see the module docstring)."""
    coverage = details(r, "class_coverage")
    real_min = min(coverage["real_share"])
    return {
        "c1 accuracy": details(r, "factor_codes")["codes"]["c1"]["accuracy"]["digit"],
        "G accuracy": details(r, "generated_code_accuracy")["c1"]["accuracy"],
        "G smallest share / real": min(coverage["generated_share"]) / real_min,
        "MIG": details(r, "mig")["mig"],
        "FactorVAE": details(r, "factor_vae")["score"],
        "domain FID": r["results"]["domain_fid"]["score"],
        "train wall min": r["timing"]["wall_s"] / 60,
        "train CPU min": r["timing"]["cpu_s"] / 60,
    }


def tops(r: dict[str, Any]) -> dict[str, str]:
    """Each continuous code's most informative factor and its normalised MI, e.g. ``{"c2": "slant 0.31"}``."""
    codes = details(r, "factor_codes")["codes"]
    return {c: f"{row['factor']} {row['normalized_mi']:.2f}" for c, row in codes.items() if "accuracy" not in row}


def slant_and_width_apart(r: dict[str, Any]) -> bool:
    """Slant and width are each the most informative factor of a different continuous code."""
    found = [cell.split()[0] for cell in tops(r).values()]
    return "slant" in found and "width" in found


def spread(values: list[float]) -> str:
    med = f"{statistics.median(values):.3f}"
    return med if len(values) == 1 else f"{med} ({min(values):.3f}–{max(values):.3f})"


def successes(runs: list[dict[str, Any]]) -> str:
    """The acceptance counts over seeds."""
    n = [numbers(r) for r in runs]
    k = len(runs)
    return (f"c1 accuracy ≥ {TARGET} on {sum(x['c1 accuracy'] >= TARGET for x in n)} of {k} seeds; "
            f"slant and width on distinct codes on {sum(map(slant_and_width_apart, runs))} of {k}; "
            f"G accuracy ≥ {TARGET} on {sum(x['G accuracy'] >= TARGET for x in n)} of {k}; "
            f"every digit drawn at ≥ {SHARE} × its real share on {sum(x['G smallest share / real'] >= SHARE for x in n)} of {k}")


def main() -> None:
    parser = sweep_parser(__doc__, [0, 1, 2, 3, 4], Path("bench-runs/glyphs"))
    parser.add_argument("--recipe", type=Path, default=RECIPE)
    args, extra = parse_sweep(parser)
    print(f"machine: {machine()}", flush=True)

    def one(seed: int) -> dict[str, Any]:
        run_dir = train("infogan", seed, args.out, extra, args.fresh, recipe=args.recipe, sets=[])
        r = evaluate_run(run_dir, args.fresh)
        print(f"seed {seed}: " + "  ".join(f"{k} {v:.3f}" for k, v in numbers(r).items()), flush=True)
        return r

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:  # the work is in child processes
        runs = list(pool.map(one, args.seeds))
    used = {precision(r["run"]) for r in runs}
    columns = list(numbers(runs[0]))
    codes = list(tops(runs[0]))
    print(f"\nrecipe {args.recipe.name}, extra {' '.join(extra) or 'none'}, precision {', '.join(sorted(used))}\n")
    print(f"| seed | {' | '.join(columns)} | {' | '.join(codes)} |")
    print("|---|" + "---|" * (len(columns) + len(codes)))
    for seed, r in zip(args.seeds, runs, strict=True):
        n, t = numbers(r), tops(r)
        print(f"| {seed} | {' | '.join(f'{n[c]:.3f}' for c in columns)} | {' | '.join(t[c] for c in codes)} |")
    print(f"| **median (min–max)** | {' | '.join(spread([numbers(r)[c] for r in runs]) for c in columns)} |"
          + " |" * len(codes))
    print("\n" + successes(runs))


if __name__ == "__main__":
    main()
