"""The ``rules`` baseline: what an operator's OSS does today. Static per-cell thresholds on absolute KPIs and
the twin's alarms map to a fixed playbook cause and action; nothing is learned and nothing is simulated.

Rules (each must hold ``persist_rops`` consecutive ROPs unless it is an alarm, which fires at once):

====================================================  =======================  ===============================
condition                                             cause                    playbook action
====================================================  =======================  ===============================
``Cell.Available == 0`` or CELL_DOWN alarm            cell_outage              +3 dB on up to 3 neighbours
BH_LINK_DOWN alarm                                    backhaul_failure         +3 dB on up to 3 neighbours
on-air, demand > 0, carried < 1 % of demand, no alarm sleeping_cell            restart (needs approval)
BH_CONGESTION alarm, loss > 1 % or latency > 30 ms    backhaul_congestion      CIO +6 dB on the site's cells
PA_DEGRADED alarm                                     pa_degradation           +3 dB on the cell
UL_INTERFERENCE alarm                                 external_interference    CIO +6 dB on the cell
PRB > 95 % and demand > capacity threshold            overload_hotspot         CIO +6 dB on the cell
ping-pongs (last 3 ROPs) >= 4 or RLFs >= 3            ho_misconfig             reset CIO/TTT/hysteresis
====================================================  =======================  ===============================

The playbook runs once per (cell, cause); high-risk sets go through ``ApprovalGate`` (request, apply after
the grant) like every other policy. Tilt faults have no static rule: the baseline is blind to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airan.agents.base import (
    CAUSES,
    ApprovalRequest,
    Decision,
    Detection,
    Diagnosis,
    EpisodeContext,
    Observation,
    PlannedAction,
    Policy,
    is_high_risk,
)
from airan.agents.planner import KnobView, facing_neighbours
from airan.core.errors import ConfigError
from airan.twin.actions import Action

# Playbook priority: the first cause in this order that fires on a cell is its diagnosis.
RULE_ORDER = ("cell_outage", "backhaul_failure", "sleeping_cell", "backhaul_congestion", "pa_degradation",
              "external_interference", "overload_hotspot", "ho_misconfig")
ALARM_CAUSE = {"CELL_DOWN": "cell_outage", "BH_LINK_DOWN": "backhaul_failure",
               "BH_CONGESTION": "backhaul_congestion", "PA_DEGRADED": "pa_degradation",
               "UL_INTERFERENCE": "external_interference"}
TOP_PROB = 0.9  # probability mass a baseline puts on the causes its rules fired ("one-hot-ish")


class ApprovalGate:
    """Holds high-risk action sets for an operator's grant (shared by the baseline policies).

    ``submit`` applies a low-risk set at once, or one a pre-authorised policy covers, and otherwise opens
    an ``ApprovalRequest``; ``poll`` releases the set once its id is among the granted approvals."""

    def __init__(self, prefix: str, preauthorized: frozenset[str] = frozenset()) -> None:
        self.prefix = prefix
        self.preauthorized = preauthorized
        self.pending: dict[str, tuple[ApprovalRequest, str]] = {}
        self._n = 0

    def covering(self, actions: tuple[Action, ...]) -> str:
        kinds = {a.kind for a in actions if is_high_risk([a])}
        if kinds and kinds <= self.preauthorized and len({a.cell for a in actions}) <= 3:
            return "+".join(sorted(kinds))
        return ""

    def submit(self, actions: tuple[Action, ...], reason: str) -> tuple[list[PlannedAction], list[ApprovalRequest]]:
        pre = self.covering(actions)
        if is_high_risk(list(actions)) and not pre:
            self._n += 1
            req = ApprovalRequest(f"{self.prefix}-req{self._n}", actions, reason)
            self.pending[req.id] = (req, reason)
            return [], [req]
        return [PlannedAction(a, reason=reason, preauthorized=pre) for a in actions], []

    def poll(self, approvals: frozenset[str]) -> list[PlannedAction]:
        out: list[PlannedAction] = []
        for rid in sorted(set(self.pending) & set(approvals)):
            req, reason = self.pending.pop(rid)
            out += [PlannedAction(a, reason=f"approved: {reason}", approval=rid) for a in req.actions]
        return out

    @property
    def busy(self) -> bool:
        return bool(self.pending)


def one_hot_ish(fired: list[str]) -> dict[str, float]:
    """``TOP_PROB`` shared by the fired causes (the first counts double), the rest spread over the others."""
    if not fired:
        return {c: 1.0 / len(CAUSES) for c in CAUSES}
    w = {c: 0.0 for c in CAUSES}
    for i, c in enumerate(dict.fromkeys(fired)):
        w[c] += 2.0 if i == 0 else 1.0
    tot = sum(w.values())
    rest = [c for c in CAUSES if w[c] == 0]
    top = TOP_PROB if rest else 1.0
    return {c: top * w[c] / tot if w[c] else (1.0 - TOP_PROB) / len(rest) for c in CAUSES}


def active_alarms(state: set[tuple[str, int]], obs: Observation) -> set[tuple[str, int]]:
    """Update the raised-alarm set ``{(name, cell)}`` from the ROP's alarm events."""
    for e in obs.events:
        if e.kind == "alarm" and e.cell is not None:
            key = (e.name, int(e.cell))
            if e.detail.get("state") == "cleared":
                state.discard(key)
            else:
                state.add(key)
    return state


