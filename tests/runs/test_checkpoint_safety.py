"""Checkpoint loading under attack and decay: random byte corruption, crafted headers and sidecars,
and no code path that could unpickle or evaluate anything."""

from __future__ import annotations

import hashlib
import json
import re
import struct
from pathlib import Path

import pytest
import safetensors.torch
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganforge.runs import checkpoint
from ganforge.errors import CheckpointError

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
META = {"step_meta": {"stream": {"epoch": 2, "position": 7}, "lr": [2e-4, 1e-3], "note": "x"}}


def _tensors() -> dict[str, torch.Tensor]:
    return {"w": torch.linspace(-1, 1, 12).reshape(3, 4), "rng": torch.arange(5, dtype=torch.uint8),
            "n": torch.tensor([3], dtype=torch.int64)}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The two files of one good checkpoint (step 5)."""
    directory = tmp_path_factory.mktemp("ckpt")
    checkpoint.save(directory, 5, _tensors(), META, keep=1)
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def _write(directory: Path, files: dict[str, bytes]) -> Path:
    for name, blob in files.items():
        (directory / name).write_bytes(blob)
    return directory / "step-00000005.json"


@FUZZ
@given(which=st.sampled_from(["step-00000005.json", "step-00000005.safetensors"]), data=st.data())
def test_random_corruption_is_detected_or_harmless(tmp_path_factory: pytest.TempPathFactory, saved: dict[str, bytes],
                                                   which: str, data: st.DataObject) -> None:
    """Flip, overwrite or cut bytes anywhere in either file: loading either refuses with a
    CheckpointError or returns exactly what was saved (e.g. a changed JSON space)."""
    blob = bytearray(saved[which])
    if data.draw(st.booleans(), label="truncate"):
        blob = blob[: data.draw(st.integers(0, len(blob) - 1), label="length")]
    else:
        for _ in range(data.draw(st.integers(1, 4), label="bytes")):
            blob[data.draw(st.integers(0, len(blob) - 1), label="at")] ^= data.draw(st.integers(1, 255), label="xor")
    sidecar = _write(tmp_path_factory.mktemp("c"), {**saved, which: bytes(blob)})
    try:
        tensors, meta = checkpoint.load(sidecar)
    except CheckpointError as exc:
        assert "\n" not in str(exc)
        return
    good_tensors, good_meta = checkpoint.load(_write(tmp_path_factory.mktemp("g"), saved))
    assert tensors.keys() == good_tensors.keys() and all(torch.equal(tensors[k], good_tensors[k]) for k in tensors)
    assert meta == good_meta


@pytest.mark.parametrize("which", ["step-00000005.json", "step-00000005.safetensors"])
def test_every_single_bit_flip_is_detected_or_harmless(tmp_path: Path, saved: dict[str, bytes], which: str) -> None:
    """Exhaustively: flip the lowest bit of each byte in turn ('7' becomes '6', 'e' becomes 'd')."""
    good_tensors, good_meta = checkpoint.load(_write(tmp_path, saved))
    refused = 0
    for at in range(len(saved[which])):
        blob = bytearray(saved[which])
        blob[at] ^= 1
        (tmp_path / which).write_bytes(bytes(blob))
        try:
            tensors, meta = checkpoint.load(tmp_path / "step-00000005.json")
        except CheckpointError:
            refused += 1
            continue
        assert meta == good_meta and all(torch.equal(tensors[k], good_tensors[k]) for k in good_tensors), at
    assert refused >= len(saved[which]) - 40  # only JSON whitespace may flip unnoticed


@FUZZ
@given(blob=st.binary(max_size=300) | st.builds(lambda n, body: struct.pack("<Q", n) + body,
                                                st.integers(0, 2**64 - 1), st.binary(max_size=200)))
def test_arbitrary_bytes_are_refused_cleanly(tmp_path_factory: pytest.TempPathFactory, blob: bytes) -> None:
    path = tmp_path_factory.mktemp("b") / "x.safetensors"
    path.write_bytes(blob)
    try:
        checkpoint.load_tensors(path)
    except CheckpointError:
        pass


def _crafted(header: dict) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + b"\0" * 16


@pytest.mark.parametrize(("entry", "message"), [
    ({"dtype": "F32", "shape": [4], "data_offsets": [0, 8, 16]}, "corrupt entry"),
    ({"dtype": "F32", "shape": [4], "data_offsets": [0.0, 16]}, "corrupt entry"),
    ({"dtype": "F32", "shape": [4], "data_offsets": [16, 0]}, "outside the file"),
    ({"dtype": "F32", "shape": [2**62, 2**62], "data_offsets": [0, 16]}, "does not fill"),
    ({"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}, "malformed shape"),
    ({"dtype": "F32", "shape": "4", "data_offsets": [0, 16]}, "malformed shape"),
    ({"dtype": ["F32"], "shape": [4], "data_offsets": [0, 16]}, "unknown dtype"),
    ({"dtype": "F64", "shape": [4], "data_offsets": [0, 16]}, "does not fill"),
])
def test_crafted_tensor_entries_are_refused_before_parsing(tmp_path: Path, entry: dict, message: str) -> None:
    path = tmp_path / "x.safetensors"
    path.write_bytes(_crafted({"w": entry}))
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load_tensors(path)


def _edit_sidecar(directory: Path, saved: dict[str, bytes], change: dict) -> Path:
    sidecar = _write(directory, saved)
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), **change}))
    return sidecar


@pytest.mark.parametrize(("change", "message"), [
    ({"step_meta": {"stream": {"epoch": 2, "position": 8}}}, "does not match the checksum in step-00000005.safetensors"),
    ({"rollbacks": 0}, "does not match the checksum"),
    ({"tensor_file": "../../outside.safetensors"}, "expected 'step-00000005.safetensors'"),
    ({"tensor_file": "/etc/passwd"}, "expected 'step-00000005.safetensors'"),
    ({"step": 6}, "sidecar says step 6"),
    ({"size": "16"}, "lacks the size"),
    ({"format": "other/1"}, "not a ganforge checkpoint"),
])
def test_edited_sidecars_are_refused(tmp_path: Path, saved: dict[str, bytes], change: dict, message: str) -> None:
    outside = tmp_path.parent / "outside.safetensors"
    outside.write_bytes(saved["step-00000005.safetensors"])
    with pytest.raises(CheckpointError, match=re.escape(message)):
        checkpoint.load(_edit_sidecar(tmp_path, saved, change))


def test_sidecar_size_limit(tmp_path: Path, saved: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint, "MAX_SIDECAR", 100)
    with pytest.raises(CheckpointError, match="larger than 100 bytes"):
        checkpoint.load(_write(tmp_path, saved))


def test_checkpoints_from_before_the_sidecar_checksum_still_load(tmp_path: Path) -> None:
    """Older checkpoints have no sidecar checksum in their tensor file; they load (tensors verified)."""
    blob = safetensors.torch.save(_tensors(), metadata={"format": checkpoint.FORMAT})
    (tmp_path / "step-00000005.safetensors").write_bytes(blob)
    sidecar = {"format": checkpoint.FORMAT, "step": 5, "tensor_file": "step-00000005.safetensors", "size": len(blob),
               "sha256": hashlib.sha256(blob).hexdigest(), **META,
               "tensors": {k: [str(v.dtype).removeprefix("torch."), list(v.shape)] for k, v in _tensors().items()}}
    (tmp_path / "step-00000005.json").write_text(json.dumps(sidecar))
    assert checkpoint.load(tmp_path / "step-00000005.json")[1]["step_meta"] == META["step_meta"]


def test_no_code_path_unpickles_or_evaluates() -> None:
    """Checkpoints are safetensors + JSON and recipes are TOML: no module may reach for pickle, eval or exec,
    nor torch.load other than through torch's restricted unpickler (``weights_only=True``), and that only where
    the standard Inception weights (a .pth file) are read (the pickle refusal itself is tested in
    test_checkpoint.py and tests/evaluation/test_inception.py)."""
    forbidden = re.compile(r"^\s*(import pickle|from pickle|import dill)|torch\.load\((?![^()]*weights_only=True\))|"
                           r"(?<![\w.`])(eval|exec)\(|pickle\.loads?\(|weights_only\s*=\s*False", re.M)
    sources = [p for folder in ("ganforge", "plugins") for p in (ROOT / folder).rglob("*.py")]
    assert len(sources) > 20
    offenders = [f"{p.relative_to(ROOT)}: {m.group(0).strip()}" for p in sources for m in forbidden.finditer(p.read_text())]
    assert not offenders, offenders
    loads = sorted(str(p.relative_to(ROOT)) for p in sources if "torch.load(" in p.read_text())
    assert loads == ["ganforge/evaluation/inception.py"], loads


def test_a_deeply_nested_header_with_recomputed_checksums_is_refused_and_resume_falls_back(tmp_path: Path) -> None:
    """A safetensors header nested 100 000 deep, its sidecar's size and SHA-256 recomputed: refused
    before parsing (no RecursionError), and ``load_latest`` falls back to the older checkpoint."""
    checkpoint.save(tmp_path, 1, _tensors(), META, keep=5)
    checkpoint.save(tmp_path, 2, _tensors(), META, keep=5)
    blob = b'{"__metadata__": {"x": "y"}, "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    forged = struct.pack("<Q", len(blob)) + blob
    (tmp_path / "step-00000002.safetensors").write_bytes(forged)
    sidecar = tmp_path / "step-00000002.json"
    meta = json.loads(sidecar.read_text())
    meta.update(size=len(forged), sha256=hashlib.sha256(forged).hexdigest())
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="nested too deeply"):
        checkpoint.load(sidecar)
    warnings: list[str] = []
    found = checkpoint.load_latest(tmp_path, warn=warnings.append)
    assert found is not None and found[1]["step"] == 1 and "nested too deeply" in warnings[0]


def test_a_deeply_nested_sidecar_is_refused_before_parsing(tmp_path: Path) -> None:
    checkpoint.save(tmp_path, 1, _tensors(), META, keep=5)
    sidecar = tmp_path / "step-00000001.json"
    sidecar.write_text('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(CheckpointError, match="nests deeper than 64 levels"):
        checkpoint.load(sidecar)
