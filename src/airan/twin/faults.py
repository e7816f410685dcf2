"""Fault catalogue: injectors with ground truth (cause, cells, severity, onset, ramp).

A fault is a frozen record; ``cell_modifiers`` turns the active faults of a ROP into per-cell / per-site
modifiers that the twin applies on top of the operator's settings. Pure functions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from airan.core.errors import FaultError

FAULT_KINDS: dict[str, str] = {
    "cell_outage": "cell down: no radiation, alarm raised",
    "sleeping_cell": "cell on-air and attaching UEs but carrying no traffic, no alarm",
    "excessive_downtilt": "electrical tilt stuck too far down (coverage hole at the cell edge)",
    "uptilt_overshoot": "tilt too far up: overshoot into neighbours, interference",
    "pa_degradation": "power amplifier degraded: lower transmit power",
    "external_interference": "external interferer in the cell's sector raises the noise floor",
    "backhaul_congestion": "site backhaul capacity reduced: latency and loss rise",
    "backhaul_failure": "site backhaul down: zero throughput, radio still on-air",
    "overload_hotspot": "demand surge of the UEs in the cell's coverage area, wherever they are served",
    "ho_misconfig": "handover parameters misconfigured (mode=pingpong or too_late)",
    "benign_surge": "no fault: a benign demand surge (negative example)",
}
SITE_FAULTS = ("backhaul_congestion", "backhaul_failure")
SOFTWARE_FAULTS = ("sleeping_cell",)  # cured by a cell restart
CONFIG_FAULTS = ("ho_misconfig",)  # cured once every faulty cell's handover parameters are rewritten
HO_KNOB_ACTIONS = ("cio", "ttt", "hysteresis")


@dataclass(frozen=True)
class Fault:
    """Ground truth of one injected fault. ``severity`` in (0, 1]; effect ramps linearly over ``ramp_rops``
    after ``onset_rop``; ``duration_rops`` None lasts until the end (or until cured)."""

    kind: str
    cells: tuple[int, ...]
    severity: float = 1.0
    onset_rop: int = 0
    ramp_rops: int = 0
    duration_rops: int | None = None
    mode: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultError(f"unknown fault kind {self.kind!r}; choose one of {sorted(FAULT_KINDS)}")
        if not self.cells:
            raise FaultError(f"fault {self.kind!r} needs at least one cell")
        if not 0 < self.severity <= 1:
            raise FaultError(f"fault severity must be in (0, 1], got {self.severity!r}")
        if self.onset_rop < 0 or self.ramp_rops < 0:
            raise FaultError(f"onset_rop/ramp_rops must be >= 0, got {self.onset_rop!r}/{self.ramp_rops!r}")
        if self.duration_rops is not None and self.duration_rops < 1:
            raise FaultError(f"duration_rops must be >= 1 or None, got {self.duration_rops!r}")
        if self.kind == "ho_misconfig" and self.mode not in ("pingpong", "too_late"):
            raise FaultError(f"ho_misconfig mode must be 'pingpong' or 'too_late', got {self.mode!r}")

    @property
    def end_rop(self) -> int | None:
        return None if self.duration_rops is None else self.onset_rop + self.duration_rops

    def level(self, rop: int) -> float:
        """Effect level in [0, 1] at ``rop`` (0 before onset / after the end)."""
        if rop < self.onset_rop or (self.end_rop is not None and rop >= self.end_rop):
            return 0.0
        if self.ramp_rops == 0:
            return 1.0
        return min(1.0, (rop - self.onset_rop + 1) / (self.ramp_rops + 1))

    def truth(self) -> dict[str, Any]:
        d = asdict(self)
        d["cells"] = list(self.cells)
        d["end_rop"] = self.end_rop
        d["is_fault"] = self.kind != "benign_surge"
        return d

    def validate_for(self, num_cells: int) -> None:
        bad = [c for c in self.cells if not 0 <= c < num_cells]
        if bad:
            raise FaultError(f"fault {self.kind!r}: cell(s) {bad} out of range [0, {num_cells - 1}]")


def demand_gain(kind: str, severity: float) -> float:
    """Factor on the offered DL traffic of every UE in a cell's coverage area (``ue_demand_factor``) under a
    demand fault of ``severity`` in [0, 1] (1.0 for a kind that moves no demand): up to 4x for an overload
    hotspot, 1.6x for a benign surge."""
    peak = {"overload_hotspot": 4.0, "benign_surge": 1.6}.get(kind)
    return 1.0 if peak is None else 1.0 + (peak - 1.0) * float(severity)


def ue_demand_factor(area_cell: np.ndarray, demand_factor: np.ndarray) -> np.ndarray:
    """[U] float64 factor on each UE's offered DL traffic: ``demand_factor`` [C] of the cell whose coverage area
    the UE is in (``area_cell`` [U] int, its best cell in the network as planned: default tilt and power, every
    cell on, no fault). The surge belongs to where the UE is, not to the cell that serves it: a UE handed to a
    neighbour asks as much there, so an offload cannot recover traffic by making demand vanish."""
    f = np.asarray(demand_factor, dtype=np.float64)
    cell = np.asarray(area_cell)
    if cell.ndim != 1 or not np.issubdtype(cell.dtype, np.integer):
        raise FaultError(f"area_cell must be a 1-D int array, got {cell.dtype} {cell.shape}")
    bad = cell[(cell < 0) | (cell >= f.shape[0])]
    if bad.size:
        raise FaultError(f"area cell {int(bad[0])} is not in [0, {f.shape[0]})")
    return f[cell]


@dataclass
class CellModifiers:
    """Per-ROP effects of active faults. Arrays are [num_cells] unless named site (then [num_sites]).
    ``demand_factor`` acts on the UEs in each cell's coverage area (``ue_demand_factor``), ``ext_interference_db``
    on the UEs in the cell's sector near its site, whichever cell serves them."""

    tilt_delta_deg: np.ndarray
    power_delta_db: np.ndarray
    outage: np.ndarray
    sleeping: np.ndarray
    ext_interference_db: np.ndarray
    demand_factor: np.ndarray
    cio_override_db: np.ndarray
    ttt_override_ms: np.ndarray
    hys_override_db: np.ndarray
    site_capacity_factor: np.ndarray
    site_extra_latency_ms: np.ndarray


