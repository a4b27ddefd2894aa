"""Bad input never ends in a traceback: hypothesis throws malformed TOML, wrong types, out-of-range
values, unknown keys and plugin names, bad ``--set`` overrides and broken data files at the recipe
loader, the data layer and the CLI; each ends in a GanforgeError whose message names the file or key."""

from __future__ import annotations

import copy
import gzip
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
import tomli_w
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ganforge.data.options import IdxOptions
from ganforge.cli.app import app
from ganforge.data.idx import load as load_idx
from ganforge.training.state import Trainer
from ganforge.data.load import load_data
from ganforge.errors import DataError, GanforgeError, RecipeError
from ganforge.interfaces import DataContext
from ganforge.recipe.model import apply_override, load_recipe, resolve

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SECTIONS = ["run", "data", "model", "latent", "generator", "critic", "objective", "optim", "train", "regularizers"]
KEYS = ["seed", "device", "name", "source", "batch_size", "limit", "size", "image_size", "method", "noise_dim",
        "noise_prior", "factors", "kind", "hidden", "layers", "width", "steps", "log_every", "n_critic", "precision",
        "lr", "betas", "generator", "critic", "on_nonfinite", "path", "unknown_key", "deterministic"]
TOML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(max_size=12)
    | st.sampled_from(["mlp", "dcgan", "infogan", "vanilla", "nope", "synthetic", "idx", "cpu", "rollback"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
    max_leaves=6,
)


def _expect_recipe_problem(exc: RecipeError, source: str) -> None:
    """Every line names the recipe file; every validation problem names its key path."""
    lines = str(exc).splitlines()
    assert lines and all(line.startswith(f"{source}: ") for line in lines), str(exc)
    assert all(path or not msg.startswith(("unknown key", "required key")) for path, msg in exc.problems)


@FUZZ
@given(text=st.text(max_size=200) | st.builds(lambda a, b: a + b, st.sampled_from(
    ['[run]\nseed = ', '[data]\nsource = "synthetic"\n', '[[latent.factors]]\nname = ', 'model = {method = ', '[train]\n']),
    st.text(max_size=60)))
def test_malformed_recipe_files(tmp_path_factory: pytest.TempPathFactory, registry: Any, text: str) -> None:
    path = tmp_path_factory.mktemp("r") / "fuzz.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        load_recipe(path, registry)
    except RecipeError as exc:
        _expect_recipe_problem(exc, str(path))


@FUZZ
@given(section=st.sampled_from(SECTIONS), key=st.none() | st.sampled_from(KEYS), value=TOML_VALUES)
def test_wrong_types_ranges_keys_and_plugin_names(tiny_raw: dict[str, Any], registry: Any, section: str,
                                                  key: str | None, value: Any) -> None:
    raw = copy.deepcopy(tiny_raw)
    if key is None or not isinstance(raw.get(section), dict):
        raw[section] = value if key is None else {key: value}
    else:
        raw[section][key] = value
    try:
        resolve(raw, registry, "fuzz.toml")
    except RecipeError as exc:
        _expect_recipe_problem(exc, "fuzz.toml")


@FUZZ
@given(assignment=st.text(max_size=40) | st.builds(
    lambda k, v: f"{k}={v}",
    st.sampled_from(["train.steps", "data.batch_size", "latent.factors[0].k", "latent.factors.3", "regularizers[0]",
                     ".", "[0]", "a..b", "train", "model.method.x", "critic.kind", "run", "¹.x", "train.steps[2]"]),
    st.text(max_size=12) | st.sampled_from(["1", "-1", "1e400", "nan", "[1, 2]", "{a = 1}", '"x"', "true", "0"])))
def test_set_overrides(tiny_raw: dict[str, Any], registry: Any, assignment: str) -> None:
    raw = copy.deepcopy(tiny_raw)
    try:
        apply_override(raw, assignment)
        resolve(raw, registry, "fuzz.toml")
    except RecipeError as exc:
        lines = str(exc).splitlines()
        assert lines and all(line.startswith(("--set: ", "fuzz.toml: ")) for line in lines), str(exc)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(assignments=st.lists(st.text(min_size=1, max_size=25).filter(lambda s: not s.startswith("-")), max_size=2))
def test_cli_never_shows_a_traceback(tmp_path_factory: pytest.TempPathFactory, tiny_raw: dict[str, Any],
                                     assignments: list[str]) -> None:
    path = tmp_path_factory.mktemp("cli") / "tiny.toml"
    path.write_text(tomli_w.dumps(tiny_raw))
    args = ["validate", str(path)] + [a for s in assignments for a in ("--set", s)]
    result = CliRunner().invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if result.exit_code != 0:
        assert "Traceback" not in result.output
        assert all(line.startswith(("error: ", "warning: ", "Usage:", " ", "Try", "╭", "│", "╰")) or not line
                   for line in result.output.splitlines()), result.output


# --- the data layer ------------------------------------------------------------------------------
CTX = DataContext(seed=0, cache_dir="/tmp")


def _idx_header(code: int, dims: list[int]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


IDX_FILES = st.binary(max_size=64) | st.builds(
    lambda code, dims, body: _idx_header(code, dims) + body,
    st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07]),
    st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 6), min_size=0, max_size=5),
    st.binary(max_size=400),
)


