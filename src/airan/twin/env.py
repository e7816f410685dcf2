"""The network digital twin, large-scale tier: a Gymnasium-shaped multi-cell RAN stepped per ROP.

``reset(seed=, options=)`` draws a TR 38.901 drop with Sionna (cached per scenario and seed); ``step(actions)``
advances one reporting period: mobility, faults, A3 handover, traffic, PF scheduling, link abstraction,
backhaul, energy and per-cell KPIs. ``evaluate()`` re-evaluates the current ROP after a knob change without
advancing time or drawing randomness; ``clone()`` gives an independent copy for what-if runs.
"""

from __future__ import annotations

import collections
import copy
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from airan.core.errors import ConfigError, FaultError
from airan.core.rng import spawn_rngs
from airan.core.units import db_to_lin, thermal_noise_dbm
from airan.twin import backhaul, energy, handover, mobility, radio, scheduler, traffic
from airan.twin.actions import (
    ACTION_KINDS,
    SLEEP_MODES,
    TTT_VALUES_MS,
    Action,
    ActionRecord,
    CellKnobs,
    apply_action,
)
from airan.twin.adapter.channel import PL_SLOPE_DB_PER_DECADE, SF_DECORR_M, LargeScaleDrop, draw_drop
from airan.twin.events import Event
from airan.twin.faults import (
    CONFIG_FAULTS,
    HO_KNOB_ACTIONS,
    SOFTWARE_FAULTS,
    Fault,
    cell_modifiers,
    ue_demand_factor,
)
from airan.twin.kpis import KPI_NAMES, masked_stat
from airan.twin.link import default_link_table, ue_throughput_mbps
from airan.twin.measurements import MeasurementConfig, location_report, measurement_report, sinr_report
from airan.twin.scenarios import ScenarioConfig, get_scenario

ALARMS = ("CELL_DOWN", "CELL_RESTARTING", "BH_LINK_DOWN", "BH_CONGESTION", "PA_DEGRADED", "UL_INTERFERENCE")
# append only: every stream keeps its seed when one is added
TWIN_STREAMS = ("mobility", "traffic", "handover", "ue", "measurement", "location", "measurement_sinr")
MIN_LOAD = 0.1  # reference signals / control channels keep an on-air cell radiating at least this share


@functools.lru_cache(maxsize=8)
def _cached_drop(cfg: ScenarioConfig, seed: int) -> LargeScaleDrop:
    return draw_drop(cfg, spawn_rngs(seed, ("drop",))["drop"])


# Link geometry and antenna factors of one drop's UEs at one set of positions, shared by every twin on that drop in
# this process: the verifier steps each what-if clone once per candidate from the same state, so the same
# positions come back (dev: 1,115 geometries of 35 distinct positions in two umi-19 episodes). Entries hold their
# drop and geometry, so the ids used as keys are not reused while cached. Values are never written in place.
_SHARED_POSITIONS = 16
_shared_by_positions: collections.OrderedDict[tuple, dict[str, Any]] = collections.OrderedDict()
_shared_by_geom: dict[int, dict[str, Any]] = {}


def _shared_geometry(drop: LargeScaleDrop, ue_xyz: np.ndarray) -> mobility.LinkGeometry:
    """``mobility.link_geometry`` of ``drop``'s cells to ``ue_xyz`` [U, 3] m, computed once per positions."""
    key = (id(drop), ue_xyz.shape, hashlib.blake2b(np.ascontiguousarray(ue_xyz).tobytes(), digest_size=16).digest())
    entry = _shared_by_positions.get(key)
    if entry is not None:
        _shared_by_positions.move_to_end(key)
        return entry["geom"]
    geom = mobility.link_geometry(ue_xyz, drop.site_xy, drop.cell_site, drop.cell_yaw_deg, drop.wrap_xy,
                                  drop.bs_height_m)
    entry = {"drop": drop, "geom": geom, "gains": {}}
    _shared_by_positions[key] = entry
    _shared_by_geom[id(geom)] = entry
    while len(_shared_by_positions) > _SHARED_POSITIONS:
        _, old = _shared_by_positions.popitem(last=False)
        _shared_by_geom.pop(id(old["geom"]), None)
    return geom


def _shared_gains(geom: mobility.LinkGeometry, antenna_key: tuple) -> dict[str, Any] | None:
    """The shared antenna-factor record of ``geom`` for one antenna (filled by the first twin that needs it), or
    None when ``geom`` is not a shared geometry (e.g. a clone's deep copy, before its first step)."""
    entry = _shared_by_geom.get(id(geom))
    if entry is None or entry["geom"] is not geom:
        return None
    return entry["gains"].setdefault(antenna_key, {})


