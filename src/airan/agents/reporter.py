"""Reporter: a plain-language incident report naming the cause and citing the telemetry numbers it used.

Every number the report cites is a raw KPI value copied from the observations (cell, ROP, KPI), and each is
also stored in ``evidence`` so an auditor can check it against the telemetry. An optional LLM (``llm.py``)
may rephrase the text; the facts and the evidence never depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from airan.agents.base import Diagnosis
from airan.twin.kpis import KPI_UNITS

CAUSE_TEXT = {
    "cell_outage": "cell outage (the cell is down)",
    "sleeping_cell": "sleeping cell (on air, attaching UEs, carrying no traffic)",
    "excessive_downtilt": "excessive antenna downtilt (coverage shrank at the cell edge)",
    "uptilt_overshoot": "antenna uptilt / overshoot into neighbouring cells",
    "pa_degradation": "power amplifier degradation (lower transmit power)",
    "external_interference": "external interference raising the noise floor",
    "backhaul_congestion": "backhaul congestion at the site",
    "backhaul_failure": "backhaul failure at the site",
    "overload_hotspot": "overload / demand hotspot",
    "ho_misconfig": "handover misconfiguration",
}


@dataclass
class Citation:
    kpi: str
    cell: int
    rop: int
    value: float
    note: str = ""  # what the value stands for, e.g. "the median of the 54 cells without an alarm"

    def text(self) -> str:
        unit = KPI_UNITS.get(self.kpi, "")
        return (f"{self.kpi} of cell {self.cell} was {self.value:.6g} {unit} at ROP {self.rop}"
                + (f" ({self.note})" if self.note else ""))


@dataclass
class Incident:
    """What the report is about: detection ROP, diagnosis, cited telemetry, actions and outcomes."""

    detected_rop: int
    cells: tuple[int, ...]
    diagnosis: Diagnosis | None = None
    citations: list[Citation] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    closed_rop: int | None = None
    closed_why: str = ""  # why it closed, when not because its KPIs went back within their baseline
    cold: bool = False  # the anomaly was there before the cells had a history of their own (compared with peers)
    # a configuration audit led the diagnosis: the cause its fault-pattern test rated most likely, "" when none
    # led, "power" when only the calibrated power correction was read (``AiranConfig.audit_patterns``)
    audit: str = ""


def cite(history: dict[str, np.ndarray], kpis: tuple[str, ...], cell: int, before_rop: int,
         now_rop: int) -> list[Citation]:
    """Citations of ``kpis`` on ``cell`` at a pre-incident ROP and now (finite values only)."""
    out = []
    for k in kpis:
        if k not in history:
            continue
        for r in (before_rop, now_rop):
            if 0 <= r < history[k].shape[0] and np.isfinite(history[k][r, cell]):
                out.append(Citation(k, cell, r, float(history[k][r, cell])))
    return out


def cite_peers(history: dict[str, np.ndarray], kpis: tuple[str, ...], cell: int, rop: int,
               peers: np.ndarray) -> list[Citation]:
    """Citations of ``kpis`` on ``cell`` at ``rop`` next to the peer cell whose value is the median of the
    ``peers`` [num_cells] bool (the lower middle one of an even count; ``cell`` itself is never its own peer):
    the comparison a cell with no history of its own is judged by. Both are raw telemetry values (finite only)."""
    peers = np.asarray(peers, bool).copy()
    out = []
    for k in kpis:
        if k not in history or not 0 <= rop < history[k].shape[0]:
            continue
        row = np.asarray(history[k][rop], float)
        if not np.isfinite(row[cell]):
            continue
        out.append(Citation(k, cell, rop, float(row[cell])))
        ok = peers & np.isfinite(row)
        ok[cell] = False
        idx = np.nonzero(ok)[0]
        if idx.size:
            mid = int(idx[np.argsort(row[idx], kind="stable")[(idx.size - 1) // 2]])
            out.append(Citation(k, mid, rop, float(row[mid]), f"the median of the {idx.size} cells without an "
                                                                f"equipment alarm"))
    return out


def render(incidents: list[Incident], episode_id: str) -> tuple[str, dict[str, float]]:
    """The report text and its evidence (citation key ``KPI@cell@rop`` -> value)."""
    if not incidents:
        return f"Episode {episode_id}: no anomaly detected; no action taken.", {}
    lines, evidence = [f"Episode {episode_id}: {len(incidents)} incident(s)."], {}
    for i, inc in enumerate(incidents, 1):
        lines.append(f"Incident {i}: anomaly on cell(s) {', '.join(map(str, inc.cells))} detected at ROP "
                     f"{inc.detected_rop}.")
        if inc.diagnosis is not None:
            top = inc.diagnosis.top(2)
            p = inc.diagnosis.causes
            lines.append(f"Most likely cause: {CAUSE_TEXT.get(top[0], top[0])} (probability {p[top[0]]:.2f}); "
                         f"next: {CAUSE_TEXT.get(top[1], top[1])} ({p[top[1]]:.2f}).")
        if inc.cold:
            lines.append("The anomaly was already there when the telemetry starts: with no history of the cell "
                         "before it, the cell is compared with the network's cells that carry no equipment alarm.")
        if inc.audit:
            fits = ("" if inc.audit == "power" else
                    f"; of the faults the twin can put on it, {CAUSE_TEXT.get(inc.audit, inc.audit)} reproduces "
                    f"them best")
            lines.append("A configuration audit singled the cell out: what the UEs reported of it in the first ROPs "
                         f"does not fit the planning model{fits}.")
        if inc.citations:
            lines.append("Telemetry used: " + "; ".join(c.text() for c in inc.citations) + ".")
            for c in inc.citations:
                evidence[f"{c.kpi}@{c.cell}@{c.rop}"] = c.value
        lines += [f"- {a}" for a in inc.actions] or ["- no action was taken"]
        if inc.closed_rop is not None:
            why = inc.closed_why or "the cell's KPIs are back within their baseline"
            lines.append(f"Closed at ROP {inc.closed_rop}: {why}.")
    return "\n".join(lines), evidence
