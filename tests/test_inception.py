"""The ``inception`` metric: on RGB data only, a one-line "not computed" naming where the weights go when they
are missing, a refusal of a file that is not the standard one, and FID / KID on the domain FID's images with a
stand-in weights file (random weights: the real file cannot be fetched here)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import tomli_w
import torch
from typer.testing import CliRunner

import ganforge.inception as inc
from ganforge.cli import app
from ganforge.errors import CheckpointError
from ganforge.testing import tiny_recipe

runner = CliRunner()


def _run(tmp: Path, channels: int) -> Path:
    """A vanilla GAN trained 4 steps on 16 synthetic 8×8 images of ``channels`` channels."""
    raw = tiny_recipe("vanilla", data={"size": 16, "channels": channels},
                      generator={"kind": "mlp", "hidden": 16, "layers": 1}, critic={"kind": "mlp", "hidden": 16, "layers": 1})
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "r.toml").write_text(tomli_w.dumps(raw))
    result = runner.invoke(app, ["run", str(tmp / "r.toml"), "--out", str(tmp / "runs"), "--no-progress"])
    assert result.exit_code == 0, result.output
    return next((tmp / "runs").iterdir())


@pytest.fixture
def caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty ganforge and torch hub caches (a weights file elsewhere on this machine must not be found)."""
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "cache"


def _not_applicable(run_dir: Path) -> dict[str, str]:
    result = runner.invoke(app, ["eval", str(run_dir), "--json", "--metric", "inception"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output[result.output.index("{"):])["not_applicable"]


def test_gray_data_is_not_inceptions_and_missing_weights_say_where_to_put_them(tmp_path: Path, caches: Path) -> None:
    pytest.importorskip("torch_fidelity")
    assert _not_applicable(_run(tmp_path / "gray", 1)) == {"inception": "needs RGB images"}
    why = _not_applicable(_run(tmp_path / "rgb", 3))["inception"]
    assert why == (f"needs RGB images and needs Inception-v3's FID weights: put {inc.WEIGHTS_FILE} (torch-fidelity's, "
                   f"which torchmetrics' FID downloads) in {caches / 'inception'}/; nothing is downloaded at run time")


def _stand_in_weights(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A randomly initialised Inception-v3 saved under the standard name, its hash prefix made the expected one."""
    from torch_fidelity import feature_extractor_inceptionv3 as fe

    with monkeypatch.context() as patch:  # build the network without any weights file
        patch.setattr(fe, "load_state_dict_from_url", lambda *a, **k: {})
        patch.setattr(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
        torch.manual_seed(0)
        state = fe.FeatureExtractorInceptionV3("stand-in", ["2048"]).state_dict()
    folder.mkdir(parents=True)
    path = folder / inc.WEIGHTS_FILE
    torch.save(state, path)
    monkeypatch.setattr(inc, "WEIGHTS_SHA256_PREFIX", hashlib.sha256(path.read_bytes()).hexdigest()[:8])
    return path


def test_a_file_that_is_not_the_standard_one_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / inc.WEIGHTS_FILE
    path.write_bytes(b"not weights")
    with pytest.raises(CheckpointError, match=r"not the standard Inception weights \(its SHA-256 does not start"):
        inc.load_inception(path)


@pytest.mark.slow
def test_inception_fid_and_kid_on_the_domain_fids_images(
        tmp_path: Path, caches: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch_fidelity")
    _stand_in_weights(caches / "inception", monkeypatch)
    run_dir = _run(tmp_path, 3)
    result = runner.invoke(app, ["eval", str(run_dir), "--json", "--metric", "inception", "--metric", "domain_fid"])
    assert result.exit_code == 0, result.output
    results = json.loads(result.output[result.output.index("{"):])["results"]
    inception = results["inception"]
    assert [h["label"] for h in inception["headlines"]] == ["Inception FID", "Inception KID"]
    assert inception["details"]["samples"] == 16 and inception["details"]["fid"] > 0
    assert inception["headlines"][1]["std"] == inception["details"]["kid_std"]
    assert inception["details"]["weights"] == str(caches / "inception" / inc.WEIGHTS_FILE)