def cell_modifiers(faults: list[Fault], rop: int, num_cells: int, cell_site: np.ndarray,
                   num_sites: int, cured: set[int] | None = None) -> CellModifiers:
    """Combine the active faults at ``rop``. ``cured`` holds indices (into ``faults``) cured by an action."""
    nan = np.full(num_cells, np.nan)
    m = CellModifiers(np.zeros(num_cells), np.zeros(num_cells), np.zeros(num_cells, bool),
                      np.zeros(num_cells, bool), np.full(num_cells, -np.inf), np.ones(num_cells), nan.copy(),
                      nan.copy(), nan.copy(), np.ones(num_sites), np.zeros(num_sites))
    for i, f in enumerate(faults):
        lv = f.level(rop)
        if lv <= 0 or (cured and i in cured):
            continue
        cells = np.asarray(f.cells, dtype=np.int64)
        sev = f.severity * lv
        k = f.kind
        if k == "cell_outage":
            m.outage[cells] = True
        elif k == "sleeping_cell":
            m.sleeping[cells] = True
        elif k == "excessive_downtilt":
            m.tilt_delta_deg[cells] += 10.0 * sev
        elif k == "uptilt_overshoot":
            m.tilt_delta_deg[cells] -= 12.0 * sev
        elif k == "pa_degradation":
            m.power_delta_db[cells] -= 12.0 * sev
        elif k == "external_interference":
            m.ext_interference_db[cells] = np.maximum(m.ext_interference_db[cells], 35.0 * sev)
        elif k in ("overload_hotspot", "benign_surge"):
            m.demand_factor[cells] *= demand_gain(k, sev)
        elif k == "ho_misconfig":
            if f.mode == "pingpong":
                m.hys_override_db[cells] = 0.0
                m.ttt_override_ms[cells] = 0.0
                m.cio_override_db[cells] = 6.0 * sev
            else:
                m.ttt_override_ms[cells] = 5120.0
                m.hys_override_db[cells] = 6.0 + 4.0 * sev
                m.cio_override_db[cells] = -6.0 * sev
        elif k == "backhaul_congestion":
            sites = np.unique(cell_site[cells])
            m.site_capacity_factor[sites] *= 1.0 - 0.95 * sev
            m.site_extra_latency_ms[sites] += 40.0 * sev
        elif k == "backhaul_failure":
            m.site_capacity_factor[np.unique(cell_site[cells])] = 0.0
    return m
