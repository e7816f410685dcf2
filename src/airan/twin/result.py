"""The outcome of a simulated episode: KPI series, per-UE samples and events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from airan.twin.events import Event
from airan.twin.kpis import summarize


@dataclass
class EpisodeResult:
    """Everything a report, the telemetry store or the CLI needs from one episode.

    kpis        : KPI name -> [num_rops, num_cells] float64 (units in ``airan.twin.kpis.KPI_UNITS``)
    ue_sinr_db  : [num_rops, num_ues] float64, DL SINR of each UE towards its serving cell [dB]
                  (NaN while the UE has no serving cell)
    ue_thp_mbps : [num_rops, num_ues] float64, DL throughput of each UE [Mbit/s]
    cell_xy     : [num_cells, 2] float64, sector positions [m]
    ue_xy       : [num_ues, 2] float64, UE positions at the last ROP [m]
    faults      : ground truth of every injected fault (dicts: kind, cells, severity, onset, ramp, ...)
    """

    run_id: str
    scenario: str
    seed: int
    rops: int
    rop_s: float
    kpis: dict[str, np.ndarray]
    ue_sinr_db: np.ndarray
    ue_thp_mbps: np.ndarray
    cell_xy: np.ndarray
    ue_xy: np.ndarray
    events: list[Event] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def num_cells(self) -> int:
        return int(self.cell_xy.shape[0])

    def kpi_summary(self) -> dict[str, dict[str, float]]:
        """KPI name -> mean/p5/p50/p95 over cells x ROPs."""
        return {name: summarize(series) for name, series in self.kpis.items()}

    def per_cell(self) -> dict[str, dict[str, list[float | None]]]:
        """cell id (str) -> KPI name -> list over ROPs (NaN as None, JSON-safe)."""
        out: dict[str, dict[str, list[float | None]]] = {}
        for c in range(self.num_cells):
            out[str(c)] = {
                name: [None if not np.isfinite(v) else round(float(v), 6) for v in series[:, c]]
                for name, series in self.kpis.items()
            }
        return out
