"""Monitor: per-cell anomaly detection from KPI telemetry.

Each ROP the monitor turns the KPI history into per-cell *features*: robust z-scores of derived KPIs against the
cell's own trailing baseline (median / MAD over ``baseline_rops`` ROPs ending ``gap_rops`` before now, so a fresh
anomaly does not leak into its own baseline), the same z-scores relative to the median of the cell's neighbours
(a network-wide benign surge moves every cell and cancels), and the alarm states. An ``AnomalyScorer`` maps
features to a score in [0, 1] per cell; a detection needs ``persistence`` consecutive ROPs above the threshold,
except for a twin alarm, which is strong evidence and detects at once, and for the *dead-air signature* (on air,
demand, several UEs connected or one that could decode, and nothing carried for ``dead_air_rops`` consecutive
ROPs), the textbook sleeping-cell symptom that no alarm reports, and for the *ping-pong signature* (at least
``pingpong_min`` ping-pong handovers out of the cell over the last ``pingpong_rops`` ROPs, or at least one in
each of the last ``pingpong_steady_rops`` ROPs: a steady trickle that never bursts), the mobility-robustness
failure of a handover misconfiguration: counts, not z-scores, because the sliding baseline absorbs a persistent
shift within a few ROPs while the count stays high. The *RLF burst* (``rlf_min`` radio link failures over the
last ``rlf_rops`` ROPs with no handover attempt out of the cell; since session 41) is the same idea for the
too-late case: UEs fail on the cell instead of handing over. A *configuration audit*'s finding (``flag_audit``:
the policy's twin, calibrated to the UEs' reports, puts a cell's radiated power far off the planning model)
is a signature too: it needs no history of the cell, so it sees a fault that was there before the agents.

Besides the cell KPIs the monitor reads the UEs' *measurement reports* (``Observation.mr_rsrp_dbm``): every
connected UE reports the RSRP of the strongest cells it hears, so each cell is sampled by tens of UEs, most of
them served by its neighbours. ``mr_shift`` compares each UE's reports of a cell now with its own reports in the
baseline window and takes the median over UEs: a tilt or power change of the cell moves the RSRP that many UEs
see by several dB, while mobility moves each UE differently and the median stays near zero. This is what makes
a wrong tilt visible at all; the cell KPIs of a cell serving two to six UEs barely move (see
``bench/heal_detectability.py``). The policy's own power / tilt / on-off changes of a cell are known, not
anomalies: the shift of a cell is not computed across one (it is 0 until the baseline window postdates it).
The shift is a feature for the scorer and the diagnoser, and a signature of its own (*coverage shift*: at least
``coverage_shift_db`` for ``coverage_shift_rops`` consecutive ROPs), because it is a physical quantity whose
no-fault spread is known: UE movement and measurement error keep it within about 2.5 dB on every no-fault ROP
of the training episodes (``bench/train_diagnoser.py`` calibrates it). The same signature fires on an *edge
drop* (a quarter of the UEs lost at least ``coverage_drop_db``) when that is set: a mild downtilt moves the far
UEs' RSRP by 6-10 dB and the median UE's by 2-3, inside the median's no-fault spread. It is off by default: the
lower quartile of a cell heard by a handful of UEs, some of them in cars, has a heavier no-fault tail than the
training split showed (the threshold calibrated there, 5.0 dB, let 2 of 66 dev and 1 of 22 test controls alarm);
the edge drop still informs the diagnosis (``Verifier.predicted_shifts``).

The median shift carries the UEs' own movement: a car moves 8-17 m per ROP, and the path loss and shadowing it
sees of a cell move with it. The cells of one site share both (one mast, one path), so the difference between
what a UE reports of a cell and of that cell's site mates keeps only the antenna gains: ``site_relative_change``.
Its median over the UEs, the *site-relative shift*, has about 0.7 times the no-fault spread of the median shift
on the training split (99.9th percentile 2.0 vs 2.5 dB over the controls' cells and ROPs) while a tilt or power
change of the cell moves it by the full change (its mates by minus that over the number of mates, which the lead
choice, the largest shift, tells apart). At ``site_shift_db`` = 2 dB for ``site_shift_rops`` = 3 ROPs it fires
on no control of the training split and finds the two detectable downtilts the median shift missed there
(``bench/heal_site_shift.py``). The policy's own tilt / power / on-off changes blank the whole site. With the
sites known, the median rule itself counts a ROP only where the site-relative shift agrees (same sign, at least
``coverage_site_gate_db`` = 2 dB): a cell whose median moves with its site mates' is the UEs moving away from or
towards the mast, not the cell (on held-out suites 3-5 dB medians with site-relative shifts under 1.3 dB alarmed
controls; the gate keeps every detection of the training split; on a never-used suite it removed one of five
control alarms and lost no detection, on the dev suite it lost two detections and had no control alarm to remove).

The monitor also reads the *UE trace* (``Observation.ue_serving`` / ``ue_dl_demand_mbps``: each connected UE's
serving cell and offered DL traffic, as an operator's UE-level trace or MDT data-volume measurement gives it).
``demand_surge`` follows each UE's own offered traffic against its baseline; a *demand surge* (the cell's UEs
ask at least ``demand_surge_log2`` doublings more than before, for ``demand_surge_rops`` ROPs) is the overload
signature: the cell KPIs of a cell with a handful of UEs double whenever one of them starts a session, so a
relative KPI test cannot tell a hotspot from churn, while a UE's own rate only moves when its demand does.

The UE trace and the measurement reports together give the *late-handover* signature, the other mobility-
robustness failure of a handover misconfiguration (a large hysteresis, a long time-to-trigger or a negative
CIO): ``overdue_ues`` marks the UEs that report a neighbour at least ``late_ho_margin_db`` stronger than their
serving cell. With any sane A3 setting (offset + hysteresis of a few dB, a time-to-trigger of a fraction of a
second) such a UE would have handed over within a ROP; only handover parameters that hold it there explain it.
The default rule is the *held streak*: a cell fires when one of its UEs has been overdue by 4 dB or more, served by
that same cell, for ``late_ho_streak_rops`` = 4 consecutive ROPs while the cell made no outgoing handover attempt
(``HO.AttOut``) in the last ``late_ho_quiet_rops`` = 3 ROPs: a cell that holds a UE this long and hands nobody
over is not a cell whose UEs just crossed a border. On the training split (seeds 34 and 35, 600 episodes, 132
controls) it fired on no control and found 10 of 16 too-late misconfigurations, where the first rule (at least
``late_ho_min`` = 2 UE-ROPs held two ROPs running, summed over ``late_ho_rops`` = 3 ROPs at 6 dB; still there with
``late_ho_streak_rops=0``) found 7 and fired on a cell outside the fault in 12 of 398 episodes of other faults,
the streak in 3 (``bench/heal_late_handover.py``, ``heal_late_handover_train3[45]_all.json``); on two suites
never used before (seeds 7309, 7310) the first rule alarmed 4 of 132 controls, and 3 of those took actions on a
healthy network (docs/healing_journal.md, "Handover signatures"). A twin alarm outranks it as the lead.

The default scorer is the rule scorer (largest directional robust z); the AIRAN policy plugs the trained
diagnoser's fault probability in behind the same interface, and a foundation-model anomaly head can do the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from airan.agents.base import Detection, Observation
from airan.core.errors import ConfigError, ShapeError

ALARM_NAMES = ("CELL_DOWN", "CELL_RESTARTING", "BH_LINK_DOWN", "BH_CONGESTION", "PA_DEGRADED", "UL_INTERFERENCE")
# Derived per-cell KPIs: name -> (absolute scale floor, relative scale floor); see ``derived_kpis``.
DERIVED: dict[str, tuple[float, float]] = {
    "served": (0.05, 0.0), "thp": (0.3, 0.1), "thp_p5": (0.3, 0.15), "cell_thp": (0.1, 0.0),
    "demand": (0.1, 0.0), "prb": (5.0, 0.0), "conn": (0.5, 0.1), "rsrp": (1.0, 0.0), "rsrp_p5": (1.5, 0.0),
    "sinr": (1.0, 0.0), "sinr_p5": (1.5, 0.0), "ul": (0.1, 0.1), "pp": (0.5, 0.0), "rlf": (0.5, 0.0),
    "ho": (0.5, 0.0), "bh_lat": (0.05, 0.0), "bh_loss": (0.005, 0.0), "avail": (0.1, 0.0),
}
# KPI sources of the derived names (for reports: which telemetry a feature came from).
DERIVED_SOURCE: dict[str, str] = {
    "served": "DRB.CellThpDl/DRB.DemandDl", "thp": "DRB.UEThpDl", "thp_p5": "DRB.UEThpDl.p5",
    "cell_thp": "DRB.CellThpDl", "demand": "DRB.DemandDl", "prb": "RRU.PrbUsedDl", "conn": "RRC.ConnMean",
    "rsrp": "L1M.RSRP", "rsrp_p5": "L1M.RSRP.p5", "sinr": "L1M.SINR", "sinr_p5": "L1M.SINR.p5",
    "ul": "DRB.UEThpUl", "pp": "HO.PingPong", "rlf": "RLF.Count", "ho": "HO.AttOut", "bh_lat": "BH.LatencyMs",
    "bh_loss": "BH.LossRate", "avail": "Cell.Available",
}
# Direction in which a derived KPI moving is bad (+1 up is bad, -1 down is bad); used by the rule scorer.
BAD_DIRECTION: dict[str, int] = {"served": -1, "thp": -1, "thp_p5": -1, "rsrp": -1, "rsrp_p5": -1, "sinr": -1,
                                 "sinr_p5": -1, "pp": 1, "rlf": 1, "bh_lat": 1, "bh_loss": 1, "avail": -1}
Z_CLIP = 8.0
FEATURE_NAMES: tuple[str, ...] = (
    tuple(f"z.{k}" for k in DERIVED) + tuple(f"rel.{k}" for k in DERIVED) + tuple(f"nbr.{k}" for k in DERIVED)
    + tuple(f"alarm.{a}" for a in ALARM_NAMES) + ("sig.dead_air", "sig.no_ues", "sig.rsrp_shape", "mr.shift")
)
MR_SHIFT_CLIP_DB = 20.0
RADIO_ACTIONS = ("tilt", "power", "cell_on", "cell_off", "sleep", "restart")  # they move what UEs measure


def derived_kpis(history: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Derived KPIs from raw KPI histories (name -> [rops, num_cells] float64, units of ``KPI_UNITS``).

    Returns name (keys of ``DERIVED``) -> [rops, num_cells] float64: ``served`` the carried/offered DL ratio
    (NaN where demand < 0.05 Mbit/s), throughputs in Mbit/s, ``cell_thp``/``demand`` as log(1 + Mbit/s),
    ``bh_lat`` as log(ms), counters as counts; NaN where the KPI is undefined."""
    h = history
    demand = np.asarray(h["DRB.DemandDl"], float)
    carried = np.asarray(h["DRB.CellThpDl"], float)
    with np.errstate(divide="ignore", invalid="ignore"):
        served = np.where(demand >= 0.05, np.clip(carried / demand, 0.0, 1.5), np.nan)
    return {
        "served": served, "thp": h["DRB.UEThpDl"], "thp_p5": h["DRB.UEThpDl.p5"], "cell_thp": np.log1p(carried),
        "demand": np.log1p(demand), "prb": h["RRU.PrbUsedDl"], "conn": h["RRC.ConnMean"], "rsrp": h["L1M.RSRP"],
        "rsrp_p5": h["L1M.RSRP.p5"], "sinr": h["L1M.SINR"], "sinr_p5": h["L1M.SINR.p5"], "ul": h["DRB.UEThpUl"],
        "pp": h["HO.PingPong"], "rlf": h["RLF.Count"], "ho": h["HO.AttOut"],
        "bh_lat": np.log(np.maximum(np.asarray(h["BH.LatencyMs"], float), 1e-3)), "bh_loss": h["BH.LossRate"],
        "avail": h["Cell.Available"],
    }


