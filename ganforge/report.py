"""Terminal presentation of evaluation results (rich tables)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def print_eval(results: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    console.print(f"[bold]{results['run']}[/bold]  step {results['step']}  data: {results['data']}")
    summary = Table(title="metrics", show_header=True)
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    for f, r in results.get("code_accuracy", {}).items():
        summary.add_row(f"code accuracy ({f})", f"{r['accuracy']:.4f}")
    mi = results.get("mutual_information")
    if mi:
        for f, v in mi["L_I"].items():
            summary.add_row(f"L_I {f} (H = {mi['H'][f]:.3f})", f"{v:.3f} nats")
    tr = results.get("training")
    if tr and tr.get("images_per_s_median"):
        summary.add_row("training throughput (median)", f"{tr['images_per_s_median']:.0f} images/s")
    for name, value in results.items():
        if name in ("run", "step", "data", "code_accuracy", "mutual_information", "training"):
            continue
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, int | float):
                    summary.add_row(f"{name}: {k}", f"{v:.4g}")
    console.print(summary)
    for f, r in results.get("code_accuracy", {}).items():
        conf = r["confusion"]
        table = Table(title=f"{f}: categories (rows) vs labels (columns); matched label in brackets")
        table.add_column("cat")
        for j in range(len(conf[0])):
            table.add_column(str(j), justify="right")
        for i, row in enumerate(conf):
            label = r["mapping"].get(i, r["mapping"].get(str(i)))
            table.add_row(f"{i} [{label}]" if label is not None else str(i),
                          *[f"[bold]{c}[/bold]" if j == label else str(c) for j, c in enumerate(row)])
        console.print(table)