@FUZZ
@given(images=IDX_FILES, labels=st.none() | IDX_FILES, gz=st.booleans())
def test_malformed_idx_files(tmp_path_factory: pytest.TempPathFactory, images: bytes, labels: bytes | None,
                             gz: bool) -> None:
    root = tmp_path_factory.mktemp("idx")
    suffix, pack = (".gz", gzip.compress) if gz else ("", lambda b: b)
    (root / f"train-images-idx3-ubyte{suffix}").write_bytes(pack(images))
    if labels is not None:
        (root / f"train-labels-idx1-ubyte{suffix}").write_bytes(pack(labels))
    try:
        data = load_idx(IdxOptions(path=str(root)), CTX)
    except DataError as exc:
        assert str(root) in str(exc) and "\n" not in str(exc)
        return
    assert data.images.dtype == torch.uint8 and data.images.dim() == 4
    assert labels is not None and data.labels is not None and len(data.labels) == len(data.images)
    assert len(data.labels) == 0 or int(data.labels.min()) >= 0


@pytest.mark.parametrize(("options", "message"), [
    ({"images": ""}, "bad image file pattern"),
    ({"images": "/etc/*"}, "bad image file pattern"),
    ({"images": "nothing-*"}, "no image file matching"),
])
def test_bad_idx_patterns(tmp_path: Path, options: dict[str, str], message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_idx(IdxOptions(path=str(tmp_path), **options), CTX)


def test_empty_and_missing_data_directories(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no image file"):
        load_idx(IdxOptions(path=str(tmp_path)), CTX)
    with pytest.raises(ValidationError, match="data directory not found"):  # refused when the recipe is validated
        load_idx(IdxOptions(path=str(tmp_path / "missing")), CTX)


def test_negative_labels_are_refused(tmp_path: Path) -> None:
    images = np.zeros((3, 4, 4), np.uint8)
    (tmp_path / "a-images-idx3-ubyte").write_bytes(_idx_header(0x08, [3, 4, 4]) + images.tobytes())
    (tmp_path / "a-labels-idx1-ubyte").write_bytes(_idx_header(0x09, [3]) + np.array([0, -1, 2], np.int8).tobytes())
    with pytest.raises(DataError, match="non-negative integers"):
        load_idx(IdxOptions(path=str(tmp_path)), CTX)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(1, 40), batch_size=st.integers(1, 64))
def test_a_dataset_smaller_than_a_batch_is_a_data_error(tiny_raw: dict[str, Any], registry: Any, size: int,
                                                        batch_size: int) -> None:
    tiny_raw["data"].update(size=size, batch_size=batch_size)
    resolved = resolve(tiny_raw, registry)
    try:
        Trainer(resolved, load_data(resolved), torch.device("cpu"))
    except GanforgeError as exc:
        assert isinstance(exc, DataError) and f"batch of {batch_size}" in str(exc) and size < batch_size


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


BAD_NAMES = st.one_of(st.just(""), st.text(max_size=8).map(lambda s: "../" + s), st.text(max_size=8).map(lambda s: "." + s),
                      st.text(min_size=1, max_size=8).map(lambda s: s + "/x"), st.text(max_size=8).map(lambda s: s + "\x00"))
NON_FINITE = st.sampled_from([float("inf"), float("-inf"), float("nan")])
BAD_VALUES = st.one_of(
    st.tuples(st.just("optim.critic.lr"), NON_FINITE | st.floats(max_value=0.0)),
    st.tuples(st.just("optim.generator.weight_decay"), NON_FINITE | st.floats(max_value=-1e-12)),
    st.tuples(st.just("optim.generator.betas[0]"), NON_FINITE | st.floats(min_value=1.0) | st.floats(max_value=-1e-12)),
    st.tuples(st.just("optim.critic.betas[1]"), NON_FINITE | st.floats(min_value=1.0)),
    st.tuples(st.just("run.seed"), st.integers(max_value=-1) | st.integers(min_value=2**63)),
    st.tuples(st.just("run.name"), BAD_NAMES),
    st.tuples(st.just("latent.factors[0].name"), BAD_NAMES),
    st.tuples(st.just("latent.factors[0].lambda"), NON_FINITE | st.floats(max_value=-1e-12)),
    st.tuples(st.just("latent.noise_dim"), st.integers(max_value=0) | st.integers(min_value=65537)),
    st.tuples(st.just("train.steps"), st.integers(max_value=0) | st.integers(min_value=10**9 + 1)
              | st.integers(min_value=2, max_value=300).map(_nested)),
)


@FUZZ
@given(bad=BAD_VALUES)
def test_bad_values_are_rejected_not_accepted(tiny_raw: dict[str, Any], registry: Any, bad: tuple[str, Any]) -> None:
    """Each value is out of range for its key: the recipe must be refused, with a problem at that key."""
    key, value = bad
    raw = copy.deepcopy(tiny_raw)
    raw["latent"]["factors"] = [{"name": "c", "kind": "uniform"}]
    raw.setdefault("optim", {"critic": {}, "generator": {}})
    node: Any = raw
    parts = key.replace("[", ".").replace("]", "").split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {} if part != "betas" else [0.5, 0.9])
    last = parts[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    with pytest.raises(RecipeError) as err:
        resolve(raw, registry, "fuzz.toml")
    assert any(path.startswith(key) for path, _ in err.value.problems), (key, value, err.value.problems)
