"""Exact resume on the shipped recipes' own networks: convolutions, batch norm, channels-last, bf16, fused Adam.

``test_loop.py`` proves the promise on tiny MLPs; these tests train the networks users run
(``recipes/*_mnist.toml`` with reduced widths where the networks have a width option), with
``train.channels_last`` and ``train.precision`` as shipped ('auto': bf16 on a CPU with native bf16)
and in fp32, on the MNIST idx files and on the synthetic source. A run stopped at a checkpoint and
continued by a fresh trainer must end bit-identical to a run that went straight through (issue 40:
restored Adam moments used to lose the channels-last layout of their parameters). And a run with the moving
average of G that the recipes keep trains bit-identically to the same run without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from ganforge.model.ema import PREFIX
from ganforge.runs import checkpoint
from ganforge.training.loop import train
from ganforge.recipe.model import load_recipe
from ganforge.registry import Registry, load_registry
from ganforge.testing import kill_after_checkpoints

ROOT = Path(__file__).resolve().parents[2]
MNIST = ROOT.parent / "shared" / "data" / "mnist-t10k"  # the MNIST t10k idx files, never copied into the repo
needs_mnist = pytest.mark.skipif(not (MNIST / "t10k-images-idx3-ubyte.gz").is_file(),
                                 reason=f"the MNIST idx files are not in {MNIST}")

#: per shipped recipe: overrides that shrink its networks (the InfoGAN networks have no width option)
SMALL = {
    "vanilla_mnist": ["generator.width=8", "critic.width=8"],
    "wgan_gp_mnist": ["generator.width=8", "critic.width=8", "train.n_critic=2"],
    "cgan_mnist": ["generator.hidden=32", "generator.channels=8", "critic.hidden=32", "critic.channels=8"],
    "infogan_mnist": [],
    "infogan_plus_mnist": [],
    "infogan_glyphs": [],
}
DATA = {"idx": ["data.source=idx", f"data.path={MNIST}"],
        "synthetic": ["data.source=synthetic", "data.size=64"],
        "glyphs": ["data.size=64"]}  # the recipe's own embedded source, fewer images
SYNTHETIC_CLASSES = {"cgan_mnist": ["latent.factors[0].k=4"]}  # the synthetic blobs have 4 labels


def overrides(recipe: str, precision: str, data: str, steps: int) -> list[str]:
    """``--set`` flags of a short run of ``recipes/<recipe>.toml``: small batch, a checkpoint every 2 steps."""
    extra = SYNTHETIC_CLASSES.get(recipe, []) if data == "synthetic" else []
    return [*SMALL[recipe], *DATA[data], *extra, "run.device=cpu", "data.batch_size=8", f"train.precision={precision}",
            f"train.steps={steps}", "train.checkpoint_every=2", "train.log_every=1", "train.sample_every=1000",
            "train.keep_checkpoints=100"]


def _train(registry: Registry, recipe: str, sets: list[str], run_dir: Path, resume: bool = False) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = load_recipe(ROOT / "recipes" / f"{recipe}.toml", registry, sets)
    assert resolved.recipe.train.channels_last  # as shipped
    train(resolved, registry, run_dir, resume=resume, progress=False, say=lambda m: None)


def final_state(run_dir: Path) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """The newest checkpoint's tensors and the metrics lines without their timings."""
    found = checkpoint.load_latest(run_dir / "checkpoints")
    assert found is not None, f"{run_dir}: no checkpoint"
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return found[0], [{k: v for k, v in r.items() if k not in ("images_per_s", "time")} for r in rows]


def assert_same_run(a: Path, b: Path) -> None:
    (ta, ma), (tb, mb) = final_state(a), final_state(b)
    assert ta.keys() == tb.keys()
    differ = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not differ, f"{len(differ)} tensors differ, e.g. {differ[:4]}"
    assert ma == mb


def check_resume(tmp_path: Path, recipe: str, precision: str, data: str, stop_at: int = 2, steps: int = 4) -> None:
    registry = load_registry()
    _train(registry, recipe, overrides(recipe, precision, data, steps), tmp_path / "straight")
    _train(registry, recipe, overrides(recipe, precision, data, stop_at), tmp_path / "resumed")
    _train(registry, recipe, overrides(recipe, precision, data, steps), tmp_path / "resumed", resume=True)
    assert_same_run(tmp_path / "straight", tmp_path / "resumed")


@pytest.mark.parametrize("precision", ["auto", "fp32"])
@pytest.mark.parametrize("data", ["synthetic", pytest.param("idx", marks=needs_mnist)])
def test_dcgan_resume_is_exact(tmp_path: Path, precision: str, data: str) -> None:
    """vanilla_mnist: DCGAN conv / batch-norm networks, channels-last, the MI regularizer's Q head."""
    check_resume(tmp_path, "vanilla_mnist", precision, data)


