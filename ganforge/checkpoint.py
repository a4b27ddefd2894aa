"""Checkpoints: one safetensors file of tensors plus a JSON sidecar, written atomically.

Layout inside ``<run>/checkpoints/``: ``step-00001000.safetensors`` and
``step-00001000.json``. The sidecar is written last and records the tensor file's size and
SHA-256 and every tensor's name, dtype and shape; a checkpoint without a sidecar, or whose
tensors do not match it, is incomplete and never used. Both files go through a temporary file,
``fsync`` and ``rename``, so nothing valid is ever overwritten by something partial.
No pickle anywhere: safetensors holds only tensors, JSON only data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ganforge.errors import CheckpointError

FORMAT = "ganforge-checkpoint/1"
_NAME = re.compile(r"step-(\d{8})\.json$")
MAX_HEADER = 100 * 1024 * 1024  # refuse safetensors headers larger than this before parsing


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _contiguous_cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


def save(directory: Path, step: int, tensors: dict[str, torch.Tensor], meta: dict[str, Any], keep: int) -> Path:
    """Write checkpoint ``step`` and prune to the newest ``keep``; returns the sidecar path."""
    tensors = _contiguous_cpu(tensors)
    blob = st_save(tensors, metadata={"format": FORMAT})
    stem = directory / f"step-{step:08d}"
    atomic_write(stem.with_suffix(".safetensors"), blob)
    sidecar = {
        "format": FORMAT,
        "step": step,
        "tensor_file": stem.with_suffix(".safetensors").name,
        "size": len(blob),
        "sha256": hashlib.sha256(blob).hexdigest(),
        "tensors": {k: [str(v.dtype).removeprefix("torch."), list(v.shape)] for k, v in tensors.items()},
        **meta,
    }
    atomic_write(stem.with_suffix(".json"), json.dumps(sidecar, indent=1, sort_keys=True).encode())
    prune(directory, keep)
    return stem.with_suffix(".json")


def list_checkpoints(directory: Path) -> list[Path]:
    """Sidecars in ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if _NAME.match(p.name))


def prune(directory: Path, keep: int) -> None:
    for sidecar in list_checkpoints(directory)[:-keep]:
        sidecar.unlink(missing_ok=True)  # sidecar first: a half-pruned checkpoint is simply invalid
        sidecar.with_suffix(".safetensors").unlink(missing_ok=True)
    for tmp in directory.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)  # leftovers of a write that was killed


def check_safetensors_header(blob: bytes, source: str) -> None:
    """Refuse malformed files before the parser sees them (huge header, bad offsets, dtypes)."""
    if len(blob) < 8:
        raise CheckpointError(f"{source}: not a safetensors file (too short)")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_HEADER or 8 + n > len(blob):
        raise CheckpointError(f"{source}: corrupt safetensors header (length {n} for a {len(blob)}-byte file)")
    try:
        header = json.loads(blob[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{source}: corrupt safetensors header (not JSON)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{source}: corrupt safetensors header")
    body = len(blob) - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or not isinstance(info.get("data_offsets"), list):
            raise CheckpointError(f"{source}: corrupt entry {name!r} in safetensors header")
        start, end = info["data_offsets"]
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= body):
            raise CheckpointError(f"{source}: tensor {name!r} lies outside the file (offsets {start}..{end})")


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file safely; anything else (pickles included) is refused."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if blob[:2] == b"\x80\x02" or blob[:2] in (b"PK",) or path.suffix in (".pt", ".pth", ".pkl", ".ckpt"):
        raise CheckpointError(f"{path}: pickle-based files are refused (they can run code); ganforge reads safetensors only")
    check_safetensors_header(blob, str(path))
    try:
        return st_load(blob)
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise CheckpointError(f"{path}: unreadable safetensors file: {exc}") from None


def load(sidecar: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load and verify one checkpoint (size, checksum, names, dtypes, shapes)."""
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{sidecar}: unreadable checkpoint sidecar: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{sidecar}: not a ganforge checkpoint sidecar")
    tensor_path = sidecar.with_name(meta["tensor_file"])
    try:
        blob = tensor_path.read_bytes()
    except OSError:
        raise CheckpointError(f"{tensor_path}: checkpoint tensors missing") from None
    if len(blob) != meta["size"] or hashlib.sha256(blob).hexdigest() != meta["sha256"]:
        raise CheckpointError(f"{tensor_path}: truncated or corrupted (size or checksum does not match its sidecar)")
    check_safetensors_header(blob, str(tensor_path))
    tensors = st_load(blob)
    recorded = meta["tensors"]
    actual = {k: [str(v.dtype).removeprefix("torch."), list(v.shape)] for k, v in tensors.items()}
    if actual != recorded:
        raise CheckpointError(f"{tensor_path}: tensors do not match the names, dtypes and shapes in its sidecar")
    return tensors, meta


def load_latest(directory: Path, warn: Any = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """The newest checkpoint that verifies; broken newer ones are reported through ``warn``."""
    for sidecar in reversed(list_checkpoints(directory)):
        try:
            return load(sidecar)
        except CheckpointError as exc:
            if warn is not None:
                warn(f"skipping checkpoint: {exc}")
    return None


# --- flattening nested state into named tensors -------------------------------------------------
def flatten_optimizer(prefix: str, state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimizer ``state_dict`` → tensors (per-parameter state) and JSON (param groups, scalars)."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for pid, pstate in state["state"].items():
        for key, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.state.{pid}.{key}"] = value
            else:
                scalars[f"{pid}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer(prefix: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    head = f"{prefix}.state."
    for name, value in tensors.items():
        if name.startswith(head):
            pid, key = name[len(head) :].split(".", 1)
            state.setdefault(int(pid), {})[key] = value
    for name, value in meta.get("scalars", {}).items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}
