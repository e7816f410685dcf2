"""``airan scenarios``: list the named scenarios."""

from __future__ import annotations

import typer
from rich.table import Table

from airan.cli.output import Format, console, emit_json
from airan.twin.scenarios import get_scenario, scenario_names


def scenarios(fmt: Format = typer.Option(Format.table, "--format", help="json or table")) -> None:
    """List the twin's scenarios."""
    rows = []
    for name in scenario_names():
        c = get_scenario(name)
        rows.append({"name": c.name, "num_cells": c.num_cells, "num_sites": c.num_sites, "num_ues": c.num_ues,
                     "carrier_frequency_hz": c.carrier_frequency_hz, "bandwidth_hz": c.bandwidth_hz,
                     "isd_m": c.isd_m, "channel_model": c.channel_model, "description": c.description})
    if fmt is Format.json:
        emit_json(rows)
        return
    t = Table(title="airan scenarios")
    for col in ("name", "model", "cells", "UEs", "carrier [GHz]", "BW [MHz]", "ISD [m]"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["name"], r["channel_model"], str(r["num_cells"]), str(r["num_ues"]),
                  f"{r['carrier_frequency_hz'] / 1e9:g}", f"{r['bandwidth_hz'] / 1e6:g}", f"{r['isd_m']:g}")
    console.print(t)
