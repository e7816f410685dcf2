"""``airan replay RUN_ID --audit FILE``: re-run a recorded healing episode with the LLM off and check that
every decision, approval and action comes out byte for byte as the audit trail recorded it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from airan.agents.audit import AuditLog, ReplayDiff, compare_runs
from airan.cli.output import Format, console, emit_json, err_console, fail
from airan.core.errors import AiranError, StoreError
from airan.twin.faults import Fault

LLM_ENV = ("AIRAN_LLM_URL", "AIRAN_LLM_MODEL", "AIRAN_LLM_API_KEY")


def episode_to_spec(ep: Any) -> dict[str, Any]:
    """JSON form of a suite episode: the suite's own serialiser when it has one, else its documented fields
    (id, scenario, seed, rops, faults, control, lookalike, undetectable, split) with faults as mappings."""
    from airan.agents import suite

    if hasattr(suite, "episode_to_dict"):
        return suite.episode_to_dict(ep)
    if hasattr(ep, "to_dict"):
        return ep.to_dict()
    d = dataclasses.asdict(ep)
    d["faults"] = [dataclasses.asdict(f) | {"cells": list(f.cells)} for f in ep.faults]
    return d


def episode_from_spec(spec: dict[str, Any]) -> Any:
    """The suite episode stored under the ``episode`` stage, rebuilt (the inverse of ``episode_to_spec``)."""
    from airan.agents import suite

    ep = spec.get("episode")
    if not isinstance(ep, dict):
        raise StoreError(f"episode entry holds no episode mapping: {str(spec)[:200]!r}")
    if hasattr(suite, "episode_from_dict"):
        return suite.episode_from_dict(ep)
    if hasattr(suite.SuiteEpisode, "from_dict"):
        return suite.SuiteEpisode.from_dict(ep)
    try:
        faults = tuple(Fault(**(f | {"cells": tuple(f["cells"])})) for f in ep.get("faults", ()))
        return suite.SuiteEpisode(**(ep | {"faults": faults}))
    except (TypeError, KeyError) as e:
        raise StoreError(f"cannot rebuild the suite episode from the audit trail: {e}") from None


def replay_run(audit_path: Path, run_id: str) -> tuple[ReplayDiff, dict[str, Any]]:
    """Re-run ``run_id`` of the audit file ``audit_path`` (LLM off) and compare; returns the diff and the
    stored episode spec."""
    if not audit_path.is_file():
        raise StoreError(f"audit file {str(audit_path)!r} does not exist")
    with AuditLog(audit_path) as log:
        spec = log.episode(run_id)
        recorded = log.entries(run_id)
    from airan.agents.policies import make_policy
    from airan.agents.runner import run_policy_episode

    saved = {k: os.environ.pop(k) for k in LLM_ENV if k in os.environ}  # the LLM stays off during a replay
    try:
        policy = make_policy(str(spec.get("policy", "")), spec.get("overrides"))  # the run's --set settings
        kwargs: dict[str, Any] = {"approval_delay_rops": int(spec.get("approval_delay_rops", 1))}
        if "preauthorized" in spec:
            kwargs["preauthorized"] = frozenset(spec["preauthorized"])
        with AuditLog() as mem:
            run_policy_episode(episode_from_spec(spec), policy, audit=mem, **kwargs)
            runs = mem.runs()
            rid = run_id if run_id in runs else (runs[0] if len(runs) == 1 else None)
            if rid is None:
                raise StoreError(f"the replay recorded runs {runs}, none matching {run_id!r}")
            replayed = mem.entries(rid)
    finally:
        os.environ.update(saved)
    return compare_runs(recorded, replayed), spec


def replay(
    run_id: str = typer.Argument(..., help="run id in the audit file"),
    audit: Path = typer.Option(..., "--audit", help="DuckDB file holding the audit trail"),
    fmt: Format = typer.Option(Format.table, "--format", help="json or table"),
) -> None:
    """Re-run a recorded episode with the same policy (LLM off) and compare every decision payload byte for
    byte; exits 1 on any mismatch."""
    try:
        with err_console.status(f"replaying {run_id}"):
            diff, spec = replay_run(audit, run_id)
    except AiranError as e:
        fail(str(e))
    out = {"run_id": run_id, "policy": spec.get("policy"), **diff.to_dict()}
    if fmt == Format.json:
        emit_json(out)
    else:
        table = Table("run", "policy", "recorded", "replayed", "matched", "mismatched", "identical")
        table.add_row(run_id, str(spec.get("policy")), str(diff.recorded), str(diff.replayed), str(diff.matched),
                      str(diff.mismatched), "yes" if diff.identical else "[red]no[/]")
        console.print(table)
        if diff.first_mismatch is not None:
            err_console.print(f"first mismatch: {diff.first_mismatch}", highlight=False)
    if not diff.identical:
        raise typer.Exit(1)
