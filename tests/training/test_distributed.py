"""Data-parallel training (torchrun, gloo on CPU): one run directory, the same weights as one process, resume across world sizes."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import torch
from typer.testing import CliRunner

from ganforge.runs import checkpoint
from ganforge.cli.app import app
from ganforge.data.stream import BatchStream
from ganforge.training.distributed import World, sync_batch_norm
from ganforge.training.loop import train
from ganforge.errors import GanforgeError
from ganforge.interfaces import ImageData
from ganforge.latent import LatentSpec
from ganforge.recipe.model import resolve
from ganforge.testing import make_registry, tiny_recipe

WORKER = Path(__file__).with_name("distributed_worker.py")
# Two processes sum each batch's gradients in a different order than one process does (two partial
# means, then an all-reduce), so float32 rounding differs (observed max |diff| after 6 Adam steps: see
# docs/distributed.md); the tolerance is far below any real difference (a different seed moves weights by ~1e-3).
ATOL, RTOL = 1e-5, 1e-4


def _recipe(**train: Any) -> dict[str, Any]:
    return tiny_recipe(train={"steps": 6, "log_every": 3, "sample_every": 6, "checkpoint_every": 3, **train})


def _single(raw: dict[str, Any], run_dir: Path, resume: bool = False) -> None:
    registry = make_registry()
    run_dir.mkdir(parents=True, exist_ok=True)
    train(resolve(raw, registry), registry, run_dir, resume=resume, progress=False, say=lambda m: None)


def _torchrun(*args: str) -> str:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", str(WORKER), "run", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    tensors, meta = checkpoint.load_latest(run_dir / "checkpoints")  # type: ignore[misc]
    assert meta["step"] == 6
    return {k: v for k, v in tensors.items() if not k.startswith(("rng.", "acc."))}


def _assert_close(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], atol=ATOL, rtol=RTOL, msg=lambda m, k=k: f"{k}: {m}")
    ma, mb = ([json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()] for d in (a, b))
    assert [m["step"] for m in ma] == [m["step"] for m in mb] == [3, 6]
    for x, y in zip(ma, mb, strict=True):
        assert x.keys() == y.keys()
        assert all(abs(x[k] - y[k]) <= ATOL + RTOL * abs(y[k]) for k in x if k not in ("images_per_s", "time")), (x, y)


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The single-process reference: 6 steps, checkpoints at 3 and 6."""
    run_dir = tmp_path_factory.mktemp("straight") / "run"
    _single(_recipe(), run_dir)
    return run_dir


# --- fast ----------------------------------------------------------------------------------------------
def test_world_size_must_divide_the_global_batch() -> None:
    assert World(1, 2).rows(16) == slice(8, 16)
    with pytest.raises(GanforgeError, match="data.batch_size = 16 does not split evenly over 3 processes"):
        World(0, 3).local_batch(16)


def test_nproc_checks_the_batch_before_launching(tmp_path: Path) -> None:
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(tomli_w.dumps(tiny_recipe("vanilla", generator={"kind": "mlp"}, critic={"kind": "mlp"})))
    result = CliRunner().invoke(app, ["run", str(recipe), "--nproc", "3", "--out", str(tmp_path / "runs")])
    assert result.exit_code != 0 and "multiple of 3" in result.output
    assert not (tmp_path / "runs").exists()


def test_sync_batch_norm_on_cpu_is_a_clear_error(tmp_path: Path) -> None:
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(tomli_w.dumps(tiny_recipe("vanilla", generator={"kind": "mlp"}, critic={"kind": "mlp"}, train={"sync_batch_norm": True})))
    result = CliRunner().invoke(app, ["run", str(recipe), "--out", str(tmp_path / "runs"), "--device", "cpu"])
    assert result.exit_code != 0
    assert "train.sync_batch_norm needs CUDA" in result.output and "Traceback" not in result.output


def test_sync_batch_norm_converts_every_layer_and_keeps_the_parameters() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Sequential(torch.nn.BatchNorm2d(2)))
    weight = net[1].weight
    sync_batch_norm({"critic": net}, torch.device("cuda"))  # conversion only: nothing runs on the device
    assert isinstance(net[1], torch.nn.SyncBatchNorm) and isinstance(net[2][0], torch.nn.SyncBatchNorm)
    assert net[1].weight is weight  # the optimizer's parameters stay the same objects
    assert set(net.state_dict()) == {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                                     "1.num_batches_tracked", "2.0.weight", "2.0.bias", "2.0.running_mean",
                                     "2.0.running_var", "2.0.num_batches_tracked"}  # checkpoints stay compatible


