"""Terminal presentation of evaluation results (rich tables)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ganforge.results import Evaluation, ResultTable


def print_eval(evaluation: Evaluation, console: Console | None = None) -> None:
    """``ganforge eval``'s output: every metric's headlines, then the metrics' own tables."""
    console = console or Console()
    # escaped: a data description such as "rotation [full]" is text, not rich markup
    console.print(f"[bold]{escape(evaluation.run)}[/bold]  step {evaluation.step}  data: {escape(evaluation.data)}  "
                  f"generator: {'EMA weights' if evaluation.generator == 'ema' else 'raw weights'}")
    heads = evaluation.numbers().values()
    if heads:
        summary = Table(title="metrics", show_header=True)
        summary.add_column("metric")
        summary.add_column("value", justify="right")
        for head in heads:
            summary.add_row(escape(head.title()), escape(head.text()))
        console.print(summary)
    for name, reason in evaluation.not_applicable.items():
        console.print(f"not computed: {escape(name)} ({escape(reason)})")
    for result in evaluation.results.values():
        for t in result.tables:
            console.print(rich_table(t))


def eval_lines(evaluation: Evaluation) -> list[str]:
    """:func:`print_eval`'s output as plain lines (no colour), as wide as the terminal up to 100 columns, for
    text that goes to a log as well as to a screen (the end-of-run summary)."""
    import io
    import shutil

    buffer = io.StringIO()
    width = min(100, shutil.get_terminal_size((80, 24)).columns)
    print_eval(evaluation, Console(file=buffer, width=width, no_color=True, highlight=False))
    return buffer.getvalue().rstrip("\n").splitlines()


def rich_table(t: ResultTable) -> Table:
    """A metric's :class:`~ganforge.results.ResultTable` as a rich table (bold cells in bold)."""
    table = Table(title=escape(t.title))
    for i, col in enumerate(t.columns):
        table.add_column(escape(col), justify="left" if i == 0 else "right")
    bold = set(t.bold)
    for i, row in enumerate(t.rows):
        table.add_row(*[f"[bold]{escape(c)}[/bold]" if (i, j) in bold else escape(c) for j, c in enumerate(row)])
    return table


def print_comparison(comparison: Any, report_dir: Any = None, console: Console | None = None) -> None:
    """``ganforge compare``'s table: one row per number, one column per method (median (min–max) over seeds)."""
    from ganforge.reporting.table import references, rows

    console = console or Console()
    if comparison.mixed:
        console.print(f"[bold red]mixed data (--allow-mixed): not comparable:[/] {escape('; '.join(comparison.mixed))}")
    seeds = " ".join(map(str, comparison.seeds))
    steps = f"{comparison.steps} steps" if comparison.steps else "each recipe's steps"
    grid = Table(title=f"ganforge compare: {escape(', '.join(comparison.labels))}  (seeds {seeds}; {steps})")
    grid.add_column("metric")
    for label in comparison.labels:
        grid.add_column(escape(label), justify="right")
    for name, cells in rows(comparison):
        grid.add_row(escape(name), *cells)
    console.print(grid)
    for name, value in references(comparison).items():
        console.print(f"  {escape(name)}: {value:.4g}")
    if report_dir is not None:
        console.print(f"report: {report_dir / 'report.html'}")
