"""The evaluator classifier on real MNIST digits: ``python benchmarks/evaluator.py [DATA_DIR]``.

Trains ``ganforge.evaluation.evaluator``'s CNN from scratch (no cache) on the local MNIST idx files (default
``../shared/data/mnist-t10k``: 10,000 labelled digits, 10% of them held out) and prints its held-out
accuracy and training time. The acceptance figure of issue 4 is ≥ 97% held-out accuracy.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from ganforge.data.options import IdxOptions
from ganforge.data.idx import load
from ganforge.evaluation.evaluator import TrainSetup, train_evaluator
from ganforge.interfaces import DataContext

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist-t10k"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATA
    data = load(IdxOptions(path=str(path)), DataContext(seed=0, cache_dir="~/.cache/ganforge"))
    setup = TrainSetup()
    _, info = train_evaluator(data, setup, "cpu")
    print(f"data: {info['data']}")
    print(f"setup: {setup}  (torch threads: {torch.get_num_threads()})")
    print(f"held-out accuracy: {info['heldout_accuracy']:.4f} on {info['heldout_size']} images "
          f"(trained on {info['train_size']})")
    print(f"training time: {info['train_seconds']:.1f} s")


if __name__ == "__main__":
    main()
