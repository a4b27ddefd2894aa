"""Inception FID / KID for RGB data: where the weights are looked for and the one-line errors without them or
without torch-fidelity, when the metrics apply, the plumbing from images to numbers (with a small stand-in network,
so no weights are needed), and a weights file that is not plain tensors refused before any of its code runs."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
import tomli_w
import torch
from typer.testing import CliRunner

from ganforge.cli.app import app
from ganforge.data.pixels import to_unit
from ganforge.errors import CheckpointError, GanforgeError
from ganforge.evaluation import inception
from ganforge.evaluation.run import evaluate
from ganforge.evaluation.sample_quality import real_indices
from ganforge.registry import Registry
from ganforge.testing import tiny_recipe

runner = CliRunner()
NAMES = ["inception_fid", "inception_kid"]


def _trained(tmp: Path, channels: int) -> Path:
    """A vanilla GAN trained 4 steps on 256 labelled synthetic 8×8 images with ``channels`` channels."""
    mlp = {"kind": "mlp", "hidden": 32, "layers": 1}
    raw = tiny_recipe("vanilla", data={"size": 256, "channels": channels}, generator=mlp, critic=mlp)
    (tmp / "r.toml").write_text(tomli_w.dumps(raw))
    result = runner.invoke(app, ["run", str(tmp / "r.toml"), "--out", str(tmp / "runs"), "--no-progress"])
    assert result.exit_code == 0, result.output
    return next((tmp / "runs").iterdir())


@pytest.fixture(scope="module")
def rgb_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _trained(tmp_path_factory.mktemp("rgb"), channels=3)


@pytest.fixture
def no_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No weights file where ganforge looks (an XDG cache folder of this test's own), whatever this machine has."""
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    monkeypatch.delenv("GANFORGE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "ganforge" / inception.WEIGHTS_NAME


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def test_missing_weights_is_one_line_naming_the_path_the_variable_and_the_url(rgb_run: Path, no_weights: Path) -> None:
    result = runner.invoke(app, ["eval", str(rgb_run), "--metric", "inception_fid"])
    assert result.exit_code == 1, result.output
    lines = _errors(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert str(no_weights) in lines[0] and inception.WEIGHTS_ENV in lines[0] and inception.WEIGHTS_URL in lines[0]
    assert "Traceback" not in result.output


def test_the_variable_names_the_file(rgb_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(tmp_path / "elsewhere.pth"))
    result = runner.invoke(app, ["eval", str(rgb_run), "--metric", "inception_kid"])
    assert result.exit_code == 1 and f"weights at {tmp_path / 'elsewhere.pth'} " in result.stderr, result.output


def test_without_torch_fidelity_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("torch_fidelity", "torch_fidelity.feature_extractor_inceptionv3"):
        monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    with pytest.raises(GanforgeError) as caught:
        inception.extractor()
    assert str(caught.value).count("\n") == 0 and 'pip install "ganforge[inception]"' in str(caught.value)


def _run(channels: int, named: tuple[str, ...] = ()) -> Any:
    return SimpleNamespace(data=SimpleNamespace(images=torch.zeros(4, channels, 8, 8, dtype=torch.uint8)),
                           named=frozenset(named))


@pytest.mark.parametrize("metric", [inception.InceptionFID(), inception.InceptionKID()], ids=NAMES)
def test_applies_to_rgb_data_only_and_without_weights_only_when_asked_for(
        metric: Any, no_weights: Path) -> None:
    assert not metric.applies(_run(1)) and not metric.applies(_run(1, (metric.name,)))  # gray: never
    assert metric.applies(_run(3, (metric.name,)))  # RGB and asked for: computed, or an error saying what is missing
    assert not metric.applies(_run(3))  # a plain eval without the weights leaves it out
    no_weights.parent.mkdir(parents=True)
    no_weights.write_bytes(b"x")
    assert metric.applies(_run(3))  # the weights in place: a plain eval computes it


def test_a_plain_eval_of_rgb_data_without_the_weights_leaves_them_out_and_computes_the_rest(
        rgb_run: Path, no_weights: Path, registry: Registry) -> None:
    plain = evaluate(rgb_run, registry)  # every metric, as `eval` and `compare` do
    assert set(NAMES) <= set(plain.not_applicable) and "domain_fid" in plain.results
    assert plain.not_applicable["inception_fid"] == inception.InceptionFID.requires


def test_asked_for_on_gray_data_it_is_one_line_saying_it_needs_rgb(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", str(_trained(tmp_path, channels=1)), "--metric", "inception_fid"],
                           env={"COLUMNS": "300"})
    said = [line for line in result.output.splitlines() if "inception_fid" in line]
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert said == [f"not computed: inception_fid ({inception.InceptionFID.requires})"], result.output


class StandIn(torch.nn.Module):
    """A tiny feature network in Inception's place: 2×2-pooled pixels, after checking it is given what
    Inception is given (uint8 RGB images)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.dtype == torch.uint8 and x.shape[1] == 3, (x.dtype, x.shape)
        return torch.nn.functional.avg_pool2d(x.float(), 2).flatten(1)  # (B, 3·H/2·W/2)


def _as_generated(images: torch.Tensor, batch: int = 100) -> Iterator[tuple[torch.Tensor, None, dict[str, Any]]]:
    """``images`` (uint8) as ``generated_batches`` yields a generator's: floats in [-1, 1], in batches."""
    for start in range(0, len(images), batch):
        yield to_unit(images[start : start + batch]), None, {}


def _numbers(rgb_run: Path, registry: Registry) -> dict[str, dict[str, Any]]:
    got = evaluate(rgb_run, registry, only=NAMES)
    return {name: got.results[name].details for name in NAMES}


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(inception, "extractor", StandIn)


def test_identical_image_sets_give_zero_and_different_ones_a_large_distance(
        rgb_run: Path, stand_in: None, registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    """The "generated" images are the metrics' own real subset, then its negatives: FID and KID about 0, then
    far above the real images' halves; every image reaches the network as uint8 RGB (StandIn checks)."""
    monkeypatch.setattr(inception, "generated_batches",
                        lambda run, n: _as_generated(run.data.images[real_indices(run)][:n]))
    same = _numbers(rgb_run, registry)
    monkeypatch.setattr(inception, "generated_batches",
                        lambda run, n: _as_generated(255 - run.data.images[real_indices(run)][:n]))
    different = _numbers(rgb_run, registry)
    fid_same, fid_different = same["inception_fid"], different["inception_fid"]
    assert fid_same["samples"] == fid_different["samples"] == 256
    assert abs(fid_same["fid"]) < 1e-6 * fid_different["fid"]
    assert fid_different["fid"] > 10 * fid_different["real_vs_real"] > 0
    kid_same, kid_different = same["inception_kid"], different["inception_kid"]
    assert abs(kid_same["kid"]) < 3 * kid_same["std"] and kid_different["kid"] > 100 * abs(kid_same["kid"])
    assert kid_different["kid"] > 10 * kid_different["std"]


def test_the_runs_own_generator_feeds_the_network(rgb_run: Path, stand_in: None, registry: Registry) -> None:
    got = evaluate(rgb_run, registry, only=NAMES)
    heads = {h.label: h for result in got.results.values() for h in result.headlines}
    assert set(heads) == {"Inception FID", "Inception KID"} and heads["Inception KID"].std is not None
    assert got.results["inception_fid"].details["samples"] == 256 and got.results["inception_fid"].score > 0
    assert "Inception FID, real vs real halves" in got.results["inception_fid"].context


class Payload:
    """Unpickling this object creates ``marker``: proof that a loader ran code from the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return open, (str(self.marker), "w")


def test_the_loader_reads_tensors_and_refuses_a_pickled_object_without_running_it(tmp_path: Path) -> None:
    plain, evil, marker = tmp_path / "plain.pth", tmp_path / "evil.pth", tmp_path / "ran"
    torch.save({"w": torch.ones(2)}, plain)
    assert torch.equal(inception.load_state(plain)["w"], torch.ones(2))
    torch.save({"w": torch.ones(2), "x": Payload(marker)}, evil)
    with pytest.raises(CheckpointError, match="refused, not a file of plain tensors") as caught:
        inception.load_state(evil)
    assert str(evil) in str(caught.value) and "\n" not in str(caught.value) and not marker.exists()


def test_building_the_network_never_hands_the_file_to_an_unrestricted_loader(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the checksum (patched away here), a file with a pickled object stops at ganforge's restricted load;
    had it reached torch-fidelity's ``torch.load(weights_only=False)``, the object would have run."""
    evil, marker = tmp_path / "w.pth", tmp_path / "ran"
    torch.save({"x": Payload(marker)}, evil)
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(evil))
    monkeypatch.setattr(inception, "WEIGHTS_SHA256", hashlib.sha256(evil.read_bytes()).hexdigest()[:8])
    with pytest.raises(CheckpointError, match="refused"):
        inception.extractor()
    assert not marker.exists()


def test_a_file_with_another_checksum_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / inception.WEIGHTS_NAME
    torch.save({"w": torch.ones(2)}, other)
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(other))
    with pytest.raises(CheckpointError, match="not the standard FID Inception weights"):
        inception.extractor()


@pytest.mark.slow
def test_torch_fidelitys_network_takes_the_tensors_ganforge_loaded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With randomly initialised weights saved as a stand-in file: the network ganforge builds gives torch-fidelity's
    own features for those weights (its TensorFlow-1 resize, no antialiasing), and downloads nothing."""
    import torch_fidelity.feature_extractor_inceptionv3 as port

    def no_download(*_: Any, **__: Any) -> Any:
        raise AssertionError("a download was attempted")

    with mock.patch.object(port.FeatureExtractorInceptionV3, "load_state_dict"), \
            mock.patch.object(port, "load_state_dict_from_url", lambda *_, **__: {}):
        reference = port.FeatureExtractorInceptionV3("reference", ["2048"]).eval()  # random weights
    path = tmp_path / inception.WEIGHTS_NAME
    torch.save(reference.state_dict(), path)
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(path))
    monkeypatch.setattr(inception, "WEIGHTS_SHA256", hashlib.sha256(path.read_bytes()).hexdigest()[:8])
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    net = inception.extractor()
    images = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.equal(net(images), reference(images)[0])
