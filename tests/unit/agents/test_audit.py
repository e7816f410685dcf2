"""The DuckDB audit trail: round trip, ordering, canonical payloads, sharing a file with telemetry."""

from __future__ import annotations

import duckdb
import pytest

from airan.agents.audit import AuditLog, canonical_json
from airan.agents.base import ApprovalRequest, Decision, Detection, Diagnosis, PlannedAction
from airan.core.errors import StoreError
from airan.data.telemetry import TelemetryStore
from airan.twin.actions import Action


def _decision() -> Decision:
    return Decision(detections=[Detection(4, 0.97, ("Cell.Available",))],
                    diagnosis=Diagnosis({"cell_outage": 0.9, "sleeping_cell": 0.1}, (4, 5), {"x": float("nan")}),
                    actions=[PlannedAction(Action("power", 8, 2.0), reason="boost")],
                    approval_requests=[ApprovalRequest("e-req1", (Action("restart", 4),), "silent")])


def test_round_trip_in_a_file(tmp_path):
    path = tmp_path / "audit.duckdb"
    with AuditLog(path) as log:
        assert log.record_episode("run-a", {"scenario": "ci-tiny", "seed": 3}, "rules") == 0
        assert log.record("run-a", 3, "decision", _decision().to_dict()) == 1
        assert log.record("run-a", 3, "approval_request", {"id": "e-req1"}) == 2
        log.record("run-b", 0, "decision", Decision().to_dict())
    with AuditLog(path) as log:  # reopened: sequence numbers continue, nothing lost
        assert log.record("run-a", 4, "approval", {"id": "e-req1", "granted": True}) == 3
        assert log.runs() == ["run-a", "run-b"]
        got = log.entries("run-a")
        assert [e.seq for e in got] == [0, 1, 2, 3]
        assert [e.stage for e in got] == ["episode", "decision", "approval_request", "approval"]
        assert [e.rop for e in got] == [-1, 3, 3, 4]
        dec = got[1].payload
        assert dec["actions"][0]["cell"] == 8 and dec["approval_requests"][0]["actions"][0]["kind"] == "restart"
        assert dec["diagnosis"]["evidence"]["x"] != dec["diagnosis"]["evidence"]["x"]  # NaN survives
        assert got[1].payload_json == canonical_json(_decision().to_dict())
        assert log.episode("run-a") == {"episode": {"scenario": "ci-tiny", "seed": 3}, "policy": "rules"}
        assert [e.stage for e in log.entries("run-a", "approval")] == ["approval"]


def test_canonical_json_is_order_independent():
    assert canonical_json({"b": 1, "a": [1, 2]}) == canonical_json({"a": [1, 2], "b": 1}) == '{"a":[1,2],"b":1}'
    with pytest.raises(StoreError, match="object"):
        canonical_json({"x": object()})


def test_bad_input_names_the_value():
    log = AuditLog()
    with pytest.raises(StoreError, match="'thinking'"):
        log.record("r", 0, "thinking", {})
    with pytest.raises(StoreError, match="run_id"):
        log.record("", 0, "decision", {})
    with pytest.raises(StoreError, match="-5"):
        log.record("r", -5, "decision", {})
    with pytest.raises(StoreError, match="'nope'"):
        log.episode("nope")


def test_shares_a_file_with_the_telemetry_store(tmp_path):
    path = tmp_path / "airan.duckdb"
    with TelemetryStore(path) as store:
        store.record_run("run-t", scenario="ci-tiny", seed=1, rops=1, config={}, code_version="test")
    with AuditLog(path) as log:
        log.record("run-t", 0, "decision", {"ok": 1})
    con = duckdb.connect(str(path), read_only=True)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    con.close()
    assert "audit" in tables and len(tables) > 1
    with TelemetryStore(path, read_only=True) as store:
        assert [r["run_id"] for r in store.runs()] == ["run-t"]
