"""``airan intent check``: parse operator intents and check them in the twin (feasible / infeasible / harmful)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from airan.agents.intents import Intent, check_intent, load_intents, parse_intent
from airan.cli.output import Format, console, emit_json, err_console, fail
from airan.core.errors import AiranError

app = typer.Typer(help="Typed operator intents (TS 28.312 style): parse and check them in the twin.",
                  no_args_is_help=True)


@app.command("parse")
def parse(
    texts: Annotated[list[str], typer.Argument(help="intents in the small grammar")],
    fmt: Annotated[Format, typer.Option("--format", help="json or table")] = Format.table,
) -> None:
    """Show the typed form of each intent (no twin needed); bad tokens are named."""
    try:
        intents = [parse_intent(t) for t in texts]
    except AiranError as e:
        fail(str(e))
    if fmt == Format.json:
        emit_json({"intents": [it.to_dict() for it in intents]})
        return
    table = Table("text", "scope", "kpi", "statistic", "op", "target", "unit", "priority")
    for it in intents:
        d = it.to_dict()
        table.add_row(it.text, str(d["scope"]), it.kpi, it.statistic, it.op, f"{it.target:g}", it.unit,
                      str(it.priority))
    console.print(table)


@app.command("check")
def check(
    texts: Annotated[list[str] | None, typer.Argument(help="intents, e.g. \"keep cell 3 RLF below 2\"")] = None,
    scenario: Annotated[str, typer.Option(help="twin scenario")] = "ci-tiny",
    seed: Annotated[int, typer.Option(help="drop seed of the twin")] = 0,
    file: Annotated[Path | None, typer.Option("--file", help="YAML/JSON list of intents")] = None,
    rops: Annotated[int, typer.Option(help="ROPs each what-if rollout runs")] = 3,
    fmt: Annotated[Format, typer.Option("--format", help="json or table")] = Format.table,
) -> None:
    """Check each intent: unknown KPI/cell/unit and impossible targets are rejected, the rest are run in the
    twin (already met / reachable by a bounded action set / infeasible / harmful to a higher-priority one).
    Exits 1 when any intent is rejected."""
    try:
        intents: list[Intent] = [parse_intent(t) for t in texts or []]
        if file is not None:
            intents += load_intents(file)
        if not intents:
            fail("give at least one intent text or --file")
        from airan.twin.env import NetworkTwin

        with err_console.status(f"{scenario}: drawing the drop (seed {seed})"):
            twin = NetworkTwin(scenario)
            twin.reset(seed=seed)
        results = []
        for i, it in enumerate(intents):
            others = tuple(o for j, o in enumerate(intents) if j != i)
            results.append((it, check_intent(it, twin, others, rops=rops)))
    except AiranError as e:
        fail(str(e))
    if fmt == Format.json:
        emit_json({"scenario": scenario, "seed": seed,
                   "intents": [{"intent": it.to_dict(), **res.to_dict()} for it, res in results]})
    else:
        table = Table("intent", "feasible", "now", "best", "reason")
        for it, res in results:
            table.add_row(it.text or str(it.to_dict()), "yes" if res.feasible else "[red]no[/]",
                          f"{res.current_value:.3g}", f"{res.best_value:.3g}", res.reason)
        console.print(table)
    if not all(res.feasible for _, res in results):
        raise typer.Exit(1)
