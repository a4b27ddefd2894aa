"""benchmarks/public_code_check.py runs a public train.py's set-up once and its batch-loop body per step."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"

TRAIN = """
import torch
seen = []
real_label = 1
dataloader = [(torch.full((2,), float(k)), k) for k in range(3)]
for epoch in range(100):
    for i, (data, _) in enumerate(dataloader, 0):
        label = torch.full((2,), real_label)
        seen.append((i, float(data[0]), label.dtype))
    print("epoch done")
after_the_loop = True
"""


def _module():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("public_code_check", BENCH / "public_code_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_split_finds_the_setup_and_the_batch_loop_body() -> None:
    setup, loop, body = _module().split_train_script(TRAIN)
    assert [type(s).__name__ for s in setup.body] == ["Import", "Assign", "Assign", "Assign"]
    assert len(body.body) == 2 and loop.body is body.body


def test_a_step_runs_the_body_once_on_the_next_batch_with_float_labels(tmp_path: Path) -> None:
    import torch

    (tmp_path / "train.py").write_text(TRAIN)
    step, namespace = _module().public_step(tmp_path)
    for _ in range(4):
        step()
    assert namespace["seen"] == [(0, 0.0, torch.float32), (1, 1.0, torch.float32), (2, 2.0, torch.float32),
                                 (0, 0.0, torch.float32)]  # wraps round the data; labels float, not the script's int
    assert "after_the_loop" not in namespace  # nothing after the training loop runs


def test_a_script_without_the_batch_loop_is_refused() -> None:
    with pytest.raises(SystemExit, match="no 'for"):
        _module().split_train_script("x = 1\nfor k in range(3):\n    pass\n")