def nanmedian0(a: np.ndarray) -> np.ndarray:
    """Median over axis 0 ignoring NaN (NaN where a column has no finite value); a [R, ...] -> [...]."""
    a = np.sort(np.asarray(a, float), axis=0)  # NaN sort last
    cnt = np.sum(np.isfinite(a), axis=0)
    lo = np.maximum((cnt - 1) // 2, 0)
    hi = np.maximum(cnt // 2, 0)
    v_lo = np.take_along_axis(a, lo[None], axis=0)[0]
    v_hi = np.take_along_axis(a, hi[None], axis=0)[0]
    return np.where(cnt > 0, 0.5 * (v_lo + v_hi), np.nan)


def dead_air_cells(d: dict[str, np.ndarray], min_ues: float = 0.0, min_sinr_db: float = np.inf,
                   min_demand_mbps: float = 0.5) -> np.ndarray:
    """[num_cells] bool: on air, > ``min_demand_mbps`` Mbit/s demand, < 1 % of it carried, and either >=
    ``min_ues`` mean connected UEs or at least one (mean >= 0.5) whose mean DL SINR is >= ``min_sinr_db`` dB (UEs
    that could decode yet get nothing: the cell, not their radio link, is the problem; ``min_sinr_db=-inf``
    leaves the SINR out, any UE counts).
    d: one ROP of derived KPIs (``derived_kpis`` names -> [num_cells]); NaN counts as 0 (SINR: as -inf)."""
    dem = np.nan_to_num(np.expm1(d["demand"]))
    carried = np.nan_to_num(np.expm1(d["cell_thp"]))
    conn = np.nan_to_num(d["conn"])
    sinr = np.nan_to_num(np.asarray(d["sinr"], float), nan=-np.inf)
    ues = (conn >= min_ues) | ((conn >= 0.5) & (sinr >= min_sinr_db))
    return (np.nan_to_num(d["avail"]) > 0.5) & (dem > min_demand_mbps) & (carried < 0.01 * dem) & ues


def baseline_stats(derived: dict[str, np.ndarray], start: int, stop: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Robust baseline over rows ``[start, stop)``: name -> (median [num_cells], scale [num_cells]) where scale
    = max(1.4826 MAD, absolute floor, relative floor x |median|) in the derived KPI's unit."""
    names = list(derived)
    win = np.stack([np.asarray(derived[k], float)[start:stop] for k in names], axis=2)  # [W, C, K]
    if win.shape[0] == 0:
        raise ConfigError(f"empty baseline window [{start}, {stop})")
    med = nanmedian0(win)  # [C, K]
    mad = nanmedian0(np.abs(win - med[None]))
    out = {}
    for j, k in enumerate(names):
        a_floor, r_floor = DERIVED[k]
        scale = np.fmax(np.nan_to_num(1.4826 * mad[:, j], nan=0.0), a_floor)
        scale = np.maximum(scale, r_floor * np.abs(np.nan_to_num(med[:, j])))
        out[k] = (med[:, j], scale)
    return out


def peer_baseline_stats(derived: dict[str, np.ndarray], start: int, stop: int,
                        peers: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A baseline from the network's other cells, for an anomaly older than the telemetry (a fault already there
    when the agents start): no cell has a clean window of its own to compare with, so each derived KPI is
    compared with what the ``peers`` carry now. Every cell's median over rows ``[start, stop)``, then the median
    and the robust scale (max(1.4826 MAD, the KPI's absolute floor, relative floor x |median|)) of those over the
    peer cells, broadcast to every cell: name -> (median [num_cells], scale [num_cells]), in the derived KPI's
    unit, as ``baseline_stats``.

    derived : derived KPIs (``derived_kpis``), name -> [rops, num_cells]
    peers   : [num_cells] bool, the cells taken as healthy (at least 3; with fewer, every cell is)"""
    peers = np.asarray(peers, bool)
    names = list(derived)
    win = np.stack([np.asarray(derived[k], float)[start:stop] for k in names], axis=2)  # [W, C, K]
    if win.shape[0] == 0:
        raise ConfigError(f"empty baseline window [{start}, {stop})")
    if peers.shape != (win.shape[1],):
        raise ShapeError(f"peers must be [{win.shape[1]}], got shape {peers.shape}")
    own = nanmedian0(win)  # [C, K] every cell's median over the window
    group = own[peers] if int(peers.sum()) >= 3 else own  # [P, K]
    # the peers' medians as the rows of a one-cell window: the same robust statistics and floors as a cell's own
    one = baseline_stats({k: group[:, j:j + 1] for j, k in enumerate(names)}, 0, group.shape[0])
    n = win.shape[1]
    return {k: (np.full(n, med[0]), np.full(n, scale[0])) for k, (med, scale) in one.items()}


def mr_shift(reports: list[np.ndarray | None], start: int, stop: int, rop: int, recent_rops: int = 2,
             min_ues: int = 3, quantile: float = 0.5) -> np.ndarray:
    """Median (or another ``quantile``) over UEs of the change in a cell's reported RSRP: [num_cells] float64
    [dB].

    reports : per ROP (index = ROP) the measurement reports [num_ues, num_cells] float64 [dBm], NaN where not
              reported (None: no reports that ROP)
    For every UE and cell, the mean of its reports over the last ``recent_rops`` ROPs up to ``rop`` (not
    before ``stop``) minus the mean of its reports over the baseline window ``[start, stop)``; the cell's shift
    is the median over the UEs that reported it in both, 0 where fewer than ``min_ues`` did. A fault moves the
    cell for every UE in the same direction (a lost PA moves all of them equally; a wrong tilt mostly the
    distant ones); UE movement moves each UE its own way and averages out in the median. ``quantile`` 0.25
    gives the change at least a quarter of the UEs saw (the negative of the *edge drop*): a downtilt pulls
    the main lobe off the far UEs, which lose far more than the median UE."""
    if not 0 < quantile < 1:
        raise ConfigError(f"quantile must be in (0, 1), got {quantile!r}")
    diff = report_change(reports, start, stop, rop, recent_rops)
    if diff is None:
        ref = next((r for r in reports if r is not None), None)
        return np.zeros(0 if ref is None else ref.shape[1])
    return change_quantile(diff, quantile, min_ues)


def report_change(reports: list[np.ndarray | None], start: int, stop: int, rop: int,
                  recent_rops: int = 2) -> np.ndarray | None:
    """Each UE's change in the RSRP it reports of each cell: [num_ues, num_cells] float64 [dB], NaN where the UE
    did not report the cell in both windows (the windows of ``mr_shift``); None without reports or baseline."""
    ref = next((r for r in reports if r is not None), None)
    if ref is None or stop - start < 1:
        return None

    def mean_of(lo: int, hi: int) -> np.ndarray:
        win = [r for r in reports[lo:hi] if r is not None and r.shape == ref.shape]
        if not win:
            return np.full(ref.shape, np.nan)
        stack = np.stack(win)
        cnt = np.sum(np.isfinite(stack), axis=0)
        return np.where(cnt > 0, np.nansum(stack, axis=0) / np.maximum(cnt, 1), np.nan)

    return mean_of(max(rop + 1 - recent_rops, stop), rop + 1) - mean_of(start, stop)


def change_quantile(diff: np.ndarray, quantile: float = 0.5, min_ues: int = 3) -> np.ndarray:
    """[num_cells] the ``quantile`` over UEs of ``report_change``'s ``diff`` [num_ues, num_cells] (NaN ignored),
    0 where fewer than ``min_ues`` UEs have a value."""
    n = np.sum(np.isfinite(diff), axis=0)
    if quantile == 0.5:
        med = nanmedian0(diff)
    else:
        with np.errstate(all="ignore"):
            med = np.nanquantile(np.where(n[None] > 0, diff, 0.0), quantile, axis=0)
    return np.where(n >= min_ues, np.nan_to_num(med), 0.0)


def site_relative_change(diff: np.ndarray, cell_site: np.ndarray) -> np.ndarray:
    """Each UE's change in the RSRP it reports of a cell minus the mean change of its reports of the cell's
    co-sited cells: [num_ues, num_cells] float64 [dB], NaN where the UE has no co-sited report in both windows.

    diff      : [num_ues, num_cells] float64 ``report_change`` [dB] (NaN: not reported in both windows)
    cell_site : [num_cells] int64 site of each cell
    The cells of one site share the path loss and the shadowing of a UE (one mast, one propagation path), so
    when the UE moves, the RSRP it reports of every co-sited cell moves alike and the difference keeps only the
    antenna gains (and the measurement noise): UE movement, which widens the no-fault spread of ``mr_shift``,
    cancels. A tilt or power change of one cell moves its difference to its site mates by the full change, and
    each mate's difference by the opposite change over the number of mates."""
    d = np.asarray(diff, float)
    site = np.asarray(cell_site, np.int64)
    if d.ndim != 2 or site.shape != (d.shape[1],):
        raise ShapeError(f"diff must be [num_ues, num_cells] and cell_site [num_cells], got {d.shape} and "
                         f"{site.shape}")
    mates = (site[:, None] == site[None, :]) & ~np.eye(site.size, dtype=bool)  # [C, C]
    fin = np.isfinite(d)
    total = np.nan_to_num(d) @ mates  # [U, C] sum of the mates' changes
    count = fin.astype(float) @ mates  # [U, C]
    with np.errstate(invalid="ignore", divide="ignore"):
        ref = np.where(count > 0, total / np.maximum(count, 1.0), np.nan)
    return d - ref


def site_relative_spread(rel: np.ndarray, min_ues: int = 3) -> np.ndarray:
    """[num_cells] float64 the interquartile range over UEs of ``site_relative_change`` ``rel`` [num_ues,
    num_cells] [dB] (NaN ignored; 0 where fewer than ``min_ues`` UEs have a value). A power change moves every
    UE's difference alike (the median moves, the spread does not); a tilt change raises it under the new beam
    and lowers it under the old one, so a mild downtilt widens the spread while the median stays put."""
    return change_quantile(rel, 0.75, min_ues) - change_quantile(rel, 0.25, min_ues)


def decodable_ues(mr_rsrp_dbm: np.ndarray, serving: np.ndarray, margin_db: float,
                  min_rsrp_dbm: float = -np.inf) -> np.ndarray:
    """[num_ues] bool: the UEs that report their serving cell at ``min_rsrp_dbm`` [dBm] or more and within
    ``margin_db`` [dB] of the strongest other cell they report (or no other): a serving link neither lost in
    the noise nor drowned by a neighbour; arrays as for ``overdue_ues`` (a UE whose report lacks its serving
    cell is not decodable)."""
    own, best = serving_and_strongest(mr_rsrp_dbm, serving)
    with np.errstate(invalid="ignore"):
        return np.isfinite(own) & (own >= best - margin_db) & (own >= min_rsrp_dbm)


def site_backed(shift_db: np.ndarray, site_shift_db: np.ndarray, gate_db: float) -> np.ndarray:
    """Same-shape bool: where the site-relative shift backs the median shift (same sign, ``|site| >= gate_db``
    [dB]). Arrays of any matching shape [dB]: a cell whose median moves with its site mates' is the UEs moving,
    not the cell (``MonitorConfig.coverage_site_gate_db``)."""
    site = np.asarray(site_shift_db, float)
    return (np.abs(site) >= gate_db) & (np.sign(site) == np.sign(np.asarray(shift_db, float)))


def serving_and_strongest(mr_rsrp_dbm: np.ndarray, serving: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per UE ([num_ues] float64 [dBm]) the reported RSRP of its serving cell (NaN: not connected or not in its
    report) and of the strongest other cell it reports (-inf: none); arrays as for ``overdue_ues``."""
    mr = np.asarray(mr_rsrp_dbm, float)
    srv = np.asarray(serving, np.int64)
    if mr.ndim != 2 or srv.shape != (mr.shape[0],):
        raise ShapeError(f"mr_rsrp_dbm must be [num_ues, num_cells] and serving [num_ues], got {mr.shape} and "
                         f"{srv.shape}")
    rows = np.arange(mr.shape[0])
    ok = (srv >= 0) & (srv < mr.shape[1])
    own = np.where(ok, mr[rows, np.clip(srv, 0, max(mr.shape[1] - 1, 0))], np.nan)
    others = np.where(np.isfinite(mr), mr, -np.inf)
    others[rows[ok], srv[ok]] = -np.inf
    best = others.max(axis=1) if mr.shape[1] else np.full(mr.shape[0], -np.inf)
    return own, best


def overdue_ues(mr_rsrp_dbm: np.ndarray | None, serving: np.ndarray | None, margin_db: float) -> np.ndarray:
    """[num_ues] bool: the UEs whose strongest reported neighbour is at least ``margin_db`` [dB] stronger than
    their serving cell in this ROP's measurement reports.

    mr_rsrp_dbm : [num_ues, num_cells] float64 measurement reports [dBm], NaN where not reported (the serving
                  cell is always reported while on air)
    serving     : [num_ues] int64 serving cell per UE (-1: not connected / not traced)
    A UE without a report of its serving cell, or of any other cell, is not overdue. Empty without reports or
    trace."""
    if mr_rsrp_dbm is None or serving is None:
        return np.zeros(0 if serving is None else np.asarray(serving).shape[0], bool)
    own, best = serving_and_strongest(mr_rsrp_dbm, serving)
    with np.errstate(invalid="ignore"):
        return np.isfinite(own) & np.isfinite(best) & (best - own >= margin_db)


def early_handovers(prev_serving: np.ndarray | None, serving: np.ndarray | None, mr_rsrp_dbm: np.ndarray | None,
                    num_cells: int, margin_db: float) -> np.ndarray:
    """[num_cells] int64: per source cell, the UEs it handed over in this ROP (served by it in the previous UE
    trace, by another cell in this one) whose reports *after* the handover still hear the source at least
    ``margin_db`` [dB] stronger than their new serving cell: a handover that stuck although the cell it left
    is the better one, the too-early / wrong-cell case of mobility robustness optimisation (a cell whose
    neighbour offsets or hysteresis push its UEs out early; a sane A3 setting hands over only to a cell a few
    dB stronger).

    prev_serving, serving : [num_ues] int64 serving cell per UE in the previous and this ROP's trace (-1: not
                            connected / not traced)
    mr_rsrp_dbm           : [num_ues, num_cells] float64 this ROP's measurement reports [dBm], NaN where not
                            reported
    Zeros when any of them is missing."""
    out = np.zeros(num_cells, np.int64)
    if prev_serving is None or serving is None or mr_rsrp_dbm is None:
        return out
    prev = np.asarray(prev_serving, np.int64)
    cur = np.asarray(serving, np.int64)
    mr = np.asarray(mr_rsrp_dbm, float)
    if prev.shape != cur.shape or mr.shape != (cur.shape[0], num_cells):
        raise ShapeError(f"serving traces must be equal [num_ues] and reports [num_ues, {num_cells}], got "
                         f"{prev.shape} / {cur.shape} / {mr.shape}")
    ue = np.nonzero((prev >= 0) & (cur >= 0) & (prev != cur) & (prev < num_cells) & (cur < num_cells))[0]
    if not ue.size:
        return out
    with np.errstate(invalid="ignore"):
        early = mr[ue, prev[ue]] - mr[ue, cur[ue]] >= margin_db  # NaN (either not reported): not early
    np.add.at(out, prev[ue[early]], 1)
    return out


def silent_cells(ho_attempts: np.ndarray, rop: int, rops: int) -> np.ndarray:
    """[num_cells] bool: the cells that made no outgoing handover attempt in the ``rops`` ROPs up to ``rop``.

    ho_attempts : [R, num_cells] float64 ``HO.AttOut`` per ROP (NaN: not reported, counted as none)
    False everywhere before ``rops`` ROPs of history exist."""
    att = np.asarray(ho_attempts, float)
    if rop + 1 < rops:
        return np.zeros(att.shape[1], bool)
    return np.nansum(att[rop + 1 - rops: rop + 1], axis=0) == 0


def demand_surge(serving: list[np.ndarray | None], demand_mbps: list[np.ndarray | None], num_cells: int,
                 start: int, stop: int, rop: int, recent_rops: int = 2, min_ues: int = 1) -> np.ndarray:
    """Median over a cell's UEs of the change in their own offered DL traffic: [num_cells] float64 [log2].

    serving     : per ROP (index = ROP) the UE trace's serving cells [num_ues] int64 (-1: not traced) or None
    demand_mbps : per ROP the traced UEs' offered DL traffic [num_ues] float64 [Mbit/s] (NaN: not traced)
    For every UE, the mean of its non-zero offered traffic over the last ``recent_rops`` ROPs up to ``rop`` (not
    before ``stop``) over that mean in the baseline window ``[start, stop)``, as log2; the network-wide median
    of that change (the time of day moves every UE alike) is removed; a cell's surge is the median over the
    UEs it serves at ``rop``, 0 where fewer than ``min_ues`` have both. A demand hotspot multiplies what each of
    the cell's UEs asks for; UEs arriving, leaving or starting a session move the cell's total demand but not
    a UE's own rate, so this separates a surge from churn that the cell KPIs cannot (``DRB.DemandDl`` of a
    cell with three UEs doubles whenever one starts a session). The twin's UEs keep one rate per session; a live
    network's per-UE volumes fluctuate more, so the threshold must come from no-fault traces
    (``bench/train_diagnoser.py`` calibrates it)."""
    n = int(num_cells)
    ref = next((s for s in serving if s is not None), None)
    if ref is None or stop - start < 1:
        return np.zeros(n)

    def mean_of(lo: int, hi: int) -> np.ndarray:
        win = [d for d in demand_mbps[lo:hi] if d is not None and d.shape == ref.shape]
        if not win:
            return np.full(ref.shape, np.nan)
        x = np.stack(win)
        on = np.isfinite(x) & (x > 0)
        return np.where(on.any(axis=0), np.sum(np.where(on, x, 0.0), axis=0) / np.maximum(on.sum(axis=0), 1), np.nan)

    now = mean_of(max(rop + 1 - recent_rops, stop), rop + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.log2(now / mean_of(start, stop))  # [num_ues]
    ok = np.isfinite(change)
    if not ok.any():
        return np.zeros(n)
    change = change - float(np.median(change[ok]))
    cell = serving[rop] if rop < len(serving) and serving[rop] is not None else ref
    return _median_per_cell(change, np.where(ok, cell, -1), n, min_ues)


def _median_per_cell(values: np.ndarray, cell: np.ndarray, num_cells: int, min_ues: int) -> np.ndarray:
    """[num_cells] median of ``values`` [U] over the entries whose ``cell`` [U] is that cell (-1: none); 0 where
    fewer than ``min_ues`` entries."""
    out = np.zeros(num_cells)
    for c in np.unique(cell[(cell >= 0) & (cell < num_cells)]):
        v = values[cell == c]
        if v.size >= min_ues:
            out[int(c)] = float(np.median(v))
    return out


def cell_features(derived: dict[str, np.ndarray], rop: int, base: dict[str, tuple[np.ndarray, np.ndarray]],
                  neighbours: np.ndarray, alarms: np.ndarray, shift_db: np.ndarray | None = None) -> np.ndarray:
    """Feature matrix of ROP ``rop``: [num_cells, len(FEATURE_NAMES)] float64.

    derived    : derived KPIs (``derived_kpis``), name -> [rops, num_cells]
    base       : baseline (``baseline_stats``) of the same cells
    neighbours : [num_cells, K] int64 neighbour indices (-1 pads)
    alarms     : [num_cells, len(ALARM_NAMES)] 0/1 active alarm states at ``rop``
    shift_db   : [num_cells] the measurement-report RSRP shift (``mr_shift``) [dB]; None: no reports (0)
    """
    n = neighbours.shape[0]
    zs = {}
    for k, arr in derived.items():
        med, scale = base[k]
        x = np.asarray(arr, float)[rop]
        z = (x - med) / scale
        # a KPI that became undefined (no served UE any more) counts as a fall for levels, 0 for counters
        lost = np.isnan(x) & np.isfinite(med)
        z = np.where(lost, -Z_CLIP if k in ("thp", "thp_p5", "ul", "rsrp", "rsrp_p5", "sinr", "sinr_p5",
                                             "served") else 0.0, z)
        zs[k] = np.clip(np.nan_to_num(z, nan=0.0), -Z_CLIP, Z_CLIP)
    valid = neighbours >= 0
    idx = np.where(valid, neighbours, 0)
    cols_z, cols_rel, cols_nbr = [], [], []
    for k in DERIVED:
        z = zs[k]
        nz = np.where(valid, z[idx], np.nan)  # [num_cells, K]
        nmed = np.nan_to_num(nanmedian0(nz.T), nan=0.0) if nz.shape[1] else np.zeros(n)
        cols_z.append(z)
        cols_rel.append(z - nmed)
        cols_nbr.append(nmed)
    d = {k: np.asarray(v, float)[rop] for k, v in derived.items()}
    dead_air = dead_air_cells(d)
    no_ues = (np.nan_to_num(d["conn"]) < 0.5) & (np.nan_to_num(d["avail"]) > 0.5)
    shape = np.clip(np.nan_to_num(zs["rsrp"] - zs["rsrp_p5"]), -Z_CLIP, Z_CLIP)
    cols = cols_z + cols_rel + cols_nbr + [alarms[:, i].astype(float) for i in range(alarms.shape[1])]
    mr = np.zeros(n) if shift_db is None else np.clip(np.asarray(shift_db, float), -MR_SHIFT_CLIP_DB,
                                                       MR_SHIFT_CLIP_DB)
    cols += [dead_air.astype(float), no_ues.astype(float), shape, mr]
    return np.stack(cols, axis=1)


class AnomalyScorer(Protocol):
    """Maps a feature matrix [num_cells, F] to per-cell anomaly scores [num_cells] in [0, 1]."""

    def score(self, features: np.ndarray) -> np.ndarray: ...


class RuleScorer:
    """Largest robust z in a KPI's bad direction, cell and cell-minus-neighbours both past it, squashed to [0, 1]
    (0.5 at ``z_ref``)."""

    def __init__(self, z_ref: float = 4.0) -> None:
        if z_ref <= 0:
            raise ConfigError(f"z_ref must be > 0, got {z_ref!r}")
        self.z_ref = z_ref
        self._cols = [(FEATURE_NAMES.index(f"z.{k}"), FEATURE_NAMES.index(f"rel.{k}"), s)
                      for k, s in BAD_DIRECTION.items()]

    def score(self, features: np.ndarray) -> np.ndarray:
        worst = np.zeros(features.shape[0])
        for iz, ir, sgn in self._cols:
            worst = np.maximum(worst, np.minimum(sgn * features[:, iz], sgn * features[:, ir]))
        return worst / (worst + self.z_ref)


# how a cell with fewer than ``MonitorConfig.dead_air_min_ues`` UEs shows dead air (``MonitorConfig``)
DEAD_AIR_EVIDENCE = ("sinr_and_reports", "reports", "ue_sinr", "sinr_or_ue_sinr")


@dataclass(frozen=True)
class MonitorConfig:
    """baseline_rops: ROPs in the robust baseline; gap_rops: newest ROPs kept out of it; persistence: consecutive
    ROPs above ``threshold`` before a detection; min_baseline_rops: ROPs needed before the statistics speak;
    dead_air_rops: consecutive dead-air ROPs (carried < 1 % of a demand > ``dead_air_min_demand_mbps`` while
    available with at least ``dead_air_min_ues`` mean connected UEs, or fewer whose mean DL SINR is at least
    ``dead_air_min_sinr_db``; with measurement reports, a UE trace and the UE noise floor, fewer of which at
    least one with traffic reports its serving cell at least ``dead_air_min_snr_db`` above the noise floor and
    within ``dead_air_margin_db`` of the strongest cell it hears, ``decodable_ues``) that detect on their own (0
    disables the signature); dead_air_evidence: for those few-UE cells, ``"sinr_and_reports"`` asks for the SINR
    test and, when the ROP has reports, the decodable UE too; ``"reports"`` lets the decodable UE replace the
    SINR test when the ROP has reports (the SINR KPI averages the camped idle UEs too, so it can read a
    decodable UE as undecodable; ``HEAL_PREREG_S31b.md``). Not the default: an RSRP report cannot see
    interference, so a UE drowned by an external interferer reads as decodable and its silent cell alarms
    (replayed on 13 suites: more false leads than the default, not adopted); ``"ue_sinr"`` asks, when the ROP
    also has the UEs' SINR reports, for the decodable UE to report its serving cell's SINR at least
    ``dead_air_ue_min_sinr_db`` [dB] instead of the SINR test (the UE's own SINR sees interference, an RSRP report
    does not; ``HEAL_PREREG_S32.md``); ``"sinr_or_ue_sinr"``, the default since session 32, accepts either
    ``"sinr_and_reports"``'s evidence or that one (replayed on 13 suites with a 0.1 Mbit/s floor: 3 detectable
    episodes detected earlier or newly, none later, no more control alarms or false leads);
    dead_air_ue_min_sinr_db: -3.5 dB, 3 dB (1.5 report-error std) above the -6.5 dB where the default link
    table's most robust MCS starts carrying data; dead_air_min_demand_mbps: the
    demand [Mbit/s] a cell must be offered for its silence to count (0.1 since session 32, 0.5 before: a lone UE
    asking 0.38 Mbit/s got nothing for 16 ROPs from a sleeping cell that went unseen);
    pingpong_rops / pingpong_min: ping-pong handovers summed over that many ROPs that detect on their own (0
    ROPs disables it). 6 over 3 ROPs; 5 in sessions 40-47, adopted on one draw of the verifier's seeds
    (``bench/results/HEAL_PREREG_S42.md``: on the never-used seed-7345 suite recall 95 -> 98 of 118, paired FKR
    +0.066, full recovery 44 -> 50 of 88, harmful 18 -> 14 and 13 -> 9) and turned back by a pre-registered
    four-draw judgement (``HEAL_PREREG_S59.md``, S59c): on the never-used seed-7356 suite (78 handover faults, 39
    overloads, 33 controls) 5 against 6 had a mean paired FKR of -0.004 (per draw -0.019, +0.008, -0.005, 0.000),
    full recovery 158 against 159 of 268 and the same harm (14 / 26), while over the four draws it detected 8 more
    of 368 faults and diagnosed 12 more right; coverage_shift_db / coverage_shift_rops: a measurement-report
    RSRP shift (``mr_shift``) of at least that magnitude [dB], or an edge drop (a quarter of the UEs lost at
    least ``coverage_drop_db``; None: the edge drop does not detect on its own), for that many consecutive ROPs
    detects on its own (0 ROPs disables it);
    coverage_site_gate_db: > 0: a ROP counts for the median shift rule only where the cell's site-relative
    shift has the same sign and at least that magnitude [dB] (a median that moves with the co-sited cells is the
    UEs moving, not the cell; applies only with ``cell_site``); 0: no gate;
    site_shift_db / site_shift_rops: a site-relative shift (``site_relative_change``, median over the UEs) of
    at least that magnitude [dB] for that many consecutive ROPs detects on its own (0 ROPs disables it; needs
    the cells' sites, ``Monitor(cell_site=...)``);
    shift_gap_rops: None, or a second baseline for those two signatures that keeps that many newest ROPs out
    (``Monitor.shift_window``): each signature then also counts its ROPs against that window, and fires when
    either count reaches its ROPs (the shifts the scorer and the diagnoser read keep ``gap_rops``). The baseline
    is a trailing mean, so a step in a cell's RSRP shows in full for about ``gap_rops`` ROPs and then fades as the
    ROPs after it enter the baseline: a 4 dB step of an rma-7 uptilt read 4.2, 3.0 and 2.5 dB on three ROPs
    running, and a rule asking 3 dB for 2 ROPs missed it. Off: at 5, judged on the never-used seed-7373 suite of
    tilts and PA degradations (``bench/results/HEAL_PREREG_S73.md``, four draws) it detected 592 of 608 faults
    against 584 and changed no FKR, but took 13 scorer-harmful actions against 9;
    demand_surge_log2 / demand_surge_rops: a UE-trace demand surge (``demand_surge``) of at least that many
    doublings [log2] for that many consecutive ROPs detects on its own (0 ROPs disables it);
    late_ho_margin_db / late_ho_rops / late_ho_min: the summed late-handover rule (used when
    ``late_ho_streak_rops`` is 0): UEs held by their serving cell with a neighbour at least that margin [dB]
    stronger in two consecutive ROPs (``overdue_ues``), summed over that many ROPs, at least that many detect on
    their own (``late_ho_rops`` = 0 disables the late-handover signature, either rule);
    late_ho_streak_rops / late_ho_quiet_rops: > 0 replaces that count by the *held streak*: a cell fires when one
    of its UEs has been overdue (``late_ho_margin_db``) by the same serving cell for at least that many
    consecutive ROPs and the cell made no outgoing handover attempt (``HO.AttOut``) in the last
    ``late_ho_quiet_rops`` ROPs (0: no such gate);
    pingpong_steady_rops: a second, *steady* ping-pong rule: at least one ping-pong out of the cell in each of
    that many consecutive ROPs (0 disables it); pingpong_steady_min: with it > 0, in at least that many of them
    instead of each (a trickle with gaps: a ping-pong misconfiguration of a cell serving one to three UEs makes
    about one ping-pong per ROP, not in every ROP). 0 by default: on the training split 5 of 6 alarmed 1 of 44
    controls and 4 of 6 alarmed 11, and neither detected anything new (docs/healing_journal.md, session 38); 5 of
    6 failed its pre-registered test on seed 7343 (scorer harm 2 -> 7, ``bench/results/HEAL_PREREG_S40.md``);
    site_spread_db / site_spread_rops: the *site-relative spread* (``site_relative_spread``: the interquartile
    range over the UEs of ``site_relative_change``) of at least that much [dB] for that many consecutive ROPs
    detects on its own (None: the spread does not detect; needs ``cell_site``). A tilt change moves the near
    and the far UEs' RSRP in opposite directions, so a mild one leaves the median where it was and widens the
    spread; relative to the site mates, UE movement cancels as for the site-relative shift. 4 dB for 4 ROPs by
    a pre-registered test (``bench/results/HEAL_PREREG_S23.md``): on the training split it fired on no control
    (its no-fault 99th percentile is 4.0 dB, per ROP); on a never-used suite (seed 7311) recall 204 -> 208 of 219,
    control alarms 0 -> 0 of 66, every new detection diagnosed and localized right.
    rlf_rops / rlf_min: the *RLF burst*: at least ``rlf_min`` radio link failures (``RLF.Count``) of the cell's
    UEs summed over the last ``rlf_rops`` ROPs while the cell made no outgoing handover attempt (``HO.AttOut``)
    over them detect on their own (0 ROPs disables it): UEs that fail on a cell instead of handing over are the
    mobility-robustness "too late" case (TS 36.300 MRO), and a too-late misconfiguration's time-to-trigger blocks
    every handover out. 2 failures over 3 ROPs since session 41, by a pre-registered test
    (``bench/results/HEAL_PREREG_S43.md``): on the never-used seed-7347 suite (78 handover faults, 39 external
    interferences, 39 cell outages, 44 controls) recall 116 -> 119 of 126 (too-late faults 5 -> 8 of 12), control
    alarms 1 -> 1 of 44, harmful 0 -> 0, every FKR the same; no cell of the dev, training or seed-7344 controls
    fails 2 UEs within 3 ROPs.
    peer_baseline: when an incident opens (``freeze``) before the cells have ``min_baseline_rops`` ROPs of their
    own history (a fault already there when the agents start, detected by a signature that needs no baseline),
    the features the diagnoser reads from the next ROP on compare every cell with the network's cells that carry
    no equipment alarm over the last ``baseline_rops`` ROPs (``peer_baseline_stats``), instead of being absent
    until the incident closes. Not from the detection ROP itself: the first ROPs carry the UEs' first attachments
    (on one cold-start outage their radio link failures made the diagnoser read ROP 0 as a PA degradation).
    Detection is unchanged (the scores stay 0 there). Without it such an incident is never diagnosed. On the
    never-used seed-7360 cold-start suite (``airan suite make --cold-start``, ``docs/healing_journal.md``, session
    50) it diagnosed 50 of the 57 detected faults right instead of 6, full recovery 6 -> 17 of 43, paired mean FKR
    +0.283. An incident that opens once the cells have their own baseline never uses it: dev's logs are
    byte-identical.
    fit_scan_nats: the per-UE fit scan (None: off). Each ROP with a baseline, every cell's UEs' per-UE report
    changes (``report_change``) are fitted against the change a tilt either way or a PA degradation on that cell
    would make where each UE is and against no change (``diagnoser.change_fit_gains``, through the policy's
    ``change_fit``, which holds the twin); a cell whose best fit beats no change by at least this many nats for
    ``fit_scan_rops`` consecutive ROPs detects on its own. A cell the policy's own radio action changed after the
    baseline's start is not scanned (two settings, not a fault). It sees a tilt whose quantiles hide it: a
    stadium downtilt brings the beam closer to the UEs under it while the far ones lose, so the median barely
    moves, but each UE moved as the twin says it would.
    freeze_keeps_baseline: an incident's frozen baseline (``freeze``) keeps at least ``min_baseline_rops`` ROPs
    when the window at the detection held them. The policy freezes the baseline ``persistence`` ROPs before the
    detection (the model score's streak); a detection within ``persistence + min_baseline_rops`` ROPs of the
    episode's start, which a signature makes in 1-2 ROPs, left fewer, and the monitor went blind for the whole
    incident (no features, no score, no baseline-relative signature: the incident closed after
    ``AiranConfig.close_after_rops`` quiet ROPs and the next one started from a baseline holding the fault; 44
    of dev's 300 first detections came at ROP 6 or 7). The kept ROPs may hold the anomaly's first ROP. Off: on
    the never-used seed-7377 suite (S78, ``HEAL_PREREG_S78.md``), over four draws, mean paired FKR +0.007 and
    scorer-harmful 39 -> 36, but full recovery 126 -> 123, one more than its rule allowed."""

    baseline_rops: int = 8
    gap_rops: int = 2
    persistence: int = 2
    threshold: float = 0.5
    min_baseline_rops: int = 3
    dead_air_rops: int = 3
    dead_air_min_ues: float = 1.5
    dead_air_min_sinr_db: float = 0.0
    dead_air_margin_db: float = 3.0
    dead_air_min_snr_db: float = 0.0
    dead_air_evidence: str = "sinr_or_ue_sinr"
    dead_air_min_demand_mbps: float = 0.1
    dead_air_ue_min_sinr_db: float = -3.5
    pingpong_rops: int = 3
    pingpong_min: float = 6.0
    coverage_shift_db: float = 3.0
    coverage_drop_db: float | None = None
    coverage_shift_rops: int = 2
    coverage_site_gate_db: float = 2.0
    site_shift_db: float = 2.0
    site_shift_rops: int = 3
    shift_gap_rops: int | None = None
    demand_surge_log2: float = 0.8
    demand_surge_rops: int = 2
    late_ho_margin_db: float = 4.0
    late_ho_rops: int = 3
    late_ho_min: float = 2.0
    late_ho_streak_rops: int = 4
    late_ho_quiet_rops: int = 3
    pingpong_steady_rops: int = 6
    pingpong_steady_min: int = 0
    site_spread_db: float | None = 4.0
    site_spread_rops: int = 4
    rlf_rops: int = 3
    rlf_min: float = 2.0
    peer_baseline: bool = True
    fit_scan_nats: float | None = None
    fit_scan_rops: int = 2
    freeze_keeps_baseline: bool = False

    def __post_init__(self) -> None:
        if self.baseline_rops < 2:
            raise ConfigError(f"baseline_rops must be >= 2, got {self.baseline_rops!r}")
        if self.gap_rops < 1:
            raise ConfigError(f"gap_rops must be >= 1, got {self.gap_rops!r}")
        if self.shift_gap_rops is not None and self.shift_gap_rops < 1:
            raise ConfigError(f"shift_gap_rops must be None or >= 1, got {self.shift_gap_rops!r}")
        if self.persistence < 1:
            raise ConfigError(f"persistence must be >= 1, got {self.persistence!r}")
        if not 0 < self.threshold < 1:
            raise ConfigError(f"threshold must be in (0, 1), got {self.threshold!r}")
        if min(self.dead_air_rops, self.dead_air_min_ues, self.pingpong_rops, self.pingpong_min) < 0:
            raise ConfigError(f"dead_air_rops/dead_air_min_ues/pingpong_rops/pingpong_min must be >= 0, got "
                              f"{self.dead_air_rops!r}/{self.dead_air_min_ues!r}/{self.pingpong_rops!r}/"
                              f"{self.pingpong_min!r}")
        drop_ok = self.coverage_drop_db is None or self.coverage_drop_db > 0
        if not self.coverage_shift_db > 0 or not drop_ok or self.coverage_shift_rops < 0:
            raise ConfigError(f"coverage_shift_db and coverage_drop_db must be > 0 and coverage_shift_rops >= 0, "
                              f"got {self.coverage_shift_db!r}/{self.coverage_drop_db!r}/"
                              f"{self.coverage_shift_rops!r}")
        if not self.demand_surge_log2 > 0 or self.demand_surge_rops < 0:
            raise ConfigError(f"demand_surge_log2 must be > 0 and demand_surge_rops >= 0, got "
                              f"{self.demand_surge_log2!r}/{self.demand_surge_rops!r}")
        if self.rlf_rops < 0 or not self.rlf_min >= 1:
            raise ConfigError(f"rlf_rops must be >= 0 and rlf_min >= 1, got {self.rlf_rops!r}/{self.rlf_min!r}")
        if not self.coverage_site_gate_db >= 0:
            raise ConfigError(f"coverage_site_gate_db must be >= 0, got {self.coverage_site_gate_db!r}")
        if not self.site_shift_db > 0 or self.site_shift_rops < 0:
            raise ConfigError(f"site_shift_db must be > 0 and site_shift_rops >= 0, got {self.site_shift_db!r}/"
                              f"{self.site_shift_rops!r}")
        if not self.dead_air_margin_db >= 0 or not np.isfinite(self.dead_air_min_snr_db):
            raise ConfigError(f"dead_air_margin_db must be >= 0 and dead_air_min_snr_db finite, got "
                              f"{self.dead_air_margin_db!r}/{self.dead_air_min_snr_db!r}")
        if self.dead_air_evidence not in DEAD_AIR_EVIDENCE:
            raise ConfigError(f"dead_air_evidence must be one of {DEAD_AIR_EVIDENCE}, got {self.dead_air_evidence!r}")
        if not np.isfinite(self.dead_air_ue_min_sinr_db):
            raise ConfigError(f"dead_air_ue_min_sinr_db must be finite, got {self.dead_air_ue_min_sinr_db!r}")
        if not (np.isfinite(self.dead_air_min_demand_mbps) and self.dead_air_min_demand_mbps >= 0):
            raise ConfigError(f"dead_air_min_demand_mbps must be finite and >= 0, got "
                              f"{self.dead_air_min_demand_mbps!r}")
        if not 0 <= self.pingpong_steady_min <= max(self.pingpong_steady_rops, 0):
            raise ConfigError(f"pingpong_steady_min must be in [0, pingpong_steady_rops], got "
                              f"{self.pingpong_steady_min!r} with {self.pingpong_steady_rops!r}")
        if min(self.late_ho_streak_rops, self.late_ho_quiet_rops, self.pingpong_steady_rops) < 0:
            raise ConfigError(f"late_ho_streak_rops/late_ho_quiet_rops/pingpong_steady_rops must be >= 0, got "
                              f"{self.late_ho_streak_rops!r}/{self.late_ho_quiet_rops!r}/{self.pingpong_steady_rops!r}")
        if not self.late_ho_margin_db > 0 or self.late_ho_rops < 0 or not self.late_ho_min > 0:
            raise ConfigError(f"late_ho_margin_db and late_ho_min must be > 0 and late_ho_rops >= 0, got "
                              f"{self.late_ho_margin_db!r}/{self.late_ho_min!r}/{self.late_ho_rops!r}")
        if (self.site_spread_db is not None and not self.site_spread_db > 0) or self.site_spread_rops < 1:
            raise ConfigError(f"site_spread_db must be > 0 (or None) and site_spread_rops >= 1, got "
                              f"{self.site_spread_db!r}/{self.site_spread_rops!r}")
        if (self.fit_scan_nats is not None and not self.fit_scan_nats > 0) or self.fit_scan_rops < 1:
            raise ConfigError(f"fit_scan_nats must be > 0 (or None) and fit_scan_rops >= 1, got "
                              f"{self.fit_scan_nats!r}/{self.fit_scan_rops!r}")
        if not 2 <= self.min_baseline_rops <= self.baseline_rops:
            raise ConfigError(f"min_baseline_rops must be in [2, baseline_rops], got {self.min_baseline_rops!r}")


class Monitor:
    """Stateful per-cell detector. ``update(obs)`` once per ROP returns the cells in anomaly this ROP.

    The baseline is frozen (``freeze``) while an incident is open so that a long fault, and the actions
    that heal it, are always judged against the pre-incident network."""

    def __init__(self, neighbours: np.ndarray, cfg: MonitorConfig | None = None,
                 scorer: AnomalyScorer | None = None, cell_site: np.ndarray | None = None,
                 noise_re_dbm: float | None = None) -> None:
        nb = np.asarray(neighbours)
        if nb.ndim != 2:
            raise ConfigError(f"neighbours must be [num_cells, K], got shape {nb.shape}")
        self.neighbours = nb.astype(np.int64)
        # [num_cells] int64 site per cell; None: the site-relative shift is not computed
        self.cell_site = None if cell_site is None else np.asarray(cell_site, np.int64)
        if self.cell_site is not None and self.cell_site.shape != (nb.shape[0],):
            raise ShapeError(f"cell_site must be [{nb.shape[0]}], got shape {self.cell_site.shape}")
        # UE thermal noise per resource element [dBm] (carrier spacing + UE noise figure); None: the dead-air
        # signature judges a lone UE by the cell's SINR KPI only
        self.noise_re_dbm = None if noise_re_dbm is None else float(noise_re_dbm)
        self.cfg = cfg or MonitorConfig()
        self.scorer = scorer or RuleScorer()
        n = nb.shape[0]
        self.alarms = np.zeros((n, len(ALARM_NAMES)))
        self.streak = np.zeros(n, np.int64)
        self.dead_streak = np.zeros(n, np.int64)
        self.shift_streak = np.zeros(n, np.int64)  # [num_cells] ROPs the coverage-shift rule has held, either window
        self.site_streak = np.zeros(n, np.int64)  # [num_cells] the same for the site-shift rule
        self._near_streaks = (np.zeros(n, np.int64), np.zeros(n, np.int64))  # (shift, site) over baseline_window
        self._far_streaks = (np.zeros(n, np.int64), np.zeros(n, np.int64))  # (shift, site) over shift_window
        self.spread_streak = np.zeros(n, np.int64)
        self.surge_streak = np.zeros(n, np.int64)
        # the per-UE fit scan (``MonitorConfig.fit_scan_nats``): ``change_fit(diff [num_ues, num_cells] dB, obs)``
        # -> [num_cells] float64 nats (``diagnoser.change_fit_gains``; NaN: cannot tell), set by the policy that
        # holds the twin; ``fit_gain`` this ROP's gains (NaN where not scanned), ``fit_streak`` ROPs at or above
        self.change_fit: Callable[[np.ndarray, Observation], np.ndarray] | None = None
        self.fit_gain = np.full(n, np.nan)
        self.fit_streak = np.zeros(n, np.int64)
        self.sure = np.zeros(n)  # [num_cells] > 0 where a signature (alarm, dead air, ping-pong, ...) holds
        self.frozen_stop: int | None = None
        self.last_rop: int | None = None  # the ROP of the last ``update``
        # the baseline was frozen (an incident opened) while the cell's own window was still too short: the anomaly
        # is older than the history (``MonitorConfig.peer_baseline``)
        self.cold = False
        self.features: np.ndarray | None = None
        self.scores = np.zeros(n)
        self.derived: dict[str, np.ndarray] = {}
        self.reports: list[np.ndarray | None] = []  # measurement reports per ROP (index = ROP)
        self.changed_rop = np.full(n, -1, np.int64)  # last ROP a radio action of the policy took effect per cell
        # [num_cells] dB: a configuration audit's finding per cell (the calibrated power correction far beyond the
        # twin's accuracy, ``flag_audit``), 0 where none; a standing signature until the policy changes the cell
        self.audit_db = np.zeros(n)
        self.shift_db = np.zeros(n)
        self.drop_db = np.zeros(n)  # [num_cells] edge drop: minus the lower quartile of the UEs' RSRP change [dB]
        self.rise_db = np.zeros(n)  # [num_cells] edge rise: the upper quartile of the UEs' RSRP change [dB]
        self.site_shift_db = np.zeros(n)  # [num_cells] median over UEs of ``site_relative_change`` [dB]
        self.site_spread_db = np.zeros(n)  # [num_cells] its interquartile range (``site_relative_spread``) [dB]
        self.ue_serving: list[np.ndarray | None] = []  # UE trace per ROP (index = ROP)
        self.ue_demand: list[np.ndarray | None] = []
        self.ue_sinr: list[np.ndarray | None] = []  # [num_ues] SINR reports [dB] per ROP (index = ROP)
        self.surge_log2 = np.zeros(n)
        self.late_count = np.zeros(n)  # [num_cells] ``late_handover`` this ROP
        self.late_fire = np.zeros(n, bool)  # [num_cells] the late-handover signature holds this ROP
        self.late: list[np.ndarray] = []  # per ROP (index = ROP): [num_cells] UEs held overdue (``late_held``)
        self._overdue = np.zeros(0, bool)  # [num_ues] overdue last ROP
        self._overdue_srv = np.zeros(0, np.int64)  # [num_ues] their serving cells last ROP
        self._held_rops = np.zeros(0, np.int64)  # [num_ues] consecutive ROPs overdue by the same serving cell
        self.held_streak: list[np.ndarray] = []  # per ROP (index = ROP): [num_cells] longest such run of its UEs

    def freeze(self, rop: int) -> None:
        """Freeze the baseline to end before the anomaly that started around ``rop``; with
        ``MonitorConfig.freeze_keeps_baseline``, never to fewer than ``min_baseline_rops`` ROPs (or than the whole
        window of the last ``update``, when that held fewer)."""
        if self.frozen_stop is None:
            stop = max(rop + 1 - self.cfg.gap_rops, 1)
            if self.cfg.freeze_keeps_baseline and self.last_rop is not None:
                stop = max(stop, min(self.last_rop + 1 - self.cfg.gap_rops, self.cfg.min_baseline_rops))
            self.frozen_stop = stop

    def flag_audit(self, cell: int, power_db: float) -> None:
        """A configuration audit found ``cell``'s radiated power ``power_db`` [dB] off what the planning model
        expects (``AiranConfig.audit_power_db``): a signature that detects on its own from the next ``update`` on,
        and stands until the policy changes one of the cell's radio knobs."""
        if not 0 <= int(cell) < self.audit_db.size or not np.isfinite(power_db) or power_db == 0:
            raise ConfigError(f"an audit needs a cell in [0, {self.audit_db.size}) and a finite non-zero power "
                              f"correction, got cell {cell!r} and {power_db!r} dB")
        self.audit_db[int(cell)] = float(power_db)

    def unfreeze(self) -> None:
        self.frozen_stop = None

    def _track_alarms(self, obs: Observation) -> None:
        for ev in obs.events:
            if ev.kind == "alarm" and ev.name in ALARM_NAMES and ev.cell is not None:
                raised = ev.detail.get("state", "raised") == "raised"
                self.alarms[int(ev.cell), ALARM_NAMES.index(ev.name)] = 1.0 if raised else 0.0

    def hard_alarms(self) -> np.ndarray:
        """[num_cells] 1.0 where an equipment alarm other than CELL_RESTARTING is active, else 0.0."""
        return self.alarms[:, [i for i, a in enumerate(ALARM_NAMES) if a != "CELL_RESTARTING"]].max(axis=1)

    def baseline_window(self, rop: int) -> tuple[int, int]:
        stop = self.frozen_stop if self.frozen_stop is not None else rop + 1 - self.cfg.gap_rops
        stop = max(min(stop, rop + 1 - self.cfg.gap_rops), 0)
        return max(stop - self.cfg.baseline_rops, 0), stop

    def shift_window(self, rop: int) -> tuple[int, int]:
        """[start, stop) the baseline of the coverage-shift and site-shift signatures at ``rop``: as
        ``baseline_window`` with ``MonitorConfig.shift_gap_rops`` newest ROPs kept out (the same window when that is
        None), and never past a frozen baseline."""
        gap = self.cfg.gap_rops if self.cfg.shift_gap_rops is None else self.cfg.shift_gap_rops
        stop = rop + 1 - gap
        if self.frozen_stop is not None:
            stop = min(stop, self.frozen_stop)
        stop = max(stop, 0)
        return max(stop - self.cfg.baseline_rops, 0), stop

    def far_shifts(self, rop: int) -> tuple[np.ndarray, np.ndarray]:
        """([num_cells] median shift, [num_cells] site-relative shift) [dB] over ``shift_window``, the second
        baseline the coverage-shift and site-shift signatures also test (this ROP's ``shift_db`` /
        ``site_shift_db`` when the windows agree; 0 where the window holds fewer than ``min_baseline_rops`` ROPs)."""
        start, stop = self.shift_window(rop)
        if (start, stop) == self.baseline_window(rop):
            return self.shift_db, self.site_shift_db
        n = self.neighbours.shape[0]
        if stop - start < self.cfg.min_baseline_rops:
            return np.zeros(n), np.zeros(n)
        shift, _, _, site, _ = self.report_shift(rop, start, stop)
        return shift, site

    def _shift_streaks(self, shift_db: np.ndarray, site_shift_db: np.ndarray,
                       streaks: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The coverage-shift and site-shift streaks [num_cells] int64 after this ROP's ``shift_db`` /
        ``site_shift_db`` [dB] (the median rule gated by the site where the sites are known; the edge drop, where
        that detects, is this ROP's ``drop_db`` over the scorer's window, whichever window the shifts come from)."""
        moved = np.abs(shift_db) >= self.cfg.coverage_shift_db
        if self.cfg.coverage_site_gate_db > 0 and self.cell_site is not None:
            moved &= site_backed(shift_db, site_shift_db, self.cfg.coverage_site_gate_db)
        if self.cfg.coverage_drop_db is not None:
            moved |= self.drop_db >= self.cfg.coverage_drop_db
        return (np.where(moved, streaks[0] + 1, 0),
                np.where(np.abs(site_shift_db) >= self.cfg.site_shift_db, streaks[1] + 1, 0))

    def update(self, obs: Observation) -> list[Detection]:
        """Ingest one ROP; return detections (most anomalous first)."""
        self.last_rop = int(obs.rop)
        self._track_alarms(obs)
        n = self.neighbours.shape[0]
        self.derived = derived_kpis(obs.history)
        start, stop = self.baseline_window(obs.rop)
        self._track_reports(obs)
        alarm_any = self.hard_alarms()
        if stop - start < self.cfg.min_baseline_rops:
            self.features, self.scores = None, np.zeros(n)
            self.shift_db, self.drop_db, self.surge_log2 = np.zeros(n), np.zeros(n), np.zeros(n)
            self.rise_db = np.zeros(n)
            self.site_shift_db, self.site_spread_db = np.zeros(n), np.zeros(n)
            hot = alarm_any > 0
            if self.frozen_stop is None:
                self.cold = True
            elif self.cold and self.cfg.peer_baseline:  # for the diagnoser only (detection is unchanged)
                base = peer_baseline_stats(self.derived, max(obs.rop + 1 - self.cfg.baseline_rops, 0), obs.rop + 1,
                                           alarm_any == 0)
                self.features = cell_features(self.derived, obs.rop, base, self.neighbours, self.alarms)
        else:
            self.cold = False
            base = baseline_stats(self.derived, start, stop)
            (self.shift_db, self.drop_db, self.rise_db, self.site_shift_db,
             self.site_spread_db) = self.report_shift(obs.rop, start, stop)
            self.surge_log2 = demand_surge(self.ue_serving, self.ue_demand, n, start, stop, obs.rop)
            self.features = cell_features(self.derived, obs.rop, base, self.neighbours, self.alarms, self.shift_db)
            self.scores = np.asarray(self.scorer.score(self.features), float)
            hot = self.scores > self.cfg.threshold
        self.streak = np.where(hot, self.streak + 1, 0)
        self.dead_streak = np.where(self.dead_air(obs.rop), self.dead_streak + 1, 0)
        sure = np.maximum(alarm_any, (self.cfg.dead_air_rops > 0) & (self.dead_streak >= self.cfg.dead_air_rops))
        sure = np.maximum(sure, self.pingpong_storm(obs.rop))
        sure = np.maximum(sure, self.rlf_burst(obs.rop))
        self._near_streaks = self._shift_streaks(self.shift_db, self.site_shift_db, self._near_streaks)
        if self.cfg.shift_gap_rops is not None:
            self._far_streaks = self._shift_streaks(*self.far_shifts(obs.rop), self._far_streaks)
        # either window's streak: a signature fires when the step shows long enough against one of them
        self.shift_streak, self.site_streak = (np.maximum(a, b) for a, b in zip(self._near_streaks, self._far_streaks))
        k = self.cfg.coverage_shift_rops
        sure = np.maximum(sure, (k > 0) & (self.shift_streak >= k))
        k = self.cfg.site_shift_rops
        sure = np.maximum(sure, (k > 0) & (self.site_streak >= k))
        wide = self.site_spread_db >= self.cfg.site_spread_db if self.cfg.site_spread_db is not None else False
        self.spread_streak = np.where(wide, self.spread_streak + 1, 0)  # (0 everywhere without cell_site)
        sure = np.maximum(sure, self.spread_fire())
        self.fit_gain = self.scan_fits(obs, start, stop)
        with np.errstate(invalid="ignore"):
            fits = self.fit_gain >= self.cfg.fit_scan_nats if self.cfg.fit_scan_nats is not None else False
        self.fit_streak = np.where(fits, self.fit_streak + 1, 0)
        sure = np.maximum(sure, self.fit_fire())
        self.late_count = self.late_handover(obs.rop)  # 0 when the signature is off; late_ho_min > 0
        need = self.cfg.late_ho_streak_rops if self.cfg.late_ho_streak_rops > 0 else self.cfg.late_ho_min
        self.late_fire = self.late_count >= need
        sure = np.maximum(sure, self.late_fire)
        self.surge_streak = np.where(self.surge_log2 >= self.cfg.demand_surge_log2, self.surge_streak + 1, 0)
        k = self.cfg.demand_surge_rops
        sure = np.maximum(sure, (k > 0) & (self.surge_streak >= k))
        self.audit_db = np.where(self.changed_rop >= 0, 0.0, self.audit_db)  # a changed cell's audit is stale
        sure = np.maximum(sure, self.audit_db != 0)
        self.sure = sure
        fire = (self.streak >= self.cfg.persistence) | (sure > 0)
        order = np.argsort(-(self.scores + sure), kind="stable")
        out = []
        for c in order:
            if fire[c]:
                out.append(Detection(cell=int(c), score=float(max(self.scores[c], sure[c])),
                                     kpis=self.moved_kpis(int(c))))
        return out

    def _track_reports(self, obs: Observation) -> None:
        self.reports += [None] * (obs.rop - len(self.reports))
        mr = obs.mr_rsrp_dbm
        if mr is not None:
            mr = np.asarray(mr, float)
            if mr.ndim != 2 or mr.shape[1] != self.neighbours.shape[0]:
                raise ShapeError(f"mr_rsrp_dbm must be [num_ues, {self.neighbours.shape[0]}], got {mr.shape}")
        self.reports = self.reports[: obs.rop] + [mr]
        srv, dem = obs.ue_serving, obs.ue_dl_demand_mbps
        if (srv is None) != (dem is None):
            raise ShapeError("ue_serving and ue_dl_demand_mbps come together (a UE trace), got only one")
        if srv is not None:
            srv, dem = np.asarray(srv, np.int64), np.asarray(dem, float)
            if srv.ndim != 1 or dem.shape != srv.shape:
                raise ShapeError(f"ue_serving and ue_dl_demand_mbps must both be [num_ues], got {srv.shape} and "
                                 f"{dem.shape}")
        self.ue_serving = self.ue_serving[: obs.rop] + [None] * (obs.rop - len(self.ue_serving)) + [srv]
        self.ue_demand = self.ue_demand[: obs.rop] + [None] * (obs.rop - len(self.ue_demand)) + [dem]
        q = obs.mr_sinr_db
        if q is not None:
            q = np.asarray(q, float)
            if srv is None or q.shape != srv.shape:
                raise ShapeError(f"mr_sinr_db must be [num_ues] like the UE trace (ue_serving), got {q.shape} and "
                                 f"{None if srv is None else srv.shape}")
        self.ue_sinr = self.ue_sinr[: obs.rop] + [None] * (obs.rop - len(self.ue_sinr)) + [q]
        self.late = self.late[: obs.rop] + [np.zeros(self.neighbours.shape[0])] * (obs.rop - len(self.late))
        self.held_streak = self.held_streak[: obs.rop] + [np.zeros(self.neighbours.shape[0])] * (
            obs.rop - len(self.held_streak))
        self.late.append(self.late_held(mr, srv))
        for entry in obs.applied:
            if entry[1].kind in RADIO_ACTIONS:
                c = int(entry[1].cell)
                self.changed_rop[c] = max(self.changed_rop[c], int(entry[0]))

    def fit_fire(self) -> np.ndarray:
        """[num_cells] bool: the per-UE fit scan's signature holds this ROP (``MonitorConfig.fit_scan_nats``)."""
        return (self.cfg.fit_scan_nats is not None) & (self.fit_streak >= self.cfg.fit_scan_rops)

    def scan_fits(self, obs: Observation, start: int, stop: int) -> np.ndarray:
        """[num_cells] float64 this ROP's per-UE fit gains [nats] over the baseline window [start, stop)
        (``change_fit``), NaN where the scan is off, has no baseline or reports, or the policy changed the cell's
        radio knobs after ``start``."""
        n = self.neighbours.shape[0]
        if self.cfg.fit_scan_nats is None or self.change_fit is None or stop - start < self.cfg.min_baseline_rops:
            return np.full(n, np.nan)
        diff = report_change(self.reports, start, stop, obs.rop)
        if diff is None or diff.shape[1] != n:
            return np.full(n, np.nan)
        gains = np.asarray(self.change_fit(diff, obs), float)
        if gains.shape != (n,):
            raise ShapeError(f"change_fit must return [{n}] gains, got shape {gains.shape}")
        return np.where(self.changed_rop > start, np.nan, gains)

    def spread_fire(self) -> np.ndarray:
        """[num_cells] bool: the site-relative spread signature holds this ROP (``MonitorConfig.site_spread_db``)."""
        return (self.cfg.site_spread_db is not None) & (self.spread_streak >= self.cfg.site_spread_rops)

    def ue_changes(self, cell: int, rop: int) -> np.ndarray | None:
        """[num_ues] float64 each UE's change in the RSRP it reports of ``cell`` [dB] (``report_change`` over this
        ROP's baseline window; NaN where a UE did not report the cell in both windows), or None without reports or
        baseline, or for a cell a radio action of the policy changed after the window's start (its reports then
        compare two settings, not a fault, as ``report_shift`` says too): the per-UE view behind
        ``report_shift``'s quantiles."""
        start, stop = self.baseline_window(rop)
        diff = report_change(self.reports, start, stop, rop)
        if diff is None or not 0 <= int(cell) < diff.shape[1] or self.changed_rop[int(cell)] > start:
            return None
        return diff[:, int(cell)].copy()

    def report_shift(self, rop: int, start: int, stop: int) -> tuple[np.ndarray, ...]:
        """([num_cells] ``mr_shift``, [num_cells] edge drop = minus its lower quartile, [num_cells] edge rise = its
        upper quartile, [num_cells] site-relative shift = the median over UEs of ``site_relative_change``,
        [num_cells] site-relative spread = ``site_relative_spread``) over the baseline window [dB]; 0 for a cell
        the policy itself changed after ``start`` (its reports then compare two settings, not a fault), and the
        site-relative statistics 0 for every cell of a site with such a cell (0 everywhere without ``cell_site``)."""
        n = self.neighbours.shape[0]
        diff = report_change(self.reports, start, stop, rop)
        if diff is None or diff.shape[1] != n:
            return np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
        own = self.changed_rop > start
        site, spread = np.zeros(n), np.zeros(n)
        if self.cell_site is not None:
            own_site = np.isin(self.cell_site, self.cell_site[own])
            rel = site_relative_change(diff, self.cell_site)
            site = np.where(own_site, 0.0, change_quantile(rel, 0.5))
            spread = np.where(own_site, 0.0, site_relative_spread(rel))
        return (np.where(own, 0.0, change_quantile(diff, 0.5)), np.where(own, 0.0, -change_quantile(diff, 0.25)),
                np.where(own, 0.0, change_quantile(diff, 0.75)), site, spread)

    def dead_air(self, rop: int, cfg: MonitorConfig | None = None) -> np.ndarray:
        """[num_cells] bool: ``dead_air_cells`` at ``rop`` with the configured UE count / SINR evidence; a cell
        with fewer than ``dead_air_min_ues`` UEs also needs, when the ROP has measurement reports and a UE trace,
        one of its UEs with traffic to report it ``dead_air_min_snr_db`` above the UE noise floor and within
        ``dead_air_margin_db`` of the strongest cell it hears (``decodable_ues``; needs ``noise_re_dbm``): the
        cell KPI's SINR averages every camped UE, idle ones included, and a lone active UE at the edge of
        coverage (RSRP -124 dBm per resource element against a -120 dBm floor, -8 dB SINR, below the most robust
        MCS) gets nothing from a healthy cell. With ``dead_air_evidence="reports"`` that UE replaces the SINR
        test instead of being added to it; with ``"ue_sinr"`` and the UEs' SINR reports, that UE must also report
        its cell's SINR at least ``dead_air_ue_min_sinr_db``, and that replaces the SINR test; with
        ``"sinr_or_ue_sinr"`` either the default's evidence or that one will do. ``cfg``: another
        configuration's dead-air settings (replays)."""
        cfg = cfg or self.cfg
        d = {k: np.asarray(v, float)[rop] for k, v in self.derived.items()}
        dead = dead_air_cells(d, cfg.dead_air_min_ues, cfg.dead_air_min_sinr_db, cfg.dead_air_min_demand_mbps)
        mr = self.reports[rop] if rop < len(self.reports) else None
        srv = self.ue_serving[rop] if rop < len(self.ue_serving) else None
        dem = self.ue_demand[rop] if rop < len(self.ue_demand) else None
        if mr is None or srv is None or dem is None or self.noise_re_dbm is None:
            return dead
        n = dead.shape[0]
        floor = self.noise_re_dbm + cfg.dead_air_min_snr_db
        ok = decodable_ues(mr, srv, cfg.dead_air_margin_db, floor) & (np.nan_to_num(dem) > 0)
        few = np.nan_to_num(d["conn"]) < cfg.dead_air_min_ues
        q = self.ue_sinr[rop] if rop < len(self.ue_sinr) else None
        has = np.bincount(srv[ok], minlength=n)[:n] > 0
        if cfg.dead_air_evidence in ("ue_sinr", "sinr_or_ue_sinr") and q is not None:
            with np.errstate(invalid="ignore"):
                heard = ok & (q >= cfg.dead_air_ue_min_sinr_db)
            silent = dead_air_cells(d, 0.0, -np.inf, cfg.dead_air_min_demand_mbps)  # any UE, no SINR test
            own = silent & (np.bincount(srv[heard], minlength=n)[:n] > 0) & (np.nan_to_num(d["conn"]) >= 0.5)
            if cfg.dead_air_evidence == "sinr_or_ue_sinr":
                own |= dead & has
            return np.where(few, own, dead)
        if cfg.dead_air_evidence == "reports":
            silent = dead_air_cells(d, 0.0, -np.inf, cfg.dead_air_min_demand_mbps)  # any UE, no SINR test
            return np.where(few, silent & has & (np.nan_to_num(d["conn"]) >= 0.5), dead)
        return dead & (~few | has)

    def pingpong_storm(self, rop: int) -> np.ndarray:
        """[num_cells] bool: >= ``pingpong_min`` ping-pongs summed over the last ``pingpong_rops`` ROPs, or (with
        ``pingpong_steady_rops``) at least one in each of the last ``pingpong_steady_rops`` ROPs (in at least
        ``pingpong_steady_min`` of them where that is > 0); none before the monitor has seen a ROP."""
        if "pp" not in self.derived:
            return np.zeros(self.sure.shape[0], bool)
        return pingpong_storm_cells(np.asarray(self.derived["pp"], float), rop, self.cfg)

    def rlf_burst(self, rop: int) -> np.ndarray:
        """[num_cells] bool: the RLF burst of ``MonitorConfig.rlf_rops`` / ``rlf_min`` at ``rop`` (all False when
        off or before the monitor has seen a ROP)."""
        if "rlf" not in self.derived:
            return np.zeros(self.neighbours.shape[0], bool)
        return rlf_burst_cells(np.asarray(self.derived["rlf"], float), np.asarray(self.derived["ho"], float), rop,
                               self.cfg)

    def late_held(self, mr: np.ndarray | None, srv: np.ndarray | None) -> np.ndarray:
        """[num_cells] float64 this ROP's UEs overdue (``overdue_ues``) now and last ROP, by the same serving cell;
        remembers this ROP's overdue UEs for the next."""
        n = self.neighbours.shape[0]
        now = overdue_ues(mr, srv, self.cfg.late_ho_margin_db)
        out = np.zeros(n)
        runs = np.zeros(n)
        if now.size and now.shape == self._overdue.shape:
            held = now & self._overdue & (srv == self._overdue_srv)
            np.add.at(out, srv[held], 1.0)
            self._held_rops = np.where(now & (srv == self._overdue_srv), self._held_rops + 1, now.astype(np.int64))
        else:
            self._held_rops = now.astype(np.int64)
        if now.any():
            np.maximum.at(runs, srv[now], self._held_rops[now].astype(float))
        self.held_streak.append(runs)
        self._overdue = now
        self._overdue_srv = np.zeros(0, np.int64) if srv is None else np.asarray(srv, np.int64).copy()
        return out

    def late_handover(self, rop: int) -> np.ndarray:
        """[num_cells] float64 UEs held overdue (``late_held``) summed over the last ``late_ho_rops`` ROPs up to
        ``rop``, or with ``late_ho_streak_rops`` the longest held streak of the cell's UEs at ``rop`` (0 where the
        cell made a handover attempt in the last ``late_ho_quiet_rops`` ROPs); 0 when the signature is off."""
        k = self.cfg.late_ho_rops
        n = self.neighbours.shape[0]
        if k == 0 or not self.late:
            return np.zeros(n)
        if self.cfg.late_ho_streak_rops > 0:
            runs = self.held_streak[rop] if rop < len(self.held_streak) else np.zeros(n)
            q = self.cfg.late_ho_quiet_rops
            if q > 0:
                runs = np.where(silent_cells(self.derived["ho"], rop, q), runs, 0.0)
            return np.asarray(runs, float)
        return np.sum(self.late[max(rop + 1 - k, 0): rop + 1], axis=0)

    def moved_kpis(self, cell: int, top: int = 3) -> tuple[str, ...]:
        """Raw KPI names of the ``top`` features that moved most on ``cell`` (robust |z|, cell's own)."""
        if self.features is None:
            return ()
        zs = [(abs(self.features[cell, FEATURE_NAMES.index(f"z.{k}")]), k) for k in DERIVED]
        zs.sort(key=lambda t: -t[0])
        return tuple(DERIVED_SOURCE[k] for z, k in zs[:top] if z >= 2.0)


def pingpong_storm_cells(pp: np.ndarray, rop: int, cfg: MonitorConfig) -> np.ndarray:
    """[C] bool: the ping-pong signatures of ``cfg`` at ``rop`` from per-ROP ping-pong counts ``pp`` [R, C]
    (NaN: not reported): >= ``pingpong_min`` summed over the last ``pingpong_rops`` ROPs, or at least one in each
    of the last ``pingpong_steady_rops`` ROPs (in at least ``pingpong_steady_min`` of them where that is > 0)."""
    storm = np.zeros(pp.shape[1], bool)
    k = cfg.pingpong_rops
    if k > 0 and rop + 1 >= k:
        storm |= np.nansum(pp[rop + 1 - k: rop + 1], axis=0) >= cfg.pingpong_min
    k = cfg.pingpong_steady_rops
    if k > 0 and rop + 1 >= k:
        storm |= np.sum(np.nan_to_num(pp[rop + 1 - k: rop + 1]) >= 1.0, axis=0) >= (cfg.pingpong_steady_min or k)
    return storm


def rlf_burst_cells(rlf: np.ndarray, ho: np.ndarray, rop: int, cfg: MonitorConfig) -> np.ndarray:
    """[C] bool: the RLF burst of ``cfg`` at ``rop`` from per-ROP radio link failure counts ``rlf`` [R, C] and
    outgoing handover attempts ``ho`` [R, C] (NaN: not reported): >= ``rlf_min`` failures summed over the last
    ``rlf_rops`` ROPs and no handover attempt over them, counted from ROP ``min_baseline_rops`` on (the first
    ROPs of a run carry the UEs' first attachments: on seed 7345 a healthy stadium cell failed a UE in each of
    ROPs 0 and 1 and handed none over before ROP 4)."""
    k = cfg.rlf_rops
    if k == 0 or rop + 1 - k < cfg.min_baseline_rops:
        return np.zeros(rlf.shape[1], bool)
    w = slice(rop + 1 - k, rop + 1)
    return (np.nansum(rlf[w], axis=0) >= cfg.rlf_min) & (np.nansum(ho[w], axis=0) == 0)


def sector_neighbours(cell_xy: np.ndarray, cell_yaw_deg: np.ndarray, k: int = 6,
                      reach_m: float | None = None) -> np.ndarray:
    """The ``k`` cells whose sector centres lie nearest each cell's sector centre: [num_cells, k] int64.

    cell_xy [num_cells, 2] float64 site positions [m]; cell_yaw_deg [num_cells] boresight [deg]. The sector
    centre sits ``reach_m`` (default: a third of the median inter-site distance) along the boresight."""
    xy = np.asarray(cell_xy, float)
    n = xy.shape[0]
    if xy.ndim != 2 or xy.shape[1] != 2 or np.asarray(cell_yaw_deg).shape != (n,):
        raise ShapeError(f"cell_xy must be [C, 2] and cell_yaw_deg [C], got {xy.shape}, "
                         f"{np.asarray(cell_yaw_deg).shape}")
    if reach_m is None:
        d = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
        pos = d[d > 1e-6]
        reach_m = float(np.median(pos.min())) / 3.0 if pos.size else 50.0
    yaw = np.deg2rad(np.asarray(cell_yaw_deg, float))
    centre = xy + reach_m * np.stack([np.cos(yaw), np.sin(yaw)], axis=1)
    dist = np.linalg.norm(centre[:, None] - centre[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    kk = min(k, n - 1)
    out = np.full((n, k), -1, np.int64)
    if kk > 0:
        out[:, :kk] = np.argsort(dist, axis=1, kind="stable")[:, :kk]
    return out
