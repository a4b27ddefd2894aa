"""Bounded, non-blocking reads of files that may be FIFOs, devices or huge, and JSON depth checks."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ganforge.safefiles import UnsafeFile, json_depth, loads_json, read_bounded


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc" * 1000)
    assert read_bounded(tmp_path / "f", 3000) == b"abc" * 1000
    with pytest.raises(UnsafeFile, match="larger than 2999 bytes"):
        read_bounded(tmp_path / "f", 2999)


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "directory"])
def test_non_regular_files_are_refused_at_once(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "x"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        path.symlink_to("/dev/zero")  # st_size 0, endless data
    else:
        path.mkdir()
    start = time.monotonic()
    with pytest.raises((UnsafeFile, IsADirectoryError)):
        read_bounded(path, 1 << 20)
    assert time.monotonic() - start < 5


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_bounded(tmp_path / "nope", 10)


@given(st.recursive(st.none() | st.integers() | st.text(alphabet='[]{}"\\ab', max_size=6),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\ab', max_size=4),
                                                                                 inner, max_size=3), max_leaves=30))
def test_json_depth_matches_the_parsed_structure(value: object) -> None:
    def depth(v: object) -> int:
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        return 0

    text = json.dumps(value)
    assert json_depth(text) == depth(value)
    assert loads_json(text, max_depth=depth(value)) == value
    if depth(value):
        with pytest.raises(UnsafeFile, match="nests deeper"):
            loads_json(text, max_depth=depth(value) - 1)


def test_a_deeply_nested_document_is_refused_before_parsing() -> None:
    with pytest.raises(UnsafeFile):
        loads_json("[" * 100_000 + "]" * 100_000)
