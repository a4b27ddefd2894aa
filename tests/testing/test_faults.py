"""Faults met by a real (tiny) training run: full disk, NaN/Inf, plugin failures, signals, determinism."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import types
from pathlib import Path
from typing import Any

import pytest
import torch

import ganforge
from ganforge.runs import checkpoint
from ganforge.training.loop import Interrupted, _Interrupts, train
from ganforge.errors import CheckpointError, DivergenceError, PluginError
from ganforge.testing.faults import disk_full, nonfinite_at
from ganforge.interfaces import Regularizer, Terms
from ganforge.recipe.model import resolve


def _train(raw: dict[str, Any], registry: Any, run_dir: Path, resume: bool = False,
           said: list[str] | None = None) -> Any:
    run_dir.mkdir(parents=True, exist_ok=True)
    say = said.append if said is not None else (lambda m: None)
    return train(resolve(raw, registry), registry, run_dir, resume=resume, progress=False, say=say)


def _files(run_dir: Path) -> dict[str, str]:
    """SHA-256 of every file in the run's checkpoint directory."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((run_dir / "checkpoints").iterdir())}


def _steps(run_dir: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _final(run_dir: Path) -> dict[str, torch.Tensor]:
    return checkpoint.load_latest(run_dir / "checkpoints")[0]  # type: ignore[index]


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --- a full disk -----------------------------------------------------------------------------------
def _sizes(run_dir: Path, *names: str) -> int:
    return sum((run_dir / name).stat().st_size for name in names)


@pytest.mark.parametrize("fails", ["step-00000006.safetensors", "step-00000006.json"])
def test_disk_full_during_training_keeps_the_last_checkpoint(tiny_raw: dict[str, Any], registry: Any,
                                                             tmp_path: Path, fails: str) -> None:
    """The disk fills while the step-6 checkpoint is written (its tensors, or its sidecar): a
    CheckpointError, the step-3 checkpoint byte-identical, no partial file; after space is freed,
    --resume ends bit-identical to a run that never failed."""
    tiny_raw["train"].update(steps=9, sample_every=100)  # no sample grids before the fault
    straight, run = tmp_path / "straight", tmp_path / "run"
    _train(tiny_raw, registry, straight)
    written = ["recipe.toml", "samples/real.png", "checkpoints/step-00000003.safetensors", "checkpoints/step-00000003.json"]
    free = _sizes(straight, *written) + (_sizes(straight, "checkpoints/step-00000006.safetensors") if fails.endswith("json") else 0)
    with disk_full(free) as failed, pytest.raises(CheckpointError, match="step-6 checkpoint failed: No space left"):
        _train(tiny_raw, registry, run)
    assert len(failed) == 1 and f".{fails}." in failed[0]
    step3 = {k: v for k, v in _files(straight).items() if "00000003" in k}
    assert _files(run) == step3  # the good checkpoint intact, nothing partial left behind
    _train(tiny_raw, registry, run, resume=True)
    assert _equal(_final(run), _final(straight))
    assert _steps(run) == [2, 4, 6, 8, 9]


# --- NaN and Inf -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("where", "value", "match"), [
    ("loss", float("nan"), r"diverged at step 6: loss term 'critic/adv' is nan"),
    ("loss", float("inf"), r"diverged at step 6: loss term 'critic/adv' is inf"),
    ("weights", float("nan"), r"diverged at step 6: loss term '[a-z/]+' is nan"),
])
def test_nonfinite_stops_within_one_log_interval(tiny_raw: dict[str, Any], registry: Any, tmp_path: Path,
                                                 where: str, value: float, match: str) -> None:
    tiny_raw["train"].update(steps=12, checkpoint_every=4)
    run = tmp_path / "run"
    with nonfinite_at(5, where, value), pytest.raises(DivergenceError, match=match):  # type: ignore[arg-type]
        _train(tiny_raw, registry, run)
    assert [p.name for p in checkpoint.list_checkpoints(run / "checkpoints")] == ["step-00000004.json"]
    assert all(torch.isfinite(t).all() for t in _final(run).values() if t.is_floating_point())
    assert _steps(run) == [2, 4]
    assert DivergenceError.exit_code == 6


def test_divergence_through_the_cli_is_one_line_and_exit_code_6(tiny_raw: dict[str, Any], tmp_path: Path) -> None:
    import tomli_w
    from typer.testing import CliRunner

    from ganforge.cli.app import app

    tiny_raw["optim"] = {"critic": {"lr": 1e30}, "generator": {"lr": 1e30}}
    tiny_raw["train"].update(steps=40, checkpoint_every=2)
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(tomli_w.dumps(tiny_raw))
    result = CliRunner().invoke(app, ["run", str(recipe), "--out", str(tmp_path / "runs"), "--no-progress"])
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert result.exit_code == 6 and "Traceback" not in result.output, result.output
    assert len(errors) == 1 and re.search(r"diverged at step \d+: (loss term|weights) '?[\w./]+'? (is|contain)", errors[0])
    for sidecar in checkpoint.list_checkpoints(next((tmp_path / "runs").glob("tiny-*")) / "checkpoints"):
        assert all(torch.isfinite(t).all() for t in checkpoint.load(sidecar)[0].values() if t.is_floating_point())


