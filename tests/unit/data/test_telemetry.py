"""Tests of airan.data.telemetry: roundtrips, idempotent rewrites, crash consistency, errors, insert speed."""

import os
import signal
import subprocess
import sys
import time

import duckdb
import numpy as np
import pytest

from airan.core.errors import StoreError
from airan.data.telemetry import TelemetryStore
from airan.twin.events import Event
from airan.twin.kpis import KPI_NAMES
from airan.twin.result import EpisodeResult

NUM_CELLS = 57


def _rop_kpis(rop: int, num_cells: int = NUM_CELLS) -> dict[str, np.ndarray]:
    """KPI name -> [num_cells] float64 whose values encode (kpi index, rop, cell); cell 2 of KPI 1 is NaN."""
    out = {name: 1000.0 * k + rop + np.arange(num_cells) / 100.0 for k, name in enumerate(KPI_NAMES)}
    out[KPI_NAMES[1]][2] = np.nan
    return out


def _episode(run_id: str = "ep", rops: int = 4, num_cells: int = 5) -> EpisodeResult:
    kpis = {name: np.stack([_rop_kpis(t, num_cells)[name] for t in range(rops)]) for name in KPI_NAMES}
    events = [Event(1, "fault", "SITE_DOWN", 0, {"severity": 1.0}),
              Event(2, "action", "TILT", None, {"tilt_deg": np.float64(4.0)})]
    return EpisodeResult(
        run_id=run_id, scenario="ci-tiny", seed=7, rops=rops, rop_s=60.0, kpis=kpis,
        ue_sinr_db=np.zeros((rops, 3)), ue_thp_mbps=np.zeros((rops, 3)), cell_xy=np.zeros((num_cells, 2)),
        ue_xy=np.zeros((3, 2)), events=[e for e in events if e.rop < rops], config={"num_cells": num_cells})


def _record(store: TelemetryStore, run_id: str = "r", rops: int = 3) -> None:
    store.record_run(run_id, scenario="uma-19", seed=1, rops=rops, config={"x": [1, 2]}, code_version="v0")


