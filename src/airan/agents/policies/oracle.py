"""The ``oracle`` policy: the upper bound every healing policy is measured against.

It is handed the ground truth (``ctx.truth``) and clones of the *true* twin (``ctx.true_twin``), which
no other policy gets. Per ROP:

* **detect** at onset: a ``Detection`` on every fault cell while a real fault is active (never on a
  control: a ``benign_surge`` is not a fault);
* **diagnose**: probability 1 on the true cause, the fault cells ranked first;
* **act**: grid-search candidate action sets (``candidates``) by stepping clones of the true twin
  ``horizon_rops`` ahead with each set and with nothing, scoring the runner's impact KPI over the fault
  scope; the best set is applied when it beats doing nothing by ``min_gain``. The search repeats every
  ``every_rops`` ROPs while the fault is active (``max_rounds`` in all), so compensation can be refined.
* **approvals**: a high-risk set (``base.is_high_risk``) the operator has not pre-authorised is sent as an
  ``ApprovalRequest`` and applied once granted, like every other policy.

Because the clones carry the true twin's random streams, its predictions are exact for the horizon: what
it achieves is what the action catalogue can achieve, given the approval delay. That is more than any policy
that acts on the present can know: the clones also see which sessions will start, where the UEs will walk
and what the measurements will read. ``oracle_blind`` (``BlindOraclePolicy``, ``OracleConfig.futures`` = 3) is
the same search with that foresight taken away: each candidate is scored by the mean over ``futures`` clones
whose futures are drawn afresh (``NetworkTwin.reseed``; the same draws for every candidate and for doing
nothing, so the comparison is paired). It still knows the fault, the true propagation and the present state of
every UE, so it bounds what a policy that knows the network perfectly but not the future can recover.
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass

import numpy as np

from airan.agents.base import (
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
from airan.agents.planner import nearest_neighbours
from airan.agents.runner import impact_kpi_name, impact_value
from airan.agents.suite import fault_scope
from airan.core.errors import ActionError, ConfigError
from airan.core.rng import make_rng
from airan.twin.actions import POWER_OFFSET_BOUNDS_DB, Action
from airan.twin.faults import SITE_FAULTS, Fault


@dataclass(frozen=True)
class OracleConfig:
    """horizon_rops: ROPs each candidate is simulated; every_rops: ROPs between searches; max_rounds: searches
    per episode; min_gain: impact-KPI gain over doing nothing needed to act (ratio units, or HO failures).
    futures: 0 scores each candidate in one clone that shares the true twin's future (foresight); k >= 1 by
    the mean over k clones whose futures are drawn afresh per search (common to all candidates)."""

    horizon_rops: int = 5
    every_rops: int = 2
    max_rounds: int = 4
    min_gain: float = 0.003
    min_gain_ho: float = 0.5
    futures: int = 0

    def __post_init__(self) -> None:
        if self.horizon_rops < 1 or self.every_rops < 1 or self.max_rounds < 0:
            raise ConfigError(f"horizon_rops/every_rops must be >= 1 and max_rounds >= 0, got "
                              f"{self.horizon_rops!r}/{self.every_rops!r}/{self.max_rounds!r}")
        if isinstance(self.futures, bool) or not isinstance(self.futures, int) or self.futures < 0:
            raise ConfigError(f"futures must be an integer >= 0, got {self.futures!r}")
        if self.min_gain < 0 or self.min_gain_ho < 0:
            raise ConfigError(f"min_gain must be >= 0, got {self.min_gain!r}/{self.min_gain_ho!r}")


def candidates(fault: Fault, ctx: EpisodeContext, knobs) -> list[tuple[Action, ...]]:
    """Candidate action sets for ``fault`` given the current knobs (``CellKnobs``); out-of-bounds ones are
    filtered later by simulation (``ActionError``)."""
    cells = tuple(fault.cells)
    if fault.kind in SITE_FAULTS:
        cells = tuple(int(c) for c in np.nonzero(np.isin(ctx.cell_site, ctx.cell_site[list(cells)]))[0])
    nb = nearest_neighbours(ctx, cells)
    c0 = cells[0]
    hi_p = POWER_OFFSET_BOUNDS_DB[1]
    out: list[tuple[Action, ...]] = []

    def power_up(c: int, v: float) -> Action:
        return Action("power", c, float(min(v, hi_p - knobs.power_offset_db[c])))

    nb_power = [tuple(power_up(n, v) for n in nb) for v in (1.5, 3.0)]
    nb_tilt = [tuple(Action("tilt", n, -v) for n in nb) for v in (1.0, 2.0)]
    k = fault.kind
    if k == "sleeping_cell":
        out += [(Action("restart", c0),)]
    elif k in ("excessive_downtilt", "uptilt_overshoot"):
        sign = -1.0 if k == "excessive_downtilt" else 1.0
        out += [(Action("tilt", c0, sign * v),) for v in (2.0, 4.0, 6.0, 8.0, 10.0)]
    elif k == "pa_degradation":
        out += [(power_up(c0, v),) for v in (1.0, 2.0, 3.0)]
        out += [(power_up(c0, 3.0), Action("tilt", c0, -v)) for v in (1.0, 2.0)]
        out += nb_power
    elif k == "cell_outage":
        out += nb_power + nb_tilt + [p + t for p, t in itertools.product(nb_power, nb_tilt)]
    elif k == "backhaul_failure":
        off = tuple(Action("cell_off", c) for c in cells)
        out += [off, off + nb_power[1]] + nb_power
    elif k in ("external_interference", "overload_hotspot"):
        out += [(Action("cio", c0, v),) for v in (3.0, 6.0, 9.0)]
        out += [(Action("cio", c0, 6.0),) + p for p in nb_power] + nb_tilt
        # the cell's own power and downtilt, alone and with offload (a superset of the planner's own-cell downtilts)
        own_power = [(power_up(c0, v),) for v in (1.5, 3.0)]
        own_down = [(Action("tilt", c0, v),) for v in (1.0, 2.0, 4.0)]
        out += own_power + own_down + [p + (Action("cio", c0, 3.0),) for p in own_power]
        out += [d + t for d in own_down[:2] for t in nb_tilt] + [(Action("cio", c0, 6.0),) + t for t in nb_tilt]
        out += [(Action("cio", c0, 9.0),) + nb_power[1]]
    elif k == "backhaul_congestion":
        out += [tuple(Action("cio", c, v) for c in cells) for v in (3.0, 6.0, 9.0)]
    elif k == "ho_misconfig":
        ho = ctx.scenario.handover
        out += [tuple(a for c in cells for a in (Action("cio", c, float(ho.cio_db)), Action("ttt", c, float(ho.ttt_ms)),
                                                 Action("hysteresis", c, float(ho.hysteresis_db))))]
        out += [tuple(Action("hysteresis", n, v) for n in nb) for v in (3.0, 5.0)]
        out += [tuple(Action("ttt", n, v) for n in nb) for v in (320.0, 640.0)]
        out += [tuple(Action("cio", n, v) for n in nb) for v in (-3.0, 3.0)]
    return [c for c in out if c]


class OraclePolicy(Policy):
    """Knows the fault; grid-searches actions in clones of the true twin (see the module docstring)."""

    name = "oracle"
    uses_truth = True

    def __init__(self, cfg: OracleConfig | None = None) -> None:
        self.cfg = cfg or OracleConfig()

    def reset(self, ctx: EpisodeContext) -> None:
        if ctx.truth is None or ctx.true_twin is None:
            raise ConfigError("the oracle policy needs ctx.truth and ctx.true_twin (the runner sets them for "
                              "policies with uses_truth = True)")
        self.ctx = ctx
        self.faults = [f for f in ctx.truth if f.kind != "benign_surge"]
        self.fault = self.faults[0] if self.faults else None
        if self.fault is not None:
            self.scope = fault_scope(tuple(self.faults), ctx.cell_site, ctx.neighbours)
            self.kpi = impact_kpi_name(self.fault.kind)
        self.rounds = 0
        self.rng = make_rng(zlib.crc32(ctx.episode_id.encode()))  # the futures' seeds (``OracleConfig.futures``)
        self.next_search = -1
        self.pending: dict[str, tuple[Action, ...]] = {}
        self.n_req = 0
        self._seen = 0
        self.log: list[str] = []
        self.mine: dict[tuple[str, int], Action] = {}  # (knob kind, cell) -> action restoring its pre-state

    def _simulate(self, actions: tuple[Action, ...], futures: tuple[int | None, ...] = (None,)) -> float | None:
        """Mean impact KPI over ``horizon_rops`` ROPs with ``actions`` applied now, averaged over one clone per
        entry of ``futures`` (None: the true twin's own future; an int: a future drawn from that seed)."""
        vals = []
        for seed in futures:
            twin = self.ctx.true_twin()
            if seed is not None:
                twin.reseed(seed)
            try:
                for i in range(self.cfg.horizon_rops):
                    kpis = twin.step(list(actions) if i == 0 else None)[4]["kpis"]
                    vals.append(impact_value(kpis, self.scope, self.kpi))
            except ActionError:
                return None
        return float(np.mean(vals))

    def search(self) -> tuple[tuple[Action, ...], float]:
        """Best candidate set and its predicted gain over doing nothing (empty set when nothing helps)."""
        k = self.cfg.futures
        futures = tuple(int(x) for x in self.rng.integers(0, 2**31 - 1, size=k)) if k else (None,)
        base = self._simulate((), futures)
        twin = self.ctx.true_twin()
        best: tuple[tuple[Action, ...], float] = ((), 0.0)
        cands = candidates(self.fault, self.ctx, twin.knobs)
        if self.mine:  # undoing its own earlier actions is always a candidate
            cands.append(tuple(self.mine.values()))
        for cand in cands:
            v = self._simulate(cand, futures)
            if v is not None and v - base > best[1]:
                best = (cand, v - base)
        return best

    def _track(self, obs: Observation) -> None:
        """Remember how to restore every knob this policy changed (from the runner's applied records)."""
        for _, a, pre, post in obs.applied[self._seen:]:
            kind = "cell_on" if a.kind == "cell_off" else a.kind
            key = ("admin" if a.kind in ("cell_on", "cell_off") else a.kind, a.cell)
            first = self.mine.get(key)
            if a.kind in ("tilt", "power"):
                total = (first.value if first is not None else 0.0) - (post - pre)
                self.mine[key] = Action(a.kind, a.cell, total)
            elif a.kind in ("cio", "ttt", "hysteresis"):
                self.mine.setdefault(key, Action(a.kind, a.cell, pre))
            elif a.kind == "cell_off":
                self.mine[key] = Action(kind, a.cell)
        self._seen = len(obs.applied)
        self.mine = {k: v for k, v in self.mine.items() if not (v.kind in ("tilt", "power") and v.value == 0.0)}

    def decide(self, obs: Observation) -> Decision:
        dec = Decision()
        f = self.fault
        self._track(obs)
        for rid in sorted(set(self.pending) & obs.approvals):
            acts = self.pending.pop(rid)
            dec.actions += [PlannedAction(a, reason=f"oracle: approved set {rid}", approval=rid) for a in acts]
            self.log.append(f"ROP {obs.rop}: applied approved set {rid} ({len(acts)} action(s))")
        if f is None or not any(x.level(obs.rop) > 0 for x in self.faults):
            return dec
        cells = tuple(int(c) for x in self.faults for c in x.cells)
        dec.detections = [Detection(c, 1.0, ("truth",)) for c in dict.fromkeys(cells)]
        dec.diagnosis = Diagnosis({f.kind: 1.0}, tuple(dict.fromkeys(cells)), {"truth.severity": f.severity})
        if self.rounds == 0:
            self.log.append(f"ROP {obs.rop}: {f.kind} on cells {list(cells)} (ground truth)")
        busy = bool(self.pending) or bool(dec.actions)
        if busy or self.rounds >= self.cfg.max_rounds or obs.rop < self.next_search:
            return dec
        self.rounds += 1
        self.next_search = obs.rop + self.cfg.every_rops
        acts, gain = self.search()
        need = self.cfg.min_gain_ho if self.kpi == "ho_failures_neg" else self.cfg.min_gain
        if not acts or gain < need:
            dec.notes.append(f"oracle: no candidate beats doing nothing by {need} (best gain {gain:.4f})")
            return dec
        reason = f"oracle: {f.kind}, predicted {self.kpi} gain {gain:+.4f}"
        kinds = {a.kind for a in acts if is_high_risk([a])}
        preauth = kinds and kinds <= set(self.ctx.preauthorized) and len({a.cell for a in acts}) <= 3
        if is_high_risk(list(acts)) and not preauth:
            self.n_req += 1
            rid = f"{self.ctx.episode_id}-oracle-req{self.n_req}"
            self.pending[rid] = acts
            dec.approval_requests.append(ApprovalRequest(rid, acts, reason))
            self.log.append(f"ROP {obs.rop}: requested approval {rid} for {len(acts)} action(s) ({reason})")
        else:
            tag = "+".join(sorted(kinds)) if preauth else ""
            dec.actions += [PlannedAction(a, reason=reason, preauthorized=tag) for a in acts]
            self.log.append(f"ROP {obs.rop}: applied {len(acts)} action(s) ({reason})")
        return dec

    def report(self) -> str:
        head = f"Episode {self.ctx.episode_id} ({self.name} upper bound): "
        if self.fault is None:
            return head + "no fault injected; nothing done."
        return head + " ".join(self.log)


class BlindOraclePolicy(OraclePolicy):
    """The oracle without foresight: knows the fault, the true twin and its present state, but scores each
    candidate over ``futures`` freshly drawn futures instead of the one that will happen."""

    name = "oracle_blind"

    def __init__(self, cfg: OracleConfig | None = None) -> None:
        super().__init__(cfg or OracleConfig(futures=3))