def test_nonfinite_weights_are_named(tiny_raw: dict[str, Any], registry: Any, tmp_path: Path) -> None:
    with nonfinite_at(4, "weights"), pytest.raises(DivergenceError, match=r"step 4: weights generator\.net\.0\.weight"):
        _train(tiny_raw, registry, tmp_path / "run")


def test_a_diverged_state_is_never_checkpointed(tiny_raw: dict[str, Any], registry: Any, tmp_path: Path) -> None:
    """Checkpoints between log steps are checked too: the NaN at step 5 stops the step-6 checkpoint."""
    tiny_raw["train"].update(steps=9, log_every=100, keep_checkpoints=1)
    run = tmp_path / "run"
    with nonfinite_at(5, "weights"), pytest.raises(DivergenceError, match="step 6"):
        _train(tiny_raw, registry, run)
    assert [p.name for p in checkpoint.list_checkpoints(run / "checkpoints")] == ["step-00000003.json"]
    assert not (run / "checkpoints" / "step-00000006.safetensors").exists()


def test_a_transient_nan_then_resume_equals_an_undisturbed_run(tiny_raw: dict[str, Any], registry: Any,
                                                               tmp_path: Path) -> None:
    tiny_raw["train"].update(steps=9)
    with nonfinite_at(5), pytest.raises(DivergenceError):
        _train(tiny_raw, registry, tmp_path / "run")
    _train(tiny_raw, registry, tmp_path / "run", resume=True)
    _train(tiny_raw, registry, tmp_path / "straight")
    assert _equal(_final(tmp_path / "run"), _final(tmp_path / "straight"))


def test_rollback_reloads_the_checkpoint_and_lowers_the_learning_rates(tiny_raw: dict[str, Any], registry: Any,
                                                                       tmp_path: Path) -> None:
    tiny_raw["train"].update(steps=10, on_nonfinite="rollback", rollback_lr_factor=0.25)
    said: list[str] = []
    run = tmp_path / "run"
    with nonfinite_at(5) as fired:
        result = _train(tiny_raw, registry, run, said=said)
    assert fired == [5] and result.step == 10 and result.reason == "completed"
    assert any("diverged at step 6" in m and "rolled back to step 3" in m and "rollback 1 of 3" in m for m in said), said
    assert _steps(run) == [2, 4, 6, 8, 10]  # the lines after step 3 were written once, after the rollback
    meta = json.loads(checkpoint.list_checkpoints(run / "checkpoints")[-1].read_text())
    assert meta["rollbacks"] == 1
    assert [meta["optimizers"][n]["param_groups"][0]["lr"] for n in ("generator", "critic")] == [0.25 * 2e-4] * 2
    _train(tiny_raw, registry, tmp_path / "straight")
    assert not torch.equal(_final(run)["generator.net.0.weight"], _final(tmp_path / "straight")["generator.net.0.weight"])


def test_rollback_gives_up_after_max_rollbacks(tiny_raw: dict[str, Any], registry: Any, tmp_path: Path) -> None:
    tiny_raw["train"].update(steps=10, on_nonfinite="rollback", max_rollbacks=2)
    with nonfinite_at(5, times=100) as fired, pytest.raises(DivergenceError, match="after 2 rollbacks"):
        _train(tiny_raw, registry, tmp_path / "run")
    assert fired == [5, 5, 5]


def test_rollback_without_a_checkpoint_stops(tiny_raw: dict[str, Any], registry: Any, tmp_path: Path) -> None:
    tiny_raw["train"].update(on_nonfinite="rollback")
    with nonfinite_at(1), pytest.raises(DivergenceError, match="no checkpoint to roll back to"):
        _train(tiny_raw, registry, tmp_path / "run")


# --- plugins ---------------------------------------------------------------------------------------
class _FailsAtStep4(Regularizer):
    """A third-party regularizer whose module raises in the middle of a run."""

    def generator_terms(self, view: Any) -> Terms:
        if view.step == 4:
            return Terms(losses={"bad": torch.zeros(2, 3) @ torch.zeros(2, 3)})  # a shape error inside torch
        return Terms()