def test_rank_slices_make_up_the_single_process_batch() -> None:
    data = ImageData(torch.arange(70, dtype=torch.uint8).view(70, 1, 1, 1), torch.arange(70), description="ids")
    one = BatchStream(data, 16, seed=3)
    ranks = [BatchStream(data, 8, seed=3, rank=r, world_size=2) for r in range(2)]
    assert one.batches_per_epoch == ranks[0].batches_per_epoch == 4
    for _ in range(9):  # past two epoch boundaries
        expected = sorted(one.next()[1].tolist())  # type: ignore[union-attr]
        assert sorted(sum((s.next()[1].tolist() for s in ranks), [])) == expected  # type: ignore[union-attr]
    assert one.state_dict() == ranks[0].state_dict() == ranks[1].state_dict()  # positions count global batches


def test_latent_rows_are_a_slice_of_the_global_draw() -> None:
    spec = LatentSpec(noise_dim=3)
    full = spec.sample(8, torch.Generator().manual_seed(0))
    part = full.rows(World(1, 2).rows(8))
    assert torch.equal(part.noise, full.noise[4:])


# --- two processes (gloo on CPU) ----------------------------------------------------------------------
@pytest.mark.slow
def test_two_processes_equal_one_and_resume_as_one(straight: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(tomli_w.dumps(_recipe()))
    out = _torchrun(str(recipe), "--out", str(tmp_path / "runs"), "--no-progress")
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1, runs  # only rank 0 made a run directory
    assert out.count("run directory:") == 1 and out.count("finished step 6") == 1
    _assert_close(runs[0], straight)
    assert sorted(p.name for p in (runs[0] / "samples").iterdir()) == ["real.png", "step-00000006.png"]

    resumed = tmp_path / "resumed"  # 2 → 1: drop the final checkpoint, continue from step 3 in one process
    shutil.copytree(runs[0], resumed)
    for p in (resumed / "checkpoints").glob("step-00000006.*"):
        p.unlink()
    _single(_recipe(), resumed, resume=True)
    _assert_close(resumed, straight)


@pytest.mark.slow
def test_one_process_resumes_as_two(straight: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _single(_recipe(steps=3), run_dir)
    out = _torchrun("--resume", str(run_dir), "--set", "train.steps=6", "--no-progress")
    assert "finished step 6" in out
    _assert_close(run_dir, straight)


def _infogan_recipe(**train: Any) -> dict[str, Any]:
    """The InfoGAN recipe's networks (the paper's MNIST G and D, batch norm, a Q head) on 28-px synthetic data."""
    return tiny_recipe("infogan", [{"name": "c1", "kind": "categorical", "k": 3}, {"name": "c2", "kind": "uniform"}],
                       data={"image_size": 28, "size": 64, "batch_size": 16},
                       generator={"kind": "infogan_mnist"}, critic={"kind": "infogan_mnist"},
                       train={"steps": 6, "log_every": 3, "sample_every": 6, "checkpoint_every": 3, **train})


@pytest.mark.slow
def test_infogan_networks_train_under_ddp_with_equal_ranks_and_resume_across_world_sizes(tmp_path: Path) -> None:
    """DistributedDataParallel with batch norm and InfoGAN's Q head: every rank ends with bitwise the same
    parameters (gradients averaged over ranks, Q's included), and checkpoints move between world sizes.

    The weights are not compared with a 1-process run: without SyncBatchNorm (CUDA only) each process
    normalises by its own slice's statistics, a different computation from batch norm over the global
    batch (docs/distributed.md); the batch-norm-free networks above are compared to 1e-5.
    """
    recipe = tmp_path / "infogan.toml"
    recipe.write_text(tomli_w.dumps(_infogan_recipe(steps=3)))
    one = tmp_path / "one"
    _single(_infogan_recipe(steps=3), one)  # 1 process to step 3, then 2 processes to step 6
    dump = tmp_path / "dump"
    dump.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", str(WORKER), "run",
           "--resume", str(one), "--set", "train.steps=6", "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "GANFORGE_TEST_DUMP": str(dump)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "finished step 6" in done.stdout
    from safetensors.torch import load_file

    rank0, rank1 = (load_file(str(dump / f"rank-{r}.safetensors")) for r in (0, 1))
    assert any(k.startswith("regularizers.mutual_information.q.") for k in rank0)
    assert rank0.keys() == rank1.keys() and all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    tensors, meta = checkpoint.load_latest(one / "checkpoints")  # type: ignore[misc]
    assert meta["step"] == 6 and all(torch.equal(tensors[k], rank0[k]) for k in rank0)  # rank 0 wrote what it holds

    back = tmp_path / "back"  # 2 → 1: the 2-process checkpoint of step 6 continues in one process
    shutil.copytree(one, back)
    _single(_infogan_recipe(steps=8), back, resume=True)
    rows = [json.loads(x) for x in (back / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [3, 6, 8]
    assert all(math.isfinite(v) for r in rows for v in r.values())
