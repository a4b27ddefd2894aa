"""What a run shows while it trains: the bar at 80 columns, plain lines in piped logs, the summary."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest

from ganforge.training.loop import train
from ganforge.training.progress import progress, short_metrics
from ganforge.recipe.model import resolve

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")
LONG = "  ".join(f"critic/regularizer_{i}/term={i}.0" for i in range(12))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_keeps_step_count_and_eta_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    stream = _Terminal()
    with progress(True, "a-long-run-name-of-a-recipe", 6000, 0, stream) as bar:
        bar.update(300, LONG, True)
        bar.update(301, LONG, False)
    lines = [line for line in ANSI.sub("", stream.getvalue()).replace("\r", "\n").splitlines() if line.strip()]
    last = lines[-1]
    assert "301/6000" in last and "ETA" in last and re.search(r"\d:\d\d:\d\d", last), last
    assert all(len(line) <= 80 for line in lines), [len(line) for line in lines]
    assert "…" in last  # the metrics give way, not the counters


def test_a_piped_log_gets_one_plain_line_per_logging_interval(tiny_raw: dict[str, Any], registry: Any, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    tiny_raw["train"].update(steps=6, log_every=2)
    train(resolve(tiny_raw, registry), registry, tmp_path / "run", progress=True, say=lambda m: None)
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if ": step " in line]
    assert [line.split("step ")[1].split()[0] for line in lines] == ["2/6", "4/6", "6/6"]
    assert all("steps/s" in line and "ETA" in line and "D/adv=" in line for line in lines), lines
    assert "\x1b[" not in captured.err and ": step " not in captured.out  # no escape codes; nothing on stdout


def test_no_progress_prints_nothing(tiny_raw: dict[str, Any], registry: Any, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    train(resolve(tiny_raw, registry), registry, tmp_path / "run", progress=False, say=lambda m: None)
    assert ": step " not in capsys.readouterr().err


def test_short_metrics_drop_the_owner_only_where_names_stay_unique() -> None:
    assert short_metrics({"critic/adv": 1.0, "generator/mutual_information/L_I": 2.0}) == "D/adv=1  G/L_I=2"
    assert short_metrics({"critic/a/penalty": 1.0, "critic/b/penalty": 2.0}) == "D/a/penalty=1  D/b/penalty=2"


def test_metrics_lines_carry_a_wall_clock_time(tiny_raw: dict[str, Any], registry: Any, tmp_path: Path) -> None:
    import json
    import time

    before = time.time()
    train(resolve(tiny_raw, registry), registry, tmp_path / "run", progress=False, say=lambda m: None)
    times = [json.loads(x)["time"] for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert before <= times[0] <= times[-1] <= time.time()
