"""``airan demo``: the main job on embedded defaults: a faulted uma-19 episode, a KPI table, telemetry and
an HTML report under the output directory."""

from __future__ import annotations

from pathlib import Path

import typer

from airan.cli.output import console, fail
from airan.cli.simulate import print_kpi_table, simulate_run
from airan.core.errors import AiranError

DEMO_FAULT = "cell_outage:cell=7,start=20,duration=25"


def demo(
    out: Path = typer.Option(Path("airan-output"), "--out", help="output directory"),
    scenario: str = typer.Option("uma-19", "--scenario"),
    rops: int = typer.Option(60, "--rops", min=1),
    seed: int = typer.Option(7, "--seed", min=0),
    fault: str = typer.Option(DEMO_FAULT, "--fault", help="fault spec to inject"),
) -> None:
    """Simulate a scenario with one injected fault; print KPIs; write telemetry and an HTML report."""
    from airan.twin.report import write_report

    out.mkdir(parents=True, exist_ok=True)
    try:
        result = simulate_run(scenario, rops, seed, [fault], [], out / "telemetry.duckdb")
    except AiranError as e:
        fail(str(e))
    print_kpi_table(result)
    html = write_report(result, out, title=f"airan demo: {scenario} with {fault}")
    console.print(f"telemetry: {out / 'telemetry.duckdb'} (run {result.run_id})")
    console.print(f"report: {html}")
