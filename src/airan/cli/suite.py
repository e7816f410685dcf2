"""``airan suite make``: write a healing suite file (fault episodes, controls, look-alike pairs);
``airan suite check``: recompute a suite file's undetectable flags with the current rule."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from airan.cli.output import Format, console, emit_json, fail, progress_bar
from airan.core.errors import AiranError

app = typer.Typer(help="Healing suites: reproducible fault episodes that policies are scored on.",
                  no_args_is_help=True)


@app.command("make")
def make(
    split: str = typer.Option("dev", "--split", help="train, dev or test (separate seed streams)"),
    episodes: int = typer.Option(..., "--episodes", min=1, help="number of episodes"),
    seed: int = typer.Option(0, "--seed", min=0),
    out: Path = typer.Option(..., "--out", help="suite JSON file to write"),
    scenarios: str | None = typer.Option(None, "--scenarios",
                                         help="comma-separated scenario names (default: the weighted mix)"),
    rops: int | None = typer.Option(None, "--rops", min=8, help="ROPs per episode (default 24)"),
    no_check: bool = typer.Option(False, "--no-detectable-check",
                                  help="skip the faulted-vs-clean runs that flag undetectable episodes"),
    fmt: Format = typer.Option(Format.table, "--format", help="json or table"),
) -> None:
    """Make a suite: faults over all 10 causes, >= 20 % no-fault controls, look-alike pairs, undetectable flags."""
    from airan.agents.suite import DEFAULT_ROPS, make_suite, save_suite, suite_summary

    scen = tuple(s.strip() for s in scenarios.split(",") if s.strip()) if scenarios else None
    progress = progress_bar()
    try:
        with progress:
            task = progress.add_task(f"suite {split}: detectability check", total=episodes)
            suite = make_suite(split, episodes, seed, scenarios=scen, rops=rops or DEFAULT_ROPS,
                               detectable_check=not no_check,
                               on_episode=lambda i, n: progress.update(task, completed=i, total=n))
        path = save_suite(suite, out)
    except AiranError as e:
        fail(str(e))
    summary = suite_summary(suite) | {"path": str(path), "rops": suite.rops, "scenarios_used": list(suite.scenarios)}
    summary.pop("fault_kinds_known", None)
    if fmt is Format.json:
        emit_json(summary)
        return
    t = Table(title=f"suite {suite.name}: {summary['episodes']} episodes -> {path}")
    t.add_column("class")
    t.add_column("episodes", justify="right")
    for k, v in sorted(summary["per_cause"].items()):
        t.add_row(k, str(v))
    console.print(t)
    console.print(f"controls {summary['controls']} ({100 * summary['control_share']:.0f} %), look-alike episodes "
                  f"{summary['lookalike_episodes']}, undetectable {summary['undetectable']}, scenarios "
                  f"{summary['scenarios']}")


@app.command("check")
def check(
    suite: Path = typer.Argument(..., help="suite JSON file (airan suite make, an older airan, or written by hand)"),
    out: Path = typer.Option(..., "--out", help="suite JSON file to write (may be the input file)"),
    fmt: Format = typer.Option(Format.table, "--format", help="json or table"),
) -> None:
    """Recompute every episode's undetectable flag (faulted vs no-fault runs) and write the suite to --out."""
    from airan.agents.suite import load_suite, recheck_suite, save_suite, suite_summary

    progress = progress_bar()
    try:
        s = load_suite(suite)
        with progress:
            task = progress.add_task(f"suite {s.name}: detectability check", total=len(s.episodes))
            checked, changed = recheck_suite(s, on_episode=lambda i, n: progress.update(task, completed=i, total=n))
        path = save_suite(checked, out)
    except AiranError as e:
        fail(str(e))
    flags = {e.id: e.undetectable for e in checked.episodes}
    summary = {"path": str(path), "episodes": len(checked.episodes),
               "undetectable": suite_summary(checked)["undetectable"],
               "changed": [{"id": i, "undetectable": flags[i]} for i in changed]}
    if fmt is Format.json:
        emit_json(summary)
        return
    console.print(f"suite {checked.name}: {summary['undetectable']} of {summary['episodes']} episodes undetectable; "
                  f"{len(changed)} flag(s) changed -> {path}")
    for c in summary["changed"]:
        console.print(f"  {c['id']}: undetectable {c['undetectable']}")
