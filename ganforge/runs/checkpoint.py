"""Checkpoints: one safetensors file of tensors plus a JSON sidecar, written atomically.

Layout inside ``<run>/checkpoints/``: ``step-00001000.safetensors`` and
``step-00001000.json``. The sidecar is written last and records the tensor file's size and
SHA-256 and every tensor's name, dtype and shape; the tensor file's safetensors metadata records a
SHA-256 of the sidecar's other content (``sidecar_sha256``), so each file vouches for the other
(against corruption: checksums are no signatures). A
checkpoint without a sidecar, or whose files do not match those records, is incomplete and never
used. Both files go through a temporary file, ``fsync``
and ``rename``, so nothing valid is ever overwritten by something partial; a failed write (a full
disk) raises :class:`CheckpointError` and leaves the older checkpoints as they were.
No pickle anywhere: safetensors holds only tensors, JSON only data; headers are checked (length,
offsets, dtypes, shapes) before the safetensors parser sees them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ganforge.errors import CheckpointError
from ganforge.safefiles import UnsafeFile, atomic_write, loads_json, read_bounded

FORMAT = "ganforge-checkpoint/1"
_NAME = re.compile(r"step-(\d{8})\.json$")
MAX_HEADER = 100 * 1024 * 1024  # refuse safetensors headers larger than this before parsing
MAX_SIDECAR = 64 * 1024 * 1024  # refuse sidecars larger than this before parsing
MAX_TENSOR_FILE = 1 << 40  # a tensor file is read to at most this many bytes (and exactly its recorded size)
#: safetensors dtype codes and their sizes in bytes; anything else is refused
DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
               "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}






def _contiguous_cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


def sidecar_digest(sidecar: dict[str, Any]) -> str:
    """SHA-256 of a sidecar's content but the tensor file's size and checksum (canonical JSON): the
    tensor file stores it, and the sidecar stores the tensor file's checksum."""
    body = {k: v for k, v in sidecar.items() if k not in ("size", "sha256")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def save(directory: Path, step: int, tensors: dict[str, torch.Tensor], meta: dict[str, Any], keep: int) -> Path:
    """Write checkpoint ``step`` and prune to the newest ``keep``; returns the sidecar path.

    A write that fails (``ENOSPC``, ``EIO``, …) raises :class:`CheckpointError`; the files of the
    older checkpoints are untouched and no partial file is left behind.
    """
    tensors = _contiguous_cpu(tensors)
    stem = directory / f"step-{step:08d}"
    sidecar: dict[str, Any] = {
        "format": FORMAT,
        "step": step,
        "tensor_file": stem.with_suffix(".safetensors").name,
        "tensors": {k: [str(v.dtype).removeprefix("torch."), list(v.shape)] for k, v in tensors.items()},
        **meta,
    }
    sidecar = json.loads(json.dumps(sidecar))  # the digest covers exactly what a reader will parse
    stamp = json.dumps({"format": FORMAT, "sidecar_sha256": sidecar_digest(sidecar)}, sort_keys=True)
    blob = st_save(tensors, metadata={"ganforge": stamp})  # one key: safetensors orders metadata at random
    sidecar.update(size=len(blob), sha256=hashlib.sha256(blob).hexdigest())
    rewrite = stem.with_suffix(".json").exists()  # a checkpoint of this very step is there already
    try:
        atomic_write(stem.with_suffix(".safetensors"), blob)
        atomic_write(stem.with_suffix(".json"), json.dumps(sidecar, indent=1, sort_keys=True).encode())
    except OSError as exc:
        if not rewrite:  # remove what this call renamed into place; an older sidecar still verifies or fails
            stem.with_suffix(".safetensors").unlink(missing_ok=True)
        raise CheckpointError(f"{stem}: writing the step-{step} checkpoint failed: {exc.strerror or exc}; "
                              "the earlier checkpoints are intact") from exc
    prune(directory, keep)
    return stem.with_suffix(".json")


def list_checkpoints(directory: Path) -> list[Path]:
    """Sidecars in ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if _NAME.match(p.name))


BEST = "best.json"  # {"step", "metric", "value", "higher_is_better"}: the checkpoint train.keep_best keeps


def best(directory: Path) -> dict[str, Any] | None:
    """The ``best.json`` pointer of a checkpoint directory, if there is a readable one."""
    try:
        record = loads_json(read_bounded(directory / BEST, 1 << 16))
    except (OSError, UnsafeFile, ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) and type(record.get("step")) is int else None


def mark_best(directory: Path, record: dict[str, Any]) -> None:
    atomic_write(directory / BEST, (json.dumps(record) + "\n").encode())


def prune(directory: Path, keep: int) -> None:
    """Keep the newest ``keep`` checkpoints (and the best one, see :func:`best`); delete leftovers of killed writes."""
    marked = best(directory)
    for sidecar in list_checkpoints(directory)[:-keep]:
        if marked is not None and sidecar.name == f"step-{marked['step']:08d}.json":
            continue
        sidecar.unlink(missing_ok=True)  # sidecar first: a half-pruned checkpoint is simply invalid
        sidecar.with_suffix(".safetensors").unlink(missing_ok=True)
    for tmp in directory.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
    for orphan in directory.glob("step-*.safetensors"):
        if not orphan.with_suffix(".json").exists():
            orphan.unlink(missing_ok=True)  # its sidecar was never written


def check_safetensors_header(blob: bytes, source: str) -> dict[str, Any]:
    """Refuse malformed files before the parser sees them (huge header, bad offsets, dtypes);
    returns the parsed header."""
    if len(blob) < 8:
        raise CheckpointError(f"{source}: not a safetensors file (too short)")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_HEADER or 8 + n > len(blob):
        raise CheckpointError(f"{source}: corrupt safetensors header (length {n} for a {len(blob)}-byte file)")
    try:
        header = loads_json(blob[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError, UnsafeFile, RecursionError):
        raise CheckpointError(f"{source}: corrupt safetensors header (not JSON, or nested too deeply)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{source}: corrupt safetensors header")
    body = len(blob) - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
            raise CheckpointError(f"{source}: corrupt entry {name!r} in safetensors header")
        start, end = offsets
        if not 0 <= start <= end <= body:
            raise CheckpointError(f"{source}: tensor {name!r} lies outside the file (offsets {start}..{end})")
        dtype, shape = info.get("dtype"), info.get("shape")
        if not isinstance(dtype, str) or dtype not in DTYPE_SIZES:
            raise CheckpointError(f"{source}: tensor {name!r} has an unknown dtype {str(dtype)[:20]!r}")
        if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
            raise CheckpointError(f"{source}: tensor {name!r} has a malformed shape")
        if math.prod(shape) * DTYPE_SIZES[dtype] != end - start:
            raise CheckpointError(f"{source}: tensor {name!r}: shape {shape} of {dtype} does not fill offsets {start}..{end}")
    return header


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file safely; anything else (pickles included) is refused."""
    try:
        blob = read_bounded(path, MAX_TENSOR_FILE)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnsafeFile as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    if blob[:1] == b"\x80" or blob[:2] == b"PK" or path.suffix in (".pt", ".pth", ".pkl", ".ckpt"):
        raise CheckpointError(f"{path}: pickle-based files are refused (they can run code); ganforge reads safetensors only")
    check_safetensors_header(blob, str(path))
    try:
        return st_load(blob)
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise CheckpointError(f"{path}: unreadable safetensors file: {exc}") from None


def _read_sidecar(sidecar: Path) -> dict[str, Any]:
    """Parse and check a sidecar: size limit, format, the fields that locate and verify the tensors."""
    try:
        meta = loads_json(read_bounded(sidecar, MAX_SIDECAR))
    except UnsafeFile as exc:
        raise CheckpointError(f"{sidecar}: checkpoint sidecar {exc}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{sidecar}: unreadable checkpoint sidecar: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{sidecar}: not a ganforge checkpoint sidecar")
    if meta.get("tensor_file") != sidecar.with_suffix(".safetensors").name:  # a name, never a path elsewhere
        raise CheckpointError(f"{sidecar}: sidecar names tensor file {str(meta.get('tensor_file'))[:80]!r}, "
                              f"expected {sidecar.with_suffix('.safetensors').name!r}")
    named = _NAME.match(sidecar.name)
    if named and meta.get("step") != int(named.group(1)):
        raise CheckpointError(f"{sidecar}: sidecar says step {meta.get('step')!r}, its name says {int(named.group(1))}")
    if type(meta.get("size")) is not int or not isinstance(meta.get("sha256"), str) or not isinstance(meta.get("tensors"), dict):
        raise CheckpointError(f"{sidecar}: sidecar lacks the size, sha256 or tensors record")
    return meta


def _stored_sidecar_digest(header: dict[str, Any], source: Path) -> str | None:
    """The sidecar checksum a tensor file carries (None in checkpoints written before it had one)."""
    metadata = header.get("__metadata__")
    stamp = metadata.get("ganforge") if isinstance(metadata, dict) else None
    if stamp is None:
        return None
    try:
        digest = loads_json(stamp)["sidecar_sha256"]
    except (TypeError, KeyError, json.JSONDecodeError, UnsafeFile, RecursionError):
        digest = None
    if not isinstance(digest, str):
        raise CheckpointError(f"{source}: corrupt ganforge metadata in the safetensors header")
    return digest


def load(sidecar: Path, check: Any = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load and verify one checkpoint: tensor file size and checksum, sidecar checksum, names, dtypes, shapes.

    ``check(tensors, meta, sidecar)`` may refuse the content too (e.g. :func:`check_training_state`
    before a resume), raising :class:`CheckpointError`.
    """
    meta = _read_sidecar(sidecar)
    tensor_path = sidecar.with_suffix(".safetensors")
    try:
        blob = read_bounded(tensor_path, min(meta["size"], MAX_TENSOR_FILE))
    except OSError:
        raise CheckpointError(f"{tensor_path}: checkpoint tensors missing") from None
    except UnsafeFile as exc:
        raise CheckpointError(f"{tensor_path}: checkpoint tensors {exc}") from None
    if len(blob) != meta["size"] or hashlib.sha256(blob).hexdigest() != meta["sha256"]:
        raise CheckpointError(f"{tensor_path}: truncated or corrupted (size or checksum does not match its sidecar)")
    header = check_safetensors_header(blob, str(tensor_path))
    digest = _stored_sidecar_digest(header, tensor_path)
    if digest is not None and digest != sidecar_digest(meta):
        raise CheckpointError(f"{sidecar}: corrupted sidecar (its content does not match the checksum in {tensor_path.name})")
    try:
        tensors = st_load(blob)
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise CheckpointError(f"{tensor_path}: unreadable safetensors file: {exc}") from None
    recorded = meta["tensors"]
    actual = {k: [str(v.dtype).removeprefix("torch."), list(v.shape)] for k, v in tensors.items()}
    if actual != recorded:
        raise CheckpointError(f"{tensor_path}: tensors do not match the names, dtypes and shapes in its sidecar")
    if check is not None:
        check(tensors, meta, sidecar)
    return tensors, meta


def _is_int(value: Any, low: int = 0) -> bool:
    return type(value) is int and value >= low


def check_training_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any], source: Path) -> None:
    """Refuse a self-consistent but forged or foreign checkpoint before any of it is loaded: the fields
    :meth:`ganforge.training.state.Trainer.load_state` reads, with the types and shapes it needs."""
    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"{source}: checkpoint {what}")

    for key in ("step", "acc_count"):
        if not _is_int(meta.get(key)):
            raise bad(f"field {key!r} is not a non-negative integer")
    if "rollbacks" in meta and not _is_int(meta["rollbacks"]):
        raise bad("field 'rollbacks' is not a non-negative integer")
    counts = meta.get("acc_counts")
    if counts is not None and not (isinstance(counts, dict) and all(_is_int(v, 1) for v in counts.values())):
        raise bad("field 'acc_counts' is not a table of positive integers")
    stream = meta.get("stream")
    if not (isinstance(stream, dict) and set(stream) == {"epoch", "position"} and all(_is_int(v) for v in stream.values())):
        raise bad("data-stream state is not {epoch, position} integers")
    shape = meta.get("image_shape")
    if not (isinstance(shape, list) and len(shape) == 3 and all(_is_int(v, 1) for v in shape)):
        raise bad("field 'image_shape' is not three positive integers")
    optimizers = meta.get("optimizers")
    if not (isinstance(optimizers, dict) and set(optimizers) >= {"generator", "critic"}):
        raise bad("lacks the generator's and the critic's optimizer state")
    for name in ("generator", "critic"):
        opt = optimizers[name]
        groups = opt.get("param_groups") if isinstance(opt, dict) else None
        if not (isinstance(groups, list) and groups and all(isinstance(g, dict) and isinstance(g.get("params"), list)
                                                            and all(_is_int(i) for i in g["params"]) for g in groups)):
            raise bad(f"optimizer {name!r} has malformed param_groups")
        for group in groups:
            for key in ("lr", "weight_decay"):
                if type(group.get(key)) not in (int, float) or not math.isfinite(group[key]) or group[key] < 0:
                    raise bad(f"optimizer {name!r} has a bad {key!r}")
            betas = group.get("betas")
            if not (isinstance(betas, list) and len(betas) == 2 and all(type(b) in (int, float) and 0 <= b < 1 for b in betas)):
                raise bad(f"optimizer {name!r} has bad betas")
        if not isinstance(opt.get("scalars", {}), dict):
            raise bad(f"optimizer {name!r} has malformed scalars")
        for key in opt.get("scalars", {}):
            pid, _, _ = str(key).partition(".")
            if not pid.isdigit():
                raise bad(f"optimizer {name!r} has a malformed state key {str(key)[:40]!r}")
    for key, size in (("rng.latent", _rng_size()), ("rng.torch", _rng_size())):
        t = tensors.get(key)
        if t is None or t.dtype != torch.uint8 or t.dim() != 1 or (key == "rng.torch" and t.numel() != size):
            raise bad(f"tensor {key!r} is not a random-generator state")
    for key in tensors:
        if key.startswith("optim.") and ".state." in key and not key.split(".state.", 1)[1].partition(".")[0].isdigit():
            raise bad(f"tensor {key[:60]!r} has a malformed optimizer state name")


def _rng_size() -> int:
    return int(torch.get_rng_state().numel())


def load_latest(directory: Path, warn: Any = None, check: Any = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """The newest checkpoint that verifies (and passes ``check``, as for :func:`load`); broken newer ones
    are reported through ``warn``."""
    for sidecar in reversed(list_checkpoints(directory)):
        try:
            return load(sidecar, check)
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
