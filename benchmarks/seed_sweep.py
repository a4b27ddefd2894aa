"""How often a recipe works: ``python benchmarks/seed_sweep.py --recipe recipes/infogan_plus_mnist.toml``.

Trains ``--recipe`` once per seed (``--seeds``, default 0-9), ``--jobs`` runs at a time, each child with
``--threads`` torch threads (default one: a seed's trajectory depends on the thread count, so each run records
its own), and evaluates every run: the categorical code c1's accuracy on the labelled real images (Hungarian-
matched) at the newest checkpoint and at every kept one (checkpoints every ``--every`` steps, for the first step
at which it reaches ``--target``), and the domain FID of G's samples. Per seed it prints code accuracy, domain
FID, the step at which the accuracy first reached the target and the minutes of training that took (the run's
wall time × that step / its steps; the runs share the machine, so these are not speed figures), then the
median, the worst and the share of seeds at or above the target. The first line names the CPU (model, its
AVX-512 / AMX flags, torch's capability), the last the precision each run trained at (``auto`` resolved).

``--data DIR`` trains and evaluates on MNIST-format idx files (e.g. the 10 000 real test digits offline), the
files ``--images`` / ``--labels`` (globs inside DIR) where it holds more than one split; ``--test-images`` and
``--test-labels`` name a held-out split Q never trained on, whose code accuracy gets a column of its own (e.g.
Debian's Fashion-MNIST: ``--data /usr/share/datasets/fashion-mnist --images 'train-images*' --labels
'train-labels*' --test-images 't10k-images*' --test-labels 't10k-labels*'``). Flags after ``--`` go to
``ganforge run`` as is, e.g. ``-- --set train.precision=fp32``. Finished runs under ``--out``
are reused, and so are their evaluations (``--fresh`` redoes both), so an interrupted sweep resumes and two
processes can share the seeds of one sweep (``--seeds 0 1 2 3 4`` and ``--seeds 5 6 7 8 9``).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared train / evaluate helpers below

from glyphs_first_run import machine, precision  # noqa: E402
from infogan_mnist import evaluate_steps  # noqa: E402
from shapes_disentanglement import evaluate_run, parse_sweep, sweep_parser, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "infogan_plus_mnist.toml"
METRICS = ["code_accuracy", "domain_fid"]


@dataclass(frozen=True)
class SeedResult:
    """One seed's figures: final code accuracy, domain FID, when the accuracy first reached the target."""

    seed: int
    accuracy: float
    domain_fid: float
    step_to_target: int | None  # None: never at a kept checkpoint
    minutes_to_target: float | None
    train_minutes: float
    precision: str
    test_accuracy: float | None = None  # code accuracy on the held-out split (--test-images), if given


def first_step(by_step: list[dict], target: float) -> int | None:
    """The first evaluated step whose ``accuracy`` is at least ``target`` (``by_step`` oldest first), else None."""
    return next((row["step"] for row in by_step if row["accuracy"] >= target), None)


def seed_result(seed: int, evaluation: dict, by_step: list[dict], target: float, run_precision: str,
                test_accuracy: float | None = None) -> SeedResult:
    """A :class:`SeedResult` from a run's saved evaluation (``Evaluation.to_json()`` plus its ``timing``), its
    per-checkpoint accuracies and the held-out split's accuracy (None: none)."""
    wall_min = evaluation["timing"]["wall_s"] / 60
    step = first_step(by_step, target)
    last = by_step[-1]["step"] if by_step else 0
    return SeedResult(seed, evaluation["results"]["code_accuracy"]["details"]["c1"]["accuracy"],
                      evaluation["results"]["domain_fid"]["score"], step,
                      wall_min * step / last if step is not None and last else None, wall_min, run_precision,
                      test_accuracy)


