"""Planner: candidate action sets per diagnosed cause, from the typed action catalogue, within bounds.

Knob state is tracked from the scenario defaults plus every action the policy applied (``KnobView``), so
candidates never leave the catalogue's bounds (tilt range of the antenna, power offset, CIO, hysteresis).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airan.agents.base import EpisodeContext
from airan.core.errors import ConfigError
from airan.twin.actions import CIO_BOUNDS_DB, POWER_OFFSET_BOUNDS_DB, Action
from airan.twin.faults import SITE_FAULTS


@dataclass(frozen=True)
class Candidate:
    """A named set of actions applied together for ``cause`` on ``cells``."""

    name: str
    actions: tuple[Action, ...]
    cause: str


# Most a compensating neighbour is uptilted away from the scenario's default tilt, over all rounds: beyond it
# the neighbour overshoots into its own neighbours (on the dev suite, a second and third round of outage
# compensation stacked 3-5 deg of uptilt and were the only harmful actions).
COMPENSATION_UPTILT_DEG = 2.0

# The handover misconfiguration's cure: the cell's own handover parameters set back to the scenario's defaults
# (the other handover candidates compensate around the cell from its neighbours).
HANDOVER_RESTORE = "restore CIO/TTT/hysteresis defaults"

# how the planner answers a cell outage or backhaul failure (``Planner`` docstring)
COMPENSATION_MODES = ("combined", "stepwise", "single_knob")


# The knob (a ``KnobView`` array) each restorable action kind sets: tilt [deg], power offset [dB], CIO [dB],
# TTT [ms], hysteresis [dB], administrative state (1 on, 0 off).
KNOB_FIELDS = {"tilt": "tilt_deg", "power": "power_offset_db", "cio": "cio_db", "ttt": "ttt_ms",
               "hysteresis": "hysteresis_db", "cell_on": "admin_on", "cell_off": "admin_on"}


class KnobView:
    """The policy's view of the knobs [num_cells]: scenario defaults + the actions it applied."""

    def __init__(self, ctx: EpisodeContext) -> None:
        n, cfg = ctx.num_cells, ctx.scenario
        self.tilt_deg = np.full(n, cfg.antenna.tilt_deg)
        self.default_tilt_deg = float(cfg.antenna.tilt_deg)
        self.power_offset_db = np.zeros(n)
        self.cio_db = np.full(n, cfg.handover.cio_db)
        self.ttt_ms = np.full(n, cfg.handover.ttt_ms)
        self.hysteresis_db = np.full(n, cfg.handover.hysteresis_db)
        self.admin_on = np.ones(n)
        self._synced = 0
        ho = cfg.handover
        self.defaults = {"cio": ho.cio_db, "ttt": ho.ttt_ms, "hysteresis": ho.hysteresis_db}
        self.tilt_bounds_deg = (cfg.antenna.min_tilt_deg, cfg.antenna.max_tilt_deg)

    def apply(self, a: Action) -> None:
        if a.kind == "tilt":
            self.tilt_deg[a.cell] += a.value
        elif a.kind == "power":
            self.power_offset_db[a.cell] += a.value
        elif a.kind == "cio":
            self.cio_db[a.cell] = a.value
        elif a.kind == "ttt":
            self.ttt_ms[a.cell] = a.value
        elif a.kind == "hysteresis":
            self.hysteresis_db[a.cell] = a.value
        elif a.kind in ("cell_on", "cell_off"):
            self.admin_on[a.cell] = 1.0 if a.kind == "cell_on" else 0.0

    def sync(self, applied: list) -> None:
        """Adopt the post-values the twin reported for applied actions (``Observation.applied`` entries
        ``(rop, Action, pre, post)``), so the view never drifts from the network."""
        for entry in applied[self._synced:]:
            a, post = entry[1], float(entry[3])
            if a.kind in KNOB_FIELDS:
                getattr(self, KNOB_FIELDS[a.kind])[a.cell] = post
        self._synced = len(applied)

    def value(self, kind: str, cell: int) -> float:
        """The current value of the knob an action of ``kind`` sets on ``cell`` (in ``KNOB_FIELDS``' units)."""
        if kind not in KNOB_FIELDS:
            raise ConfigError(f"no restorable knob for action kind {kind!r}; known: {sorted(KNOB_FIELDS)}")
        return float(getattr(self, KNOB_FIELDS[kind])[cell])

    def restore(self, kind: str, cell: int, value: float) -> Action | None:
        """The action that sets the knob of ``kind`` on ``cell`` back to ``value`` (from ``value(kind, cell)``
        before a change); None when it already holds that value."""
        now = self.value(kind, cell)
        if abs(now - value) < 1e-9:
            return None
        if kind in ("tilt", "power"):
            return Action(kind, cell, value - now)
        if kind in ("cell_on", "cell_off"):
            return Action("cell_on" if value > 0 else "cell_off", cell)
        return Action(kind, cell, value)

    def inverse(self, a: Action) -> Action | None:
        """The action that restores the knob ``a`` changed (call before ``apply(a)``); None if not undoable."""
        if a.kind in ("tilt", "power"):
            return Action(a.kind, a.cell, -a.value)
        if a.kind == "cio":
            return Action("cio", a.cell, float(self.cio_db[a.cell]))
        if a.kind == "ttt":
            return Action("ttt", a.cell, float(self.ttt_ms[a.cell]))
        if a.kind == "hysteresis":
            return Action("hysteresis", a.cell, float(self.hysteresis_db[a.cell]))
        if a.kind == "cell_off":
            return Action("cell_on", a.cell)
        if a.kind == "sleep" and a.mode != "awake":
            return Action("sleep", a.cell, mode="awake")
        return None

    def tilt_ok(self, cell: int, delta: float) -> bool:
        lo, hi = self.tilt_bounds_deg
        return lo <= self.tilt_deg[cell] + delta <= hi

    def power_step(self, cell: int, want_db: float) -> float:
        """The largest power delta towards ``want_db`` that stays within the offset bounds."""
        lo, hi = POWER_OFFSET_BOUNDS_DB
        return float(np.clip(self.power_offset_db[cell] + want_db, lo, hi) - self.power_offset_db[cell])


