"""Telemetry store of the twin on DuckDB (embedded, one file): runs, per-cell KPIs per ROP, and events.

Tables
  runs   (run_id PK, scenario, seed, rops, status, code_version, created_at, config JSON)
  kpis   (run_id, rop, cell, kpi, value DOUBLE)   long format; NULL where the KPI is undefined (NaN)
  events (run_id, rop, seq, kind, name, cell, detail JSON)

Each ROP is written in one transaction (delete that ROP's rows, insert the new ones): a run that is killed leaves
every completed ROP readable and never half a ROP, and re-writing a ROP or a run replaces rows, never duplicates
them. Units of the KPI values are those of ``airan.twin.kpis.KPI_UNITS``; ``rop`` and ``cell`` are 0-based indices.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from airan.core.errors import StoreError
from airan.twin.events import Event
from airan.twin.kpis import KPI_NAMES
from airan.twin.result import EpisodeResult

TABLES = ("runs", "kpis", "events")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (run_id VARCHAR PRIMARY KEY, scenario VARCHAR NOT NULL, seed BIGINT NOT NULL,
  rops INTEGER NOT NULL, status VARCHAR NOT NULL, code_version VARCHAR NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT current_timestamp, config JSON NOT NULL);
CREATE TABLE IF NOT EXISTS kpis (run_id VARCHAR NOT NULL, rop INTEGER NOT NULL, cell INTEGER NOT NULL,
  kpi VARCHAR NOT NULL, value DOUBLE);
CREATE TABLE IF NOT EXISTS events (run_id VARCHAR NOT NULL, rop INTEGER NOT NULL, seq INTEGER NOT NULL,
  kind VARCHAR NOT NULL, name VARCHAR NOT NULL, cell INTEGER, detail JSON NOT NULL);
"""
_RUN_COLUMNS = ("run_id", "scenario", "seed", "rops", "status", "code_version", "created_at", "config")
_KPI_ORDER = {name: i for i, name in enumerate(KPI_NAMES)}
_ROP_VIEW = "_airan_rop_kpis"  # name under which one ROP's numpy columns are registered for the bulk insert


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON-serialisable")


def _to_json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, default=_json_default)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} is not JSON-serialisable: {e}") from None


def _check_index(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{what} must be an integer >= 0, got {value!r}")
    return int(value)


def _check_text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _rop_columns(kpis: Mapping[str, np.ndarray]) -> tuple[int, dict[str, np.ndarray]]:
    """Validate one ROP's KPIs and flatten them to long-format columns.

    kpis : KPI name -> [num_cells] float64 (NaN allowed)
    Returns ``num_cells`` and columns ``cell`` [num_kpis * num_cells] int32, ``kpi`` [same] object (str),
    ``value`` [same] float64, KPI-major (all cells of the first KPI, then the next).
    """
    if not kpis:
        raise ValueError("kpis is empty: a ROP needs at least one KPI")
    names = list(kpis)
    arrays = []
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"KPI names must be non-empty strings, got {name!r}")
        try:
            a = np.asarray(kpis[name], dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"KPI {name!r} is not numeric: {e}") from None
        if a.ndim != 1 or a.size == 0:
            raise ValueError(f"KPI {name!r} must be [num_cells] with num_cells >= 1, got shape {a.shape}")
        if arrays and a.shape != arrays[0].shape:
            raise ValueError(f"KPI {name!r} has {a.shape[0]} cells but KPI {names[0]!r} has {arrays[0].shape[0]}")
        arrays.append(a)
    num_cells = arrays[0].shape[0]
    # [num_kpis, num_cells] -> [num_kpis * num_cells]
    value = np.stack(arrays).reshape(-1)
    cell = np.tile(np.arange(num_cells, dtype=np.int32), len(names))
    kpi = np.repeat(np.array(names, dtype=object), num_cells)
    return num_cells, {"cell": cell, "kpi": kpi, "value": value}


