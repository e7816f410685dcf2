"""``airan data info|quality DIR``: inspect a generated CSI dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from airan.cli.datagen import print_summary
from airan.cli.output import Format, console, emit_json, fail
from airan.core.errors import AiranError

app = typer.Typer(help="Inspect CSI datasets.", no_args_is_help=True)


@app.command("info")
def info(path: Path = typer.Argument(..., help="dataset directory"),
         fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """Samples, bytes and per-config shapes of a dataset."""
    from airan.data.datagen import summarize

    try:
        summary = summarize(path)
    except AiranError as e:
        fail(str(e))
    if fmt is Format.json:
        emit_json(summary)
    else:
        print_summary(summary)


@app.command("quality")
def quality(path: Path = typer.Argument(..., help="dataset directory"),
            compare: Path | None = typer.Option(None, "--compare", help="a second dataset for similarity"),
            plot: Path | None = typer.Option(None, "--plot", help="PNG of feature distributions"),
            fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """Completeness, non-finite values, power statistics, LoS ratio, similarity and diversity."""
    from airan.data.quality import assess

    try:
        report = assess(path, compare=compare, plot=plot or Path(path) / "quality.png")
    except AiranError as e:
        fail(str(e))
    if fmt is Format.json:
        emit_json(report)
        return
    div = report["diversity"]["mean_pairwise_mmd2"]
    console.print(f"{report['family']}: {report['samples']} samples, {report['nonfinite_values']} non-finite, "
                  f"LoS {report['los_ratio']:.2f}, diversity (mean MMD^2) {div:.3f}")
    for name, c in report["configs"].items():
        gain = f"{c['path_gain_db_mean']:.1f}+-{c['path_gain_db_std']:.1f}"
        console.print(f"  {name}: {c['samples']} samples, gain {gain}"
                      f" dB, LoS {c['los_ratio']:.2f}, DS {c['delay_spread_ns_median']:.0f} ns")
    if "similarity" in report:
        console.print(f"similarity to {report['similarity']['to']}: {report['similarity']['similarity']:.3f}")
    console.print(f"plot: {report['plot']}")