def facing_neighbours(ctx: EpisodeContext, cells: tuple[int, ...], k: int = 3) -> list[int]:
    """Up to ``k`` neighbours of ``cells`` on other sites whose boresight points towards the first cell."""
    c0 = cells[0]
    sites = {int(ctx.cell_site[c]) for c in cells}
    yaw0 = np.deg2rad(ctx.cell_yaw_deg[c0])
    target = ctx.cell_xy[c0] + 60.0 * np.array([np.cos(yaw0), np.sin(yaw0)])
    out = []
    for n in ctx.neighbours[c0]:
        n = int(n)
        if n < 0 or int(ctx.cell_site[n]) in sites or n in out:
            continue
        to = target - ctx.cell_xy[n]
        yaw = np.deg2rad(ctx.cell_yaw_deg[n])
        if np.dot(to, [np.cos(yaw), np.sin(yaw)]) >= 0:
            out.append(n)
        if len(out) == k:
            break
    return out


def nearest_neighbours(ctx: EpisodeContext, cells: tuple[int, ...], k: int = 3) -> list[int]:
    """Up to ``k`` nearest neighbours of ``cells`` (sector-centre geometry, ``ctx.neighbours`` order) on other
    sites: the cells that can cover a hole or take offloaded UEs."""
    sites = {int(ctx.cell_site[c]) for c in cells}
    out: list[int] = []
    for c in cells:
        for n in ctx.neighbours[c]:
            n = int(n)
            if n >= 0 and int(ctx.cell_site[n]) not in sites and n not in out:
                out.append(n)
    return out[:k]