def test_plugin_failure_names_the_plugin_and_keeps_the_checkpoint(tiny_raw: dict[str, Any], registry: Any,
                                                                  tmp_path: Path) -> None:
    def register_regularizers(register: Any) -> None:
        register("fails", lambda options, ctx: _FailsAtStep4())

    registry.add_plugin(types.SimpleNamespace(register_regularizers=ganforge.hookimpl(register_regularizers)), "thirdparty")
    tiny_raw["regularizers"] = [{"kind": "fails"}]
    said: list[str] = []
    with pytest.raises(PluginError, match="plugin 'thirdparty' failed in regularizer 'fails'.*RuntimeError"):
        _train(tiny_raw, registry, tmp_path / "run", said=said)
    assert any("checkpoint of step 3 is kept" in m for m in said), said
    assert checkpoint.load_latest(tmp_path / "run" / "checkpoints")[1]["step"] == 3  # type: ignore[index]


def test_a_network_plugin_failure_is_blamed_on_its_plugin(tiny_raw: dict[str, Any], registry: Any,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error raised in a network's forward (no regularizer involved) names the network's plugin."""
    from ganforge_vanilla.networks import MLPGenerator

    real_init = MLPGenerator.__init__

    def init(self: Any, *args: Any) -> None:
        real_init(self, *args)
        self.shape = (3, 7, 7)  # forward's .view(-1, *self.shape) now fails inside the plugin's module

    monkeypatch.setattr(MLPGenerator, "__init__", init)
    with pytest.raises(PluginError, match=r"plugin 'vanilla' failed in training step 1: RuntimeError: shape"):
        _train(tiny_raw, registry, tmp_path / "run")


def test_an_engine_bug_is_not_blamed_on_a_plugin(tiny_raw: dict[str, Any], registry: Any, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from ganforge.data.stream import BatchStream

    def broken(self: Any) -> Any:
        raise KeyError("core bug")

    monkeypatch.setattr(BatchStream, "next", broken)
    with pytest.raises(KeyError):
        _train(tiny_raw, registry, tmp_path / "run")


# --- signals ---------------------------------------------------------------------------------------
def test_first_signal_requests_a_stop_second_sigint_stops_at_once() -> None:
    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN in a background job
    with _Interrupts().installed() as interrupts:
        os.kill(os.getpid(), signal.SIGTERM)
        assert interrupts.requested == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before  # the previous handler is back


def test_interrupt_saves_a_checkpoint_and_exits_with_the_signal_code(tiny_raw: dict[str, Any], registry: Any,
                                                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGTERM during step 5 (between checkpoints): step 5 is saved, exit code 143, resume is exact."""
    from ganforge.training.state import Trainer

    tiny_raw["train"].update(steps=9)
    real_step = Trainer.train_step

    def step(self: Trainer) -> None:
        real_step(self)
        if self.step == 5 and not getattr(self, "_signalled", False):
            self._signalled = True  # type: ignore[attr-defined]
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(Trainer, "train_step", step)
    run = tmp_path / "run"
    with pytest.raises(Interrupted, match="interrupted at step 5") as info:
        _train(tiny_raw, registry, run)
    assert info.value.exit_code == 143 and Interrupted("x", "SIGINT").exit_code == 130
    assert checkpoint.load_latest(run / "checkpoints")[1]["step"] == 5  # type: ignore[index]
    monkeypatch.undo()
    _train(tiny_raw, registry, run, resume=True)
    _train(tiny_raw, registry, tmp_path / "straight")
    assert _equal(_final(run), _final(tmp_path / "straight"))
    assert _steps(run) == _steps(tmp_path / "straight") == [2, 4, 6, 8, 9]


# --- reproducibility -------------------------------------------------------------------------------
def test_deterministic_option_switches_deterministic_algorithms_on_during_the_run(
        tiny_raw: dict[str, Any], registry: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ganforge.training.state import Trainer

    seen: list[bool] = []
    real_step = Trainer.train_step
    monkeypatch.setattr(Trainer, "train_step", lambda self: (seen.append(torch.are_deterministic_algorithms_enabled()),
                                                            real_step(self))[1])
    tiny_raw["run"]["deterministic"] = True
    _train(tiny_raw, registry, tmp_path / "a")
    assert seen and all(seen) and not torch.are_deterministic_algorithms_enabled()
    seen.clear()
    tiny_raw["run"]["deterministic"] = False
    _train(tiny_raw, registry, tmp_path / "b")
    assert seen and not any(seen)
    assert _equal(_final(tmp_path / "a"), _final(tmp_path / "b"))  # CPU kernels are deterministic anyway


def test_training_draws_nothing_from_python_or_numpy_global_rngs(tiny_raw: dict[str, Any], registry: Any,
                                                                 tmp_path: Path) -> None:
    """Only torch generators (all checkpointed) feed a run, so the stdlib and numpy RNGs need no saving."""
    import random

    import numpy as np

    _train(tiny_raw, registry, tmp_path / "warm-up")  # first imports may draw (rich seeds an id counter)
    py, npy = random.getstate(), np.random.get_state()
    _train(tiny_raw, registry, tmp_path / "run")
    assert random.getstate() == py
    after = np.random.get_state()
    assert after[0] == npy[0] and (after[1] == npy[1]).all() and after[2:] == npy[2:]
