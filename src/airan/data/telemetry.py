"""Telemetry store on DuckDB (embedded, one file): runs, per-cell KPIs per ROP, and events.

Tables
  runs   (run_id PK, scenario, seed, rops, status, code_version, created_at, config JSON)
  kpis   (run_id, rop, cell, kpi, value DOUBLE NULL)  -- long format, NULL for undefined (NaN)
  events (run_id, rop, seq, kind, name, cell, detail JSON)

Each ROP is written in one transaction (delete that ROP's rows, insert the new ones), so a run that is killed
leaves every completed ROP readable and never half a ROP, and re-writing a run never duplicates rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from airan.core.errors import StoreError
from airan.twin.events import Event
from airan.twin.result import EpisodeResult

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (run_id VARCHAR PRIMARY KEY, scenario VARCHAR, seed BIGINT, rops INTEGER,
  status VARCHAR, code_version VARCHAR, created_at TIMESTAMP DEFAULT current_timestamp, config JSON);
CREATE TABLE IF NOT EXISTS kpis (run_id VARCHAR, rop INTEGER, cell INTEGER, kpi VARCHAR, value DOUBLE);
CREATE TABLE IF NOT EXISTS events (run_id VARCHAR, rop INTEGER, seq INTEGER, kind VARCHAR, name VARCHAR,
  cell INTEGER, detail JSON);
"""


def _json_default(o: Any):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


class TelemetryStore:
    """A DuckDB telemetry file. Use as a context manager or call ``close()``."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        if read_only and not self.path.exists():
            raise StoreError(f"telemetry store {str(self.path)!r} does not exist")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path), read_only=read_only)
            if not read_only:
                self._con.execute(_SCHEMA)
        except duckdb.Error as e:
            raise StoreError(f"cannot open telemetry store {str(self.path)!r}: {e}") from None

    # -------------------------------------------------------------- writing
    def record_run(self, run_id: str, *, scenario: str, seed: int, rops: int, config: dict, code_version: str,
                   status: str = "running") -> None:
        """Create or update the run's row (idempotent)."""
        cfg = json.dumps(config, default=_json_default)
        self._con.execute(
            "INSERT INTO runs (run_id, scenario, seed, rops, status, code_version, config) VALUES (?,?,?,?,?,?,?) "
            "ON CONFLICT (run_id) DO UPDATE SET scenario=excluded.scenario, seed=excluded.seed, rops=excluded.rops, "
            "status=excluded.status, code_version=excluded.code_version, config=excluded.config",
            [run_id, scenario, int(seed), int(rops), status, code_version, cfg])

    def write_rop(self, run_id: str, rop: int, kpis: dict[str, np.ndarray], events: Sequence[Event] = ()) -> None:
        """Write one ROP atomically. ``kpis``: KPI name -> [num_cells] float (NaN stored as NULL)."""
        if rop < 0:
            raise ValueError(f"rop must be >= 0, got {rop!r}")
        lengths = {name: np.asarray(v).shape for name, v in kpis.items()}
        first = next(iter(lengths.values()), (0,))
        for name, shape in lengths.items():
            if len(shape) != 1 or shape != first:
                raise ValueError(f"KPI {name!r} has shape {shape}, expected {first} like the others")
        names = list(kpis)
        n = first[0]
        values = np.concatenate([np.asarray(kpis[k], dtype=np.float64) for k in names]) if names else np.zeros(0)
        vals = [None if not np.isfinite(v) else float(v) for v in values]
        cells = np.tile(np.arange(n), len(names)).tolist()
        kpi_col = np.repeat(np.array(names, dtype=object), n).tolist()
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM kpis WHERE run_id = ? AND rop = ?", [run_id, rop])
            con.execute("DELETE FROM events WHERE run_id = ? AND rop = ?", [run_id, rop])
            if vals:
                con.execute("INSERT INTO kpis SELECT ?, ?, UNNEST(?), UNNEST(?), UNNEST(?)",
                            [run_id, rop, cells, kpi_col, vals])
            if events:
                con.execute(
                    "INSERT INTO events SELECT ?, ?, UNNEST(?), UNNEST(?), UNNEST(?), UNNEST(?), UNNEST(?)",
                    [run_id, rop, list(range(len(events))), [e.kind for e in events], [e.name for e in events],
                     [e.cell for e in events], [json.dumps(e.detail, default=_json_default) for e in events]])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise

    def finish_run(self, run_id: str, status: str = "complete") -> None:
        self._con.execute("UPDATE runs SET status = ? WHERE run_id = ?", [status, run_id])
        self._con.execute("CHECKPOINT")

    def write_episode(self, result: EpisodeResult, code_version: str = "") -> None:
        """Record a whole episode (idempotent for the same run id)."""
        self.record_run(result.run_id, scenario=result.scenario, seed=result.seed, rops=result.rops,
                        config=result.config, code_version=code_version)
        by_rop: dict[int, list[Event]] = {}
        for e in result.events:
            by_rop.setdefault(e.rop, []).append(e)
        for t in range(result.rops):
            self.write_rop(result.run_id, t, {k: v[t] for k, v in result.kpis.items()}, by_rop.get(t, []))
        self.finish_run(result.run_id)

    # -------------------------------------------------------------- reading
    def runs(self) -> list[dict[str, Any]]:
        rows = self._con.execute("SELECT run_id, scenario, seed, rops, status, code_version, created_at, config "
                                 "FROM runs ORDER BY created_at, run_id").fetchall()
        keys = ("run_id", "scenario", "seed", "rops", "status", "code_version", "created_at", "config")
        out = [dict(zip(keys, r)) for r in rows]
        for r in out:
            r["config"] = json.loads(r["config"]) if r["config"] else {}
        return out

    def _require_run(self, run_id: str) -> None:
        if not self._con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone():
            known = [r[0] for r in self._con.execute("SELECT run_id FROM runs LIMIT 10").fetchall()]
            raise StoreError(f"unknown run id {run_id!r} in {str(self.path)!r}; known: {known}")

    def kpis(self, run_id: str) -> dict[str, np.ndarray]:
        """KPI name -> [num_rops_written, num_cells] float64 (NaN where NULL)."""
        self._require_run(run_id)
        rows = self._con.execute("SELECT rop, cell, kpi, value FROM kpis WHERE run_id = ? ORDER BY kpi, rop, cell",
                                 [run_id]).fetchall()
        if not rows:
            return {}
        rop = np.array([r[0] for r in rows])
        cell = np.array([r[1] for r in rows])
        names = [r[2] for r in rows]
        val = np.array([np.nan if r[3] is None else r[3] for r in rows], dtype=np.float64)
        rops = sorted(set(rop.tolist()))
        index = {t: i for i, t in enumerate(rops)}
        n_cells = int(cell.max()) + 1
        out: dict[str, np.ndarray] = {}
        for name in dict.fromkeys(names):
            out[name] = np.full((len(rops), n_cells), np.nan)
        ridx = np.array([index[t] for t in rop.tolist()])
        for name in out:
            m = np.array([x == name for x in names])
            out[name][ridx[m], cell[m]] = val[m]
        return out

    def events(self, run_id: str) -> list[Event]:
        self._require_run(run_id)
        rows = self._con.execute("SELECT rop, kind, name, cell, detail FROM events WHERE run_id = ? "
                                 "ORDER BY rop, seq", [run_id]).fetchall()
        return [Event(r[0], r[1], r[2], r[3], json.loads(r[4]) if r[4] else {}) for r in rows]

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> TelemetryStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