@pytest.mark.slow
@needs_mnist
@pytest.mark.parametrize(("recipe", "precision"), [
    *[(r, p) for r in ("cgan_mnist", "wgan_gp_mnist") for p in ("auto", "fp32")],
    ("infogan_mnist", "auto"), ("infogan_plus_mnist", "fp32"),  # full-size networks (~10 s each): one precision each
])
def test_shipped_networks_resume_is_exact(tmp_path: Path, recipe: str, precision: str) -> None:
    """The other shipped MNIST recipes' networks, regularizers and objectives, on the idx files."""
    check_resume(tmp_path, recipe, precision, "idx")


@pytest.mark.slow
def test_first_run_recipe_resume_is_exact(tmp_path: Path) -> None:
    """The README's first run (InfoGAN plus, shear augmentation, four codes) on the embedded glyphs, as shipped."""
    check_resume(tmp_path, "infogan_glyphs", "auto", "glyphs")


@pytest.mark.parametrize("precision", ["auto", "fp32"])
def test_conditional_resume_is_exact_on_synthetic_data(tmp_path: Path, precision: str) -> None:
    check_resume(tmp_path, "cgan_mnist", precision, "synthetic")


def check_average_changes_nothing(tmp_path: Path, recipe: str, data: str) -> None:
    """The recipe trained with a moving average of G and without one: every other tensor and metric equal."""
    registry, sets = load_registry(), overrides(recipe, "auto", data, 4)
    _train(registry, recipe, [*sets, "train.ema.half_life_kimg=0.05"], tmp_path / "averaged")
    _train(registry, recipe, [*sets, "train.ema.half_life_kimg=0"], tmp_path / "plain")
    (ta, ma), (tb, mb) = final_state(tmp_path / "averaged"), final_state(tmp_path / "plain")
    assert any(k.startswith(PREFIX + ".") for k in ta) and not any(k.startswith(PREFIX + ".") for k in tb)
    ta = {k: v for k, v in ta.items() if not k.startswith(PREFIX + ".")}
    assert ta.keys() == tb.keys()
    differ = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not differ, f"{len(differ)} tensors differ, e.g. {differ[:4]}"
    assert ma == mb


def test_moving_average_leaves_dcgan_training_unchanged(tmp_path: Path) -> None:
    """vanilla_mnist's DCGAN conv / batch-norm networks, channels-last, precision 'auto'."""
    check_average_changes_nothing(tmp_path, "vanilla_mnist", "synthetic")


@pytest.mark.slow
def test_moving_average_leaves_the_first_run_unchanged(tmp_path: Path) -> None:
    """The README's first run as shipped (InfoGAN's networks, the plus regularizer), which keeps the average."""
    check_average_changes_nothing(tmp_path, "infogan_glyphs", "glyphs")


def _cli(recipe: str, sets: list[str], out: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "ganforge", "run", str(ROOT / "recipes" / f"{recipe}.toml"),
            *[a for s in sets for a in ("--set", s)], "--out", str(out), "--no-progress"]
    return subprocess.Popen(argv, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
@needs_mnist
def test_sigkill_then_resume_of_a_shipped_recipe_equals_uninterrupted(tmp_path: Path) -> None:
    """What a user does: ``kill -9`` a run of vanilla_mnist after a checkpoint, ``ganforge run --resume``
    (the uninterrupted run trains in this process: equal across processes too)."""
    sets = overrides("vanilla_mnist", "auto", "idx", 20)
    _train(load_registry(), "vanilla_mnist", sets, tmp_path / "a")
    run_dir = kill_after_checkpoints(_cli("vanilla_mnist", sets, tmp_path / "b"), tmp_path / "b", 3)
    resumed = subprocess.run([sys.executable, "-m", "ganforge", "run", "--resume", str(run_dir), "--no-progress"],
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming from step" in resumed.stdout + resumed.stderr
    assert_same_run(tmp_path / "a", run_dir)


def test_measuring_bf16_speed_draws_nothing_from_the_global_rng() -> None:
    """precision 'auto' measures bf16 once per process; it must not move the run's random stream (a run
    would then draw other numbers than the same run started second in a process)."""
    from ganforge.model.devices import bf16_gemm_speedup

    torch.manual_seed(0)
    before = torch.get_rng_state()
    bf16_gemm_speedup.__wrapped__()  # type: ignore[attr-defined]
    assert torch.equal(torch.get_rng_state(), before)
