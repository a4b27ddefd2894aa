"""benchmarks/shapes_generator.py: the plain recipe it derives validates, and its refusals of bad arguments."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "shapes_generator.py"
SHAPES_RECIPE = BENCH.parents[1] / "recipes" / "infogan_shapes.toml"


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("shapes_generator")


def _validate(recipe: dict, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "plain.toml"
    path.write_text(tomli_w.dumps(recipe))
    return subprocess.run([sys.executable, "-m", "ganforge", "validate", str(path)], capture_output=True, text=True)


def test_the_plain_recipe_keeps_data_and_networks_and_drops_every_regularizer(bench, tmp_path: Path) -> None:
    base = tomllib.loads(SHAPES_RECIPE.read_text())
    assert base["regularizers"]  # the InfoGAN recipe has its MI regularizer ...
    plain = bench.plain_recipe(base, None, None, None)
    assert "regularizers" not in plain and plain["model"]["method"] == "vanilla"  # ... the plain GAN none
    assert plain["data"] == base["data"] and plain["latent"] == base["latent"]
    assert plain["generator"] == base["generator"] and plain["critic"] == base["critic"]
    assert base["model"]["method"] == "infogan"  # the loaded recipe is not changed in place
    proc = _validate(plain, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "method vanilla" in proc.stdout and "generator spatial_broadcast, critic mlp" in proc.stdout


def test_networks_are_swapped_for_their_defaults_and_r1_added(bench, tmp_path: Path) -> None:
    plain = bench.plain_recipe(tomllib.loads(SHAPES_RECIPE.read_text()), "dcgan", "dcgan", 10.0)
    assert plain["generator"] == {"kind": "dcgan"} and plain["critic"] == {"kind": "dcgan"}
    assert plain["regularizers"] == [{"kind": "r1", "gamma": 10.0}]
    proc = _validate(plain, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "generator dcgan, critic dcgan" in proc.stdout


@pytest.mark.parametrize(("args", "message"), [(["--jobs", "0"], "--jobs must be at least 1"),
                                               (["--steps", "0"], "--steps must be positive"),
                                               (["--recipe", "no-such.toml"], "--recipe no-such.toml")])
def test_bad_arguments_are_refused_in_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(BENCH), *args, "--out", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "plain.toml").exists()  # refused before anything was written


@pytest.mark.slow
def test_a_tiny_run_is_evaluated_at_each_listed_step(tmp_path: Path) -> None:
    """End to end on 600 shapes: one run to 50 steps, evaluated at 20 and 50 (not multiples of each other)."""
    proc = subprocess.run([sys.executable, str(BENCH), "--steps", "20", "50", "--out", str(tmp_path), "--",
                           "--set", "data.size=600"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| 0 |")]
    assert [row.split("|")[2].strip() for row in rows] == ["20", "50"]
    assert (tmp_path / "seed-0" / "eval-20.json").exists() and (tmp_path / "seed-0" / "eval-50.json").exists()
    shares = [float(x) for x in rows[-1].split("|")[3:6]]  # square / ellipse / heart shares
    assert sum(shares) == pytest.approx(1.0, abs=2e-3)


def test_a_finished_run_is_reused_only_for_the_same_recipe_and_command(bench, tmp_path: Path, monkeypatch) -> None:
    """Another --set (or --generator, --steps) into the same --out retrains instead of reading back another GAN."""
    trained: list[list[str]] = []

    def fake_run(cmd: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        trained.append(cmd)
        made = Path(cmd[cmd.index("--out") + 1]) / "run"
        made.mkdir(parents=True)
        return subprocess.CompletedProcess(cmd, 0, stdout=f"run directory: {made}\n")

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    recipe = tmp_path / "plain.toml"
    recipe.write_text('[run]\nname = "a"\n')
    bench.train(recipe, 0, [20, 50], tmp_path, [], fresh=False)
    bench.train(recipe, 0, [20, 50], tmp_path, [], fresh=False)
    assert len(trained) == 1  # the same recipe and command: reused
    bench.train(recipe, 0, [20, 50], tmp_path, ["--set", "data.size=700"], fresh=False)
    assert len(trained) == 2  # another override: retrained
    recipe.write_text('[run]\nname = "b"\n')
    bench.train(recipe, 0, [20, 50], tmp_path, ["--set", "data.size=700"], fresh=False)
    assert len(trained) == 3  # another recipe under the same file name: retrained
    assert "train.checkpoint_every=10" in trained[0]  # gcd(20, 50): both steps get a checkpoint
