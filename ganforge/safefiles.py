"""Reading files that may be hostile or broken, and writing files that are never seen half-written.

Reading: regular files only, bounded reads, bounded JSON nesting.

A checkpoint, a sidecar, a recipe or ``metrics.jsonl`` may be a FIFO (an ``open`` that would wait
for a writer forever), a symlink to ``/dev/zero`` (``st_size`` 0, endless data) or a JSON document
nested deeper than the parser's recursion allows. Every such file is opened non-blocking, checked
with ``fstat`` on the open descriptor (so a swap between check and open changes nothing), and read
to at most a fixed number of bytes; JSON is scanned for its nesting depth before it is parsed.

Writing (:func:`atomic_write`): a temporary file in the same directory, fsynced, renamed over the target,
with the permissions the user's umask gives, so a crash leaves the old file or the new one, never a torn one.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any

MAX_JSON_DEPTH = 64  # far above any file ganforge writes (checkpoint sidecars nest 6 levels)


class UnsafeFile(ValueError):
    """A file that is not a regular file, is larger than allowed, or nests too deeply."""


def read_bounded(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them (``UnsafeFile`` otherwise).

    ``OSError`` (missing, unreadable) passes through for the caller to word.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a FIFO" if stat.S_ISFIFO(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode) or \
                stat.S_ISBLK(info.st_mode) else "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise UnsafeFile(f"is {kind}, not a regular file")
        if info.st_size > limit:
            raise UnsafeFile(f"is larger than {limit} bytes")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise UnsafeFile(f"is larger than {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(blob: bytes | str) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings skipped), without parsing it."""
    import numpy as np

    data = blob.encode() if isinstance(blob, str) else blob
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def loads_json(blob: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` after checking the nesting depth (``UnsafeFile`` past ``max_depth``)."""
    if json_depth(blob) > max_depth:
        raise UnsafeFile(f"nests deeper than {max_depth} levels")
    return json.loads(blob)


def _umask() -> int:
    """The process's umask (read by setting and restoring it: there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; the file should follow the user's umask
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
