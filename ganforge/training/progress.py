"""What a run shows while it trains: a progress bar on a terminal, plain log lines in a piped log.

On a terminal (stderr is a TTY) a rich progress bar on stderr keeps the step count, the rate and the
ETA at fixed widths and gives the metrics whatever is left of the line, cut with an ellipsis, so it
stays readable at 80 columns. Anywhere else (a cluster log, ``| tee``) one plain line per logging
interval goes to stderr: ``step 300/6000 (5%)  12.1 steps/s  ETA 0:07:51  critic/adv=1.23 …``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

# the metrics a line shows: the adversarial losses and the regularizers' headline terms
_SHORT_SUFFIXES = ("/adv", "/L_I", "/penalty")


def short_metrics(metrics: dict[str, float], limit: int = 4) -> str:
    """A few headline terms, ``name=value`` with the phase shortened (``D/adv=1.23 G/adv=0.70``)."""
    keys = [k for k in metrics if k.endswith(_SHORT_SUFFIXES)][:limit]
    short = {k: k.replace("critic/", "D/", 1).replace("generator/", "G/", 1) for k in keys}
    bare = {k: "/".join([v.split("/")[0], v.split("/")[-1]]) for k, v in short.items()}  # D/mutual_information/L_I → D/L_I
    if len(set(bare.values())) == len(bare):
        short = bare
    return "  ".join(f"{short[k]}={metrics[k]:.3g}" for k in keys)


def eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "-:--:--"
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class _Plain:
    """One line per logging interval, for logs that are not a terminal."""

    def __init__(self, name: str, total: int, done: int, stream: TextIO) -> None:
        self.name, self.total, self.stream = name, total, stream
        self.t0, self.step0 = time.perf_counter(), done

    def update(self, step: int, info: str, logged: bool) -> None:
        if not logged:
            return
        elapsed = time.perf_counter() - self.t0
        rate = (step - self.step0) / elapsed if elapsed > 0 and step > self.step0 else None
        remaining = (self.total - step) / rate if rate else None
        pct = 100 * step // max(self.total, 1)
        rate_text = f"{rate:.1f} steps/s" if rate else "-.- steps/s"
        self.stream.write(f"{self.name}: step {step}/{self.total} ({pct}%)  {rate_text}  ETA {eta(remaining)}"
                          f"{'  ' + info if info else ''}\n")
        self.stream.flush()


class _Bar:
    """A rich progress bar whose fixed columns never give way to the metrics."""

    def __init__(self, name: str, total: int, done: int, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        from rich.table import Column

        fixed = {"no_wrap": True}
        self.progress = Progress(
            TextColumn("[bold]{task.description}", table_column=Column(max_width=18, no_wrap=True, overflow="ellipsis")),
            BarColumn(bar_width=12),
            MofNCompleteColumn(table_column=Column(**fixed)),
            TextColumn("{task.fields[rate]}", table_column=Column(**fixed)),
            TextColumn("ETA", table_column=Column(**fixed)),
            TimeRemainingColumn(table_column=Column(**fixed)),
            TextColumn("{task.fields[info]}", table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)),
            console=Console(file=stream), transient=False, expand=True,
        )
        self.task = self.progress.add_task(name, total=total, completed=done, info="", rate="")

    def update(self, step: int, info: str, logged: bool) -> None:
        speed = self.progress.tasks[0].speed
        self.progress.update(self.task, completed=step, info=info,
                             rate="-.-/s" if speed is None else f"{speed:.1f}/s")


class _Silent:
    def update(self, step: int, info: str, logged: bool) -> None:
        pass


@contextmanager
def progress(enabled: bool, name: str, total: int, done: int, stream: TextIO | None = None) -> Iterator[Any]:
    """A reporter with ``update(step, info, logged)``: a bar on a terminal, plain lines elsewhere, or nothing."""
    stream = stream or sys.stderr
    if not enabled:
        yield _Silent()
    elif stream.isatty():
        bar = _Bar(name, total, done, stream)
        with bar.progress:
            yield bar
    else:
        yield _Plain(name, total, done, stream)
