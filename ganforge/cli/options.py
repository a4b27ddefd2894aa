"""The command line's shared options and argument parsers: ``--set``, ``--device``, ``--step``, ``--code``.

Each parser turns a bad value into a one-line error before anything runs (``typer.BadParameter`` or
``GanforgeError``, which ``ganforge.cli.app`` prints as ``error: …``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from ganforge.errors import GanforgeError

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a recipe key, e.g. --set train.steps=200 (repeatable).", show_default=False),
]


def device_arg(device: str | None) -> str | None:
    """``--device`` checked like the recipe's ``run.device``, so a typo is an error before anything runs."""
    import re

    if device is not None and not re.fullmatch(r"auto|cpu|mps|cuda(:\d{1,3})?", device):
        raise typer.BadParameter(f"{device[:40]!r}: use auto, cpu, cuda, cuda:N or mps")
    return device


def step_arg(value: str | None) -> int | str | None:
    """``--step N`` or ``--step best`` (the checkpoint train.keep_best kept)."""
    if value is None or value == "best":
        return value
    if not value.isdigit() or len(value) > 12:
        raise typer.BadParameter(f"{value[:20]!r}: a step number or 'best'")
    return int(value)


StepOption = Annotated[str | None, typer.Option(callback=step_arg, metavar="N|best", help="Use the kept checkpoint of this step, or 'best' (train.keep_best) \\[default: the newest].", show_default=False)]


RawGeneratorOption = Annotated[bool, typer.Option("--raw-generator", help="Use the trained generator weights, not their moving average (train.ema; the default when the run kept one).")]


def parse_codes(values: list[str] | None) -> dict[str, float]:
    """``--code c1=3 --code c2=0.5`` → ``{"c1": 3.0, "c2": 0.5}``."""
    import math

    out: dict[str, float] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not name.strip() or not math.isfinite(number):
            raise GanforgeError(f"--code {item!r}: expected FACTOR=NUMBER, e.g. --code c1=3")
        out[name.strip()] = number
    return out
