"""Signals sent to a real ``ganforge run`` process: SIGTERM/SIGINT finish with a checkpoint and the
signal's exit code; SIGKILLs, in the middle of a checkpoint write or several in one run, lose nothing
that had been saved, and --resume ends bit-identical to an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import torch

from ganforge.runs import checkpoint
from ganforge.training.loop import train
from ganforge.recipe.model import resolve


def _cli(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "ganforge", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _recipe(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text("# ganforge run tiny.toml\n" + tomli_w.dumps(raw))
    return path


def _wait_for_checkpoint(parent: Path, timeout: float = 120) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline:
        dirs = list(parent.glob("tiny-*"))
        if dirs and checkpoint.list_checkpoints(dirs[0] / "checkpoints"):
            return dirs[0]
        time.sleep(0.02)
    raise AssertionError("no checkpoint appeared")


def _assert_equals_uninterrupted(raw: dict[str, Any], registry: Any, run_dir: Path, straight: Path) -> Path:
    """Train ``raw`` without interruption into ``straight``; its final checkpoint must equal run_dir's."""
    straight.mkdir()
    train(resolve(raw, registry), registry, straight, progress=False, say=lambda m: None)
    a = checkpoint.load_latest(straight / "checkpoints")[0]  # type: ignore[index]
    b = checkpoint.load_latest(run_dir / "checkpoints")[0]  # type: ignore[index]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    return straight


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_saves_a_checkpoint_and_exits_with_its_code(tiny_raw: dict[str, Any], tmp_path: Path,
                                                           sig: int, code: int) -> None:
    tiny_raw["train"].update(steps=1_000_000, checkpoint_every=5, log_every=5, sample_every=10**6)
    proc = _cli("run", str(_recipe(tmp_path, tiny_raw)), "--out", str(tmp_path), "--no-progress")
    run_dir = _wait_for_checkpoint(tmp_path)
    proc.send_signal(sig)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == code, out
    name = signal.Signals(sig).name
    assert f"{name}: checkpoint saved at step" in out and "Traceback" not in out
    error = [line for line in out.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and "--resume" in error[0], out
    said = int(out.split("checkpoint saved at step ")[1].split(";")[0])
    assert checkpoint.load_latest(run_dir / "checkpoints")[1]["step"] == said  # type: ignore[index]


@pytest.mark.slow
@pytest.mark.parametrize("fragment", ["step-00000006.safetensors", "step-00000006.json"])
def test_sigkill_during_a_checkpoint_write_then_resume_is_exact(tiny_raw: dict[str, Any], registry: Any,
                                                                tmp_path: Path, fragment: str) -> None:
    """Killed half-way through writing step 6's tensors (or its sidecar, the tensors already renamed
    into place): step 3 still verifies, --resume continues from it and ends bit-identical."""
    tiny_raw["train"].update(steps=9, sample_every=100)
    recipe = _recipe(tmp_path, tiny_raw)
    victim = subprocess.run([sys.executable, "-m", "ganforge.testing.faults", fragment, "run", str(recipe),
                             "--out", str(tmp_path / "runs"), "--no-progress"], capture_output=True, text=True, timeout=300)
    assert victim.returncode == -signal.SIGKILL, victim.stdout + victim.stderr
    run_dir = next((tmp_path / "runs").glob("tiny-*"))
    left = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert any(name.startswith(f".{fragment}.") for name in left), left  # the torn temporary file
    assert checkpoint.load_latest(run_dir / "checkpoints")[1]["step"] == 3  # type: ignore[index]

    resumed = subprocess.run([sys.executable, "-m", "ganforge", "run", "--resume", str(run_dir), "--no-progress"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0 and "resuming from step 3" in resumed.stderr, resumed.stdout + resumed.stderr
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        f"step-{s:08d}.{ext}" for s in (3, 6, 9) for ext in ("json", "safetensors")]  # leftovers cleaned up

    _assert_equals_uninterrupted(tiny_raw, registry, run_dir, tmp_path / "straight")


def _last_logged(run_dir: Path) -> int:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines() if (run_dir / "metrics.jsonl").exists() else []
    try:
        return int(lines[-1].split('"step": ')[1].split(",")[0]) if lines else 0
    except (IndexError, ValueError):
        return 0  # a line being written


@pytest.mark.slow
def test_three_sigkills_in_one_run_then_resume_is_exact(tiny_raw: dict[str, Any], registry: Any, tmp_path: Path) -> None:
    """The same run killed three times at random steps and resumed each time: the final state and
    every metrics line equal an uninterrupted run's; no step is logged twice or missing."""
    tiny_raw["train"].update(steps=400, log_every=2, checkpoint_every=7, sample_every=10**6, keep_checkpoints=2)
    recipe = _recipe(tmp_path, tiny_raw)
    run_dir: Path | None = None
    targets = sorted(random.Random(7).sample(range(20, 380, 2), 3))
    for target in targets:
        args = ["run", "--resume", str(run_dir)] if run_dir else ["run", str(recipe), "--out", str(tmp_path / "runs")]
        victim = _cli(*args, "--no-progress")
        run_dir = run_dir or _wait_for_checkpoint(tmp_path / "runs")
        while victim.poll() is None and _last_logged(run_dir) < target:
            time.sleep(0.002)
        victim.send_signal(signal.SIGKILL)
        assert victim.wait() == -signal.SIGKILL, f"finished before the kill at step {target}"
    assert run_dir is not None
    resumed = _cli("run", "--resume", str(run_dir), "--no-progress")
    assert resumed.communicate(timeout=600) and resumed.returncode == 0

    straight = _assert_equals_uninterrupted(tiny_raw, registry, run_dir, tmp_path / "straight")

    def rows(d: Path) -> list[dict[str, Any]]:
        return [{k: v for k, v in json.loads(x).items() if k not in ("images_per_s", "time")} for x in (d / "metrics.jsonl").read_text().splitlines()]

    assert [r["step"] for r in rows(run_dir)] == list(range(2, 401, 2))
    assert rows(run_dir) == rows(straight)