class Planner:
    """``propose(cause, cells, knobs)`` -> candidate action sets (cheapest/safest first).

    ``compensation`` (``COMPENSATION_MODES``) decides which sets answer a cell outage or backhaul failure:
    ``"combined"`` (the default) offers one knob per neighbour (power, or uptilt; or the isolated site switched
    off) and the sets that raise the neighbours' power *and* uptilt them together; ``"stepwise"`` offers the
    combined sets only once a compensation is in place (a neighbour's power above its default or its tilt above
    it), as stepwise cell outage compensation does; ``"single_knob"`` never offers them. The combined sets move 6
    knobs at once, and on four suites (dev and seeds 7318-7320) they were 24 of the 47 actions that proved
    harmful against their own counterfactual.

    ``overload_power`` also offers an overload hotspot the hot cell's own power headroom (+1.5 / +3 dB, and +3 dB
    with CIO +3 dB), as the oracle's grid does: more signal lifts the crowd's SINR, and with it what each PRB of
    the hot cell carries, where an offload only moves the crowd's demand to neighbours that may have no room.
    ``overload_tilt_pair`` (on) offers an overload hotspot the 4-knob set "downtilt 2 deg + neighbour uptilt 1 deg"
    (the hot cell shrinks and its nearest neighbours reach into what it gave up).
    ``interference_power`` (on) also offers an externally interfered cell its own power headroom (+1.5 / +3 dB): the
    jammer raises the noise floor of the UEs in the cell's area whichever cell serves them, so an offload moves
    them to a weaker signal under the same noise, where more of the cell's own signal lifts their SINR.
    ``interference_tilt`` (on) also offers an externally interfered cell its own downtilts (1, 2, 4 deg): the
    jammed UEs are the cell's near ones (within 0.7 ISD in its sector), and a downtilt puts more of the beam's gain
    on them. ``interference_tilt_pair`` (off) adds "downtilt 2 deg + neighbour uptilt 1 deg" to them, which
    recovers more at more harm (``AiranConfig.interference_tilt_pair``). ``outage_power`` (on) offers a cell outage's
    nearest neighbours more power, alone and with their uptilts; off, an outage gets the neighbours' uptilts only
    (a backhaul failure keeps every set): session 55 (S71) found the episodes an outage compensation left worse
    than never acting were neighbour power raises the executor kept, but without them (screened with the link sync
    on the used seed-7370 suite) the outages lost far more: paired FKR -0.090, full recovery 81 -> 59 of 296
    (``AiranConfig.outage_power``)."""

    def __init__(self, ctx: EpisodeContext, *, compensation: str = "combined", overload_power: bool = False,
                 overload_tilt_pair: bool = True, interference_power: bool = True,
                 interference_tilt: bool = True, interference_tilt_pair: bool = False,
                 outage_power: bool = True) -> None:
        if compensation not in COMPENSATION_MODES:
            raise ConfigError(f"compensation must be one of {COMPENSATION_MODES}, got {compensation!r}")
        self.ctx = ctx
        self.compensation = compensation
        self.overload_power = bool(overload_power)
        self.overload_tilt_pair = bool(overload_tilt_pair)
        self.interference_power = bool(interference_power)
        self.interference_tilt = bool(interference_tilt)
        self.interference_tilt_pair = bool(interference_tilt_pair)
        self.outage_power = bool(outage_power)

    def propose(self, cause: str, cells: tuple[int, ...], knobs: KnobView) -> list[Candidate]:
        if not cells:
            raise ConfigError("propose() needs at least one suspect cell")
        c = int(cells[0])
        ctx = self.ctx
        site_cells = [int(x) for x in np.nonzero(ctx.cell_site == ctx.cell_site[c])[0]]
        nbrs = facing_neighbours(ctx, (c,))
        near = nearest_neighbours(ctx, tuple(site_cells) if cause in SITE_FAULTS else (c,))
        out: list[Candidate] = []

        def add(name: str, acts: list[Action]) -> None:
            if acts:
                out.append(Candidate(name, tuple(acts), cause))

        def uptilt(cs, d=2.0):
            floor = knobs.default_tilt_deg - COMPENSATION_UPTILT_DEG
            return [Action("tilt", n, -d) for n in cs if knobs.tilt_ok(n, -d) and knobs.tilt_deg[n] - d >= floor - 1e-9]

        def boost(cs, db=3.0):
            return [Action("power", n, knobs.power_step(n, db)) for n in cs if knobs.power_step(n, db) > 0.4]

        def cio(cs, v):
            v = float(np.clip(v, *CIO_BOUNDS_DB))
            return [Action("cio", n, v) for n in cs if knobs.cio_db[n] != v]

        if cause in ("cell_outage", "backhaul_failure"):
            # the hole is covered by the nearest other-site cells: power first, then uptilt, then both
            powered = self.outage_power or cause != "cell_outage"
            for db in (1.5, 3.0) if powered else ():
                add(f"neighbour {db:+g} dB", boost(near, db))
            for d in (1.0, 2.0):
                add(f"neighbour uptilt {d:g} deg", uptilt(near, d))
            in_place = any(knobs.power_offset_db[n] > 0 or knobs.tilt_deg[n] < knobs.default_tilt_deg for n in near)
            for db, d in ((1.5, 1.0), (3.0, 1.0), (3.0, 2.0)):
                p_acts, t_acts = boost(near, db), uptilt(near, d)
                combined = self.compensation == "combined" or (self.compensation == "stepwise" and in_place)
                if p_acts and t_acts and combined and powered:
                    add(f"neighbour {db:+g} dB + uptilt {d:g} deg", p_acts + t_acts)
            if cause == "backhaul_failure":
                off = [Action("cell_off", x) for x in site_cells if knobs.admin_on[x] > 0]
                add("switch off the isolated site's cells", off)
        elif cause == "sleeping_cell":
            add("restart the cell", [Action("restart", c)])
        elif cause == "excessive_downtilt":
            for d in (2.0, 4.0, 6.0, 8.0, 10.0):
                if knobs.tilt_ok(c, -d):
                    add(f"uptilt {d:g} deg", [Action("tilt", c, -d)])
        elif cause == "uptilt_overshoot":
            for d in (2.0, 4.0, 6.0, 9.0, 12.0):
                if knobs.tilt_ok(c, d):
                    add(f"downtilt {d:g} deg", [Action("tilt", c, d)])
        elif cause == "pa_degradation":
            # spend the power headroom on the weak cell; uptilt widens what the remaining power reaches
            for db in (1.0, 2.0, 3.0):
                add(f"cell {db:+g} dB", boost([c], db))
            for d in (1.0, 2.0):
                p_acts, t_acts = boost([c], 3.0), uptilt([c], d)
                if p_acts and t_acts:
                    add(f"cell +3 dB + uptilt {d:g} deg", p_acts + t_acts)
            for db in (1.5, 3.0):
                add(f"neighbour {db:+g} dB", boost(near, db))
        elif cause in ("external_interference", "overload_hotspot"):
            # offload edge UEs to the neighbours (CIO), and make the neighbours able to carry them; an overloaded
            # cell may also shrink itself (downtilt), which moves its edge UEs to the neighbours for good, and an
            # interfered one may downtilt to put more gain on its jammed near UEs (``interference_tilt``)
            for v in (3.0, 6.0, 9.0):
                add(f"CIO {v:+g} dB (offload to neighbours)", cio([c], knobs.cio_db[c] + v))
            for db in (1.5, 3.0):
                add(f"CIO +6 dB + neighbour {db:+g} dB", cio([c], knobs.cio_db[c] + 6.0) + boost(near, db))
            for d in (1.0, 2.0):
                add(f"neighbour uptilt {d:g} deg", uptilt(near, d))
            def shrink(pair: bool) -> None:  # the cell's own downtilts, and with ``pair`` one with a neighbour uptilt
                for d in (1.0, 2.0, 4.0):
                    if knobs.tilt_ok(c, d):
                        add(f"downtilt {d:g} deg", [Action("tilt", c, d)])
                if pair and knobs.tilt_ok(c, 2.0):
                    add("downtilt 2 deg + neighbour uptilt 1 deg", [Action("tilt", c, 2.0)] + uptilt(near, 1.0))

            if cause == "overload_hotspot":
                add("CIO +6 dB, neighbours -3 dB", cio([c], knobs.cio_db[c] + 6.0) + cio(nbrs[:2], -3.0))
                shrink(self.overload_tilt_pair)
                if knobs.tilt_ok(c, 2.0):
                    add("downtilt 2 deg + CIO +6 dB", [Action("tilt", c, 2.0)] + cio([c], knobs.cio_db[c] + 6.0))
                if self.overload_power:
                    for db in (1.5, 3.0):
                        add(f"cell {db:+g} dB", boost([c], db))
                    p_acts = boost([c], 3.0)
                    if p_acts:
                        add("cell +3 dB + CIO +3 dB", p_acts + cio([c], knobs.cio_db[c] + 3.0))
            else:
                if self.interference_tilt:
                    shrink(self.interference_tilt_pair)
                if self.interference_power:
                    for db in (1.5, 3.0):
                        add(f"cell {db:+g} dB", boost([c], db))
        elif cause == "backhaul_congestion":
            for v in (3.0, 6.0):
                add(f"site CIO {v:+g} dB (offload the site)", cio(site_cells, v))
        elif cause == "ho_misconfig":
            d = knobs.defaults
            restore = [Action("cio", c, float(d["cio"])), Action("ttt", c, float(d["ttt"])),
                       Action("hysteresis", c, float(d["hysteresis"]))]
            add(HANDOVER_RESTORE, restore)
            add("neighbour hysteresis +2 dB", [Action("hysteresis", n, float(min(knobs.hysteresis_db[n] + 2, 10)))
                                               for n in nbrs])
        return out
