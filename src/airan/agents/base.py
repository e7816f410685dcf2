"""Contracts of autonomous operations: what a healing policy sees each ROP, what it decides, and the
risk rules every policy is held to.

A *policy* (``airan``, ``none``, ``rules``, ``son``, ``oracle``) is stepped by the episode runner
(``airan.agents.runner``): after every reporting period (ROP) of the *true* twin the runner hands it an
``Observation`` (the KPIs and alarms an operator's OSS would see) and applies the ``Decision`` it returns
at the start of the next ROP. A policy never touches the true twin; the only twin it may build is the
*imperfect* one from ``EpisodeContext.make_twin`` (perturbed propagation and calibration errors), except
the ``oracle`` upper bound, which is given the ground truth and the true twin on purpose.

All arrays are numpy; per-cell arrays are ``[num_cells]`` float64 in the KPI's unit
(``airan.twin.kpis.KPI_UNITS``); histories are ``[num_rops_so_far, num_cells]``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from airan.twin.actions import Action
from airan.twin.events import Event
from airan.twin.faults import Fault
from airan.twin.scenarios import ScenarioConfig

# Root causes a diagnoser ranks: the fault catalogue without the benign negative example.
CAUSES: tuple[str, ...] = ("cell_outage", "sleeping_cell", "excessive_downtilt", "uptilt_overshoot",
                           "pa_degradation", "external_interference", "backhaul_congestion", "backhaul_failure",
                           "overload_hotspot", "ho_misconfig")

# High-risk actions wait for approval unless a pre-authorised policy covers them (issue 5).
HIGH_RISK_KINDS = ("restart", "sleep", "cell_off")
HIGH_RISK_POWER_DB = 3.0
HIGH_RISK_TILT_DEG = 2.0
HIGH_RISK_MAX_CELLS = 3


def is_high_risk(actions: list[Action]) -> bool:
    """True when a set of actions (applied together) needs approval: a restart/sleep/off, a power change
    above 3 dB, a tilt change above 2 deg, or more than 3 cells touched at once."""
    if len({a.cell for a in actions}) > HIGH_RISK_MAX_CELLS:
        return True
    for a in actions:
        if a.kind in HIGH_RISK_KINDS and not (a.kind == "sleep" and a.mode == "awake"):
            return True
        if a.kind == "power" and abs(a.value) > HIGH_RISK_POWER_DB:
            return True
        if a.kind == "tilt" and abs(a.value) > HIGH_RISK_TILT_DEG:
            return True
    return False


@dataclass(frozen=True)
class EpisodeContext:
    """What a policy knows about the network before the episode starts.

    cell_xy    : [num_cells, 2] float64 sector (site) positions [m]
    cell_yaw_deg: [num_cells] float64 boresight azimuth [deg]
    cell_site  : [num_cells] int64 site index of each cell
    neighbours : [num_cells, K] int64 the K nearest cells by serving-area geometry (-1 pads)
    make_twin  : builds the policy's own *imperfect* twin, already reset, for what-if runs:
                 ``make_twin(seed) -> NetworkTwin`` (perturbed propagation, +-2 dB / +-1 deg calibration error)
    truth      : ground-truth faults (``oracle`` only; None for every other policy)
    true_twin  : callable returning a clone of the true twin at the current ROP (``oracle`` only)
    preauthorized: action kinds the operator has pre-authorised for this run (a high-risk action of such a
                 kind may go without an approval id; set by the runner)
    """

    episode_id: str
    scenario: ScenarioConfig
    rops: int
    cell_xy: np.ndarray
    cell_yaw_deg: np.ndarray
    cell_site: np.ndarray
    neighbours: np.ndarray
    make_twin: Callable[[int], Any]
    truth: tuple[Fault, ...] | None = None
    true_twin: Callable[[], Any] | None = None
    preauthorized: frozenset[str] = frozenset()

    @property
    def num_cells(self) -> int:
        return int(self.cell_xy.shape[0])


@dataclass
class Observation:
    """One ROP of telemetry, as an OSS sees it.

    rop       : index of the ROP just completed
    kpis      : KPI name -> [num_cells] values of that ROP (NaN where undefined, e.g. no served UE)
    history   : KPI name -> [rop + 1, num_cells] every ROP so far (row ``rop`` == ``kpis``)
    events    : the twin's events of that ROP (alarms raised/cleared, actions applied)
    approvals : ids of approval requests the operator has granted so far
    applied   : the ``(rop, Action, pre, post)`` the twin applied for this policy so far
    mr_rsrp_dbm: [num_ues, num_cells] float64 the connected UEs' measurement reports of that ROP: reported
                SS-RSRP [dBm] per UE (a stable trace index) and cell, NaN where not reported
                (``airan.twin.measurements``); None when the source has no UE reports
    ue_serving: [num_ues] int64 the serving cell of each RRC-connected UE in the UE trace of that ROP (same
                UE index as ``mr_rsrp_dbm``; -1: not connected, not traced); None: no UE trace
    ue_dl_demand_mbps: [num_ues] float64 each traced UE's offered DL traffic that ROP (PDCP SDU volume
                arriving for it, as a rate) [Mbit/s], NaN where not traced; None: no UE trace
    ue_xy_m   : [num_ues, 2] float64 the traced UEs' location estimates that ROP (immediate MDT with a GNSS
                fix, or network positioning; a few metres to tens of metres off) [m], NaN where none; None:
                no locations
    mr_sinr_db: [num_ues] float64 the SINR each traced UE reports of its serving cell that ROP (NR SS-SINR or
                CQI; ``airan.twin.measurements.sinr_report``) [dB], NaN where none; None: no SINR reports
    """

    rop: int
    kpis: dict[str, np.ndarray]
    history: dict[str, np.ndarray]
    events: list[Event]
    approvals: frozenset[str] = frozenset()
    applied: list[tuple[int, Action, float, float]] = field(default_factory=list)
    mr_rsrp_dbm: np.ndarray | None = None
    ue_serving: np.ndarray | None = None
    ue_dl_demand_mbps: np.ndarray | None = None
    ue_xy_m: np.ndarray | None = None
    mr_sinr_db: np.ndarray | None = None


@dataclass(frozen=True)
class Detection:
    """An anomaly the policy raises on ``cell`` (score: the monitor's statistic; kpis: the KPIs that moved)."""

    cell: int
    score: float
    kpis: tuple[str, ...] = ()


@dataclass(frozen=True)
class Diagnosis:
    """Ranked root causes and cells. ``causes``: cause -> probability (sums to 1 over ``CAUSES``);
    ``cells``: cells ranked most-likely-faulty first; ``evidence``: KPI name -> value the ranking used."""

    causes: dict[str, float]
    cells: tuple[int, ...]
    evidence: dict[str, float] = field(default_factory=dict)

    def top(self, k: int = 1) -> list[str]:
        return [c for c, _ in sorted(self.causes.items(), key=lambda kv: -kv[1])[:k]]


@dataclass(frozen=True)
class PlannedAction:
    """An action the policy applies now. ``approval``: id of the granted request that covers it ("" when
    none was needed or a pre-authorised policy covered it; ``preauthorized`` says which). ``rollback_of``:
    the ROP of the earlier action this one undoes (-1 if it is not a rollback)."""

    action: Action
    reason: str = ""
    approval: str = ""
    preauthorized: str = ""
    rollback_of: int = -1


@dataclass(frozen=True)
class ApprovalRequest:
    """A high-risk action set waiting for an operator: ``id`` is unique within the episode. ``backout``: the
    actions that restore the pre-change state (change management's back-out plan); approving the change
    approves its rollback, so a regression can be undone at once instead of waiting for a second approval."""

    id: str
    actions: tuple[Action, ...]
    reason: str = ""
    backout: tuple[Action, ...] = ()


@dataclass
class Decision:
    """What a policy did this ROP. Empty is fine (nothing seen, nothing done)."""

    detections: list[Detection] = field(default_factory=list)
    diagnosis: Diagnosis | None = None
    actions: list[PlannedAction] = field(default_factory=list)
    approval_requests: list[ApprovalRequest] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (the audit trail and episode logs store this)."""
        return {
            "detections": [asdict(d) | {"kpis": list(d.kpis)} for d in self.detections],
            "diagnosis": None if self.diagnosis is None else {
                "causes": {k: float(v) for k, v in self.diagnosis.causes.items()},
                "cells": [int(c) for c in self.diagnosis.cells],
                "evidence": {k: float(v) for k, v in self.diagnosis.evidence.items()}},
            "actions": [{**asdict(p.action), "reason": p.reason, "approval": p.approval,
                         "preauthorized": p.preauthorized, "rollback_of": p.rollback_of,
                         "high_risk": is_high_risk([p.action])} for p in self.actions],
            "approval_requests": [{"id": r.id, "actions": [asdict(a) for a in r.actions], "reason": r.reason,
                                   "backout": [asdict(a) for a in r.backout]} for r in self.approval_requests],
            "notes": list(self.notes),
        }


class Policy(ABC):
    """A healing policy. ``reset`` once per episode, then ``decide`` once per ROP. Must be deterministic
    given the context (replays reproduce every decision bit for bit)."""

    name: str = "policy"

    @abstractmethod
    def reset(self, ctx: EpisodeContext) -> None: ...

    @abstractmethod
    def decide(self, obs: Observation) -> Decision: ...

    def report(self) -> str:
        """A plain-language account of the episode (empty if the policy writes none)."""
        return ""