@dataclass
class _State:
    """Everything that changes during an episode (deep-copied by ``clone``)."""

    rop: int
    ue_xyz: np.ndarray
    heading: np.ndarray
    pathloss_db: np.ndarray
    sf_db: np.ndarray
    geom: mobility.LinkGeometry
    knobs: CellKnobs
    ho: handover.HoState
    load: np.ndarray
    active: np.ndarray
    rsrp_dbm: np.ndarray
    rngs: dict[str, np.random.Generator]
    faults: list[Fault] = field(default_factory=list)
    cured: set[int] = field(default_factory=set)
    rewritten: dict[int, set[int]] = field(default_factory=dict)  # config fault index -> cells re-pushed so far
    alarms: set[tuple[str, int]] = field(default_factory=set)
    applied: list[ActionRecord] = field(default_factory=list)
    gain_cache: dict | None = None
    area_cache: tuple | None = None  # ((geometry, path loss, shadowing), [U] int64 area cell): ``area_cells``
    activity_held: bool = False  # ``hold_activity``: no session starts or ends in later steps


class NetworkTwin(gym.Env):
    """Multi-cell RAN twin. Observation: [num_cells, len(KPI_NAMES)] float32 KPIs (NaN -> 0; the raw KPIs
    with NaN are in ``info['kpis']``). Action: a list of ``Action`` (or one Gymnasium ``action_space``
    sample, mapped onto the catalogue). Reward: mean log(1 + UE DL throughput [Mbit/s]) (PF utility)."""

    metadata = {"render_modes": []}

    def __init__(self, scenario: ScenarioConfig | str, measurement: MeasurementConfig | None = None) -> None:
        self.cfg = get_scenario(scenario) if isinstance(scenario, str) else scenario
        self.measurement = measurement or MeasurementConfig()
        c = self.cfg.num_cells
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(c, len(KPI_NAMES)), dtype=np.float32)
        self.action_space = gym.spaces.Dict({
            "kind": gym.spaces.Discrete(len(ACTION_KINDS) + 1),  # 0 = no-op
            "cell": gym.spaces.Discrete(c),
            "value": gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32),
        })
        self._link = default_link_table()
        noise_dbm = thermal_noise_dbm(self.cfg.subcarrier_spacing_hz, self.cfg.ue_noise_figure_db)  # per RE
        self._noise_mw = float(db_to_lin(noise_dbm))
        self.drop: LargeScaleDrop | None = None
        self._s: _State | None = None
        self.seed_value: int | None = None

    # ------------------------------------------------------------------ lifecycle
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(0, 2**31 - 1))
        self.seed_value = int(seed)
        cfg = self.cfg
        d = self.drop = _cached_drop(cfg, self.seed_value)
        rngs = spawn_rngs(self.seed_value, TWIN_STREAMS)
        u = d.ue_xyz.shape[0]
        geom = _shared_geometry(d, d.ue_xyz)
        rng = rngs["ue"]
        vehicle = (~d.indoor) & (rng.random(u) < cfg.vehicle_fraction)
        self._speed = np.where(vehicle, cfg.vehicle_speed, np.where(d.indoor, 0.3, cfg.pedestrian_speed))
        crowd = np.arange(u) >= u - cfg.crowd_ues
        self._speed = np.where(crowd, 0.2, self._speed)
        self._rate_dl = traffic.draw_session_rates(u, cfg.traffic.mean_dl_demand_mbps, cfg.traffic.demand_sigma, rng)
        self._rate_dl = np.where(crowd, self._rate_dl * cfg.crowd_demand_factor, self._rate_dl)
        self._rate_ul = traffic.draw_session_rates(u, cfg.traffic.mean_ul_demand_mbps, cfg.traffic.demand_sigma, rng)
        n = cfg.num_cells
        ho = cfg.handover
        knobs = CellKnobs(tilt_deg=np.full(n, cfg.antenna.tilt_deg), power_offset_db=np.zeros(n),
                          admin_on=np.ones(n), sleep_mode=np.zeros(n), cio_db=np.full(n, ho.cio_db),
                          ttt_ms=np.full(n, ho.ttt_ms), hysteresis_db=np.full(n, ho.hysteresis_db),
                          restart_rops=np.zeros(n))
        wrap = len(d.wrap_xy) > 1
        self._bound_m = (cfg.num_rings + 0.5) * cfg.isd_m * (0.95 if wrap else 1.0)
        self._s = _State(rop=0, ue_xyz=d.ue_xyz.copy(), heading=rng.uniform(0, 2 * np.pi, u),
                         pathloss_db=d.pathloss_db.copy(), sf_db=d.sf_db.copy(), geom=geom, knobs=knobs,
                         ho=handover.HoState.initial(np.zeros(u, np.int64)), load=np.full(n, 0.5),
                         active=rng.random(u) < cfg.traffic.active_probability, rsrp_dbm=np.zeros((u, n)),
                         rngs=rngs)
        for f in (options or {}).get("faults", ()):
            self.inject(f)
        r = self._radio(self._mods())
        self._s.rsrp_dbm = r["rsrp_dbm"]
        self._s.ho.serving[:] = np.argmax(np.where(r["on_air"][None, :], r["rsrp_dbm"], -np.inf), axis=1)
        kpis, _ = self._serve(r, self._mods(), counters=None)
        return self._obs(kpis), {"kpis": kpis, "rop": 0}

    def inject(self, fault: Fault) -> None:
        """Add a fault (ground truth recorded); it takes effect from ``fault.onset_rop``."""
        self._require()
        if not isinstance(fault, Fault):
            raise FaultError(f"inject() takes a Fault, got {type(fault).__name__}")
        fault.validate_for(self.cfg.num_cells)
        self._s.faults.append(fault)

    def adopt_sessions(self, serving: np.ndarray, demand_dl_mbps: np.ndarray | None = None) -> None:
        """What-if synchronisation from a UE trace: ``serving`` [num_ues] int64, each UE's serving cell as the
        network's trace reports it (-1: not connected, not traced). Traced UEs become active and served by the
        reported cell (a handover in progress is dropped); the others become idle. ``demand_dl_mbps``
        [num_ues] float64 (optional): each UE's offered DL traffic in the trace [Mbit/s]; the UE's session rate
        is set so that it offers as much at this twin's current ROP (its diurnal factor divided out); NaN keeps
        the UE's own rate (the caller leaves out what a fault it injects itself multiplies). Positions and
        channels stay this twin's own (a trace carries no position)."""
        self._require()
        serving = np.asarray(serving)
        u, n = self._s.ue_xyz.shape[0], self.cfg.num_cells
        if serving.shape != (u,) or not np.issubdtype(serving.dtype, np.integer):
            raise ConfigError(f"serving must be an int array of shape ({u},), got {serving.dtype} {serving.shape}")
        bad = (serving < -1) | (serving >= n)
        if bad.any():
            raise ConfigError(f"serving cell {int(serving[bad][0])} of UE {int(np.argmax(bad))} is not in [-1, {n})")
        if demand_dl_mbps is not None:
            dem = np.asarray(demand_dl_mbps, dtype=np.float64)
            if dem.shape != (u,):
                raise ConfigError(f"demand_dl_mbps must be [{u}] (NaN: keep), got shape {dem.shape}")
            bad_dem = (dem < 0) | np.isinf(dem)
            if bad_dem.any():
                i = int(np.argmax(bad_dem))
                raise ConfigError(f"demand_dl_mbps of UE {i} is {dem[i]!r}; it must be finite and >= 0 (NaN: keep)")
            day = traffic.diurnal_factor(self._s.rop, self.cfg.traffic)
            self._rate_dl = np.where(np.isnan(dem), self._rate_dl, np.nan_to_num(dem) / max(day, 1e-9))
        on = serving >= 0
        s = self._s
        s.active = on.copy()
        s.ho.serving[on] = serving[on]
        s.ho.candidate[on] = -1
        s.ho.ttt_elapsed_ms[on] = 0.0

    def hold_activity(self) -> None:
        """What-if: from the next step on, no UE's session starts or ends (each keeps its active/idle state and
        rate); everything else evolves as before. A rollout from a UE trace (``adopt_sessions``) then predicts
        an action's effect on the UEs the network serves now, not on a random turnover of them (sessions last
        20 ROPs on average, so about 5 % end per ROP). Kept by ``clone``; the traffic stream draws nothing while
        held."""
        self._require()
        self._s.activity_held = True

    def adopt_positions(self, ue_xy_m: np.ndarray) -> None:
        """What-if synchronisation from location reports: ``ue_xy_m`` [num_ues, 2] float64 [m], each UE's
        reported position (NaN rows: keep this twin's own). The UEs move there; their path loss follows the new
        distances (as when they move by mobility); shadow fading, headings and sessions stay this twin's own."""
        self._require()
        s, d = self._s, self.drop
        xy = np.asarray(ue_xy_m, dtype=np.float64)
        u = s.ue_xyz.shape[0]
        if xy.shape != (u, 2):
            raise ConfigError(f"ue_xy_m must be [{u}, 2] (NaN rows: keep), got shape {xy.shape}")
        bad = np.isinf(xy).any(axis=1) | (np.isnan(xy).any(axis=1) & ~np.isnan(xy).all(axis=1))
        if bad.any():
            i = int(np.argmax(bad))
            raise ConfigError(f"ue_xy_m of UE {i} is {xy[i].tolist()!r}; give both coordinates finite or both NaN")
        take = np.isfinite(xy).all(axis=1)
        if not take.any():
            return
        s.ue_xyz[take, :2] = xy[take]  # the state is this twin's own (``clone`` deep-copies it)
        s.geom = _shared_geometry(d, s.ue_xyz)
        s.pathloss_db = mobility.evolve_large_scale(d.pathloss_db, d.d3d_m, s.geom.d3d_m, d.los,
                                                    PL_SLOPE_DB_PER_DECADE[self.cfg.channel_model])

    def clone(self) -> NetworkTwin:
        """An independent copy (shares the immutable drop): stepping it never changes this twin."""
        self._require()
        new = copy.copy(self)
        new._s = copy.deepcopy(self._s)
        return new

    def reseed(self, seed: int) -> None:
        """Draw this twin's future from ``seed``: its random streams (``TWIN_STREAMS``: mobility, session
        arrivals, handover, measurement and location noise) become children of ``seed``; its present state
        (positions, sessions, knobs, faults, channel) is kept. A clone shares its parent's future until
        reseeded; two clones reseeded with one seed share a future again (common random numbers)."""
        self._require()
        self._s.rngs = spawn_rngs(seed, TWIN_STREAMS)

    @property
    def rop(self) -> int:
        """Index of the next ROP that ``step`` will simulate (ROPs count from 0)."""
        self._require()
        return self._s.rop

    @property
    def faults(self) -> list[Fault]:
        self._require()
        return list(self._s.faults)

    @property
    def knobs(self) -> CellKnobs:
        self._require()
        return self._s.knobs

    @property
    def ue_xy(self) -> np.ndarray:
        """[num_ues, 2] float64 UE positions [m]."""
        self._require()
        return self._s.ue_xyz[:, :2].copy()

    @property
    def ue_speed_mps(self) -> np.ndarray:
        """[num_ues] float64 each UE's speed [m/s] (its mobility class: vehicle, pedestrian, indoor, crowd)."""
        self._require()
        return self._speed.copy()

    @property
    def cell_xy(self) -> np.ndarray:
        """[num_cells, 2] float64 sector (site) positions [m]."""
        self._require()
        return self.drop.site_xy[self.drop.cell_site]

    @property
    def serving(self) -> np.ndarray:
        """[num_ues] int64 serving cell of each UE (-1 = none)."""
        self._require()
        return self._s.ho.serving.copy()

    def _require(self) -> None:
        if self._s is None:
            raise RuntimeError("call reset(seed=...) before using the twin")

    # ------------------------------------------------------------------ actions
    def apply(self, action: Action) -> ActionRecord:
        """Apply one typed action now (bounded; raises ``ActionError`` naming the bad value)."""
        self._require()
        a = self.cfg.antenna
        rec = apply_action(self._s.knobs, action, (a.min_tilt_deg, a.max_tilt_deg))
        for i, f in enumerate(self._s.faults):
            if action.cell not in f.cells or f.level(self._s.rop) <= 0:
                continue
            if action.kind == "restart" and f.kind in SOFTWARE_FAULTS:
                self._s.cured.add(i)
            elif action.kind in HO_KNOB_ACTIONS and f.kind in CONFIG_FAULTS:
                # A handover-parameter push replaces the cell's misconfigured set; the fault is gone once every
                # faulty cell got one (the operator's values then rule, good or bad).
                done = self._s.rewritten.setdefault(i, set())
                done.add(action.cell)
                if done >= set(f.cells):
                    self._s.cured.add(i)
        self._s.applied.append(rec)
        return rec

    def _from_space(self, sample: dict) -> list[Action]:
        k = int(sample["kind"])
        if k == 0:
            return []
        kind, cell, v = ACTION_KINDS[k - 1], int(sample["cell"]), float(np.asarray(sample["value"]).ravel()[0])
        kn = self._s.knobs
        a = self.cfg.antenna
        if kind == "tilt":
            v = float(np.clip(kn.tilt_deg[cell] + 2 * v, a.min_tilt_deg, a.max_tilt_deg) - kn.tilt_deg[cell])
        elif kind == "power":
            v = float(np.clip(kn.power_offset_db[cell] + 3 * v, -10, 3) - kn.power_offset_db[cell])
        elif kind == "cio":
            v = 10 * v
        elif kind == "hysteresis":
            v = 5 * (v + 1)
        elif kind == "ttt":
            v = TTT_VALUES_MS[int(round((v + 1) / 2 * (len(TTT_VALUES_MS) - 1)))]
        mode = list(SLEEP_MODES)[int(round(v + 1))] if kind == "sleep" else ""
        return [Action(kind, cell, v if kind != "sleep" else 0.0, mode)]

    # ------------------------------------------------------------------ stepping
    def step(self, actions: Sequence[Action] | Action | dict | None = None):
        """Advance one ROP after applying ``actions``. Returns (obs, reward, terminated, truncated, info);
        ``info`` holds ``kpis`` (name -> [num_cells]), ``events``, ``ue_sinr_db``, ``ue_thp_mbps`` and
        ``mr_rsrp_dbm`` [num_ues, num_cells] float64, the connected UEs' measurement reports of this ROP [dBm]
        (NaN: not reported; ``airan.twin.measurements``), and the UE trace of the RRC-connected UEs:
        ``ue_serving`` [num_ues] int64 serving cell (-1: not connected) and ``ue_dl_demand_mbps`` [num_ues]
        float64 offered DL traffic (the PDCP volume arriving for the UE, as a rate) [Mbit/s] (NaN: not
        connected), and ``ue_xy_m`` [num_ues, 2] float64 the connected UEs' location estimates [m] (NaN: not
        connected; ``measurements.location_report``, drawn from its own stream), and ``mr_sinr_db`` [num_ues]
        float64 the SINR each connected UE reports of its serving cell [dB] (NaN: not connected;
        ``measurements.sinr_report``, its own stream). Per-cell sums of the trace equal ``DRB.DemandDl``."""
        self._require()
        s, cfg = self._s, self.cfg
        if isinstance(actions, dict):
            actions = self._from_space(actions)
        elif isinstance(actions, Action):
            actions = [actions]
        events: list[Event] = []
        for act in actions or ():
            rec = self.apply(act)
            events.append(Event(s.rop, "action", act.kind, act.cell,
                                {"knob": rec.knob, "pre": rec.pre, "post": rec.post, "mode": act.mode}))
        for f in s.faults:
            if f.onset_rop == s.rop:
                events.append(Event(s.rop, "fault", f.kind, f.cells[0], f.truth()))
        d = self.drop
        new_xy, s.heading, moved = mobility.move_ues(s.ue_xyz[:, :2], s.heading, self._speed, cfg.rop_s,
                                                     self._bound_m, s.rngs["mobility"])
        s.ue_xyz = np.concatenate([new_xy, s.ue_xyz[:, 2:]], axis=1)
        s.geom = _shared_geometry(d, s.ue_xyz)
        s.pathloss_db = mobility.evolve_large_scale(d.pathloss_db, d.d3d_m, s.geom.d3d_m, d.los,
                                                    PL_SLOPE_DB_PER_DECADE[cfg.channel_model])
        s.sf_db = mobility.evolve_shadowing(s.sf_db, d.sf_std_db, moved, d.los, SF_DECORR_M[cfg.channel_model],
                                            d.cell_site, len(d.site_xy), s.rngs["mobility"])
        if not s.activity_held:
            s.active = traffic.session_activity(s.active, cfg.traffic.active_probability, s.rngs["traffic"])
        mods = self._mods()
        r = self._radio(mods)
        cio, hys, ttt = self._handover_params(mods)
        counters = handover.run_handover(s.ho, s.rsrp_dbm, r["rsrp_dbm"], r["on_air"], cio, hys, ttt,
                                         np.maximum(s.load, MIN_LOAD) * r["on_air"], self._noise_mw,
                                         r["extra_mw"], cfg.handover, s.rop * cfg.rop_s, cfg.rop_s,
                                         s.rngs["handover"])
        s.rsrp_dbm = r["rsrp_dbm"]
        kpis, ue = self._serve(r, mods, counters)
        s.load = kpis["RRU.PrbUsedDl"] / 100.0
        s.load = np.where(np.isfinite(s.load), s.load, 0.0)
        s.knobs.restart_rops = np.maximum(s.knobs.restart_rops - 1, 0)
        events += self._alarm_events(r, mods, kpis)
        kpis["Alarm.Count"] = np.array([sum(1 for (_, c) in s.alarms if c == i) for i in range(cfg.num_cells)], float)
        thp = ue["thp_mbps"]
        reward = float(np.mean(np.log1p(np.nan_to_num(thp))))
        mr = measurement_report(r["rsrp_dbm"], s.ho.serving, s.active & (s.ho.serving >= 0), r["on_air"],
                                self.measurement, s.rngs["measurement"])
        traced = s.active & (ue["serving"] >= 0)
        loc = location_report(s.ue_xyz[:, :2], traced, self.measurement, s.rngs["location"])
        sinr_mr = sinr_report(ue["sinr_db"], traced, self.measurement, s.rngs["measurement_sinr"])
        info = {"kpis": kpis, "events": events, "rop": s.rop, "ue_sinr_db": ue["sinr_db"], "ue_thp_mbps": thp,
                "mr_rsrp_dbm": mr, "ue_serving": np.where(traced, ue["serving"], -1),
                "ue_dl_demand_mbps": np.where(traced, ue["demand_mbps"], np.nan), "ue_xy_m": loc,
                "mr_sinr_db": sinr_mr}
        s.rop += 1
        return self._obs(kpis), reward, False, False, info

    def evaluate(self) -> dict[str, np.ndarray]:
        """KPIs of the current ROP under the current knobs, without advancing time, moving UEs, handing over
        or drawing randomness (used to score an action in milliseconds)."""
        self._require()
        mods = self._mods(max(self._s.rop - 1, 0))
        kpis, _ = self._serve(self._radio(mods), mods, counters=None)
        return kpis

    # ------------------------------------------------------------------ internals
    def _handover_params(self, mods) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The A3 parameters in force per cell, [num_cells] float64 each: CIO [dB], hysteresis [dB], TTT [ms]
        (the knobs, unless a fault overrides them)."""
        kn = self._s.knobs
        return (np.where(np.isnan(mods.cio_override_db), kn.cio_db, mods.cio_override_db),
                np.where(np.isnan(mods.hys_override_db), kn.hysteresis_db, mods.hys_override_db),
                np.where(np.isnan(mods.ttt_override_ms), kn.ttt_ms, mods.ttt_override_ms))

    def _mods(self, rop: int | None = None):
        s, d = self._s, self.drop
        rop = s.rop if rop is None else rop
        return cell_modifiers(s.faults, rop, self.cfg.num_cells, d.cell_site, len(d.site_xy), s.cured)

    def _radio(self, mods) -> dict[str, np.ndarray]:
        cfg, s = self.cfg, self._s
        kn = s.knobs
        tilt = np.clip(kn.tilt_deg + mods.tilt_delta_deg, -30.0, 45.0)
        ant = self._antenna_gain(tilt)
        tx_dbm = cfg.tx_power_dbm + kn.power_offset_db + mods.power_delta_db
        rsrp = radio.rx_power_dbm(self._per_re_dbm(tx_dbm), -(s.pathloss_db + s.sf_db), ant)
        powered = (kn.admin_on > 0) & ~mods.outage
        on_air = powered & (kn.sleep_mode < 2) & (kn.restart_rops == 0)
        rx_mw = np.power(10.0, rsrp / 10.0) * on_air[None, :]
        inside = radio.in_sector(s.geom.azimuth_rel_deg, s.geom.d2d_m, 0.7 * cfg.isd_m)
        ext_db = np.where(inside, mods.ext_interference_db[None, :], -np.inf).max(axis=1)
        extra_mw = self._noise_mw * np.power(10.0, ext_db / 10.0)
        return {"rsrp_dbm": rsrp, "rx_mw": rx_mw, "on_air": on_air, "powered": powered, "tx_dbm": tx_dbm,
                "extra_mw": extra_mw, "ext_db": ext_db, "ant": ant}

    def _per_re_dbm(self, tx_dbm: np.ndarray) -> np.ndarray:
        """[C] per-RE transmit power [dBm] from the cells' total transmit power ``tx_dbm`` [C] [dBm]."""
        return tx_dbm - 10 * np.log10(self.cfg.num_prbs * 12)

    def area_cells(self) -> np.ndarray:
        """[num_ues] int64: the cell whose coverage area each UE is in at its current position, i.e. its best cell
        (largest RSRP) in the network as planned: every cell on, default tilt and transmit power, no fault and
        no operator change. Geography, not service: a demand surge of a cell (overload hotspot, benign surge)
        multiplies what these UEs ask, whichever cell serves them."""
        self._require()
        return self._area_cells().copy()

    def _area_cells(self) -> np.ndarray:
        s, cfg = self._s, self.cfg
        key = (s.geom, s.pathloss_db, s.sf_db)  # a move, or a channel re-fit (calibration), redraws the areas
        if s.area_cache is not None and all(a is b for a, b in zip(s.area_cache[0], key, strict=True)):
            return s.area_cache[1]
        a = cfg.antenna
        tilt0 = np.full(cfg.num_cells, float(a.tilt_deg))
        plan = _shared_gains(s.geom, (a.num_vertical_elements, a.element_spacing_wavelengths, "plan", a.tilt_deg))
        cache = s.gain_cache
        if plan:  # another twin at these positions computed the planned network's gains
            gain = plan["gain"]
        elif cache is not None and cache["geom"] is s.geom:
            gain, changed = cache["gain"], np.nonzero(cache["tilt"] != tilt0)[0]
            if changed.size:  # columns tilted away from the plan (by the operator or a fault): redo them
                _, v, af = radio.spread_antenna_factors(s.geom, self.drop, tilt0, a.num_vertical_elements,
                                                        a.element_spacing_wavelengths, cells=changed)
                gain = gain.copy()
                gain[:, changed] = radio.combine_factors(cache["h"][:, changed], v, af)
        else:
            gain = radio.combine_factors(*radio.spread_antenna_factors(
                s.geom, self.drop, tilt0, a.num_vertical_elements, a.element_spacing_wavelengths))
        if plan is not None and not plan:
            plan["gain"] = gain.copy()  # (gain may be this twin's own cache, which later tilts write into)
        tx_re = self._per_re_dbm(np.full(cfg.num_cells, float(cfg.tx_power_dbm)))
        best = np.argmax(radio.rx_power_dbm(tx_re, -(s.pathloss_db + s.sf_db), gain), axis=1).astype(np.int64)
        s.area_cache = (key, best)
        return best

    def in_cell_area(self, cells) -> np.ndarray:
        """[num_ues] bool: the UEs now in the coverage area (``area_cells``) of any of ``cells``."""
        self._require()
        cells = np.asarray(cells, dtype=np.int64).reshape(-1)
        bad = cells[(cells < 0) | (cells >= self.cfg.num_cells)]
        if bad.size:
            raise ConfigError(f"cell {int(bad[0])} is not in [0, {self.cfg.num_cells})")
        return np.isin(self._area_cells(), cells)

    def _antenna_gain(self, tilt: np.ndarray) -> np.ndarray:
        """BS gain [dBi] [U, C], cached per geometry; after a tilt change only the changed columns are redone."""
        s, a = self._s, self.cfg.antenna
        cache = s.gain_cache
        if cache is None or cache["geom"] is not s.geom:
            shared = _shared_gains(s.geom, (a.num_vertical_elements, a.element_spacing_wavelengths))
            if shared:  # another twin computed these positions' factors: start from a copy of them
                cache = {k: shared[k].copy() for k in ("tilt", "v", "af", "gain")}
                cache.update(geom=s.geom, h=shared["h"])  # h is only read
            else:
                h, v, af = radio.spread_antenna_factors(s.geom, self.drop, tilt, a.num_vertical_elements,
                                                        a.element_spacing_wavelengths)
                cache = {"geom": s.geom, "tilt": tilt.copy(), "h": h, "v": v, "af": af,
                         "gain": radio.combine_factors(h, v, af)}
                if shared is not None:
                    shared.update({k: cache[k].copy() for k in ("tilt", "v", "af", "gain")}, h=h)
            s.gain_cache = cache
        changed = np.nonzero(cache["tilt"] != tilt)[0]
        if changed.size:
            _, v, af = radio.spread_antenna_factors(s.geom, self.drop, tilt, a.num_vertical_elements,
                                                    a.element_spacing_wavelengths, cells=changed)
            cache["v"][:, changed], cache["af"][:, changed] = v, af
            cache["gain"][:, changed] = radio.combine_factors(cache["h"][:, changed], v, af)
            cache["tilt"][changed] = tilt[changed]
        return cache["gain"]

    def _serve(self, r, mods, counters):
        cfg, s, d = self.cfg, self._s, self.drop
        n, u = cfg.num_cells, s.ue_xyz.shape[0]
        serving = s.ho.serving.copy()
        serving[(serving >= 0) & ~r["on_air"][np.maximum(serving, 0)]] = -1
        load_i = np.maximum(s.load, MIN_LOAD) * r["on_air"]
        sinr = handover.sinr_db_of(r["rx_mw"], serving, load_i, self._noise_mw, r["extra_mw"])
        peak = np.nan_to_num(ue_throughput_mbps(np.nan_to_num(sinr, nan=-50.0), np.ones(u), cfg.num_prbs,
                                                cfg.subcarrier_spacing_hz, self._link))
        sc = np.maximum(serving, 0)
        peak = np.where((serving >= 0) & ~mods.sleeping[sc], peak, 0.0)
        day = traffic.diurnal_factor(s.rop, cfg.traffic)
        surge = np.ones(u) if np.all(mods.demand_factor == 1.0) else ue_demand_factor(self._area_cells(),
                                                                                         mods.demand_factor)
        demand = traffic.demand_mbps(s.active, self._rate_dl, day * surge)
        with np.errstate(divide="ignore", invalid="ignore"):
            # a UE that cannot decode even the most robust MCS is not scheduled (it is out of sync)
            need = np.where((demand > 0) & (peak > 0), demand / peak, 0.0)
        share, used = scheduler.pf_time_shares(need, serving, n)
        thp = share * peak
        # Backhaul per site
        site = d.cell_site[sc]
        offered = np.bincount(site[serving >= 0], weights=thp[serving >= 0], minlength=len(d.site_xy)) * 1e6
        cap = cfg.backhaul.capacity * mods.site_capacity_factor
        carried, latency, loss = backhaul.backhaul_state(offered, cap, cfg.backhaul, mods.site_extra_latency_ms)
        thp = np.where(serving >= 0, thp * carried[site], 0.0)
        # Uplink: equal PRB split among the cell's active UEs, IoT from neighbour load and external interference
        owner_act = np.where(s.active & (serving >= 0), serving, -1)
        n_act = np.bincount(owner_act[owner_act >= 0], minlength=n)
        ul_share = np.where(owner_act >= 0, 1.0 / np.maximum(n_act[sc], 1), 0.0)
        gain_db = -(s.pathloss_db + s.sf_db)[np.arange(u), sc] + r["ant"][np.arange(u), sc]
        bw_ul = np.maximum(ul_share * cfg.num_prbs * 12 * cfg.subcarrier_spacing_hz, 1.0)
        noise_ul = -174.0 + 10 * np.log10(bw_ul) + cfg.bs_noise_figure_db
        iot_db = 10 * np.log10(1.0 + 2.0 * float(np.mean(load_i)) + np.power(10.0, mods.ext_interference_db[sc] / 10))
        ul_sinr = cfg.ue_tx_power_dbm + gain_db - noise_ul - iot_db
        ul_peak = ue_throughput_mbps(ul_sinr, ul_share, cfg.num_prbs, cfg.subcarrier_spacing_hz, self._link)
        ul_dem = traffic.demand_mbps(s.active, self._rate_ul, day)
        thp_ul = np.where(owner_act >= 0, np.minimum(ul_dem, ul_peak) * carried[site] * ~mods.sleeping[sc], 0.0)
        # Energy
        used = np.where(r["on_air"] & ~mods.sleeping, used, 0.0)
        p_w = energy.cell_power_w(used, r["tx_dbm"], r["on_air"], s.knobs.sleep_mode.astype(int), r["powered"],
                                  cfg.energy)
        # KPIs
        camped = np.where(serving >= 0, serving, -1)
        rsrp_srv = r["rsrp_dbm"][np.arange(u), sc]
        k: dict[str, np.ndarray] = {}
        k["DRB.UEThpDl"] = masked_stat(thp, owner_act, n, "mean")
        for p in (5, 50, 95):
            k[f"DRB.UEThpDl.p{p}"] = masked_stat(thp, owner_act, n, f"p{p}")
        k["DRB.UEThpUl"] = masked_stat(thp_ul, owner_act, n, "mean")
        k["DRB.CellThpDl"] = np.bincount(sc, weights=np.where(serving >= 0, thp, 0.0), minlength=n)
        k["RRU.PrbUsedDl"] = 100.0 * used
        k["RRC.ConnMean"] = n_act.astype(float)
        k["L1M.RSRP"] = masked_stat(rsrp_srv, camped, n, "mean")
        k["L1M.RSRP.p5"] = masked_stat(rsrp_srv, camped, n, "p5")
        k["L1M.SINR"] = masked_stat(np.nan_to_num(sinr, nan=-50), camped, n, "mean")
        k["L1M.SINR.p5"] = masked_stat(np.nan_to_num(sinr, nan=-50), camped, n, "p5")
        zeros = np.zeros(n)
        k["HO.AttOut"] = counters.attempts.astype(float) if counters else zeros.copy()
        k["HO.SuccOut"] = counters.successes.astype(float) if counters else zeros.copy()
        k["HO.PingPong"] = counters.ping_pongs.astype(float) if counters else zeros.copy()
        k["RLF.Count"] = counters.rlfs.astype(float) if counters else zeros.copy()
        k["PEE.Energy"] = energy.energy_kwh(p_w, cfg.rop_s)
        k["BH.LatencyMs"] = latency[d.cell_site]
        k["BH.LossRate"] = loss[d.cell_site]
        k["Cell.Available"] = r["on_air"].astype(float)
        k["DRB.DemandDl"] = np.bincount(sc, weights=np.where(serving >= 0, demand, 0.0), minlength=n)
        k["Alarm.Count"] = zeros.copy()
        return k, {"sinr_db": sinr, "thp_mbps": np.where(s.active, thp, np.nan), "serving": serving,
                   "demand_mbps": demand}

    def _alarm_events(self, r, mods, kpis) -> list[Event]:
        s, d = self._s, self.drop
        kn = s.knobs
        now: set[tuple[str, int]] = set()
        for c in np.nonzero(mods.outage)[0]:
            now.add(("CELL_DOWN", int(c)))
        for c in np.nonzero(kn.restart_rops > 0)[0]:
            now.add(("CELL_RESTARTING", int(c)))
        for c in np.nonzero(mods.site_capacity_factor[d.cell_site] == 0)[0]:
            now.add(("BH_LINK_DOWN", int(c)))
        bh_bad = (kpis["BH.LatencyMs"] > 30) | (kpis["BH.LossRate"] > 0.01)
        for c in np.nonzero(bh_bad & (mods.site_capacity_factor[d.cell_site] > 0))[0]:
            now.add(("BH_CONGESTION", int(c)))
        for c in np.nonzero(mods.power_delta_db <= -3.0)[0]:
            now.add(("PA_DEGRADED", int(c)))
        for c in np.nonzero(mods.ext_interference_db >= 6.0)[0]:
            now.add(("UL_INTERFERENCE", int(c)))
        ev = [Event(s.rop, "alarm", n, c, {"state": "raised"}) for (n, c) in sorted(now - s.alarms)]
        ev += [Event(s.rop, "alarm", n, c, {"state": "cleared"}) for (n, c) in sorted(s.alarms - now)]
        s.alarms = now
        return ev

    def _obs(self, kpis: dict[str, np.ndarray]) -> np.ndarray:
        return np.nan_to_num(np.stack([kpis[k] for k in KPI_NAMES], axis=1).astype(np.float32), nan=0.0)