def table(results: list[SeedResult], target: float) -> list[str]:
    """One markdown row per seed, then the summary lines: median, worst, share at or above ``target``."""
    def opt(value: float | int | None, fmt: str) -> str:
        return "never" if value is None else format(value, fmt)

    held_out = all(r.test_accuracy is not None for r in results)
    lines = [f"| seed | code accuracy |{' held-out accuracy |' if held_out else ''} domain FID | step to {target} | "
             f"min to {target} | train min | precision |", "|---|---|" + "---|" * (6 if held_out else 5)]
    lines += [f"| {r.seed} | {r.accuracy:.4f} |{f' {r.test_accuracy:.4f} |' if held_out else ''} {r.domain_fid:.2f} | "
              f"{opt(r.step_to_target, 'd')} | {opt(r.minutes_to_target, '.1f')} | {r.train_minutes:.1f} | {r.precision} |"
              for r in results]
    accs = [r.accuracy for r in results]
    hit = sum(a >= target for a in accs)
    steps = [r.step_to_target for r in results if r.step_to_target is not None]
    lines += ["", f"code accuracy: median {statistics.median(accs):.4f}, worst {min(accs):.4f}, best {max(accs):.4f}; "
              f"≥ {target} on {hit} of {len(accs)} seeds ({hit / len(accs):.0%})",
              f"domain FID: median {statistics.median(r.domain_fid for r in results):.2f}, "
              f"worst {max(r.domain_fid for r in results):.2f}",
              f"step to {target}: median {f'{statistics.median(steps):g}' if steps else 'never'} over the {len(steps)} seed(s) "
              f"that reached it",
              f"precision: {', '.join(sorted({r.precision for r in results}))}"]
    if held_out:
        test = [r.test_accuracy for r in results if r.test_accuracy is not None]
        gaps = [r.accuracy - r.test_accuracy for r in results if r.test_accuracy is not None]
        lines.insert(-3, f"held-out code accuracy: median {statistics.median(test):.4f}, worst {min(test):.4f}; "
                         f"training minus held-out: median {statistics.median(gaps):+.4f}, largest {max(gaps):+.4f}")
    return lines


def held_out_accuracy(run_dir: Path, data: Path, images: str, labels: str) -> float:
    """c1's code accuracy of ``run_dir``'s newest checkpoint on the idx files ``images`` / ``labels`` in ``data``
    (saved in ``run_dir/held_out.json``, keyed by the files, and reused)."""
    key = f"{data.resolve()} {images} {labels}"
    saved_path = run_dir / "held_out.json"
    saved = json.loads(saved_path.read_text()) if saved_path.exists() else {}
    if key not in saved:
        from ganforge.evaluation.run import evaluate
        from ganforge.registry import load_registry

        sets = ["data.source=idx", f"data.path={data.resolve()}", f"data.images={images}", f"data.labels={labels}"]
        result = evaluate(run_dir, load_registry(), sets, "cpu", ["code_accuracy"])
        saved[key] = result.details("code_accuracy")["c1"]["accuracy"]
        tmp = saved_path.with_suffix(".tmp")  # written whole or not at all, as evaluate_steps does
        tmp.write_text(json.dumps(saved, indent=1))
        tmp.replace(saved_path)
    return float(saved[key])


def main() -> None:
    parser = sweep_parser(__doc__, list(range(10)), Path("bench-runs/seed-sweep"))
    parser.add_argument("--recipe", type=Path, default=RECIPE)
    parser.add_argument("--data", type=Path, help="MNIST-format idx files to train and evaluate on (default: the recipe's data)")
    parser.add_argument("--images", help="glob of the training images inside --data (default: the idx source's)")
    parser.add_argument("--labels", help="glob of the training labels inside --data")
    parser.add_argument("--test-images", help="glob of a held-out split's images inside --data: its code accuracy too")
    parser.add_argument("--test-labels", help="glob of the held-out split's labels inside --data")
    parser.add_argument("--every", type=int, default=500, help="checkpoint every N steps: when the target was reached")
    parser.add_argument("--target", type=float, default=0.95, help="the code accuracy a seed must reach")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    args, extra = parse_sweep(parser)
    if args.every < 1 or args.threads < 1:
        parser.error("--every and --threads must be at least 1")
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)  # the children's threads
    sets = [f"train.checkpoint_every={args.every}", "train.keep_checkpoints=100000"]
    if bool(args.test_images) != bool(args.test_labels) or (args.test_images and not args.data):
        parser.error("--test-images and --test-labels go together, with --data")
    if (args.images or args.labels) and not args.data:
        parser.error("--images and --labels need --data")
    if args.data:
        sets += ["data.source=idx", f"data.path={args.data.resolve()}"]
        sets += [f"data.{key}={glob}" for key, glob in (("images", args.images), ("labels", args.labels)) if glob]
    print(f"machine: {machine()}", flush=True)

    def one(seed: int) -> SeedResult:
        run_dir = train(args.recipe.stem, seed, args.out, extra, args.fresh, recipe=args.recipe, sets=sets)
        test = held_out_accuracy(run_dir, args.data, args.test_images, args.test_labels) if args.test_images else None
        r = seed_result(seed, evaluate_run(run_dir, args.fresh, METRICS), evaluate_steps(run_dir, None),
                        args.target, precision(str(run_dir)), test)
        print(f"seed {seed}: code accuracy {r.accuracy:.4f}, domain FID {r.domain_fid:.2f}, step to {args.target} "
              f"{r.step_to_target}", flush=True)
        return r

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:  # the work is in child processes
        results = list(pool.map(one, args.seeds))
    print(f"\nrecipe {args.recipe.name}, {args.threads} thread(s) per run, {args.jobs} at a time, "
          f"extra {' '.join(extra) or 'none'}\n")
    print("\n".join(table(results, args.target)))


if __name__ == "__main__":
    main()
