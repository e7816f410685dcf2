"""KPI names (3GPP TS 28.552 / O-RAN E2SM-KPM style) and pure per-cell aggregation.

Every KPI is reported per cell and reporting period (ROP). Arrays: ``[num_cells]`` float64 per ROP,
stacked to ``[num_rops, num_cells]`` over an episode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class KpiDef:
    name: str
    unit: str
    description: str


KPI_DEFS: tuple[KpiDef, ...] = (
    KpiDef("DRB.UEThpDl", "Mbit/s", "mean DL UE throughput of UEs served by the cell"),
    KpiDef("DRB.UEThpDl.p5", "Mbit/s", "5th percentile DL UE throughput (cell-edge)"),
    KpiDef("DRB.UEThpDl.p50", "Mbit/s", "median DL UE throughput"),
    KpiDef("DRB.UEThpDl.p95", "Mbit/s", "95th percentile DL UE throughput"),
    KpiDef("DRB.UEThpUl", "Mbit/s", "mean UL UE throughput"),
    KpiDef("DRB.CellThpDl", "Mbit/s", "total DL traffic carried by the cell"),
    KpiDef("RRU.PrbUsedDl", "%", "DL PRB utilisation"),
    KpiDef("RRC.ConnMean", "UEs", "mean number of RRC-connected UEs"),
    KpiDef("L1M.RSRP", "dBm", "mean RSRP of the cell's served UEs"),
    KpiDef("L1M.RSRP.p5", "dBm", "5th percentile RSRP of served UEs"),
    KpiDef("L1M.SINR", "dB", "mean DL SINR of served UEs"),
    KpiDef("L1M.SINR.p5", "dB", "5th percentile DL SINR of served UEs"),
    KpiDef("HO.AttOut", "count", "outgoing handover attempts in the ROP"),
    KpiDef("HO.SuccOut", "count", "successful outgoing handovers"),
    KpiDef("HO.PingPong", "count", "ping-pong handovers (return within the ping-pong window)"),
    KpiDef("RLF.Count", "count", "radio link failures of served UEs"),
    KpiDef("PEE.Energy", "kWh", "energy consumed by the cell's radio unit in the ROP"),
    KpiDef("BH.LatencyMs", "ms", "backhaul latency of the cell's site"),
    KpiDef("BH.LossRate", "ratio", "backhaul packet loss ratio of the cell's site"),
    KpiDef("Cell.Available", "0/1", "1 when the cell is up and on-air"),
    KpiDef("DRB.DemandDl", "Mbit/s", "offered DL traffic of the cell's UEs"),
    KpiDef("Alarm.Count", "count", "alarms raised by the cell in the ROP"),
)
KPI_NAMES: tuple[str, ...] = tuple(k.name for k in KPI_DEFS)
KPI_UNITS: dict[str, str] = {k.name: k.unit for k in KPI_DEFS}


def masked_stat(values: np.ndarray, owner: np.ndarray, num_cells: int, stat: str) -> np.ndarray:
    """Per-cell statistic of per-UE ``values`` [num_ues] grouped by ``owner`` [num_ues] int (-1 = none).

    ``stat`` is ``mean`` or ``pNN`` (percentile). Cells without UEs get NaN.
    Returns ``[num_cells]`` float64.
    """
    out = np.full(num_cells, np.nan)
    valid = owner >= 0
    if stat == "mean":
        sums = np.bincount(owner[valid], weights=values[valid], minlength=num_cells)
        counts = np.bincount(owner[valid], minlength=num_cells)
        np.divide(sums, counts, out=out, where=counts > 0)
        return out
    if not stat.startswith("p"):
        raise ValueError(f"stat must be 'mean' or 'pNN', got {stat!r}")
    q = float(stat[1:])
    own, val = owner[valid], values[valid]
    order = np.lexsort((val, own))
    own_sorted, val_sorted = own[order], val[order]
    counts = np.bincount(own_sorted, minlength=num_cells)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts > 0
    pos = q / 100.0 * (counts[has] - 1)  # numpy's default 'linear' percentile definition
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, counts[has] - 1)
    v_lo = val_sorted[starts[has] + lo]
    v_hi = val_sorted[starts[has] + hi]
    out[has] = v_lo + (pos - lo) * (v_hi - v_lo)
    return out


def summarize(series: np.ndarray) -> dict[str, float]:
    """``mean``, ``p5``, ``p50``, ``p95`` over all finite entries of a ``[num_rops, num_cells]`` array."""
    finite = series[np.isfinite(series)]
    if finite.size == 0:
        return {"mean": float("nan"), "p5": float("nan"), "p50": float("nan"), "p95": float("nan")}
    p5, p50, p95 = np.percentile(finite, [5, 50, 95])
    return {"mean": float(finite.mean()), "p5": float(p5), "p50": float(p50), "p95": float(p95)}
