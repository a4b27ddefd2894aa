"""The evaluator classifier: its cache (keyed by the data, atomic, verified) and the domain FID it enables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import ganforge.evaluation.evaluator as ev
from ganforge.data.options import SyntheticOptions
from ganforge.data.pixels import to_unit
from ganforge.data.synthetic import load as synthetic
from ganforge.errors import DataError
from ganforge.interfaces import DataContext, ImageData
from ganforge.evaluation.metrics import feature_statistics, frechet_distance
from ganforge.recipe.model import resolve
from ganforge.model.system import build_system

QUICK = ev.TrainSetup(epochs=2, batch_size=32)


@pytest.fixture(scope="module")
def blobs() -> ImageData:
    """512 synthetic blobs labelled by quadrant (4 classes)."""
    return synthetic(SyntheticOptions(size=512), DataContext(seed=0, cache_dir="."))


def _messages() -> tuple[list[str], Any]:
    said: list[str] = []
    return said, said.append


def test_trained_once_then_loaded_from_the_cache(blobs: ImageData, tmp_path: Path, monkeypatch: Any) -> None:
    said, say = _messages()
    first = ev.evaluator_for(blobs, setup=QUICK, directory=tmp_path, say=say)
    assert first.heldout_accuracy > 0.8, first.info  # quadrants of a blob are easy
    key = ev.cache_key(blobs, QUICK)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{key}.json", f"{key}.safetensors"]
    monkeypatch.setattr(ev, "train_evaluator", lambda *a, **k: pytest.fail("retrained although cached"))
    second = ev.evaluator_for(blobs, setup=QUICK, directory=tmp_path, say=say)
    x = to_unit(blobs.images[:20])
    assert torch.equal(first.embed(x)[1], second.embed(x)[1])
    assert second.heldout_accuracy == first.heldout_accuracy
    assert len([m for m in said if m.startswith("training the evaluator")]) == 1


def test_corrupt_cache_is_retrained(blobs: ImageData, tmp_path: Path) -> None:
    ev.evaluator_for(blobs, setup=QUICK, directory=tmp_path, say=lambda m: None)
    tensors = tmp_path / f"{ev.cache_key(blobs, QUICK)}.safetensors"
    tensors.write_bytes(tensors.read_bytes()[:-10])  # truncated
    said, say = _messages()
    again = ev.evaluator_for(blobs, setup=QUICK, directory=tmp_path, say=say)
    assert any("retraining the evaluator" in m and "truncated or corrupted" in m for m in said), said
    assert ev.load_evaluator(tmp_path, ev.cache_key(blobs, QUICK)).info["heldout_accuracy"] == again.heldout_accuracy


def test_cache_key_follows_images_labels_and_setup(blobs: ImageData) -> None:
    key = ev.cache_key(blobs, QUICK)
    relabelled = ImageData(blobs.images, blobs.labels.roll(1), blobs.num_classes)  # type: ignore[union-attr]
    assert ev.cache_key(relabelled, QUICK) != key
    assert ev.cache_key(ImageData(blobs.images.flip(0), blobs.labels, blobs.num_classes), QUICK) != key
    assert ev.cache_key(blobs, ev.TrainSetup(epochs=3)) != key
    assert ev.cache_key(ImageData(blobs.images.clone(), blobs.labels.clone(), 4), QUICK) == key


def test_unlabelled_data_is_refused(blobs: ImageData, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="needs labelled images"):
        ev.evaluator_for(ImageData(blobs.images), directory=tmp_path)


def test_training_leaves_the_callers_random_state_alone(blobs: ImageData) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ev.train_evaluator(ImageData(blobs.images[:128], blobs.labels[:128], 4), ev.TrainSetup(epochs=1, batch_size=32))  # type: ignore[index]
    assert torch.equal(torch.rand(3), expected)


def test_domain_fid_real_halves_far_below_an_untrained_generator(
        blobs: ImageData, tmp_path: Path, tiny_raw: dict[str, Any], registry: Any) -> None:
    evaluator = ev.evaluator_for(blobs, setup=QUICK, directory=tmp_path, say=lambda m: None)
    real, _ = evaluator.embed(to_unit(blobs.images))
    torch.manual_seed(0)
    generator = build_system(resolve(tiny_raw, registry), blobs.image_shape, 4).generator.eval()
    with torch.no_grad():
        fake, _ = evaluator.embed(generator(torch.randn(256, generator.net[0].in_features)))
    halves = frechet_distance(*feature_statistics(real[:256]), *feature_statistics(real[256:]))
    untrained = frechet_distance(*feature_statistics(real[:256]), *feature_statistics(fake))
    assert 0 <= halves < untrained / 10, (halves, untrained)


def test_the_cache_is_ganforge_cache_else_under_xdg_cache_home_else_home(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "own"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ev.cache_root() == tmp_path / "own"
    monkeypatch.delenv("GANFORGE_CACHE")
    assert ev.cache_root() == tmp_path / "xdg" / "ganforge"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert ev.cache_root() == tmp_path / "home" / ".cache" / "ganforge"
