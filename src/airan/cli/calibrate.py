"""``airan calibrate``: the twin's coupling loss and geometry SINR against Sionna's own SYS computation."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from airan.cli.output import Format, console, emit_json, err_console, fail
from airan.core.errors import AiranError
from airan.twin.scenarios import get_scenario

TOLERANCE_DB = 1.0


def calibrate(
    scenario: str = typer.Option("uma-19", "--scenario", help="scenario name"),
    seed: int = typer.Option(0, "--seed", min=0),
    out: Path = typer.Option(Path("airan-output"), "--out", help="directory for the CDF plot"),
    fmt: Format = typer.Option(Format.table, "--format", help="json or table"),
) -> None:
    """Compare percentiles (5/50/95) of coupling loss and geometry SINR: twin vs Sionna, same drop."""
    from airan.twin.calibration import calibrate as run
    from airan.twin.calibration import plot_cdfs

    try:
        cfg = get_scenario(scenario)
    except AiranError as e:
        fail(str(e))
    with err_console.status(f"{cfg.name}: Sionna drop and full TR 38.901 channel for {cfg.num_ues} UEs ..."):
        res = run(cfg, seed)
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"calibration_{cfg.name}.png"
    plot_cdfs(res, png)
    res.pop("samples")
    res["png"] = str(png)
    res["tolerance_db"] = TOLERANCE_DB
    res["within_tolerance"] = bool(res["max_abs_diff_db"] <= TOLERANCE_DB)
    if fmt is Format.json:
        emit_json(res)
        return
    t = Table(title=f"calibration {cfg.name} (seed {seed}): twin vs Sionna")
    for col in ("metric", "pct", "twin", "Sionna", "diff"):
        t.add_column(col)
    for m in ("coupling_loss_db", "geometry_sinr_db"):
        for p in ("p5", "p50", "p95"):
            t.add_row(m, p, f"{res[m]['twin'][p]:.2f}", f"{res[m]['sionna'][p]:.2f}", f"{res[m]['diff'][p]:+.2f}")
    console.print(t)
    console.print(f"max |diff| = {res['max_abs_diff_db']:.2f} dB; plot: {png}")
