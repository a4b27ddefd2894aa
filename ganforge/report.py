"""Terminal presentation of evaluation results (rich tables)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def print_eval(results: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    # escaped: a data description such as "rotation [full]" is text, not rich markup
    console.print(f"[bold]{escape(results['run'])}[/bold]  step {results['step']}  data: {escape(results['data'])}")
    summary = Table(title="metrics", show_header=True)
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    for f, r in results.get("code_accuracy", {}).items():
        summary.add_row(f"code accuracy ({f})", f"{r['accuracy']:.4f}")
    mi = results.get("mutual_information")
    if mi:
        batch = mi.get("L_I_batch_statistics", {})
        for f, v in mi["L_I"].items():
            ceiling = f", ceiling H = {mi['H'][f]:.3f}" if mi.get("discrete", {}).get(f, True) else ""
            summary.add_row(f"L_I {f} (eval mode{ceiling})", f"{v:.3f} nats")
            if f in batch:
                summary.add_row(f"L_I {f} (batch statistics, as the training log)", f"{batch[f]:.3f} nats")
    tr = results.get("training")
    if tr and tr.get("images_per_s_median"):
        summary.add_row("training throughput (median)", f"{tr['images_per_s_median']:.0f} images/s")
    for name, value in results.items():
        if name in ("run", "step", "data", "code_accuracy", "mutual_information", "training", "not_applicable", "headlines"):
            continue
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, int | float):
                    summary.add_row(f"{name}: {k}", f"{v:.4g}")
    console.print(summary)
    for name, reason in results.get("not_applicable", {}).items():
        console.print(f"not computed: {escape(name)} ({escape(reason)})")
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
    codes = (results.get("factor_codes") or {}).get("codes")
    if codes:
        console.print(factor_codes_table(codes))


def factor_codes_table(codes: dict[str, Any]) -> Table:
    """Each code's most informative ground-truth factor (and a categorical code's accuracy per factor)."""
    table = Table(title="codes vs ground-truth factors (Q on real images)")
    for col in ("code", "most informative factor", "I / H(factor)", "I (nats)", "accuracy (Hungarian)"):
        table.add_column(col, justify="left" if col.startswith(("code", "most")) else "right")
    for code, r in codes.items():
        acc = ", ".join(f"{f} {a:.3f}" for f, a in (r.get("accuracy") or {}).items()) or "–"
        table.add_row(code, r["factor"], f"{r['normalized_mi']:.3f}", f"{r['mi_nats']:.3f}", acc)
    return table


def print_comparison(comparison: Any, report_dir: Any = None, console: Console | None = None) -> None:
    """``ganforge compare``'s table: one row per number, one column per method (median (min–max) over seeds)."""
    from ganforge.compare_table import cell, references, row_name, table

    console = console or Console()
    if comparison.mixed:
        console.print(f"[bold red]mixed data (--allow-mixed): not comparable:[/] {'; '.join(comparison.mixed)}")
    seeds = " ".join(map(str, comparison.seeds))
    steps = f"{comparison.steps} steps" if comparison.steps else "each recipe's steps"
    grid = Table(title=f"ganforge compare: {', '.join(comparison.labels)}  (seeds {seeds}; {steps})")
    grid.add_column("metric")
    for label in comparison.labels:
        grid.add_column(label, justify="right")
    for key, by_label in table(comparison).items():
        grid.add_row(row_name(key, comparison), *[cell(key, by_label.get(label)) for label in comparison.labels])
    console.print(grid)
    for name, value in references(comparison).items():
        console.print(f"  {name}: {value:.4g}")
    if report_dir is not None:
        console.print(f"report: {report_dir / 'report.html'}")
