"""Replay: the baselines decide bit for bit the same on a re-run, ``compare_runs`` catches any difference,
and ``airan replay`` reproduces a recorded runner episode."""

from __future__ import annotations

from airan.agents.audit import AuditLog, compare_runs
from airan.agents.policies.rules import RulesPolicy
from airan.agents.policies.son import SonPolicy
from airan.twin.faults import Fault

from .test_rules import drive

FAULTS = [Fault("sleeping_cell", (4,), onset_rop=3)]


def _record(log: AuditLog, run_id: str, policy, rops: int = 9) -> None:
    decs, _ = drive(policy, FAULTS, rops)
    for r, d in enumerate(decs):
        log.record(run_id, r, "decision", d.to_dict())
        for q in d.approval_requests:
            log.record(run_id, r, "approval_request", {"id": q.id, "reason": q.reason})
        for p in d.actions:
            log.record(run_id, r, "action", {"kind": p.action.kind, "cell": p.action.cell, "value": p.action.value,
                                             "approval": p.approval})


def test_baselines_replay_bit_for_bit():
    for policy_cls in (RulesPolicy, SonPolicy):
        with AuditLog() as log:
            _record(log, "first", policy_cls())
            _record(log, "again", policy_cls())
            a, b = log.entries("first"), log.entries("again")
            diff = compare_runs(a, b)
            assert diff.identical and diff.matched == len(a) > 9
            assert any(e.stage == "approval_request" for e in a)  # the episode exercised the approval path


def test_compare_runs_reports_the_first_mismatch():
    with AuditLog() as log:
        _record(log, "a", RulesPolicy())
        _record(log, "b", RulesPolicy(), rops=8)  # one ROP short
        log.record("c", 0, "decision", {"x": 1})
        log.record("d", 0, "decision", {"x": 2})
        short = compare_runs(log.entries("a"), log.entries("b"))
        assert not short.identical and short.recorded > short.replayed and short.first_mismatch["replayed"] is None
        diff = compare_runs(log.entries("c"), log.entries("d"))
        assert diff.mismatched == 1 and diff.first_mismatch["recorded"]["payload"] == '{"x":1}'
        # stages outside the compared set (the report may be LLM-rephrased) are ignored
        log.record("c", 9, "report", {"text": "one wording"})
        log.record("e", 0, "decision", {"x": 1})
        log.record("e", 9, "report", {"text": "another wording"})
        assert compare_runs(log.entries("c"), log.entries("e")).identical


def test_cli_replay_reproduces_a_runner_episode(tmp_path):
    import json

    import pytest
    from typer.testing import CliRunner

    runner_mod = pytest.importorskip("airan.agents.runner")
    suite_mod = pytest.importorskip("airan.agents.suite")
    from airan.agents.policies import make_policy
    from airan.cli.main import app
    from airan.cli.replay import episode_to_spec

    suite = suite_mod.make_suite("dev", 6, 11, scenarios=("ci-tiny",), rops=10)
    ep = next(e for e in suite.episodes if not e.control)
    path = tmp_path / "audit.duckdb"
    with AuditLog(path) as log:
        runner_mod.run_policy_episode(ep, make_policy("son"), audit=log)
        (run_id,) = log.runs()
        log.record_episode(run_id, episode_to_spec(ep), "son")
        recorded = [e for e in log.entries(run_id) if e.stage == "decision"]
    assert len(recorded) == ep.rops
    res = CliRunner().invoke(app, ["replay", run_id, "--audit", str(path), "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["identical"] and out["mismatched"] == 0 and out["matched"] >= ep.rops
    # tamper with one recorded decision: the replay must notice and exit non-zero
    with AuditLog(path) as log:
        log._con.execute("UPDATE audit SET payload = replace(payload, '\"notes\":[', '\"notes\":[\"x\",') "
                         "WHERE run_id = ? AND stage = 'decision' AND seq = (SELECT min(seq) FROM audit WHERE "
                         "run_id = ? AND stage = 'decision')", [run_id, run_id])
    bad = CliRunner().invoke(app, ["replay", run_id, "--audit", str(path), "--format", "json"])
    assert bad.exit_code == 1 and json.loads(bad.stdout)["mismatched"] >= 1