class TelemetryStore:
    """A DuckDB telemetry file: one writer process at a time, any number of read-only readers when none writes.

    Use as a context manager or call ``close()``. ``read_only`` opens an existing store without taking the write
    lock; otherwise the parent directory and the schema are created when missing.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if read_only and not self.path.is_file():
            raise StoreError(f"telemetry store {str(self.path)!r} does not exist")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        try:
            self._con = duckdb.connect(str(self.path), read_only=read_only, config=config)
        except duckdb.Error as e:
            raise StoreError(f"cannot open telemetry store {str(self.path)!r}: {e}") from None
        try:
            if not read_only:
                self._con.execute(_SCHEMA)
            found = {r[0] for r in self._con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        except duckdb.Error as e:
            self._con.close()
            raise StoreError(f"cannot set up telemetry store {str(self.path)!r}: {e}") from None
        if missing := [t for t in TABLES if t not in found]:
            self._con.close()
            raise StoreError(f"{str(self.path)!r} is not a telemetry store: tables {missing} are missing")

    # ------------------------------------------------------------------ writing
    def record_run(self, run_id: str, *, scenario: str, seed: int, rops: int, config: dict, code_version: str,
                   status: str = "running") -> None:
        """Create the run's row, or update it (keeping ``created_at``) when the run id exists."""
        self._check_writable()
        _check_text(run_id, "run_id")
        _check_text(scenario, "scenario")
        _check_text(status, "status")
        seed = _check_index(seed, "seed")
        rops = _check_index(rops, "rops")
        if not isinstance(config, dict):
            raise ValueError(f"config must be a dict, got {type(config).__name__}")
        cfg = _to_json(config, f"config of run {run_id!r}")
        self._execute(
            "INSERT INTO runs (run_id, scenario, seed, rops, status, code_version, config) VALUES (?,?,?,?,?,?,?) "
            "ON CONFLICT (run_id) DO UPDATE SET scenario = excluded.scenario, seed = excluded.seed, "
            "rops = excluded.rops, status = excluded.status, code_version = excluded.code_version, "
            "config = excluded.config", [run_id, scenario, seed, rops, status, str(code_version), cfg])

    def write_rop(self, run_id: str, rop: int, kpis: dict[str, np.ndarray], events: Sequence[Event] = ()) -> None:
        """Write (or replace) one ROP of a recorded run in one transaction.

        kpis   : KPI name -> [num_cells] float64, the same num_cells for every KPI (NaN stored as NULL)
        events : events of this ROP (``event.rop == rop``; ``event.cell`` None or in [0, num_cells))
        """
        self._check_writable()
        rop = _check_index(rop, "rop")
        num_cells, columns = _rop_columns(kpis)
        event_rows: list[Any] = []
        for seq, e in enumerate(events):
            if not isinstance(e, Event):
                raise ValueError(f"events must be Event objects, got {type(e).__name__} at position {seq}")
            if e.rop != rop:
                raise ValueError(f"event {e.name!r} has rop {e.rop} but is written with ROP {rop}")
            if e.cell is not None and not 0 <= e.cell < num_cells:
                raise ValueError(f"event {e.name!r}: cell {e.cell!r} out of range [0, {num_cells - 1}]")
            detail = _to_json(e.detail, f"detail of event {e.name!r}")
            event_rows += [run_id, rop, seq, e.kind, e.name, None if e.cell is None else int(e.cell), detail]
        con = self._con
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                if not con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone():
                    raise StoreError(f"run {run_id!r} is not recorded in {str(self.path)!r}: call record_run first")
                con.execute("DELETE FROM kpis WHERE run_id = ? AND rop = ?", [run_id, rop])
                con.execute("DELETE FROM events WHERE run_id = ? AND rop = ?", [run_id, rop])
                con.register(_ROP_VIEW, columns)
                try:
                    con.execute(f"INSERT INTO kpis SELECT ?, ?, cell, kpi, CASE WHEN isnan(value) THEN NULL "
                                f"ELSE value END FROM {_ROP_VIEW}", [run_id, rop])
                finally:
                    con.unregister(_ROP_VIEW)
                if event_rows:
                    marks = ",".join(["(?,?,?,?,?,?,?)"] * (len(event_rows) // 7))
                    con.execute(f"INSERT INTO events VALUES {marks}", event_rows)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        except duckdb.Error as e:
            raise StoreError(f"cannot write ROP {rop} of run {run_id!r} to {str(self.path)!r}: {e}") from None

    def finish_run(self, run_id: str, status: str = "complete") -> None:
        """Set the run's final status and checkpoint the write-ahead log into the file."""
        self._check_writable()
        self._require_run(run_id)
        self._execute("UPDATE runs SET status = ? WHERE run_id = ?", [_check_text(status, "status"), run_id])
        self._execute("CHECKPOINT")

    def write_episode(self, result: EpisodeResult, *, code_version: str | None = None,
                      show_progress: bool = True) -> None:
        """Record a whole episode: ``record_run``, every ROP, ``finish_run``. Idempotent for the same run id.

        ``result.kpis``: KPI name -> [rops, num_cells] float64. ROPs left from an earlier, longer write of the same
        run id are deleted. A transient rich progress bar is shown on stderr when ``rops > 50``.
        """
        for name, series in result.kpis.items():
            if np.shape(series) != (result.rops, result.num_cells):
                raise ValueError(f"KPI {name!r} has shape {np.shape(series)}, expected "
                                 f"[rops, num_cells] = {(result.rops, result.num_cells)}")
        by_rop: dict[int, list[Event]] = {}
        for e in result.events:
            if not 0 <= e.rop < result.rops:
                raise ValueError(f"event {e.name!r} has rop {e.rop!r} outside [0, {result.rops - 1}]")
            by_rop.setdefault(e.rop, []).append(e)
        if code_version is None:
            from airan import __version__

            code_version = __version__
        self.record_run(result.run_id, scenario=result.scenario, seed=result.seed, rops=result.rops,
                        config=result.config, code_version=code_version)
        from rich.console import Console
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True,
                      disable=not show_progress or result.rops <= 50) as progress:
            task = progress.add_task(f"telemetry {result.run_id}", total=result.rops)
            for t in range(result.rops):
                self.write_rop(result.run_id, t, {k: v[t] for k, v in result.kpis.items()}, by_rop.get(t, ()))
                progress.advance(task)
        for table in ("kpis", "events"):
            self._execute(f"DELETE FROM {table} WHERE run_id = ? AND rop >= ?", [result.run_id, result.rops])
        self.finish_run(result.run_id)

    # ------------------------------------------------------------------ reading
    def runs(self) -> list[dict[str, Any]]:
        """Every run, oldest first: run_id, scenario, seed, rops, status, code_version, created_at, config (dict)."""
        rows = self._execute(f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs ORDER BY created_at, run_id").fetchall()
        out = [dict(zip(_RUN_COLUMNS, r)) for r in rows]
        for r in out:
            r["config"] = json.loads(r["config"])
        return out

    def kpis(self, run_id: str) -> dict[str, np.ndarray]:
        """KPI name -> [num_rops_written, num_cells] float64 (NaN where NULL), rows in ascending ROP order.

        KPIs come in ``KPI_NAMES`` order, then any others alphabetically; a run without ROPs gives ``{}``.
        """
        self._require_run(run_id)
        found = [r[0] for r in self._execute("SELECT DISTINCT kpi FROM kpis WHERE run_id = ?", [run_id]).fetchall()]
        if not found:
            return {}
        names = sorted(found, key=lambda n: (_KPI_ORDER.get(n, len(_KPI_ORDER)), n))
        res = self._execute("SELECT list_position(?::VARCHAR[], kpi) - 1 AS k, rop, cell, value FROM kpis "
                            "WHERE run_id = ?", [names, run_id]).fetchnumpy()
        kpi_idx = np.asarray(res["k"], dtype=np.int64)
        rops, rop_idx = np.unique(np.asarray(res["rop"], dtype=np.int64), return_inverse=True)
        cell = np.asarray(res["cell"], dtype=np.int64)
        value = np.ma.filled(np.ma.asarray(res["value"], dtype=np.float64), np.nan)
        # [num_kpis, num_rops_written, num_cells]
        cube = np.full((len(names), len(rops), int(cell.max()) + 1), np.nan)
        cube[kpi_idx, rop_idx, cell] = value
        return {name: cube[i] for i, name in enumerate(names)}

    def events(self, run_id: str) -> list[Event]:
        """The run's events ordered by ROP, then by their order within the ROP."""
        self._require_run(run_id)
        rows = self._execute("SELECT rop, kind, name, cell, detail FROM events WHERE run_id = ? ORDER BY rop, seq",
                             [run_id]).fetchall()
        return [Event(rop=r[0], kind=r[1], name=r[2], cell=r[3], detail=json.loads(r[4])) for r in rows]

    # ------------------------------------------------------------------ plumbing
    def _execute(self, sql: str, params: list[Any] | None = None) -> duckdb.DuckDBPyConnection:
        try:
            return self._con.execute(sql, params)
        except duckdb.Error as e:
            raise StoreError(f"telemetry store {str(self.path)!r}: {e}") from None

    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError(f"telemetry store {str(self.path)!r} is open read-only")

    def _require_run(self, run_id: str) -> None:
        if not self._execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone():
            known = [r[0] for r in self._execute("SELECT run_id FROM runs ORDER BY run_id LIMIT 10").fetchall()]
            raise StoreError(f"unknown run id {run_id!r} in {str(self.path)!r}; known (first 10): {known}")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._con.close()

    def __enter__(self) -> TelemetryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
