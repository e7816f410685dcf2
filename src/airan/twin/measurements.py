"""UE measurement reports (MR): what connected UEs tell the network about every cell they hear.

In a live network each RRC-connected UE reports the SS-RSRP of its serving cell and of the strongest
neighbours it measures (3GPP TS 38.331 ``maxCellReport`` = 8 cells; periodic reporting), with the accuracy
and resolution of TS 38.133 (1 dB steps over [-156, -31] dBm). Operators collect these reports per UE trace
(or as MDT); coverage-optimisation SON and tilt troubleshooting are built on them because they sample every
cell from *all* the UEs that hear it, not only from the few it serves.

``measurement_report`` turns the twin's true large-scale RSRP of one ROP into such a report: measurement error
(Gaussian, ``noise_db``), quantisation, the reporting floor, serving cell + strongest others, connected UEs
only. Pure function; the twin draws its noise from its own ``measurement`` random stream, so the reports never
shift another random stream (KPIs are identical with or without them).

``sinr_report`` is the SINR each connected UE reports of its serving cell (NR SS-SINR, TS 38.215 5.1.5, reported
over -23..40 dB in 0.5 dB steps, TS 38.133 10.1.16; CSI reports carry the same information as CQI): unlike an
RSRP it sees interference, so it tells a UE that could decode from one drowned by a neighbour or an interferer.
The twin reports the DL SINR it computes for the serving link plus a Gaussian error, from its own stream.

``location_report`` is the position that comes with a connected UE's reports (immediate MDT with a GNSS fix,
TS 37.320, or network positioning): the true position plus a Gaussian error per coordinate, from the twin's
``location`` stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airan.core.errors import ConfigError, ShapeError


@dataclass(frozen=True)
class MeasurementConfig:
    """max_cells: cells per report, serving included (TS 38.331 maxCellReport); noise_db: std of the
    RSRP measurement error [dB] (TS 38.133 intra-frequency relative accuracy is +-2..3 dB at the limits);
    resolution_db: reporting step [dB]; floor_dbm / ceiling_dbm: reporting range [dBm];
    location_noise_m: std of each coordinate of the UE location estimate that comes with the reports
    (``location_report``: immediate MDT with a GNSS fix, TS 37.320, or network positioning) [m];
    sinr_noise_db / sinr_resolution_db: std of the SINR measurement error and the reporting step [dB]
    (``sinr_report``); sinr_floor_db / sinr_ceiling_db: the SS-SINR reporting range [dB] (TS 38.133)."""

    max_cells: int = 8
    noise_db: float = 1.5
    resolution_db: float = 1.0
    floor_dbm: float = -156.0
    ceiling_dbm: float = -31.0
    location_noise_m: float = 10.0
    sinr_noise_db: float = 2.0
    sinr_resolution_db: float = 0.5
    sinr_floor_db: float = -23.0
    sinr_ceiling_db: float = 40.0

    def __post_init__(self) -> None:
        if isinstance(self.max_cells, bool) or not isinstance(self.max_cells, int) or self.max_cells < 1:
            raise ConfigError(f"max_cells must be an integer >= 1, got {self.max_cells!r}")
        if not np.isfinite(self.noise_db) or self.noise_db < 0:
            raise ConfigError(f"noise_db must be a finite value >= 0, got {self.noise_db!r}")
        if not np.isfinite(self.resolution_db) or self.resolution_db < 0:
            raise ConfigError(f"resolution_db must be a finite value >= 0, got {self.resolution_db!r}")
        if not np.isfinite(self.location_noise_m) or self.location_noise_m < 0:
            raise ConfigError(f"location_noise_m must be a finite value >= 0, got {self.location_noise_m!r}")
        if not self.floor_dbm < self.ceiling_dbm:
            raise ConfigError(f"floor_dbm must be below ceiling_dbm, got {self.floor_dbm!r} / {self.ceiling_dbm!r}")
        for name in ("sinr_noise_db", "sinr_resolution_db"):
            v = getattr(self, name)
            if not np.isfinite(v) or v < 0:
                raise ConfigError(f"{name} must be a finite value >= 0, got {v!r}")
        if not self.sinr_floor_db < self.sinr_ceiling_db:
            raise ConfigError(f"sinr_floor_db must be below sinr_ceiling_db, got {self.sinr_floor_db!r} / "
                              f"{self.sinr_ceiling_db!r}")


def measurement_report(rsrp_dbm: np.ndarray, serving: np.ndarray, connected: np.ndarray, on_air: np.ndarray,
                       cfg: MeasurementConfig, rng: np.random.Generator) -> np.ndarray:
    """One ROP of measurement reports: [num_ues, num_cells] float64 reported SS-RSRP [dBm], NaN where a UE
    reports nothing about a cell (not connected, cell off air, below the floor, not among its strongest).

    rsrp_dbm  : [num_ues, num_cells] float64 true per-RE RSRP [dBm] (large scale: path loss, shadowing, antenna)
    serving   : [num_ues] int64 serving cell (-1: none)
    connected : [num_ues] bool, RRC-connected UEs (they report)
    on_air    : [num_cells] bool, cells radiating reference signals
    The serving cell is always reported when on air; the other ``max_cells - 1`` slots go to the strongest
    measured others. Draws one normal per (UE, cell) from ``rng`` every call (the stream advances the same
    whatever is reported)."""
    rsrp = np.asarray(rsrp_dbm, float)
    if rsrp.ndim != 2:
        raise ShapeError(f"rsrp_dbm must be [num_ues, num_cells], got shape {rsrp.shape}")
    u, c = rsrp.shape
    serving = np.asarray(serving, np.int64)
    connected = np.asarray(connected, bool)
    on_air = np.asarray(on_air, bool)
    if serving.shape != (u,) or connected.shape != (u,) or on_air.shape != (c,):
        raise ShapeError(f"serving/connected must be [{u}] and on_air [{c}], got {serving.shape}, "
                         f"{connected.shape}, {on_air.shape}")
    meas = rsrp + rng.normal(0.0, cfg.noise_db, (u, c)) if cfg.noise_db > 0 else rsrp.copy()
    if cfg.resolution_db > 0:
        meas = np.round(meas / cfg.resolution_db) * cfg.resolution_db
    audible = on_air[None, :] & (meas >= cfg.floor_dbm)
    meas = np.minimum(meas, cfg.ceiling_dbm)
    rows = np.arange(u)
    is_srv = np.zeros((u, c), bool)
    has = serving >= 0
    is_srv[rows[has], serving[has]] = True
    # rank the audible non-serving cells per UE; keep the strongest max_cells - 1
    others = np.where(audible & ~is_srv, meas, -np.inf)
    keep = np.zeros((u, c), bool)
    k = min(cfg.max_cells - 1, c)
    if k > 0:
        top = np.argsort(-others, axis=1, kind="stable")[:, :k]
        np.put_along_axis(keep, top, True, axis=1)
    keep &= np.isfinite(others)
    keep |= is_srv & audible
    keep &= connected[:, None]
    return np.where(keep, meas, np.nan)


def sinr_report(sinr_db: np.ndarray, connected: np.ndarray, cfg: MeasurementConfig,
                rng: np.random.Generator) -> np.ndarray:
    """One ROP of SINR reports: [num_ues] float64 each connected UE's reported SINR of its serving cell [dB],
    NaN where the UE is not connected or has no serving link.

    sinr_db   : [num_ues] float64 true DL SINR of each UE towards its serving cell [dB] (NaN: none)
    connected : [num_ues] bool, RRC-connected UEs (they report)
    Adds a Gaussian error of ``cfg.sinr_noise_db``, rounds to ``cfg.sinr_resolution_db`` and clips to
    [``sinr_floor_db``, ``sinr_ceiling_db``]. Draws one normal per UE from ``rng`` every call (the stream advances
    the same whoever is connected)."""
    sinr = np.asarray(sinr_db, float)
    connected = np.asarray(connected, bool)
    if sinr.ndim != 1 or connected.shape != sinr.shape:
        raise ShapeError(f"sinr_db and connected must both be [num_ues], got {sinr.shape} and {connected.shape}")
    meas = sinr + rng.normal(0.0, 1.0, sinr.shape) * cfg.sinr_noise_db
    if cfg.sinr_resolution_db > 0:
        meas = np.round(meas / cfg.sinr_resolution_db) * cfg.sinr_resolution_db
    meas = np.clip(meas, cfg.sinr_floor_db, cfg.sinr_ceiling_db) + 0.0  # + 0.0: no signed zeros
    return np.where(connected & np.isfinite(sinr), meas, np.nan)


def location_report(ue_xy_m: np.ndarray, connected: np.ndarray, cfg: MeasurementConfig,
                    rng: np.random.Generator) -> np.ndarray:
    """One ROP of UE location estimates: [num_ues, 2] float64 [m], NaN where the UE is not connected.

    ue_xy_m   : [num_ues, 2] float64 true UE positions [m]
    connected : [num_ues] bool, RRC-connected UEs (their reports carry a location, as immediate MDT does)
    Each coordinate gets a Gaussian error of ``cfg.location_noise_m``. Draws two normals per UE from ``rng``
    every call (the stream advances the same whoever is connected)."""
    xy = np.asarray(ue_xy_m, float)
    connected = np.asarray(connected, bool)
    if xy.ndim != 2 or xy.shape[1] != 2 or connected.shape != (xy.shape[0],):
        raise ShapeError(f"ue_xy_m must be [num_ues, 2] and connected [num_ues], got {xy.shape} and "
                         f"{connected.shape}")
    err = rng.normal(0.0, 1.0, xy.shape) * cfg.location_noise_m
    return np.where(connected[:, None], xy + err, np.nan)
