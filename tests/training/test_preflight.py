"""``ganforge validate`` answers "would ``ganforge run`` start?": for every bad input both give the same
one-line error and exit code (issue 40), and what both accept, both accept.

Each case is a recipe (``recipes/vanilla_mnist.toml`` with tiny networks on idx files written here) plus
``--set`` overrides; both commands run in this process through Typer's test runner.
"""

from __future__ import annotations

import gzip
import os
import struct
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ganforge.training import preflight
from ganforge.cli.app import app
from ganforge.registry import load_registry
from ganforge.runs.directory import new_run_dir

ROOT = Path(__file__).resolve().parents[2]
RECIPE = str(ROOT / "recipes" / "vanilla_mnist.toml")
RNG = np.random.default_rng(0)


def idx(array: np.ndarray, code: int = 0x08) -> bytes:
    """An idx file: magic (0, 0, dtype code, ndim), big-endian dimensions, the data."""
    return bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def images(n: int = 32, *shape: int) -> bytes:
    return idx(RNG.integers(0, 256, (n, *(shape or (28, 28))), dtype=np.uint8))


def labels(n: int = 32) -> bytes:
    return idx((np.arange(n) % 10).astype(np.uint8))


def folder(root: Path, name: str, files: dict[str, bytes]) -> Path:
    path = root / name
    path.mkdir()
    for file, content in files.items():
        (path / file).write_bytes(content)
    return path


IMG, LAB = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def data(files: dict[str, bytes]) -> Callable[[Path], list[str]]:
    """A case whose data folder holds ``files``."""
    return lambda root: [f"data.path={folder(root, 'data', files)}"]


def good(*extra: str) -> Callable[[Path], list[str]]:
    """A case on good data with ``extra`` overrides."""
    return lambda root: [f"data.path={folder(root, 'data', {IMG: images(), LAB: labels()})}", *extra]


def images_pattern_is_a_directory(root: Path) -> list[str]:
    path = folder(root, "data", {LAB: labels()})
    (path / "sub-images-idx3-ubyte").mkdir()
    return [f"data.path={path}"]


def run_out_is_a_file(root: Path) -> list[str]:
    (root / "a-file").write_text("x")
    return [*good()(root), f"run.out={root / 'a-file'}"]


#: name -> (the case's overrides, given a fresh folder; exit code; what the error line must contain)
CASES: dict[str, tuple[Callable[[Path], list[str]], int, str]] = {
    "empty data folder": (data({}), 4, "no image file matching"),
    "garbage image file": (data({IMG: os.urandom(300), LAB: labels()}), 4, f"{IMG}: not an idx file"),
    "truncated gzip": (data({IMG + ".gz": gzip.compress(images())[:200], LAB: labels()}), 4, f"{IMG}.gz: cannot read"),
    "truncated idx": (data({IMG: images()[:1000], LAB: labels()}), 4, f"{IMG}: expected"),
    "label and image counts differ": (data({IMG: images(32), LAB: labels(20)}), 4, "labels do not match 32 images"),
    "7x7 images": (data({IMG: images(32, 7, 7), LAB: labels()}), 3, "got 7×7"),
    "0 images": (data({IMG: idx(np.zeros((0, 28, 28), np.uint8)), LAB: idx(np.zeros(0, np.uint8))}), 4, "0 images, fewer than one batch"),
    "float images": (data({IMG: idx(RNG.random((32, 28, 28)).astype(">f4"), 0x0D), LAB: labels()}), 4, "images must be uint8"),
    "RGB images stored (N, H, W, 3)": (data({IMG: images(32, 28, 28, 3), LAB: labels()}), 3, "got 28×3"),
    "two files match the pattern": (data({IMG: images(), "u-images-idx3-ubyte": images(), LAB: labels()}), 4, "several image files match"),
    "negative labels": (data({IMG: images(), LAB: idx((np.arange(32) % 10 - 1).astype(np.int8), 0x09)}), 4, "non-negative integers"),
    "images pattern matches a directory": (images_pattern_is_a_directory, 4, "no image file matching"),
    "empty images pattern": (good("data.images=''"), 4, "bad image file pattern ''"),
    "data.limit below the batch size": (good("data.limit=4"), 4, "4 images, fewer than one batch of 8"),
    "run.out is a file": (run_out_is_a_file, 1, "run.out: "),
    "data.batch_size = 10**12": (good("data.batch_size=1000000000000"), 2, "data.batch_size: "),
    "categorical k = 10**9": (good("latent.factors[0].k=1000000000"), 2, "latent.factors[0].k: "),
    "a width past its bound": (good("critic.width=100000"), 2, "critic.width: "),
    "run.deterministic = 'yes'": (good("run.deterministic='yes'"), 2, "run.deterministic: Input should be a valid boolean"),
    "a plugin's boolean as a string": (good("regularizers[0].trunk_gradient='true'"), 2, "regularizers[0].trunk_gradient: "),
    "--set nested too deeply": (good("train.steps=" + "[" * 2000 + "]" * 2000), 2, "--set: train.steps: not a usable value"),
    "--set with too many digits": (good("train.steps=" + "9" * 5000), 2, "--set: train.steps: not a usable value"),
    "good data": (good(), 0, ""),
    "RGB images (N, 3, H, W): the networks take the data's channels": (data({IMG: images(32, 3, 28, 28), LAB: labels()}), 0, ""),
}
BASE = ["data.source=idx", "generator.width=8", "generator.hidden=0", "critic.width=8", "data.batch_size=8", "train.steps=1",
        "train.sample_every=1000", "run.device=cpu", "train.precision=fp32"]


