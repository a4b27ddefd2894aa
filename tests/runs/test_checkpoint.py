"""Checkpoints: atomic safetensors + JSON, verified on load, pickles and crafted headers refused."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch

from ganforge import safefiles
from ganforge.runs import checkpoint
from ganforge.errors import CheckpointError


def _save(tmp_path: Path, step: int, keep: int = 3) -> Path:
    tensors = {"w": torch.full((3, 2), float(step)), "rng": torch.arange(5, dtype=torch.uint8)}
    return checkpoint.save(tmp_path, step, tensors, {"note": "x"}, keep)


def test_round_trip(tmp_path: Path) -> None:
    sidecar = _save(tmp_path, 7)
    tensors, meta = checkpoint.load(sidecar)
    assert torch.equal(tensors["w"], torch.full((3, 2), 7.0)) and tensors["rng"].dtype == torch.uint8
    assert meta["step"] == 7 and meta["note"] == "x" and meta["tensors"]["w"] == ["float32", [3, 2]]


def test_keeps_the_newest_k(tmp_path: Path) -> None:
    for step in (1, 2, 3, 4):
        _save(tmp_path, step, keep=2)
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == ["step-00000003.json", "step-00000004.json"]
    assert len(list(tmp_path.glob("*.safetensors"))) == 2


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_damaged_latest_falls_back_to_previous(tmp_path: Path, damage: str) -> None:
    _save(tmp_path, 1)
    _save(tmp_path, 2)
    latest = tmp_path / "step-00000002.safetensors"
    blob = latest.read_bytes()
    if damage == "truncate":
        latest.write_bytes(blob[: len(blob) // 2])
    elif damage == "flip":
        latest.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    else:
        latest.unlink()
    warnings: list[str] = []
    tensors, meta = checkpoint.load_latest(tmp_path, warn=warnings.append)  # type: ignore[misc]
    assert meta["step"] == 1 and warnings and "step-00000002" in warnings[0]


def test_checkpoint_without_sidecar_is_ignored(tmp_path: Path) -> None:
    _save(tmp_path, 1)
    (tmp_path / "step-00000002.safetensors").write_bytes(b"partial")
    assert checkpoint.load_latest(tmp_path)[1]["step"] == 1  # type: ignore[index]


def test_failed_write_leaves_previous_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _save(tmp_path, 1)
    before = (tmp_path / "step-00000001.safetensors").read_bytes()

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safefiles.os, "fsync", full_disk)
    with pytest.raises(CheckpointError, match="step-2 checkpoint failed: No space left on device"):
        _save(tmp_path, 2)
    monkeypatch.undo()
    assert (tmp_path / "step-00000001.safetensors").read_bytes() == before
    assert checkpoint.load_latest(tmp_path)[1]["step"] == 1  # type: ignore[index]
    assert not list(tmp_path.glob(".*.tmp"))


def test_pickle_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple:
            return (marker.write_text, ("ran",))

    path = tmp_path / "model.pt"
    torch.save({"x": Evil()}, path)
    with pytest.raises(CheckpointError, match="pickle"):
        checkpoint.load_tensors(path)
    disguised = tmp_path / "model.safetensors"
    disguised.write_bytes(path.read_bytes())
    with pytest.raises(CheckpointError):
        checkpoint.load_tensors(disguised)
    assert not marker.exists()


def _crafted(header: dict | bytes, body: bytes = b"", length: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + body


@pytest.mark.parametrize(
    "blob",
    [
        _crafted({}, length=2**60),
        _crafted({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 10_000]}}, b"\0" * 16),
        _crafted({"w": {"dtype": "F32", "shape": [4], "data_offsets": [-4, 16]}}, b"\0" * 16),
        _crafted({"w": {"dtype": "EVIL", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 16),
        _crafted(b"not json at all"),
        b"\x01\x02",
    ],
)
def test_crafted_headers_are_refused(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "x.safetensors"
    path.write_bytes(blob)
    with pytest.raises(CheckpointError):
        checkpoint.load_tensors(path)


def test_optimizer_state_round_trip() -> None:
    p = torch.nn.Parameter(torch.randn(3))
    opt = torch.optim.Adam([p], lr=0.1)
    p.grad = torch.ones(3)
    opt.step()
    tensors, meta = checkpoint.flatten_optimizer("o", opt.state_dict())
    restored = checkpoint.unflatten_optimizer("o", tensors, json.loads(json.dumps(meta)))
    opt2 = torch.optim.Adam([torch.nn.Parameter(p.detach().clone())], lr=0.5)
    opt2.load_state_dict(restored)
    assert opt2.param_groups[0]["lr"] == 0.1
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