def _row_counts(path) -> tuple[int, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        return (con.execute("SELECT count(*) FROM kpis").fetchone()[0],
                con.execute("SELECT count(*) FROM events").fetchone()[0])


def test_kpis_and_events_roundtrip(tmp_path):
    path = tmp_path / "sub" / "t.duckdb"  # parent dir is created
    events = [Event(1, "alarm", "CELL_DOWN", 4, {"state": "raised", "n": np.int64(3)}),
              Event(1, "action", "TILT", None, {"tilt_deg": [2.0, 4.0]})]
    with TelemetryStore(path) as s:
        _record(s)
        for t in range(3):
            s.write_rop("r", t, _rop_kpis(t), events if t == 1 else ())
    with TelemetryStore(path, read_only=True) as s:
        k = s.kpis("r")
        ev = s.events("r")
        runs = s.runs()
    assert list(k) == list(KPI_NAMES)
    for name in KPI_NAMES:
        assert k[name].shape == (3, NUM_CELLS) and k[name].dtype == np.float64
        np.testing.assert_array_equal(k[name], np.stack([_rop_kpis(t)[name] for t in range(3)]))
    assert ev == [Event(1, "alarm", "CELL_DOWN", 4, {"state": "raised", "n": 3}),
                  Event(1, "action", "TILT", None, {"tilt_deg": [2.0, 4.0]})]
    assert [(r["run_id"], r["scenario"], r["seed"], r["rops"], r["status"], r["code_version"], r["config"])
            for r in runs] == [("r", "uma-19", 1, 3, "running", "v0", {"x": [1, 2]})]


def test_nan_is_stored_as_null_and_read_back_as_nan(tmp_path):
    path = tmp_path / "t.duckdb"
    with TelemetryStore(path) as s:
        _record(s)
        s.write_rop("r", 0, {"A": np.array([np.nan, 1.5, np.nan]), "B": np.array([np.inf, 0.0, -2.0])})
        k = s.kpis("r")
    with duckdb.connect(str(path), read_only=True) as con:
        nulls = con.execute("SELECT count(*) FROM kpis WHERE value IS NULL").fetchone()[0]
        nans = con.execute("SELECT count(*) FROM kpis WHERE isnan(value)").fetchone()[0]
    assert (nulls, nans) == (2, 0)
    np.testing.assert_array_equal(k["A"], [[np.nan, 1.5, np.nan]])
    np.testing.assert_array_equal(k["B"], [[np.inf, 0.0, -2.0]])


def test_rewriting_a_rop_replaces_rows(tmp_path):
    path = tmp_path / "t.duckdb"
    with TelemetryStore(path) as s:
        _record(s)
        s.write_rop("r", 0, _rop_kpis(0), [Event(0, "alarm", "A1")])
        s.write_rop("r", 1, _rop_kpis(1), [Event(1, "alarm", "A2"), Event(1, "alarm", "A3")])
        s.write_rop("r", 1, {n: v + 0.5 for n, v in _rop_kpis(1).items()}, [Event(1, "rollback", "B1")])
        k = s.kpis("r")
        names = [e.name for e in s.events("r")]
    assert _row_counts(path) == (2 * NUM_CELLS * len(KPI_NAMES), 2)
    assert names == ["A1", "B1"]
    assert k[KPI_NAMES[0]][1, 0] == 1.5 and k[KPI_NAMES[0]][0, 0] == 0.0


def test_rewriting_an_episode_does_not_duplicate(tmp_path):
    path = tmp_path / "t.duckdb"
    with TelemetryStore(path) as s:
        s.write_episode(_episode(rops=4), code_version="v1")
        first = s.runs()[0]["created_at"]
        s.write_episode(_episode(rops=4), code_version="v1")
        runs = s.runs()
        k = s.kpis("ep")
        ev = s.events("ep")
    assert _row_counts(path) == (4 * 5 * len(KPI_NAMES), 2)
    assert len(runs) == 1 and runs[0]["status"] == "complete" and runs[0]["created_at"] == first
    np.testing.assert_array_equal(k[KPI_NAMES[3]], _episode(rops=4).kpis[KPI_NAMES[3]])
    assert ev == [Event(1, "fault", "SITE_DOWN", 0, {"severity": 1.0}), Event(2, "action", "TILT", None,
                                                                           {"tilt_deg": 4.0})]


def test_shorter_rewrite_of_an_episode_drops_stale_rops(tmp_path):
    with TelemetryStore(tmp_path / "t.duckdb") as s:
        s.write_episode(_episode(rops=4))
        s.write_episode(_episode(rops=2))
        assert s.kpis("ep")[KPI_NAMES[0]].shape == (2, 5)
        assert [e.rop for e in s.events("ep")] == [1]
        assert s.runs()[0]["rops"] == 2


def test_unfinished_run_reads_back_completed_rops(tmp_path):
    path, k_last = tmp_path / "t.duckdb", 4
    s = TelemetryStore(path)
    _record(s, rops=100)
    for t in range(k_last + 1):
        s.write_rop("r", t, _rop_kpis(t))
    s.close()  # "killed": finish_run never called
    with TelemetryStore(path, read_only=True) as s:
        k = s.kpis("r")
        status = s.runs()[0]["status"]
    assert status == "running"
    assert all(v.shape == (k_last + 1, NUM_CELLS) for v in k.values())


WRITER = """
import sys
import numpy as np
from airan.data.telemetry import TelemetryStore
from airan.twin.events import Event
from airan.twin.kpis import KPI_NAMES
s = TelemetryStore(sys.argv[1])
s.record_run("killed", scenario="uma-19", seed=0, rops=10**6, config={}, code_version="v")
t = 0
while True:
    s.write_rop("killed", t, {n: np.full(57, float(t)) for n in KPI_NAMES}, [Event(t, "alarm", "TICK", t % 57)])
    if t == 3:
        print("ready", flush=True)
    t += 1
"""


def test_sigkilled_writer_leaves_only_complete_rops(tmp_path):
    path = tmp_path / "k.duckdb"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with TelemetryStore(path, read_only=True) as s:
        k = s.kpis("killed")
        events = s.events("killed")
        status = s.runs()[0]["status"]
    with duckdb.connect(str(path), read_only=True) as con:
        per_rop = con.execute("SELECT rop, count(*), count(value) FROM kpis GROUP BY rop ORDER BY rop").fetchall()
    num_rops = len(per_rop)
    assert status == "running" and num_rops >= 4
    assert [r[0] for r in per_rop] == list(range(num_rops))  # contiguous 0..k
    assert all(r[1] == r[2] == NUM_CELLS * len(KPI_NAMES) for r in per_rop)  # every ROP whole
    assert list(k) == list(KPI_NAMES)
    for v in k.values():
        np.testing.assert_array_equal(v, np.repeat(np.arange(num_rops, dtype=float)[:, None], NUM_CELLS, axis=1))
    assert [e.rop for e in events] == list(range(num_rops))


def test_unknown_run_id_is_a_store_error(tmp_path):
    with TelemetryStore(tmp_path / "t.duckdb") as s:
        _record(s, "known")
        for call in (s.kpis, s.events, s.finish_run):
            with pytest.raises(StoreError, match="'nope'"):
                call("nope")
        with pytest.raises(StoreError, match="'nope'"):
            s.write_rop("nope", 0, _rop_kpis(0))


def test_files_that_are_not_telemetry_stores(tmp_path):
    bad = tmp_path / "not-a-db.duckdb"
    bad.write_bytes(b"this is not a database" * 400)
    with pytest.raises(StoreError, match="not-a-db.duckdb"):
        TelemetryStore(bad)
    with pytest.raises(StoreError, match="not-a-db.duckdb"):
        TelemetryStore(bad, read_only=True)
    with pytest.raises(StoreError, match="missing.duckdb"):
        TelemetryStore(tmp_path / "missing.duckdb", read_only=True)
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()  # a DuckDB file without the telemetry tables
    with pytest.raises(StoreError, match="other.duckdb.*kpis"):
        TelemetryStore(other, read_only=True)


def test_bad_inputs_name_the_bad_value(tmp_path):
    with TelemetryStore(tmp_path / "t.duckdb") as s:
        _record(s)
        with pytest.raises(ValueError, match="'B'"):
            s.write_rop("r", 0, {"A": np.zeros(3), "B": np.zeros(4)})
        with pytest.raises(ValueError, match="'A'.*shape"):
            s.write_rop("r", 0, {"A": np.zeros((2, 3))})
        with pytest.raises(ValueError, match="rop"):
            s.write_rop("r", -1, {"A": np.zeros(3)})
        with pytest.raises(ValueError, match="'X'.*rop 5"):
            s.write_rop("r", 0, {"A": np.zeros(3)}, [Event(5, "alarm", "X")])
        with pytest.raises(ValueError, match="'X'.*cell 3"):
            s.write_rop("r", 0, {"A": np.zeros(3)}, [Event(0, "alarm", "X", 3)])
        with pytest.raises(ValueError, match="'X'.*JSON"):
            s.write_rop("r", 0, {"A": np.zeros(3)}, [Event(0, "alarm", "X", None, {"o": object()})])
        with pytest.raises(ValueError, match="-3"):
            s.record_run("r2", scenario="a", seed=1, rops=-3, config={}, code_version="v")
        assert s.kpis("r") == {}  # nothing half-written by the failed calls
    with TelemetryStore(tmp_path / "t.duckdb", read_only=True) as s:
        with pytest.raises(StoreError, match="read-only"):
            s.write_rop("r", 0, {"A": np.zeros(3)})
