"""The ``son`` baseline: classic self-organising-network functions as 3GPP describes them (TS 32.500/32.522,
TS 28.313), each a closed loop on counters, stepping one small change per ROP.

* **COD** (cell outage detection): a cell is in outage when it is off air (CELL_DOWN alarm or
  ``Cell.Available == 0``) or when it is silently dead: on air, UEs attached and offering traffic, yet it
  carries none and hands none over for ``cod_rops`` ROPs while its neighbours keep handing over (the counter
  view of "incoming handovers dropped to zero"). Off-air maps to ``cell_outage``, silent to ``sleeping_cell``.
* **COC** (compensation): off air -> the neighbours facing the hole step +1 dB power and -1 deg tilt (uptilt)
  each ROP while the neighbourhood's carried/offered traffic ratio improves; the last step is undone when it
  did not help. Silent -> a cell restart, which is high risk: requested, applied after the grant.
* **MLB** (load balancing): PRB > 95 % with offered traffic above the capacity threshold -> CIO +1 dB per ROP on
  the cell (its UEs hand over earlier) while the neighbourhood ratio improves.
* **MRO** (robustness): ping-pongs -> hysteresis +1 dB and the next longer TTT per ROP; radio link failures
  (too-late handovers) -> hysteresis -1 dB and the next shorter TTT, while the counter falls.

One hill-climb runs per cell at a time; every step stays low risk (< 4 cells, 1 dB, 1 deg). Stepwise is slower
than a planned jump: that is the baseline's nature, not a defect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from airan.agents.base import (
    HIGH_RISK_MAX_CELLS,
    Decision,
    Detection,
    Diagnosis,
    EpisodeContext,
    Observation,
    PlannedAction,
    Policy,
)
from airan.agents.planner import KnobView, facing_neighbours
from airan.agents.policies.rules import (
    ApprovalGate,
    active_alarms,
    capacity_threshold_mbps,
    one_hot_ish,
    restarting,
)
from airan.core.errors import ConfigError
from airan.twin.actions import CIO_BOUNDS_DB, HYS_BOUNDS_DB, POWER_OFFSET_BOUNDS_DB, TTT_VALUES_MS, Action

FUNCTION_CAUSE = {"cod_off_air": "cell_outage", "cod_silent": "sleeping_cell", "mlb": "overload_hotspot",
                  "mro_pingpong": "ho_misconfig", "mro_too_late": "ho_misconfig"}


@dataclass(frozen=True)
class SonConfig:
    """cod_rops: silent ROPs before COD fires; max_steps: steps of one hill-climb; tol: metric drop after a
    step that still keeps it (a larger drop undoes the step; no gain stops the climb); the rest are the
    trigger thresholds of MLB/MRO."""

    cod_rops: int = 2
    max_steps: int = 6
    tol: float = 0.0
    power_step_db: float = 1.0
    tilt_step_deg: float = 1.0
    cio_step_db: float = 1.0
    hys_step_db: float = 1.0
    prb_high_pct: float = 95.0
    overload_mbps_per_mhz: float = 7.5
    mlb_rops: int = 2
    pingpong_count: int = 4
    rlf_count: int = 3
    window_rops: int = 3
    preauthorized: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("cod_rops", "max_steps", "mlb_rops", "pingpong_count", "rlf_count", "window_rops"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("power_step_db", "tilt_step_deg", "cio_step_db", "hys_step_db"):
            if not 0 < getattr(self, name) <= 2.0:
                raise ConfigError(f"{name} must be in (0, 2] (a SON step is small), got {getattr(self, name)!r}")
        if self.tol < 0:
            raise ConfigError(f"tol must be >= 0, got {self.tol!r}")


@dataclass
class Climb:
    """One running hill-climb: ``function`` on ``cell``; ``step()`` -> next actions (empty: at a bound);
    ``metric(obs)`` -> the value to raise; ``last``: the metric before the latest step."""

    function: str
    cell: int
    step: Callable[[], tuple[Action, ...]]
    metric: Callable[[Observation], float]
    last: float
    steps: int = 0
    undo: list[Action] = field(default_factory=list)
    acted_rop: int = -1


def ratio(obs: Observation, cells: list[int]) -> float:
    """Carried / offered DL traffic over ``cells`` at ``obs.rop`` (1.0 when nothing is offered)."""
    dem = float(np.nansum(obs.kpis["DRB.DemandDl"][cells]))
    return 1.0 if dem < 1e-6 else float(np.nansum(obs.kpis["DRB.CellThpDl"][cells])) / dem


class SonPolicy(Policy):
    """COD/COC, MLB and MRO as stepwise closed loops (see the module docstring)."""

    name = "son"

    def __init__(self, cfg: SonConfig | None = None) -> None:
        self.cfg = cfg or SonConfig()

    def reset(self, ctx: EpisodeContext) -> None:
        self.ctx = ctx
        self.knobs = KnobView(ctx)
        self.gate = ApprovalGate(f"{ctx.episode_id}-son", self.cfg.preauthorized)
        self.alarms: set[tuple[str, int]] = set()
        self.climbs: dict[int, Climb] = {}
        self.finished: set[tuple[int, str]] = set()
        self.restarted: set[int] = set()
        self.restart_rop: dict[int, int] = {}
        self.overload_mbps = capacity_threshold_mbps(ctx, self.cfg.overload_mbps_per_mhz)
        self.log: list[str] = []

    # ------------------------------------------------------------------ detection (pure on the observation)
    def triggers(self, obs: Observation, alarms: set[tuple[str, int]]) -> dict[int, str]:
        """Cell -> the SON function whose trigger holds at ``obs.rop`` (``alarms``: raised ``(name, cell)``)."""
        cfg, h, out = self.cfg, obs.history, {}
        n = self.ctx.num_cells
        k = cfg.cod_rops
        quiet = h["HO.AttOut"].shape[0] >= k
        for c in range(n):
            down = ("CELL_RESTARTING", c) in alarms
            if not down and (("CELL_DOWN", c) in alarms or obs.kpis["Cell.Available"][c] == 0):
                out[c] = "cod_off_air"
                continue
            if quiet and not down:
                dem, thp = h["DRB.DemandDl"][-k:, c], h["DRB.CellThpDl"][-k:, c]
                nb = [int(x) for x in self.ctx.neighbours[c] if x >= 0]
                silent = np.all(dem > 0.5) and np.all(thp < 0.01 * dem) and np.all(h["HO.AttOut"][-k:, c] == 0)
                if silent and np.nansum(h["HO.AttOut"][-k:, nb]) + np.nansum(h["DRB.CellThpDl"][-k:, nb]) > 0:
                    out[c] = "cod_silent"
                    continue
            m = cfg.mlb_rops
            if h["RRU.PrbUsedDl"].shape[0] >= m and np.all(h["RRU.PrbUsedDl"][-m:, c] > cfg.prb_high_pct) \
                    and np.all(h["DRB.DemandDl"][-m:, c] > self.overload_mbps):
                out[c] = "mlb"
                continue
            w = cfg.window_rops
            if not np.all(h["Cell.Available"][-w:, c] > 0):  # RLFs of a cell going down are not MRO's business
                continue
            if np.nansum(h["HO.PingPong"][-w:, c]) >= cfg.pingpong_count:
                out[c] = "mro_pingpong"
            elif np.nansum(h["RLF.Count"][-w:, c]) >= cfg.rlf_count:
                out[c] = "mro_too_late"
        return out

    # ------------------------------------------------------------------ one ROP
    def decide(self, obs: Observation) -> Decision:
        dec = Decision()
        self.knobs.sync(obs.applied)
        active_alarms(self.alarms, obs)
        released = self.gate.poll(obs.approvals)
        for pa in released:
            self.restart_rop[pa.action.cell] = obs.rop
        dec.actions += released
        trig = self.triggers(obs, self.alarms | restarting(self.restart_rop, obs.rop))
        if trig:
            cells = sorted(trig)
            dec.detections = [Detection(c, 1.0, (trig[c],)) for c in cells]
            dec.diagnosis = Diagnosis(one_hot_ish([FUNCTION_CAUSE[trig[c]] for c in cells]), tuple(cells),
                                      {f"son.{trig[c]}.cell{c}": 1.0 for c in cells})
        for c in sorted(self.climbs):
            self._advance(self.climbs[c], obs, dec)
        for c in sorted(trig):
            f = trig[c]
            if c in self.climbs or (c, f) in self.finished:
                continue
            if f == "cod_silent":
                if c not in self.restarted and not self.gate.busy:
                    planned, reqs = self.gate.submit((Action("restart", c),), f"son COC: silent cell {c}: restart")
                    self.restarted.add(c)
                    if planned:
                        self.restart_rop[c] = obs.rop
                    dec.actions += planned
                    dec.approval_requests += reqs
                    self.log.append(f"ROP {obs.rop}: COD silent cell {c} -> restart "
                                    + ("requested" if reqs else "applied"))
                continue
            climb = self._start(f, c, obs)
            self.climbs[c] = climb
            self.log.append(f"ROP {obs.rop}: {f} fired on cell {c}; hill-climb starts")
            self._advance(climb, obs, dec, first=True)
        return dec

    def _advance(self, cl: Climb, obs: Observation, dec: Decision, first: bool = False) -> None:
        if not first:
            if obs.rop <= cl.acted_rop:
                return
            now = cl.metric(obs)
            if now < cl.last - self.cfg.tol:
                self._stop(cl, obs, dec, f"{cl.function} on cell {cl.cell}: metric fell {cl.last:.3f} -> "
                                         f"{now:.3f}; undo the last step", undo=True)
                return
            if now <= cl.last:
                self._stop(cl, obs, dec, f"{cl.function} on cell {cl.cell}: metric {now:.3f} no better than "
                                         f"{cl.last:.3f}; keep and stop", undo=False)
                return
            cl.last = now
        if cl.steps >= self.cfg.max_steps:
            self._stop(cl, obs, dec, f"{cl.function} on cell {cl.cell}: {cl.steps} steps, done", undo=False)
            return
        acts = cl.step()
        if not acts:
            self._stop(cl, obs, dec, f"{cl.function} on cell {cl.cell}: knobs at their bounds", undo=False)
            return
        if len({a.cell for a in acts} | {p.action.cell for p in dec.actions}) > HIGH_RISK_MAX_CELLS:
            dec.notes.append(f"son: {cl.function} step on cell {cl.cell} deferred (> {HIGH_RISK_MAX_CELLS} cells "
                             "this ROP)")
            return
        cl.undo = [inv for a in acts if (inv := self.knobs.inverse(a)) is not None]
        for a in acts:
            self.knobs.apply(a)
        cl.steps += 1
        cl.acted_rop = obs.rop
        reason = f"son {cl.function}: step {cl.steps} on cell {cl.cell} (metric {cl.last:.3f})"
        planned, reqs = self.gate.submit(acts, reason)
        dec.actions += planned
        dec.approval_requests += reqs

    def _stop(self, cl: Climb, obs: Observation, dec: Decision, why: str, undo: bool) -> None:
        del self.climbs[cl.cell]
        self.finished.add((cl.cell, cl.function))
        dec.notes.append(f"son: {why}")
        self.log.append(f"ROP {obs.rop}: {why}")
        if undo and cl.undo:
            for a in cl.undo:
                self.knobs.apply(a)
            dec.actions += [PlannedAction(a, reason=f"son rollback: {why}", rollback_of=cl.acted_rop + 1)
                            for a in cl.undo]

    def _start(self, function: str, cell: int, obs: Observation) -> Climb:
        kn, cfg = self.knobs, self.cfg
        if function == "cod_off_air":
            nbrs = facing_neighbours(self.ctx, (cell,))
            scope = [cell] + nbrs

            def step() -> tuple[Action, ...]:
                acts = []
                for n in nbrs:
                    dp = float(np.clip(kn.power_offset_db[n] + cfg.power_step_db, *POWER_OFFSET_BOUNDS_DB)
                               - kn.power_offset_db[n])
                    if dp > 0:
                        acts.append(Action("power", n, dp))
                    if kn.tilt_ok(n, -cfg.tilt_step_deg):
                        acts.append(Action("tilt", n, -cfg.tilt_step_deg))
                return tuple(acts)
        elif function == "mlb":
            nb = [int(x) for x in self.ctx.neighbours[cell][:3] if x >= 0]
            scope = [cell] + nb

            def step() -> tuple[Action, ...]:
                v = float(min(kn.cio_db[cell] + cfg.cio_step_db, CIO_BOUNDS_DB[1]))
                return (Action("cio", cell, v),) if v > kn.cio_db[cell] else ()
        else:
            up = function == "mro_pingpong"
            counter = "HO.PingPong" if up else "RLF.Count"

            def step() -> tuple[Action, ...]:
                hys = float(np.clip(kn.hysteresis_db[cell] + (cfg.hys_step_db if up else -cfg.hys_step_db),
                                    *HYS_BOUNDS_DB))
                i = int(np.searchsorted(TTT_VALUES_MS, kn.ttt_ms[cell]))
                ttt = TTT_VALUES_MS[min(i + 1, len(TTT_VALUES_MS) - 1)] if up else TTT_VALUES_MS[max(i - 1, 0)]
                acts = []
                if hys != kn.hysteresis_db[cell]:
                    acts.append(Action("hysteresis", cell, hys))
                if ttt != kn.ttt_ms[cell]:
                    acts.append(Action("ttt", cell, float(ttt)))
                return tuple(acts)

            def metric(o: Observation) -> float:
                return -float(np.nansum(o.kpis[counter][cell]))

            return Climb(function, cell, step, metric, metric(obs))

        def metric_ratio(o: Observation) -> float:
            return ratio(o, scope)

        return Climb(function, cell, step, metric_ratio, metric_ratio(obs))

    def report(self) -> str:
        if not self.log:
            return "son: no SON function fired; no action taken."
        return "son baseline:\n" + "\n".join(f"- {line}" for line in self.log)
