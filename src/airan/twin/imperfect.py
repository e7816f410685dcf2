"""The imperfect twin: the network model an operator (and every healing policy's verifier) actually has.

It shares the true network's scenario and layout (site positions, sector azimuths, the UE drop's geometry),
but never its state, and it is wrong in the ways a real digital twin is wrong:

* **calibration errors**: each cell's transmit power and electrical tilt are off by a hidden error drawn
  uniformly in ``[-power_err_db, +power_err_db]`` dB and ``[-tilt_err_deg, +tilt_err_deg]`` deg; the twin's
  knobs still read the nominal values, so a policy cannot see the error, only its consequences;
* **perturbed propagation**: the shadow fading of every UE-site link gets an independent zero-mean Gaussian
  error of ``sf_err_db`` dB std (co-sited sectors share it, as in TR 38.901);
* **different randomness**: its own mobility, traffic, handover and UE-activity streams, and per-UE demand
  re-drawn, so its future never replays the true network's.

An operator can calibrate it (``calibrate``: per-cell power and tilt corrections, per (UE, site) shadowing
corrections) from what the network reports, e.g. the UEs' measurement reports (``airan.agents.mr_calibration``);
``predicted_rsrp_dbm`` is the twin's own prediction of those reports.

The true twin's drop is cached and immutable; every array this twin changes is its own copy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from airan.core.errors import ConfigError
from airan.core.rng import spawn_rngs
from airan.twin import traffic
from airan.twin.env import TWIN_STREAMS, NetworkTwin
from airan.twin.mobility import link_geometry
from airan.twin.scenarios import ScenarioConfig, get_scenario

DEFAULT_POWER_ERR_DB = 2.0
DEFAULT_TILT_ERR_DEG = 1.0
DEFAULT_SF_ERR_DB = 3.0


class ImperfectTwin(NetworkTwin):
    """A ``NetworkTwin`` whose radio carries hidden per-cell calibration errors.

    power_err_db : [num_cells] float64 hidden transmit-power error [dB] (added to the true radiated power)
    tilt_err_deg : [num_cells] float64 hidden electrical-tilt error [deg] (added to the effective tilt)
    """

    def __init__(self, scenario: ScenarioConfig | str, power_err_db: np.ndarray, tilt_err_deg: np.ndarray) -> None:
        super().__init__(scenario)
        n = self.cfg.num_cells
        power_err_db = np.asarray(power_err_db, dtype=np.float64)
        tilt_err_deg = np.asarray(tilt_err_deg, dtype=np.float64)
        if power_err_db.shape != (n,) or tilt_err_deg.shape != (n,):
            raise ConfigError(f"calibration errors must be [{n}] arrays, got {power_err_db.shape} and "
                              f"{tilt_err_deg.shape}")
        self.power_err_db = power_err_db
        self.tilt_err_deg = tilt_err_deg
        self.power_corr_db = np.zeros(n)
        self.tilt_corr_deg = np.zeros(n)

    def _radio(self, mods) -> dict[str, np.ndarray]:
        # The hidden errors act like fault modifiers the operator does not know about; the corrections are
        # what the operator learnt about them (``calibrate``).
        mods.power_delta_db = mods.power_delta_db + self.power_err_db + self.power_corr_db
        mods.tilt_delta_deg = mods.tilt_delta_deg + self.tilt_err_deg + self.tilt_corr_deg
        return super()._radio(mods)

    def predicted_rsrp_dbm(self, extra_tilt_deg: float = 0.0, shadowing: bool = True,
                           displacement_m: np.ndarray | None = None) -> np.ndarray:
        """[num_ues, num_cells] float64 the large-scale RSRP [dBm] this twin predicts for its UEs now (no
        measurement error), every cell's tilt moved by ``extra_tilt_deg`` [deg] (for a numerical slope);
        ``shadowing=False``: without the shadow fading (path loss, antenna and power only);
        ``displacement_m`` [num_ues, 2] float64 [m]: with each UE moved by that much, as the antennas see it
        (bearing, zenith and sector), path loss and shadowing kept: what a UE's movement does to the RSRP it gets
        from a site's sectors relative to each other. The twin is not changed."""
        self._require()
        if not np.isfinite(extra_tilt_deg):
            raise ConfigError(f"extra_tilt_deg must be finite, got {extra_tilt_deg!r}")
        t = self.clone()
        if displacement_m is not None:
            move = np.asarray(displacement_m, dtype=np.float64)
            if move.shape != (t._s.ue_xyz.shape[0], 2) or not np.all(np.isfinite(move)):
                raise ConfigError(f"displacement_m must be a finite [{t._s.ue_xyz.shape[0]}, 2] array, got "
                                  f"{move.shape}")
            xyz = t._s.ue_xyz.copy()
            xyz[:, :2] += move
            d = t.drop
            t._s.ue_xyz = xyz
            t._s.geom = link_geometry(xyz, d.site_xy, d.cell_site, d.cell_yaw_deg, d.wrap_xy, d.bs_height_m)
            t._s.gain_cache = None
        mods = t._mods()
        mods.tilt_delta_deg = mods.tilt_delta_deg + float(extra_tilt_deg)
        rsrp = t._radio(mods)["rsrp_dbm"]
        return rsrp if shadowing else rsrp + t._s.sf_db

    def calibrate(self, power_db: np.ndarray, tilt_deg: np.ndarray, shadowing_db: np.ndarray | None = None) -> None:
        """Add model corrections, e.g. fitted to measurement reports (``agents.mr_calibration``): per cell
        ([num_cells] float64 each) transmit power [dB] and electrical tilt [deg] (positive = more downtilt);
        ``shadowing_db`` [num_ues, num_sites] float64 what each UE's links to each site gain [dB] (the measured
        local shadowing; it then evolves with the UE's movement like the rest of the twin's shadow fading).
        Corrections accumulate; clones made afterwards carry them."""
        self._require()
        n = self.cfg.num_cells
        p = np.asarray(power_db, dtype=np.float64)
        t = np.asarray(tilt_deg, dtype=np.float64)
        if p.shape != (n,) or t.shape != (n,) or not (np.all(np.isfinite(p)) and np.all(np.isfinite(t))):
            raise ConfigError(f"calibration corrections must be finite [{n}] arrays, got {p.shape} / {t.shape}")
        if shadowing_db is not None:
            sh = np.asarray(shadowing_db, dtype=np.float64)
            shape = (self._s.sf_db.shape[0], len(self.drop.site_xy))
            if sh.shape != shape or not np.all(np.isfinite(sh)):
                raise ConfigError(f"shadowing corrections must be a finite {shape} array, got {sh.shape}")
            self._s.sf_db = self._s.sf_db - sh[:, self.drop.cell_site]
        self.power_corr_db = self.power_corr_db + p
        self.tilt_corr_deg = self.tilt_corr_deg + t
        self._s.rsrp_dbm = self._radio(self._mods())["rsrp_dbm"]

    def hold_serving(self, ues: np.ndarray, margin_db: float) -> np.ndarray:
        """Make this twin's radio agree with the network's handover state: each of ``ues`` ([k] int64, connected
        UEs whose serving cell the network reported, e.g. after ``adopt_sessions``) has its link to its serving
        cell's site raised until no cell of another site meets the A3 entry condition against the serving cell
        (``M_n + CIO_s > M_s + Hys_s``, ``handover``) with less than ``margin_db`` [dB] to spare. A UE the network
        still serves from a cell has not met that condition for a TTT; in a twin whose UEs stand elsewhere, or
        whose links carry other shadow fading, it can, and the twin then hands the UE over within its first ROP
        (dev-0223: a UE the network served from the overloaded cell heard another site's cell 5.4 dB stronger in
        the verifier's twin). A co-sited cell is no rival: raising the site's link lifts it too. Returns [k]
        float64 the raise [dB] per UE (0: already consistent). Only links are changed; the UEs stay where they
        are."""
        self._require()
        if not np.isfinite(margin_db) or margin_db < 0:
            raise ConfigError(f"margin_db must be a finite value >= 0, got {margin_db!r}")
        ues = np.asarray(ues, dtype=np.int64).reshape(-1)
        num_ues = self._s.sf_db.shape[0]
        if ues.size and (ues.min() < 0 or ues.max() >= num_ues):
            raise ConfigError(f"UE indices must be in [0, {num_ues}), got {ues.min()}..{ues.max()}")
        serving = self._s.ho.serving[ues]
        if (serving < 0).any():
            raise ConfigError(f"UE {int(ues[np.argmax(serving < 0)])} is not connected; only served UEs can be held")
        mods = self._mods()  # the radio now, as ``calibrate`` computes it (changes no state, only fills caches)
        r = self._radio(mods)
        cio, hys, _ = self._handover_params(mods)
        rsrp = r["rsrp_dbm"][ues]  # [k, num_cells] dBm
        site = np.asarray(self.drop.cell_site, dtype=np.int64)
        # rivals: on-air cells of another site (a co-sited cell shares the link a raise would lift)
        other = (site[None, :] != site[serving][:, None]) & np.asarray(r["on_air"], bool)[None, :]
        rows = np.arange(ues.size)
        rival = np.where(other, rsrp, -np.inf).max(axis=1, initial=-np.inf)
        excess = rival + cio[serving] - (rsrp[rows, serving] + hys[serving]) + margin_db
        raise_db = np.where(np.isfinite(excess), np.maximum(excess, 0.0), 0.0)
        if raise_db.any():
            links = np.zeros((num_ues, len(self.drop.site_xy)))
            links[ues, site[serving]] = raise_db
            self.calibrate(np.zeros(self.cfg.num_cells), np.zeros(self.cfg.num_cells), links)
        return raise_db


