"""``airan simulate``: run the twin for N ROPs with faults and actions; KPIs as JSON or a table."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from airan.cli.output import Format, console, emit_json, fail, progress_bar
from airan.cli.specs import parse_action, parse_fault
from airan.core.errors import AiranError
from airan.twin.episode import make_run_id, run_episode
from airan.twin.kpis import KPI_UNITS
from airan.twin.result import EpisodeResult
from airan.twin.scenarios import get_scenario

SUMMARY_KPIS = ("DRB.UEThpDl", "DRB.UEThpDl.p5", "RRU.PrbUsedDl", "RRC.ConnMean", "L1M.RSRP", "L1M.SINR",
                "HO.AttOut", "HO.PingPong", "RLF.Count", "PEE.Energy", "BH.LatencyMs", "Cell.Available")


def simulate_run(scenario: str, rops: int, seed: int, faults: list[str], actions: list[str], db: Path | None,
                 show_progress: bool = True) -> EpisodeResult:
    """Shared by ``simulate`` and ``demo``: parse specs, run with a progress bar, write telemetry."""
    cfg = get_scenario(scenario)
    fault_objs = [parse_fault(s) for s in faults]
    for f in fault_objs:
        f.validate_for(cfg.num_cells)
    action_objs = [parse_action(s) for s in actions]
    for _, a in action_objs:
        if not 0 <= a.cell < cfg.num_cells:
            raise AiranError(f"action {a.kind!r}: cell {a.cell} out of range [0, {cfg.num_cells - 1}]")
    run_id = make_run_id(cfg.name, seed, rops, fault_objs, action_objs)
    store = None
    if db is not None:
        from airan.data.telemetry import TelemetryStore

        store = TelemetryStore(db)
        store.record_run(run_id, scenario=cfg.name, seed=seed, rops=rops, config=cfg.to_dict(),
                         code_version=_version())
    progress = progress_bar(disable=not show_progress)
    with progress:
        task = progress.add_task(f"{cfg.name}: drawing the Sionna drop", total=rops)

        def on_rop(rop: int, info: dict) -> None:
            if store is not None:
                store.write_rop(run_id, rop, info["kpis"], info["events"])
            progress.update(task, advance=1, description=f"{cfg.name}: ROP {rop + 1}/{rops}")

        result = run_episode(cfg, rops=rops, seed=seed, faults=fault_objs, actions=action_objs, run_id=run_id,
                             on_rop=on_rop)
    if store is not None:
        store.finish_run(run_id)
        store.close()
    return result


def _version() -> str:
    from airan import __version__

    return __version__


def result_json(result: EpisodeResult) -> dict:
    return {"run_id": result.run_id, "scenario": result.scenario, "seed": result.seed, "rops": result.rops,
            "rop_s": result.rop_s, "num_cells": result.num_cells, "kpi_units": KPI_UNITS,
            "kpi_summary": result.kpi_summary(), "per_cell": result.per_cell(), "faults": result.faults,
            "events": [{"rop": e.rop, "kind": e.kind, "name": e.name, "cell": e.cell, "detail": e.detail}
                       for e in result.events]}


def print_kpi_table(result: EpisodeResult) -> None:
    t = Table(title=f"{result.scenario} run {result.run_id}: {result.rops} ROPs, seed {result.seed}")
    for col in ("KPI", "unit", "mean", "p5", "p50", "p95"):
        t.add_column(col, justify="right" if col not in ("KPI", "unit") else "left")
    summary = result.kpi_summary()
    for name in SUMMARY_KPIS:
        s = summary[name]
        t.add_row(name, KPI_UNITS[name], *(f"{s[k]:.4g}" for k in ("mean", "p5", "p50", "p95")))
    console.print(t)


def simulate(
    scenario: str = typer.Option(..., "--scenario", help="scenario name (see `airan scenarios`)"),
    rops: int = typer.Option(20, "--rops", min=1, help="reporting periods to simulate"),
    seed: int = typer.Option(0, "--seed", min=0, help="seed of the drop and every random process"),
    fault: list[str] = typer.Option([], "--fault", help="kind:key=value,... e.g. cell_outage:cell=4,start=3"),
    action: list[str] = typer.Option([], "--action", help="kind:key=value,... e.g. tilt:cell=5,delta_deg=2,at=6"),
    db: Path | None = typer.Option(None, "--db", help="DuckDB telemetry file to write"),
    report: Path | None = typer.Option(None, "--report", help="directory for an HTML report"),
    fmt: Format = typer.Option(Format.table, "--format", help="json or table"),
) -> None:
    """Simulate a scenario with faults and actions and print its per-cell KPIs."""
    try:
        result = simulate_run(scenario, rops, seed, fault, action, db)
    except AiranError as e:
        fail(str(e))
    if report is not None:
        from airan.twin.report import write_report

        write_report(result, report)
    if fmt is Format.json:
        emit_json(result_json(result))
    else:
        print_kpi_table(result)
