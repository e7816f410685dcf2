"""Audit trail of autonomous operations in DuckDB: every decision, prediction, approval request, approval,
action and rollback of a run, in order, with its pre/post state, so a run can be inspected and replayed.

One table ``audit(run_id, seq, rop, stage, payload)``; ``payload`` is canonical JSON text (sorted keys, no
spaces, NaN spelled ``NaN``) so two payloads are equal exactly when their bytes are, which is what
``airan replay`` compares. The file may be the telemetry store's file (the table names do not collide).
The ``episode`` stage holds what replay needs to re-run the episode: the suite episode JSON and the policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from airan.core.errors import StoreError

STAGES = ("episode", "decision", "prediction", "approval_request", "approval", "action", "rollback", "report")
MEMORY = ":memory:"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    run_id VARCHAR NOT NULL,
    seq BIGINT NOT NULL,
    rop INTEGER NOT NULL,
    stage VARCHAR NOT NULL,
    payload VARCHAR NOT NULL,
    PRIMARY KEY (run_id, seq)
)
"""


def _default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"audit payload holds a {type(o).__name__}, which is not JSON-serialisable: {o!r}")


def canonical_json(payload: Any) -> str:
    """The canonical JSON text of ``payload`` (sorted keys, compact separators); raises ``StoreError``
    naming the value when it is not serialisable."""
    try:
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_default, allow_nan=True)
    except (TypeError, ValueError) as e:
        raise StoreError(f"cannot serialise audit payload: {e}") from None


@dataclass(frozen=True)
class AuditEntry:
    """One audit row; ``payload_json`` is the stored canonical text, ``payload`` its parsed form."""

    run_id: str
    seq: int
    rop: int
    stage: str
    payload_json: str

    @property
    def payload(self) -> Any:
        return json.loads(self.payload_json)


REPLAYED_STAGES = ("decision", "prediction", "approval_request", "approval", "action", "rollback")


@dataclass(frozen=True)
class ReplayDiff:
    """Entry-by-entry comparison of a recorded and a replayed run (stages of ``REPLAYED_STAGES``)."""

    matched: int
    mismatched: int
    recorded: int
    replayed: int
    first_mismatch: dict[str, Any] | None

    @property
    def identical(self) -> bool:
        return self.mismatched == 0 and self.recorded == self.replayed

    def to_dict(self) -> dict[str, Any]:
        return {"matched": self.matched, "mismatched": self.mismatched, "recorded": self.recorded,
                "replayed": self.replayed, "identical": self.identical, "first_mismatch": self.first_mismatch}


def compare_runs(recorded: list[AuditEntry], replayed: list[AuditEntry],
                 stages: tuple[str, ...] = REPLAYED_STAGES) -> ReplayDiff:
    """Compare two runs' entries of ``stages`` in order: an entry matches when its stage, ROP and payload
    bytes are equal. Entries beyond the shorter run count as mismatched."""
    a = [e for e in recorded if e.stage in stages]
    b = [e for e in replayed if e.stage in stages]
    matched, first = 0, None
    for i in range(max(len(a), len(b))):
        x, y = (a[i] if i < len(a) else None), (b[i] if i < len(b) else None)
        if x is not None and y is not None and (x.stage, x.rop, x.payload_json) == (y.stage, y.rop, y.payload_json):
            matched += 1
        elif first is None:
            first = {"index": i,
                     "recorded": None if x is None else {"stage": x.stage, "rop": x.rop, "payload": x.payload_json},
                     "replayed": None if y is None else {"stage": y.stage, "rop": y.rop, "payload": y.payload_json}}
    total = max(len(a), len(b))
    return ReplayDiff(matched, total - matched, len(a), len(b), first)


class AuditLog:
    """The audit table in a DuckDB file (``":memory:"`` for a throw-away log, e.g. during a replay).

    One writer process per file at a time (DuckDB's rule). Use as a context manager or call ``close()``."""

    def __init__(self, path: str | Path = MEMORY) -> None:
        self.path = str(path)
        if self.path != MEMORY:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        try:
            self._con = duckdb.connect(self.path, config=config)
            self._con.execute(_SCHEMA)
        except duckdb.Error as e:
            raise StoreError(f"cannot open audit log {self.path!r}: {e}") from None
        self._next: dict[str, int] = {}

    # ------------------------------------------------------------------ writing
    def record(self, run_id: str, rop: int, stage: str, payload: Any) -> int:
        """Append one entry; returns its sequence number within ``run_id`` (0, 1, 2, ...)."""
        if not isinstance(run_id, str) or not run_id:
            raise StoreError(f"run_id must be a non-empty string, got {run_id!r}")
        if stage not in STAGES:
            raise StoreError(f"unknown audit stage {stage!r}; choose one of {STAGES}")
        if isinstance(rop, bool) or not isinstance(rop, (int, np.integer)) or rop < -1:
            raise StoreError(f"rop must be an integer >= -1 (-1 = before the episode), got {rop!r}")
        text = canonical_json(payload)
        seq = self._next.get(run_id)
        if seq is None:
            row = self._execute("SELECT max(seq) FROM audit WHERE run_id = ?", [run_id]).fetchone()
            seq = 0 if row is None or row[0] is None else int(row[0]) + 1
        self._execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?)", [run_id, seq, int(rop), stage, text])
        self._next[run_id] = seq + 1
        return seq

    def record_episode(self, run_id: str, episode: dict[str, Any], policy: str, **extra: Any) -> int:
        """Store the episode spec (suite episode JSON) and the policy name that replay re-runs."""
        return self.record(run_id, -1, "episode", {"episode": episode, "policy": policy, **extra})

    # ------------------------------------------------------------------ reading
    def entries(self, run_id: str, stage: str | None = None) -> list[AuditEntry]:
        """Entries of ``run_id`` in order (optionally one stage only)."""
        sql = "SELECT run_id, seq, rop, stage, payload FROM audit WHERE run_id = ?"
        params: list[Any] = [run_id]
        if stage is not None:
            if stage not in STAGES:
                raise StoreError(f"unknown audit stage {stage!r}; choose one of {STAGES}")
            sql += " AND stage = ?"
            params.append(stage)
        rows = self._execute(sql + " ORDER BY seq", params).fetchall()
        return [AuditEntry(r[0], int(r[1]), int(r[2]), r[3], r[4]) for r in rows]

    def runs(self) -> list[str]:
        """Run ids with at least one entry, sorted."""
        return [r[0] for r in self._execute("SELECT DISTINCT run_id FROM audit ORDER BY run_id").fetchall()]

    def episode(self, run_id: str) -> dict[str, Any]:
        """The ``episode`` entry of ``run_id``; ``StoreError`` naming the run when there is none."""
        found = self.entries(run_id, "episode")
        if not found:
            known = self.runs()
            raise StoreError(f"run {run_id!r} has no episode entry in {self.path!r}; runs here: {known[:10]}")
        return found[0].payload

    # ------------------------------------------------------------------ plumbing
    def _execute(self, sql: str, params: list[Any] | None = None) -> duckdb.DuckDBPyConnection:
        try:
            return self._con.execute(sql, params or [])
        except duckdb.Error as e:
            raise StoreError(f"audit log {self.path!r}: {e}") from None

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