def _check(name: str, value: float) -> None:
    if not np.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a finite value >= 0, got {value!r}")


def imperfect_twin(scenario: ScenarioConfig | str, seed: int, rng: np.random.Generator, *,
                   power_err_db: float = DEFAULT_POWER_ERR_DB, tilt_err_deg: float = DEFAULT_TILT_ERR_DEG,
                   sf_err_db: float = DEFAULT_SF_ERR_DB,
                   calibration_rng: np.random.Generator | None = None,
                   options: dict[str, Any] | None = None) -> ImperfectTwin:
    """Build and reset an imperfect twin of ``scenario`` for the network drawn with ``seed``.

    ``rng`` draws the propagation perturbation and the twin's own random streams; ``calibration_rng`` (default:
    ``rng``) draws the per-cell calibration errors, so a caller can keep one set of errors per network while
    varying the propagation between what-if twins. ``options`` is passed to ``reset`` (e.g. faults)."""
    cfg = get_scenario(scenario) if isinstance(scenario, str) else scenario
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative int, got {seed!r}")
    if not isinstance(rng, np.random.Generator):
        raise ConfigError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    _check("power_err_db", power_err_db)
    _check("tilt_err_deg", tilt_err_deg)
    _check("sf_err_db", sf_err_db)
    crng = calibration_rng if calibration_rng is not None else rng
    n = cfg.num_cells
    p_err = crng.uniform(-power_err_db, power_err_db, n)
    t_err = crng.uniform(-tilt_err_deg, tilt_err_deg, n)
    twin = ImperfectTwin(cfg, p_err, t_err)
    twin.reset(seed=int(seed), options=options)
    s, d = twin._s, twin.drop
    # own random streams (never the true network's): mobility, traffic, handover, UE activity and demand
    own = int(rng.integers(0, 2**31 - 1))
    s.rngs = spawn_rngs(own, TWIN_STREAMS)
    u = s.ue_xyz.shape[0]
    s.active = s.rngs["ue"].random(u) < cfg.traffic.active_probability
    s.heading = s.rngs["ue"].uniform(0, 2 * np.pi, u)
    rate = traffic.draw_session_rates(u, cfg.traffic.mean_dl_demand_mbps, cfg.traffic.demand_sigma, s.rngs["ue"])
    crowd = np.arange(u) >= u - cfg.crowd_ues
    twin._rate_dl = np.where(crowd, rate * cfg.crowd_demand_factor, rate)
    # perturbed shadow fading: one error per (UE, site), shared by the site's sectors
    if sf_err_db > 0:
        err = rng.normal(0.0, sf_err_db, (u, len(d.site_xy)))  # [num_ues, num_sites] dB
        s.sf_db = s.sf_db + err[:, d.cell_site]  # [num_ues, num_cells]
    s.gain_cache = None
    return twin
