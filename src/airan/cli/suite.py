"""``airan suite make``: write a healing suite file (fault episodes, controls, look-alike pairs);
``airan suite check``: recompute a suite file's undetectable flags with the current rule;
``airan suite compare``: what differs, episode by episode, between two healing runs on a suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from airan.cli.output import Format, console, emit_json, fail, progress_bar
from airan.core.errors import AiranError, ConfigError

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
    causes: str | None = typer.Option(None, "--causes",
                                      help="comma-separated fault classes to focus on (default: all 10)"),
    cold_start: bool = typer.Option(False, "--cold-start",
                                    help="every fault already there at ROP 0 (the same draws as without it)"),
    fmt: Format = typer.Option(Format.table, "--format", help="json or table"),
) -> None:
    """Make a suite: faults over all 10 causes (or --causes), >= 20 % no-fault controls, look-alike pairs,
    undetectable flags; --cold-start: every fault already there when the agents start."""
    from airan.agents.suite import DEFAULT_ROPS, make_suite, save_suite, suite_summary

    scen = tuple(s.strip() for s in scenarios.split(",") if s.strip()) if scenarios else None
    focus = tuple(c.strip() for c in causes.split(",") if c.strip()) if causes is not None else None
    progress = progress_bar()
    try:
        with progress:
            task = progress.add_task(f"suite {split}: detectability check", total=episodes)
            suite = make_suite(split, episodes, seed, scenarios=scen, rops=rops or DEFAULT_ROPS,
                               detectable_check=not no_check, causes=focus, cold_start=cold_start,
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


def _read_logs(path: Path) -> list[dict[str, Any]]:
    """Episode logs from a JSON-lines file (``airan heal --out DIR`` writes DIR/logs_POLICY.jsonl)."""
    if not path.is_file():
        raise ConfigError(f"no such log file: {path}")
    logs = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            lg = json.loads(line)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}, line {n}: not JSON ({e.msg})") from None
        if not isinstance(lg, dict) or "episode_id" not in lg or "impact" not in lg:
            raise ConfigError(f"{path}, line {n}: not an episode log (no episode_id/impact)")
        logs.append(lg)
    if not logs:
        raise ConfigError(f"{path} holds no episode log")
    return logs


def _cell(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


@app.command("compare")
def compare(
    suite: Path = typer.Option(..., "--suite", help="suite JSON file both runs were made on"),
    logs_a: Path = typer.Argument(..., help="run A: logs JSONL (airan heal --out DIR -> DIR/logs_POLICY.jsonl)"),
    logs_b: Path = typer.Argument(..., help="run B: logs JSONL"),
    fmt: Format = typer.Option(Format.table, "--format", help="json or table"),
) -> None:
    """Episode by episode, what differs between runs A and B (detections, diagnosis, FKR, recovery, actions,
    harmful actions), and every harmful action of each run; a pure function of the suite and the logs."""
    from airan.agents.scorer import compare as compare_runs
    from airan.agents.suite import load_suite

    try:
        s = load_suite(suite)
        result = compare_runs(s, _read_logs(logs_a), _read_logs(logs_b))
    except AiranError as e:
        fail(str(e))
    result |= {"suite_file": str(suite), "a": str(logs_a), "b": str(logs_b)}
    if fmt is Format.json:
        emit_json(result)
        return
    t = Table(title=f"{s.name}: {result['summary']['changed']} of {result['episodes']} episodes differ (A -> B)")
    for col in ("episode", "class", "what changed"):
        t.add_column(col)
    for c in result["changed"]:
        what = ", ".join(f"{k} {_cell(a)} -> {_cell(b)}" for k, (a, b) in c["diff"].items())
        t.add_row(c["id"], c["cause"] + (" (undetectable)" if c["undetectable"] else ""), what)
    console.print(t)
    console.print(" ".join(f"{k}={v}" for k, v in result["summary"].items()))
    for side in ("a", "b"):
        for h in result["harmful"][side]:
            console.print(f"harmful in {side.upper()}: {h['episode']} ROP {h['rop']} {h['kind']} cell {h['cell']} "
                          f"{h['pre']} -> {h['post']}, impact {h['impact']:+.3f}"
                          f"{', rolled back' if h['rolled_back'] else ''}: {h['reason']}")
