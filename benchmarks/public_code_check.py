"""Check ``throughput.py``'s reference step against the public InfoGAN code itself:
``python benchmarks/public_code_check.py --checkout PATH/InfoGAN-PyTorch``.

``throughput.py``'s ``PublicStep`` is written here, mirroring Natsu6767/InfoGAN-PyTorch's ``train.py``; its
``× ref`` figures only mean "× the public code" if the two run at the same speed. This script runs the
public code from a checkout the user provides (nothing of it is copied into this repository) and times,
in one process and interleaved (round-robin blocks of steps, the median of the rounds):

- ``public train.py``: the checkout's ``train.py`` executed as published up to its training loop (its
  own networks, ``weights_init``, optimizers, ``get_data('MNIST', 128)`` on torchvision's ``MNIST``), then
  the body of its inner loop (``for i, (data, _) in enumerate(dataloader, 0):``), parsed out of the file
  and executed once per step. One change: ``real_label`` / ``fake_label`` become 1.0 / 0.0 after the
  set-up, because current torch's ``BCELoss`` refuses the integer labels the published code creates.
  What it does once per epoch (sample grids, plots, checkpoints) is outside the inner loop and not timed.
- ``PublicStep``: ``throughput.py``'s reference step;
- ``ganforge``: the engine's step for ``recipes/infogan_mnist.toml`` with the shipped defaults.

It runs in a temporary directory (the public code writes its plots to the working directory) whose
``data/mnist/MNIST/raw`` holds the local MNIST files (``--data``, idx.gz; the training-set names point at
the test files: only speed is measured).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import throughput  # noqa: E402  (the sibling benchmark: PublicStep, ganforge_step, the MNIST root)


def _is_batch_loop(node: ast.stmt) -> bool:
    """``for …, (data, _) in enumerate(dataloader, …)``: the public code's per-batch training loop."""
    return (isinstance(node, ast.For) and isinstance(node.iter, ast.Call)
            and isinstance(node.iter.func, ast.Name) and node.iter.func.id == "enumerate"
            and bool(node.iter.args) and isinstance(node.iter.args[0], ast.Name)
            and node.iter.args[0].id == "dataloader")


def split_train_script(source: str) -> tuple[ast.Module, ast.For, ast.Module]:
    """``train.py``'s source → (the top-level statements before its training loop, the batch loop, its body).

    The training loop is the first top-level statement that contains the batch loop (the epoch loop).
    """
    tree = ast.parse(source)
    for index, statement in enumerate(tree.body):
        loops = [n for n in ast.walk(statement) if isinstance(n, ast.stmt) and _is_batch_loop(n)]
        if loops:
            batch_loop = loops[0]
            assert isinstance(batch_loop, ast.For)
            setup = ast.Module(body=tree.body[:index], type_ignores=[])
            return setup, batch_loop, ast.Module(body=batch_loop.body, type_ignores=[])
    raise SystemExit("error: no 'for …, (data, _) in enumerate(dataloader, …)' loop in the public train.py")


def public_step(checkout: Path) -> tuple[Callable[[], None], dict[str, Any]]:
    """Run the checkout's ``train.py`` set-up in the current directory; → one step of its batch loop's body, and
    the namespace the script runs in (its globals)."""
    import matplotlib

    matplotlib.use("Agg")  # its set-up saves a figure; no window
    source = (checkout / "train.py").read_text()
    setup, batch_loop, body = split_train_script(source)
    namespace: dict[str, Any] = {"__name__": "public_train", "__file__": str(checkout / "train.py")}
    sys.path.insert(0, str(checkout))
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its networks
        exec(compile(setup, "train.py", "exec"), namespace)  # noqa: S102  (the user's own checkout)
    namespace["real_label"], namespace["fake_label"] = 1.0, 0.0  # BCELoss needs float targets now
    code = compile(body, "train.py", "exec")
    bind = ast.Assign(targets=[batch_loop.target], value=ast.Name("_item", ast.Load()))  # `i, (data, _) = _item`
    target = compile(ast.fix_missing_locations(ast.Module(body=[bind], type_ignores=[])), "train.py", "exec")

    def batches() -> Iterator[tuple[int, Any]]:
        while True:
            yield from enumerate(namespace["dataloader"], 0)

    stream = batches()

    def step() -> None:
        namespace["_item"] = next(stream)
        exec(target, namespace)  # noqa: S102  (binds the loop variables as the for statement would)
        exec(code, namespace)  # noqa: S102

    return step, namespace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkout", type=Path, required=True, help="a checkout of Natsu6767/InfoGAN-PyTorch")
    parser.add_argument("--data", type=Path, default=throughput.DEFAULT_DATA, help="directory with MNIST idx(.gz) files")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (the median is reported)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant per round")
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    if not (checkout / "train.py").is_file():
        raise SystemExit(f"error: {checkout} has no train.py (expected a checkout of Natsu6767/InfoGAN-PyTorch)")

    root = throughput.torchvision_mnist_root(args.data)  # …/MNIST/raw under a temporary root
    work = Path(tempfile.mkdtemp(prefix="ganforge-public-"))
    (work / "data").mkdir()
    (work / "data" / "mnist").symlink_to(root)
    os.chdir(work)
    device = torch.device("cpu")
    steps: dict[str, Callable[[], None]] = {
        "public train.py": public_step(checkout)[0],
        "PublicStep": throughput.PublicStep(root, device),
        "ganforge": throughput.ganforge_step(args.data, [], device)[0],
    }
    for step in steps.values():
        for _ in range(args.warmup):
            step()
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for r in range(args.rounds):
        for name, step in steps.items():
            t = time.perf_counter()
            for _ in range(args.steps):
                step()
            rates[name].append(args.steps * throughput.BATCH / (time.perf_counter() - t))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)

    public = statistics.median(rates["public train.py"])
    print(f"batch {throughput.BATCH}, {torch.get_num_threads()} threads, torch {torch.__version__}, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, flags: {throughput.cpu_flags()}")
    print(f"median of {args.rounds} interleaved rounds × {args.steps} steps")
    print(f"{'variant':<16} {'images/s':>9} {'spread':>11} {'× public':>9}")
    for name, values in rates.items():
        med = statistics.median(values)
        print(f"{name:<16} {med:>9.0f} {f'{min(values):.0f}–{max(values):.0f}':>11} {med / public:>9.2f}")


if __name__ == "__main__":
    main()