def restarting(restart_rop: dict[int, int], rop: int, rops: int = 2) -> set[tuple[str, int]]:
    """Pseudo-alarms ``("CELL_RESTARTING", cell)`` for cells this policy restarted (decided at ROP r) that may
    still be off air at ``rop`` (applied at r + 1, down for a ROP): the twin may not alarm a short restart."""
    return {("CELL_RESTARTING", c) for c, r in restart_rop.items() if 0 <= rop - r <= rops}


def capacity_threshold_mbps(ctx: EpisodeContext, per_mhz: float) -> float:
    """Static overload threshold of the offered DL traffic [Mbit/s]: ``per_mhz`` x carrier bandwidth [MHz]."""
    return per_mhz * ctx.scenario.bandwidth_hz / 1e6


@dataclass(frozen=True)
class RulesConfig:
    """Static thresholds of the playbook (units in the names)."""

    persist_rops: int = 2
    prb_high_pct: float = 95.0
    overload_mbps_per_mhz: float = 7.5
    served_floor: float = 0.01
    min_demand_mbps: float = 0.5
    bh_loss_ratio: float = 0.01
    bh_latency_ms: float = 30.0
    pingpong_count: int = 4
    rlf_count: int = 3
    window_rops: int = 3
    power_step_db: float = 3.0
    cio_offload_db: float = 6.0
    preauthorized: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("persist_rops", "pingpong_count", "rlf_count", "window_rops"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not 0 < self.prb_high_pct <= 100:
            raise ConfigError(f"prb_high_pct must be in (0, 100] %, got {self.prb_high_pct!r}")
        if not 0 < self.power_step_db <= 3.0:
            raise ConfigError(f"power_step_db must be in (0, 3] dB, got {self.power_step_db!r}")
        if not 0 < self.cio_offload_db <= 10.0:
            raise ConfigError(f"cio_offload_db must be in (0, 10] dB, got {self.cio_offload_db!r}")
        if self.overload_mbps_per_mhz <= 0 or self.bh_latency_ms <= 0 or not 0 < self.bh_loss_ratio < 1:
            raise ConfigError(f"thresholds must be positive (loss in (0, 1)), got {self.overload_mbps_per_mhz!r}"
                              f"/{self.bh_latency_ms!r}/{self.bh_loss_ratio!r}")


def fired_rules(obs: Observation, alarms: set[tuple[str, int]], cfg: RulesConfig,
                overload_mbps: float) -> dict[int, list[str]]:
    """Cell -> causes whose static rule holds at ``obs.rop`` (in ``RULE_ORDER``). Pure."""
    h, p = obs.history, cfg.persist_rops
    n = obs.kpis["Cell.Available"].shape[0]
    fired: dict[int, list[str]] = {}

    def last(name: str, k: int) -> np.ndarray:  # [k, num_cells], or None when fewer ROPs are known
        return h[name][-k:] if h[name].shape[0] >= k else None

    avail, dem, thp = last("Cell.Available", 1), last("DRB.DemandDl", p), last("DRB.CellThpDl", p)
    prb, loss, lat = last("RRU.PrbUsedDl", p), last("BH.LossRate", p), last("BH.LatencyMs", p)
    pp, rlf = h["HO.PingPong"][-cfg.window_rops:], h["RLF.Count"][-cfg.window_rops:]
    for c in range(n):
        causes = {ALARM_CAUSE[a] for (a, cc) in alarms if cc == c and a in ALARM_CAUSE}
        if avail is not None and avail[0, c] == 0 and ("CELL_RESTARTING", c) not in alarms:
            causes.add("cell_outage")
        if dem is not None:
            d, t = dem[:, c], thp[:, c]
            if (np.all(d > cfg.min_demand_mbps) and np.all(t < cfg.served_floor * d)
                    and avail[0, c] > 0 and not any(cc == c for (_, cc) in alarms)):
                causes.add("sleeping_cell")
            if np.all(prb[:, c] > cfg.prb_high_pct) and np.all(d > overload_mbps):
                causes.add("overload_hotspot")
            if np.all(loss[:, c] > cfg.bh_loss_ratio) or np.all(lat[:, c] > cfg.bh_latency_ms):
                causes.add("backhaul_congestion")
        up = np.all(h["Cell.Available"][-cfg.window_rops:, c] > 0)  # a cell going down drops its UEs (RLFs)
        if up and (np.nansum(pp[:, c]) >= cfg.pingpong_count or np.nansum(rlf[:, c]) >= cfg.rlf_count):
            causes.add("ho_misconfig")
        if causes:
            fired[c] = [k for k in RULE_ORDER if k in causes]
    return fired


class RulesPolicy(Policy):
    """Static thresholds + fixed playbook (see the module docstring)."""

    name = "rules"

    def __init__(self, cfg: RulesConfig | None = None) -> None:
        self.cfg = cfg or RulesConfig()

    def reset(self, ctx: EpisodeContext) -> None:
        self.ctx = ctx
        self.knobs = KnobView(ctx)
        self.gate = ApprovalGate(f"{ctx.episode_id}-rules", self.cfg.preauthorized)
        self.alarms: set[tuple[str, int]] = set()
        self.done: set[tuple[int, str]] = set()
        self.restart_rop: dict[int, int] = {}
        self.overload_mbps = capacity_threshold_mbps(ctx, self.cfg.overload_mbps_per_mhz)
        self.log: list[str] = []

    def decide(self, obs: Observation) -> Decision:
        dec = Decision()
        self.knobs.sync(obs.applied)
        active_alarms(self.alarms, obs)
        released = self.gate.poll(obs.approvals)
        for pa in released:
            self._applied(pa.action, obs.rop)
        dec.actions += released
        fired = fired_rules(obs, self.alarms | restarting(self.restart_rop, obs.rop), self.cfg, self.overload_mbps)
        if not fired:
            return dec
        cells = sorted(fired, key=lambda c: (RULE_ORDER.index(fired[c][0]), c))
        dec.detections = [Detection(c, 1.0, tuple(fired[c])) for c in cells]
        all_causes = [k for c in cells for k in fired[c]]
        dec.diagnosis = Diagnosis(one_hot_ish(all_causes), tuple(cells),
                                  {f"rule.{k}": float(sum(k in fired[c] for c in cells)) for k in all_causes})
        for c in cells:
            cause = fired[c][0]
            if (c, cause) in self.done or self.gate.busy:
                continue
            if dec.actions or dec.approval_requests:  # one playbook per ROP (never > 3 cells at once)
                break
            acts = self.playbook(cause, c)
            self.done.add((c, cause))
            if cause in ("backhaul_congestion", "backhaul_failure"):  # one site-level playbook per site
                self.done |= {(int(s), cause) for s in np.nonzero(self.ctx.cell_site == self.ctx.cell_site[c])[0]}
            if not acts:
                dec.notes.append(f"rules: no playbook action for {cause} on cell {c}")
                continue
            reason = f"rules: {cause} on cell {c} -> playbook"
            planned, reqs = self.gate.submit(acts, reason)
            for pa in planned:
                self._applied(pa.action, obs.rop)
            dec.actions += planned
            dec.approval_requests += reqs
            self.log.append(f"ROP {obs.rop}: {cause} on cell {c}: "
                            + ("approval requested" if reqs else f"{len(planned)} action(s) applied"))
        return dec

    def _applied(self, a: Action, rop: int) -> None:
        self.knobs.apply(a)
        if a.kind == "restart":
            self.restart_rop[a.cell] = rop

    def playbook(self, cause: str, cell: int) -> tuple[Action, ...]:
        """The fixed action set for ``cause`` on ``cell``, clipped to the knobs' bounds."""
        kn, cfg = self.knobs, self.cfg
        if cause in ("cell_outage", "backhaul_failure"):
            nbrs = facing_neighbours(self.ctx, (cell,))
            return tuple(Action("power", n, kn.power_step(n, cfg.power_step_db)) for n in nbrs
                         if kn.power_step(n, cfg.power_step_db) > 0)
        if cause == "sleeping_cell":
            return (Action("restart", cell),)
        if cause == "pa_degradation":
            step = kn.power_step(cell, cfg.power_step_db)
            return (Action("power", cell, step),) if step > 0 else ()
        if cause in ("external_interference", "overload_hotspot"):
            v = float(min(kn.cio_db[cell] + cfg.cio_offload_db, 10.0))
            return (Action("cio", cell, v),) if v != kn.cio_db[cell] else ()
        if cause == "backhaul_congestion":
            site = np.nonzero(self.ctx.cell_site == self.ctx.cell_site[cell])[0][:3]
            return tuple(Action("cio", int(s), float(min(kn.cio_db[s] + cfg.cio_offload_db, 10.0))) for s in site
                         if kn.cio_db[s] < 10.0)
        if cause == "ho_misconfig":
            d = kn.defaults
            return (Action("cio", cell, float(d["cio"])), Action("ttt", cell, float(d["ttt"])),
                    Action("hysteresis", cell, float(d["hysteresis"])))
        return ()

    def report(self) -> str:
        if not self.log:
            return "rules: no static threshold crossed; no action taken."
        return "rules baseline:\n" + "\n".join(f"- {line}" for line in self.log)
