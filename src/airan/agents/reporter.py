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

    def text(self) -> str:
        return f"{self.kpi} of cell {self.cell} was {self.value:.6g} {KPI_UNITS.get(self.kpi, '')} at ROP {self.rop}"


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
        if inc.citations:
            lines.append("Telemetry used: " + "; ".join(c.text() for c in inc.citations) + ".")
            for c in inc.citations:
                evidence[f"{c.kpi}@{c.cell}@{c.rop}"] = c.value
        lines += [f"- {a}" for a in inc.actions] or ["- no action was taken"]
        if inc.closed_rop is not None:
            why = inc.closed_why or "the cell's KPIs are back within their baseline"
            lines.append(f"Closed at ROP {inc.closed_rop}: {why}.")
    return "\n".join(lines), evidence
