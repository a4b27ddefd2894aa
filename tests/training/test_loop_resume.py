"""What a resume may and may not do (issue: hardening): forged checkpoints are refused in one line, a run
directory whose checkpoints all fail is never restarted from zero, only one process trains in a run
directory, --set on resume reaches the optimizers, and nothing hangs or reads without bound."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import tomli_w
import torch
from typer.testing import CliRunner

from ganforge.runs import checkpoint
from ganforge.cli.app import app
from ganforge.runs.directory import LOCK_FILE, locked

runner = CliRunner()


def _run(tiny_raw: dict[str, Any], tmp_path: Path, steps: int = 6) -> Path:
    tiny_raw["train"].update(steps=steps)
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(tomli_w.dumps(tiny_raw))
    result = runner.invoke(app, ["run", str(recipe), "--out", str(tmp_path / "runs"), "--no-progress"])
    assert result.exit_code == 0, result.output
    return next((tmp_path / "runs").iterdir())


def _resume(run_dir: Path, *extra: str) -> Any:
    return runner.invoke(app, ["run", "--resume", str(run_dir), "--no-progress", *extra])


def _one_line(result: Any, fragment: str, code: int | None = None) -> None:
    assert result.exit_code != 0 and (code is None or result.exit_code == code), result.output
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and fragment in errors[0], result.output


def _forge(run_dir: Path, step: int, edit: Any) -> None:
    """Rewrite the checkpoint of ``step`` with ``edit(tensors, meta)`` applied, checksums recomputed."""
    sidecar = run_dir / "checkpoints" / f"step-{step:08d}.json"
    tensors, meta = checkpoint.load(sidecar)
    edit(tensors, meta)
    stored = {k: v for k, v in meta.items() if k not in ("format", "step", "tensor_file", "size", "sha256", "tensors")}
    checkpoint.save(sidecar.parent, step, tensors, stored, keep=100)


FORGERIES = {
    "acc_count is a string": lambda t, m: m.update(acc_count="abc"),
    "no optimizers": lambda t, m: m.pop("optimizers"),
    "garbage stream state": lambda t, m: m.update(stream={"epoch": "x", "position": [1]}),
    "wrong-size torch RNG state": lambda t, m: t.update({"rng.torch": torch.zeros(7, dtype=torch.uint8)}),
    "bad param_groups": lambda t, m: m["optimizers"]["critic"].update(param_groups=[{"params": "all"}]),
    "float latent RNG state": lambda t, m: t.update({"rng.latent": torch.zeros(16)}),
    "negative step count": lambda t, m: m.update(acc_count=-1),
    "infinite learning rate": lambda t, m: m["optimizers"]["generator"]["param_groups"][0].update(lr=float("inf")),
}


@pytest.mark.parametrize("what", sorted(FORGERIES))
def test_a_forged_newest_checkpoint_is_skipped_with_a_warning(tiny_raw: dict[str, Any], tmp_path: Path, what: str) -> None:
    run_dir = _run(tiny_raw, tmp_path)  # checkpoints at 3 and 6
    _forge(run_dir, 6, FORGERIES[what])
    result = _resume(run_dir, "--set", "train.steps=8")
    assert result.exit_code == 0, result.output
    assert "skipping checkpoint" in result.output and "resuming from step 3" in result.output


@pytest.mark.parametrize("what", sorted(FORGERIES))
def test_when_every_checkpoint_is_forged_resume_fails_and_keeps_everything(tiny_raw: dict[str, Any], tmp_path: Path,
                                                                           what: str) -> None:
    run_dir = _run(tiny_raw, tmp_path)
    for step in (3, 6):
        _forge(run_dir, step, FORGERIES[what])
    before = {p.relative_to(run_dir): p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.name != LOCK_FILE}
    _one_line(_resume(run_dir), "none of the 2 checkpoint(s) verifies", code=5)
    after = {p.relative_to(run_dir): p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.name != LOCK_FILE}
    assert after == before  # metrics.jsonl, checkpoints, samples: untouched


def test_a_run_without_any_checkpoint_yet_starts_from_zero(tiny_raw: dict[str, Any], tmp_path: Path) -> None:
    run_dir = _run(tiny_raw, tmp_path)
    shutil.rmtree(run_dir / "checkpoints")
    result = _resume(run_dir)
    assert result.exit_code == 0 and "starting from step 0" in result.output, result.output


def test_set_on_resume_reaches_the_optimizers(tiny_raw: dict[str, Any], tmp_path: Path) -> None:
    run_dir = _run(tiny_raw, tmp_path, steps=3)
    result = _resume(run_dir, "--set", "train.steps=6", "--set", "optim.critic.lr=5e-5")
    assert result.exit_code == 0, result.output
    assert "optim.critic.lr = 5e-05 (the checkpoint had 0.0002)" in result.output
    _, meta = checkpoint.load_latest(run_dir / "checkpoints")  # type: ignore[misc]
    assert [g["lr"] for g in meta["optimizers"]["critic"]["param_groups"]] == [5e-5]
    assert [g["lr"] for g in meta["optimizers"]["generator"]["param_groups"]] == [2e-4]


def test_a_second_process_on_the_same_run_directory_is_refused_naming_the_holder(tiny_raw: dict[str, Any],
                                                                                  tmp_path: Path) -> None:
    run_dir = _run(tiny_raw, tmp_path, steps=3)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from ganforge.runs.directory import locked\nwith locked(Path(sys.argv[1])):\n"
                               "    print('held', flush=True); time.sleep(60)", str(run_dir)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        _one_line(_resume(run_dir, "--set", "train.steps=6"), f"another process (PID {holder.pid})")
    finally:
        holder.kill()
        holder.wait()
    result = _resume(run_dir, "--set", "train.steps=6")  # the kernel released the lock with the process
    assert result.exit_code == 0, result.output
    steps = [json.loads(x)["step"] for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))  # no duplicated lines


def test_two_resumes_at_once_never_duplicate_metrics(tiny_raw: dict[str, Any], tmp_path: Path) -> None:
    run_dir = _run(tiny_raw, tmp_path, steps=3)
    cmd = [sys.executable, "-m", "ganforge", "run", "--resume", str(run_dir), "--set", "train.steps=400",
           "--set", "train.log_every=10", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes[0] == 0 and codes[1] != 0, outs
    assert any("another process" in err for _, err in outs), outs
    steps = [json.loads(x)["step"] for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 400


def test_lock_is_reentrant_across_sequential_runs(tmp_path: Path) -> None:
    with locked(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())
    with locked(tmp_path):  # released on exit
        pass


@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_a_metrics_log_that_is_a_fifo_or_endless_fails_in_one_line(tiny_raw: dict[str, Any], tmp_path: Path,
                                                                   kind: str) -> None:
    run_dir = _run(tiny_raw, tmp_path, steps=3)
    log = run_dir / "metrics.jsonl"
    log.unlink()
    os.mkfifo(log) if kind == "fifo" else log.symlink_to("/dev/zero")
    start = time.monotonic()
    _one_line(_resume(run_dir, "--set", "train.steps=6"), "metrics.jsonl: is a")
    assert time.monotonic() - start < 60


@pytest.mark.parametrize("which", [".json", ".safetensors"])
@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_checkpoint_files_that_are_fifos_or_endless_are_skipped(tiny_raw: dict[str, Any], tmp_path: Path,
                                                                which: str, kind: str) -> None:
    run_dir = _run(tiny_raw, tmp_path)
    target = run_dir / "checkpoints" / f"step-00000006{which}"
    target.unlink()
    os.mkfifo(target) if kind == "fifo" else target.symlink_to("/dev/zero")
    for command in (["sample", str(run_dir), "-n", "4", "--out", str(tmp_path / "s.png")], None):
        result = runner.invoke(app, command) if command else _resume(run_dir, "--set", "train.steps=8")
        assert result.exit_code == 0, result.output
        assert "skipping checkpoint" in result.output and "not a regular file" in result.output


def test_undecodable_metrics_lines_are_kept_aside_on_resume(tiny_raw: dict[str, Any], tmp_path: Path) -> None:
    run_dir = _run(tiny_raw, tmp_path, steps=6)
    log = run_dir / "metrics.jsonl"
    original = log.read_bytes()
    lines = original.split(b"\n")
    damaged = b"\n".join([lines[0], b"\xff\xfe random bytes", *lines[1:]])
    log.write_bytes(damaged)
    result = _resume(run_dir, "--set", "train.steps=8")
    assert result.exit_code == 0, result.output
    assert (run_dir / "metrics.jsonl.bak").read_bytes() == damaged  # nothing lost


def test_a_failed_start_leaves_no_empty_run_directory(tiny_raw: dict[str, Any], tmp_path: Path) -> None:
    tiny_raw["data"]["size"] = 4  # fewer images than one batch: fails while loading, before anything is written
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(tomli_w.dumps(tiny_raw))
    result = runner.invoke(app, ["run", str(recipe), "--out", str(tmp_path / "runs"), "--no-progress"])
    assert result.exit_code != 0
    assert not list((tmp_path / "runs").iterdir())


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-2, 2**70) | st.floats() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                           max_leaves=8)
META_PATHS = [("step",), ("acc_count",), ("acc_counts",), ("rollbacks",), ("stream",), ("stream", "epoch"),
              ("stream", "position"), ("image_shape",), ("optimizers",), ("optimizers", "critic"),
              ("optimizers", "generator", "param_groups"), ("optimizers", "critic", "param_groups", 0, "lr"),
              ("optimizers", "critic", "param_groups", 0, "betas"), ("optimizers", "critic", "param_groups", 0, "params"),
              ("optimizers", "generator", "scalars")]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, torch.Tensor], dict[str, Any]]:
    """A tiny run's resolved recipe and its final checkpoint."""
    from ganforge.training.loop import train
    from ganforge.recipe.model import resolve
    from ganforge.testing import make_registry, tiny_recipe

    registry = make_registry()
    resolved = resolve(tiny_recipe(train={"steps": 3, "checkpoint_every": 3, "log_every": 2}), registry)
    run_dir = tmp_path_factory.mktemp("forge") / "run"
    train(resolved, registry, run_dir, progress=False, say=lambda m: None)
    tensors, meta = checkpoint.load_latest(run_dir / "checkpoints")  # type: ignore[misc]
    return resolved, tensors, meta


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(META_PATHS), value=JSON_VALUES)
def test_forged_metadata_is_refused_or_loads_cleanly(trained: tuple[Any, dict[str, torch.Tensor], dict[str, Any]],
                                                     path: tuple[Any, ...], value: Any) -> None:
    """Any value at any field the trainer reads: ``check_training_state`` refuses it, or the trainer
    loads it, or refuses it itself; always as a CheckpointError, never another exception (a traceback)."""
    from ganforge.training.state import Trainer
    from ganforge.data.load import load_data
    from ganforge.errors import CheckpointError

    resolved, tensors, meta = trained
    forged = copy.deepcopy(meta)
    node: Any = forged
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    try:
        checkpoint.check_training_state(tensors, forged, Path("forged.json"))
    except CheckpointError:
        return
    trainer = Trainer(resolved, load_data(resolved), torch.device("cpu"))
    try:
        trainer.load_state(tensors, forged)
    except CheckpointError as exc:
        assert "does not fit this run" in str(exc)
