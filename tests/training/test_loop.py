"""The training loop: determinism, exact resume, logging, divergence, plugin failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from ganforge.runs import checkpoint
from ganforge.training.loop import train
from ganforge.errors import DivergenceError, PluginError
from ganforge.recipe.model import resolve


def _train(raw: dict[str, Any], registry: Any, run_dir: Path, resume: bool = False, **kw: Any) -> Any:
    run_dir.mkdir(parents=True, exist_ok=True)
    return train(resolve(raw, registry), registry, run_dir, resume=resume, progress=False, say=lambda m: None, **kw)


def _final(run_dir: Path) -> dict[str, torch.Tensor]:
    tensors, _ = checkpoint.load_latest(run_dir / "checkpoints")  # type: ignore[misc]
    return tensors


def _metrics(run_dir: Path) -> list[dict[str, Any]]:
    return [{k: v for k, v in json.loads(line).items() if k not in ("images_per_s", "time")}
            for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_run_writes_metrics_samples_and_checkpoints(tiny_raw: dict[str, Any], registry: Any, tmp_path: Path) -> None:
    result = _train(tiny_raw, registry, tmp_path / "run")
    run = tmp_path / "run"
    assert result.step == 6 and result.reason == "completed"
    assert [m["step"] for m in _metrics(run)] == [2, 4, 6]
    assert {"critic/adv", "generator/adv"} <= set(_metrics(run)[0])
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["real.png", "step-00000003.png", "step-00000006.png"]
    assert {"critic/D(x)", "critic/D(G(z))"} <= set(_metrics(run)[0])  # the critic on real and generated images
    assert [p.name for p in checkpoint.list_checkpoints(run / "checkpoints")] == ["step-00000003.json", "step-00000006.json"]
    assert (run / "recipe.toml").read_text().startswith("# ganforge run")


def test_same_seed_same_weights_different_seed_different(tiny_raw: dict[str, Any], registry: Any, tmp_path: Path) -> None:
    _train(tiny_raw, registry, tmp_path / "a")
    _train(tiny_raw, registry, tmp_path / "b")
    tiny_raw["run"]["seed"] = 1
    _train(tiny_raw, registry, tmp_path / "c")
    a, b, c = (_final(tmp_path / x) for x in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["generator.net.0.weight"], c["generator.net.0.weight"])
    assert _metrics(tmp_path / "a") == _metrics(tmp_path / "b")


@pytest.mark.parametrize("stop_at", [2, 4])
def test_resume_is_bitwise_equal(tiny_raw: dict[str, Any], registry: Any, tmp_path: Path, stop_at: int) -> None:
    """Stop cleanly after ``stop_at`` steps, resume to the end: same bits, same metrics lines."""
    _train(tiny_raw, registry, tmp_path / "straight")
    first = {**tiny_raw, "train": {**tiny_raw["train"], "steps": stop_at}}
    _train(first, registry, tmp_path / "resumed")
    _train(tiny_raw, registry, tmp_path / "resumed", resume=True)
    a, b = _final(tmp_path / "straight"), _final(tmp_path / "resumed")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    assert _metrics(tmp_path / "straight") == _metrics(tmp_path / "resumed")


def test_resume_test_is_sensitive_to_rng_restore(tiny_raw: dict[str, Any], registry: Any, tmp_path: Path) -> None:
    _train(tiny_raw, registry, tmp_path / "straight")
    _train({**tiny_raw, "train": {**tiny_raw["train"], "steps": 3}}, registry, tmp_path / "resumed")
    _train(tiny_raw, registry, tmp_path / "resumed", resume=True, restore_rng=False)
    a, b = _final(tmp_path / "straight"), _final(tmp_path / "resumed")
    assert not all(torch.equal(a[k], b[k]) for k in a if not k.startswith("rng."))


def test_divergence_stops_with_step_and_term(tiny_raw: dict[str, Any], registry: Any, tmp_path: Path) -> None:
    tiny_raw["optim"] = {"critic": {"lr": 1e30}, "generator": {"lr": 1e30}}
    tiny_raw["train"].update(checkpoint_every=100)
    with pytest.raises(DivergenceError, match=r"step \d+"):
        _train(tiny_raw, registry, tmp_path / "run")


def test_plugin_failure_during_training_names_the_plugin(tiny_raw: dict[str, Any], registry: Any, tmp_path: Path) -> None:
    import types

    import ganforge
    from ganforge.interfaces import Regularizer, Terms

    class Broken(Regularizer):
        def critic_terms(self, view: Any) -> Terms:
            raise ZeroDivisionError("oops")

    def register_regularizers(register: Any) -> None:
        register("broken", lambda options, ctx: Broken())

    registry.add_plugin(types.SimpleNamespace(register_regularizers=ganforge.hookimpl(register_regularizers)), "thirdparty")
    tiny_raw["regularizers"] = [{"kind": "broken"}]
    with pytest.raises(PluginError, match="'thirdparty'.*ZeroDivisionError: oops"):
        _train(tiny_raw, registry, tmp_path / "run")


def test_joint_critic_pass_trains(tiny_raw: dict[str, Any], registry: Any, tmp_path: Path) -> None:
    tiny_raw["train"]["joint_critic_pass"] = True
    assert _train(tiny_raw, registry, tmp_path / "run").step == 6


@pytest.mark.slow
def test_compile_gives_the_same_training_and_checkpoint_keys(
    tiny_raw: dict[str, Any], registry: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``train.compile`` wraps the networks per instance: same state-dict keys, same numbers up to fusion rounding."""
    _train(tiny_raw, registry, tmp_path / "eager")
    compiled_fns: list[Any] = []
    real_compile = torch.compile

    def spy(fn: Any, *args: Any, **kwargs: Any) -> Any:
        compiled_fns.append(fn)
        return real_compile(fn, *args, **kwargs)

    monkeypatch.setattr(torch, "compile", spy)
    tiny_raw["train"]["compile"] = True
    _train(tiny_raw, registry, tmp_path / "compiled")
    assert len(compiled_fns) == 3  # the generator, the critic's trunk and its head
    eager, compiled = _final(tmp_path / "eager"), _final(tmp_path / "compiled")
    assert eager.keys() == compiled.keys()
    for k in eager:
        if not k.startswith("rng."):
            torch.testing.assert_close(compiled[k], eager[k], atol=1e-4, rtol=1e-3, msg=lambda m, k=k: f"{k}: {m}")
