import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from airan.core.errors import StoreError
from airan.data.telemetry import TelemetryStore
from airan.twin.events import Event


def _kpis(rop, n=5):
    return {"A": np.arange(n, dtype=float) + rop, "B": np.where(np.arange(n) == 2, np.nan, float(rop))}


def test_roundtrip_nan_and_no_duplicates(tmp_path):
    path = tmp_path / "t.duckdb"
    with TelemetryStore(path) as s:
        s.record_run("r", scenario="ci-tiny", seed=1, rops=3, config={"x": 1}, code_version="v")
        for t in range(3):
            s.write_rop("r", t, _kpis(t), [Event(t, "alarm", "CELL_DOWN", 1, {"state": "raised"})])
        s.write_rop("r", 1, _kpis(1))  # rewrite: replaces, never duplicates
        s.record_run("r", scenario="ci-tiny", seed=1, rops=3, config={"x": 1}, code_version="v")
        s.finish_run("r")
    with TelemetryStore(path, read_only=True) as s:
        k = s.kpis("r")
        assert k["A"].shape == (3, 5) and k["A"][2, 4] == 6.0
        assert np.isnan(k["B"][0, 2]) and k["B"][2, 0] == 2.0
        ev = s.events("r")
        assert [e.rop for e in ev] == [0, 2] and ev[0].detail == {"state": "raised"}
        assert len(s.runs()) == 1 and s.runs()[0]["status"] == "complete" and s.runs()[0]["config"] == {"x": 1}


def test_errors_name_the_bad_value(tmp_path):
    with TelemetryStore(tmp_path / "t.duckdb") as s:
        with pytest.raises(StoreError, match="'nope'"):
            s.kpis("nope")
        s.record_run("r", scenario="a", seed=1, rops=1, config={}, code_version="v")
        with pytest.raises(ValueError, match="'B'"):
            s.write_rop("r", 0, {"A": np.zeros(3), "B": np.zeros(4)})
    bad = tmp_path / "not-a-db.duckdb"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not-a-db"):
        TelemetryStore(bad)


WRITER = """
import sys, numpy as np
from airan.data.telemetry import TelemetryStore
s = TelemetryStore(sys.argv[1])
s.record_run("killed", scenario="a", seed=0, rops=100000, config={}, code_version="v")
t = 0
while True:
    s.write_rop("killed", t, {f"K{i}": np.full(57, float(t)) for i in range(22)})
    if t == 3:
        print("ready", flush=True)
    t += 1
"""


def test_killed_writer_leaves_complete_rops(tmp_path):
    path = tmp_path / "k.duckdb"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with TelemetryStore(path, read_only=True) as s:
        k = s.kpis("killed")
        assert s.runs()[0]["status"] == "running"
        assert len(k) == 22 and k["K0"].shape[0] >= 4
        for name, v in k.items():  # every ROP that is there is whole
            assert not np.isnan(v).any(), name
            assert np.all(v == np.arange(v.shape[0])[:, None])