def invoke(command: str, sets: list[str]) -> tuple[int, str]:
    """Exit code and output of ``ganforge COMMAND RECIPE --set …`` in this process."""
    args = [a for s in sets for a in ("--set", s)]
    result = CliRunner().invoke(app, [command, RECIPE, *args, *(["--no-progress"] if command == "run" else [])])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


@pytest.mark.parametrize("case", list(CASES))
def test_validate_and_run_agree(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make, code, fragment = CASES[case]
    monkeypatch.chdir(tmp_path)  # run.out = "runs" lands here
    sets = [*BASE, *make(tmp_path)]
    checked, checked_out = invoke("validate", sets)
    ran, ran_out = invoke("run", sets)
    assert (checked, ran) == (code, code), (checked_out, ran_out)
    if code:
        errors = [line for line in checked_out.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and fragment in errors[0], checked_out
        assert "Traceback" not in checked_out + ran_out
        assert errors[0] in ran_out.splitlines(), (checked_out, ran_out)  # the very line `run` prints
        assert not any((tmp_path / "runs").glob("*"))  # a failed start leaves no run directory behind
    else:
        assert ": OK" in checked_out


def test_networks_too_large_for_the_memory_are_refused_by_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounds on each key do not bound their product: the meta-device build sizes the networks first."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(preflight, "physical_memory", lambda: 1 << 20)  # 1 MiB
    sets = [*BASE, *good()(tmp_path)]
    (checked, checked_out), (ran, ran_out) = invoke("validate", sets), invoke("run", sets)
    assert checked == ran == 1
    assert "more than this machine's 0.000977 GiB" in checked_out and "the largest, regularizers." in checked_out
    assert checked_out.strip().splitlines()[-1] in ran_out


def test_every_boolean_option_is_strict() -> None:
    """A string for any boolean of the recipe or of a registered plugin's options is an error at that key."""
    from ganforge.recipe.model import Recipe

    models = {Recipe, *(m for m in _submodels(Recipe))}
    registry = load_registry()
    models |= {entry.options for kind in registry.entries.values() for entry in kind.values()}
    lax = []
    for model in models:
        for name, field in model.model_fields.items():
            if "bool" in str(field.annotation):
                try:
                    model.model_validate({name: "true"})
                except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError
                    if any(e["loc"][:1] == (name,) for e in exc.errors()):  # type: ignore[attr-defined]
                        continue
                lax.append(f"{model.__name__}.{name}")
    assert not lax


def _submodels(model: type) -> list[type]:
    from pydantic import BaseModel

    found = []
    for field in model.model_fields.values():  # type: ignore[attr-defined]
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            found += [sub, *_submodels(sub)]
    return found


def test_runs_started_at_the_same_moment_get_different_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setattr(time, "strftime", lambda fmt: "20261207-000000")  # every start in the same second
    start, made, failed = threading.Barrier(8), [], []

    def one() -> None:
        start.wait()
        try:
            made.append(new_run_dir("same", tmp_path / "out"))
        except OSError as exc:
            failed.append(exc)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failed and len(set(made)) == 8 and all(p.is_dir() for p in made)
