"""Calibrating the operator's twin from measurement reports, before anything goes wrong.

The verifier's imperfect twin radiates each cell with a hidden power error (uniform +-2 dB) and tilt error
(+-1 deg), one set per network (``airan.twin.imperfect``): every what-if twin of an episode shares it, so the
spread of the verifier's rollouts covers traffic and propagation randomness but not the twin's own calibration,
and when the twins agree they can all be wrong together. Operators calibrate a planning model with drive tests
or MDT-located measurement reports; here the UE trace index plays the role of the location (the twin's UE i
starts where the network's UE i is: same drop geometry), and the reports of the first ROPs of an episode, before
the monitor raised anything, are the calibration data.

Model, per cell c and report of UE i at ROP r (the cell among the UE's ``top_k`` strongest per the twin, and
reported): ``d = MR[r, i, c] - model[i, c] = a_c + b_c * g[i, c] + e``, with ``model`` the twin's predicted
RSRP [dBm] at its start, ``g`` its slope with the cell's tilt [dB/deg] (from the twin itself) and ``e`` the
shadow-fading perturbation, measurement error and UE movement (``noise_db``). ``a_c`` [dB] and ``b_c`` [deg] are
the corrections (``ImperfectTwin.calibrate``), fitted by ridge regression with zero-mean priors of the twin's
known calibration accuracy (``prior_power_db``, ``prior_tilt_deg``: the std of U(+-2 dB) and U(+-1 deg)), then
refitted without residuals beyond ``clip_sigma`` noise std. The pairs used are those where the cell is among the
UE's ``top_k`` by the twin's path loss, antenna and power alone: a selection on the reported or the modelled
RSRP would pick the links whose shadowing error happens to be favourable and bias ``a_c``. By default the fit
is joint with a shadowing effect per (UE, site) link (``fit_with_links``), which sharpens the sector offsets
(1.16 -> 0.58 dB rms over 40 dev episodes against 0.81 dB per cell alone, ``bench/twin_calibration.py``).
Both fits also give their exact Gaussian posterior (``joint_posterior``, ``cell_posterior``:
``CorrectionPosterior``), from which the verifier can give each what-if twin its own draw
(``VerifierConfig.calibration_draws``). On the training split the joint fit's posterior is over-confident: the
z-scores of its residual errors have rms 1.16 (power) and 1.44 (tilt) (``bench/twin_calibration.py``), since the
model takes every report's error as independent and the UEs' movement and the tilt slope's curvature are not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import spsolve

from airan.core.errors import ConfigError, ShapeError


@dataclass(frozen=True)
class CalibrationConfig:
    """rops: ROPs of reports used, from the episode start (and only before the first detection); top_k: a
    report counts when the cell is among the UE's top_k strongest in the twin without shadowing; noise_db: std of a
    residual around the model; prior_power_db / prior_tilt_deg: prior std of the corrections; clip_sigma:
    residuals dropped in the refit [noise std]; min_reports: fewer reports leave a cell uncorrected;
    links: fit a shadowing error per (UE, site) too (``fit_with_links``, prior std ``link_std_db``, the
    imperfect twin's shadow-fading perturbation; what is left, ``link_noise_db``: measurement error,
    quantisation, movement; 3.5 dB as for the per-cell fit, 2 dB fitted no better: 0.64 vs 0.62 dB) and
    correct the twin's shadowing of those links with it.
    On 14 training episodes (4 ROPs, top 8): power error rms 1.16 -> 0.85 dB per cell alone, 0.62 with links;
    tilt 0.57 -> 0.28 / 0.22 deg; the reported links' shadowing error 4.7 -> 2.7 dB."""

    rops: int = 4
    top_k: int = 8
    noise_db: float = 3.5
    prior_power_db: float = 2.0 / np.sqrt(3.0)
    prior_tilt_deg: float = 1.0 / np.sqrt(3.0)
    clip_sigma: float = 3.0
    min_reports: int = 5
    links: bool = True
    link_std_db: float = 3.0
    link_noise_db: float = 3.5

    def __post_init__(self) -> None:
        if self.rops < 1 or self.top_k < 1 or self.min_reports < 1:
            raise ConfigError(f"rops, top_k and min_reports must be >= 1, got {self.rops!r}/{self.top_k!r}/"
                              f"{self.min_reports!r}")
        for name in ("noise_db", "prior_power_db", "prior_tilt_deg", "clip_sigma", "link_std_db", "link_noise_db"):
            v = getattr(self, name)
            if not np.isfinite(v) or v <= 0:
                raise ConfigError(f"{name} must be a finite value > 0, got {v!r}")


def report_residuals(reports: Sequence[np.ndarray], model_dbm: np.ndarray, slope_db_per_deg: np.ndarray,
                     top_k: int, rank_dbm: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Residuals of ``reports`` (each [num_ues, num_cells] float64 reported RSRP [dBm], NaN = not reported)
    against ``model_dbm`` [num_ues, num_cells] (the twin's predicted RSRP [dBm]) on the pairs where the cell
    is among the UE's ``top_k`` strongest by ``rank_dbm`` [num_ues, num_cells] (default: the model; pass the
    twin's RSRP without shadowing so that the selection depends on neither the twin's nor the network's
    shadow fading, which would bias the residuals). Returns (residual_db [N] float64, cell [N] int64,
    slope [N] float64: ``slope_db_per_deg`` [num_ues, num_cells] at those pairs, ue [N] int64)."""
    model = np.asarray(model_dbm, dtype=np.float64)
    slope = np.asarray(slope_db_per_deg, dtype=np.float64)
    order = model if rank_dbm is None else np.asarray(rank_dbm, dtype=np.float64)
    if model.ndim != 2 or slope.shape != model.shape or order.shape != model.shape:
        raise ShapeError(f"model, slope and rank must be the same [num_ues, num_cells], got {model.shape} / "
                         f"{slope.shape} / {order.shape}")
    k = min(int(top_k), model.shape[1])
    rank = np.argsort(np.argsort(-np.where(np.isfinite(order), order, -np.inf), axis=1), axis=1)
    top = rank < k  # [num_ues, num_cells]
    res, cells, slopes, ues = [], [], [], []
    for mr in reports:
        mr = np.asarray(mr, dtype=np.float64)
        if mr.shape != model.shape:
            raise ShapeError(f"a report must be {model.shape}, got {mr.shape}")
        ok = top & np.isfinite(mr) & np.isfinite(model)
        ue, cell = np.nonzero(ok)
        res.append(mr[ue, cell] - model[ue, cell])
        cells.append(cell)
        slopes.append(slope[ue, cell])
        ues.append(ue)
    if not res:
        return np.zeros(0), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    return (np.concatenate(res), np.concatenate(cells).astype(np.int64), np.concatenate(slopes),
            np.concatenate(ues).astype(np.int64))


@dataclass(frozen=True)
class CorrectionPosterior:
    """The Gaussian posterior of a calibration fit (the model in the module docstring; exact for the ridge fit's
    linear-Gaussian model, given the kept residuals). ``power_db`` / ``tilt_deg`` [C] float64 the MAP corrections
    [dB] / [deg] (0 for cells with fewer than ``min_reports`` reports), ``reports`` [C] int64, ``cov`` [2C, 2C]
    float64 the posterior covariance of (power_db..., tilt_deg...) [dB^2, dB deg, deg^2] (a cell without enough
    reports keeps its prior variance: nothing was learnt about it), ``link_db`` [L] float64 the MAP link
    shadowing corrections [dB] (empty for the per-cell fit) and ``link_gain`` [L, 2C] float64 (sparse) how the
    links' conditional mean moves with the cell corrections (the links given the cells are Gaussian with mean
    ``link_db + link_gain @ (theta - theta_map)``)."""

    power_db: np.ndarray
    tilt_deg: np.ndarray
    reports: np.ndarray
    cov: np.ndarray
    link_db: np.ndarray
    link_gain: sparse.csr_matrix | None = None

    @property
    def sd_power_db(self) -> np.ndarray:
        """[C] float64 posterior std of each cell's power correction [dB]."""
        return np.sqrt(np.diag(self.cov)[: self.power_db.size])

    @property
    def sd_tilt_deg(self) -> np.ndarray:
        """[C] float64 posterior std of each cell's tilt correction [deg]."""
        return np.sqrt(np.diag(self.cov)[self.power_db.size:])

    def draw(self, rng: np.random.Generator, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One draw (power_db [C], tilt_deg [C], link_db [L]) of the corrections from the posterior, its
        covariance scaled by ``scale``^2 (> 1 widens a posterior that proved over-confident); the links at their
        conditional mean given the drawn cells. ``scale`` 0 returns the MAP."""
        if not np.isfinite(scale) or scale < 0:
            raise ConfigError(f"posterior draw scale must be a finite value >= 0, got {scale!r}")
        theta_map = np.concatenate([self.power_db, self.tilt_deg])
        cov = 0.5 * (self.cov + self.cov.T)
        w, v = np.linalg.eigh(cov)  # PSD up to rounding: an eigen-root does not fail where Cholesky might
        step = scale * (v * np.sqrt(np.clip(w, 0.0, None))) @ rng.standard_normal(theta_map.size)
        c = self.power_db.size
        links = self.link_db if self.link_gain is None else self.link_db + self.link_gain @ step
        return self.power_db + step[:c], self.tilt_deg + step[c:], np.asarray(links, dtype=np.float64)


def _check_cells(c: np.ndarray, num_cells: int) -> None:
    if c.size and (c.min() < 0 or c.max() >= num_cells):
        raise ConfigError(f"cell indices must be in [0, {num_cells}), got {c.min()}..{c.max()}")


def cell_posterior(residual_db: np.ndarray, cell: np.ndarray, slope_db_per_deg: np.ndarray, num_cells: int,
                   cfg: CalibrationConfig | None = None) -> CorrectionPosterior:
    """The per-cell fit (``fit_corrections``) with its posterior: each cell's (power, tilt) pair independently,
    a 2x2 covariance block per cell."""
    cfg = cfg or CalibrationConfig()
    d = np.asarray(residual_db, dtype=np.float64)
    c = np.asarray(cell, dtype=np.int64)
    g = np.asarray(slope_db_per_deg, dtype=np.float64)
    if not (d.shape == c.shape == g.shape) or d.ndim != 1:
        raise ShapeError(f"residual, cell and slope must be equal [N] arrays, got {d.shape}/{c.shape}/{g.shape}")
    _check_cells(c, num_cells)
    ok = np.isfinite(d) & np.isfinite(g)
    d, c, g = d[ok], c[ok], g[ok]
    power, tilt = np.zeros(num_cells), np.zeros(num_cells)
    cov = np.diag(np.concatenate([np.full(num_cells, cfg.prior_power_db ** 2),
                                  np.full(num_cells, cfg.prior_tilt_deg ** 2)]))
    n = np.bincount(c, minlength=num_cells).astype(np.int64)
    s2 = cfg.noise_db ** 2
    prior = np.array([1.0 / cfg.prior_power_db ** 2, 1.0 / cfg.prior_tilt_deg ** 2])
    for cc in np.nonzero(n >= cfg.min_reports)[0]:
        m = c == cc
        dd, gg = d[m], g[m]
        keep = np.ones(dd.size, bool)
        for _ in range(2):
            x = np.stack([np.ones(int(keep.sum())), gg[keep]], axis=1)  # [n, 2]
            a = x.T @ x / s2 + np.diag(prior)
            coef = np.linalg.solve(a, x.T @ dd[keep] / s2)
            keep = np.abs(dd - coef[0] - coef[1] * gg) <= cfg.clip_sigma * cfg.noise_db
            if keep.sum() < cfg.min_reports:
                break
        power[cc], tilt[cc] = coef
        idx = np.array([cc, num_cells + cc])
        cov[np.ix_(idx, idx)] = np.linalg.inv(a)
    return CorrectionPosterior(power, tilt, n, cov, np.zeros(0))


def fit_corrections(residual_db: np.ndarray, cell: np.ndarray, slope_db_per_deg: np.ndarray, num_cells: int,
                    cfg: CalibrationConfig | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-cell (power_db [C], tilt_deg [C], reports [C] int64) corrections from residuals [N] (see module
    docstring); cells with fewer than ``cfg.min_reports`` residuals get 0, 0."""
    post = cell_posterior(residual_db, cell, slope_db_per_deg, num_cells, cfg)
    return post.power_db, post.tilt_deg, post.reports


def joint_posterior(residual_db: np.ndarray, cell: np.ndarray, slope_db_per_deg: np.ndarray, link: np.ndarray,
                    num_cells: int, num_links: int, cfg: CalibrationConfig | None = None) -> CorrectionPosterior:
    """The joint fit (``fit_with_links``) with its posterior. Every residual has one link, so the links' block
    of the precision matrix is diagonal and the cells' posterior covariance is the inverse of its Schur
    complement, a dense [2C, 2C] solve however many links there are."""
    cfg = cfg or CalibrationConfig()
    d = np.asarray(residual_db, dtype=np.float64)
    c = np.asarray(cell, dtype=np.int64)
    g = np.asarray(slope_db_per_deg, dtype=np.float64)
    k = np.asarray(link, dtype=np.int64)
    if not (d.shape == c.shape == g.shape == k.shape) or d.ndim != 1:
        raise ShapeError(f"residual, cell, slope and link must be equal [N] arrays, got {d.shape}/{c.shape}/"
                         f"{g.shape}/{k.shape}")
    if c.size and (c.min() < 0 or c.max() >= num_cells or k.min() < 0 or k.max() >= num_links):
        raise ConfigError(f"cell / link indices out of [0, {num_cells}) / [0, {num_links})")
    n = np.bincount(c, minlength=num_cells).astype(np.int64)
    ok = np.isfinite(d) & np.isfinite(g) & (n[c] >= cfg.min_reports)
    prior = np.concatenate([np.full(num_cells, cfg.prior_power_db ** -2), np.full(num_cells, cfg.prior_tilt_deg ** -2),
                            np.full(num_links, cfg.link_std_db ** -2)])
    nc = 2 * num_cells
    if not ok.any():
        return CorrectionPosterior(np.zeros(num_cells), np.zeros(num_cells), n, np.diag(1.0 / prior[:nc]),
                                   np.zeros(num_links), sparse.csr_matrix((num_links, nc)))
    keep = ok.copy()
    for _ in range(2):
        rows = np.nonzero(keep)[0]
        m = rows.size
        x = sparse.csr_matrix((np.concatenate([np.ones(m), g[rows], np.ones(m)]),
                               (np.tile(np.arange(m), 3), np.concatenate([c[rows], num_cells + c[rows],
                                                                          2 * num_cells + k[rows]]))),
                              shape=(m, 2 * num_cells + num_links))
        a = ((x.T @ x) / cfg.link_noise_db ** 2 + sparse.diags(prior)).tocsc()
        theta = spsolve(a, x.T @ d[rows] / cfg.link_noise_db ** 2)
        pred = theta[c] + theta[num_cells + c] * g + theta[2 * num_cells + k]
        new = ok & (np.abs(d - pred) <= cfg.clip_sigma * cfg.link_noise_db)
        if new.sum() < cfg.min_reports or np.array_equal(new, keep):
            break
        keep = new
    a_cc = a[:nc, :nc].toarray()
    a_lc = a[nc:, :nc].tocsr()  # [L, 2C]
    d_ll = a[nc:, nc:].diagonal()  # [L] the links' block is diagonal (one link per residual)
    gain = sparse.diags(-1.0 / d_ll) @ a_lc  # d(link mean) / d(theta_cells)
    schur = a_cc + (a_lc.T @ gain).toarray()
    cov = np.linalg.inv(0.5 * (schur + schur.T))
    power, tilt, links = theta[:num_cells], theta[num_cells:nc], theta[nc:]
    power = np.where(n >= cfg.min_reports, power, 0.0)
    tilt = np.where(n >= cfg.min_reports, tilt, 0.0)
    return CorrectionPosterior(power, tilt, n, cov, links, gain.tocsr())


def fit_with_links(residual_db: np.ndarray, cell: np.ndarray, slope_db_per_deg: np.ndarray, link: np.ndarray,
                   num_cells: int, num_links: int, cfg: CalibrationConfig | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The joint fit: ``d = a_c + b_c g + u_l + e`` with a random effect ``u_l`` ~ N(0, ``cfg.link_std_db``^2) per
    link ``l`` ([N] int64 in [0, num_links): one per (UE, site), the shadow-fading error the co-sited cells
    of a UE share) and ``e`` ~ N(0, ``cfg.link_noise_db``^2) the rest. The differences between the sectors of a site
    that one UE reports carry no shadow-fading error, so the sector offsets come out sharper than from
    ``fit_corrections``. Returns (power_db [C], tilt_deg [C], reports [C] int64, link_db [num_links]) (MAP
    estimates; cells with fewer than ``cfg.min_reports`` residuals get 0, 0). ``joint_posterior`` adds the
    posterior covariance."""
    post = joint_posterior(residual_db, cell, slope_db_per_deg, link, num_cells, num_links, cfg)
    return post.power_db, post.tilt_deg, post.reports, post.link_db


# The tilt errors at which the twin's own response stands in for the linear slope when a pattern test scans every
# cell (``PatternTestConfig.tilt_grid_deg``): the midpoints of four equal bins of the twin's U(+-1 deg) error.
TILT_GRID_DEG = (-0.75, -0.25, 0.25, 0.75)


@dataclass(frozen=True)
class PatternTestConfig:
    """The fault-pattern test (``pattern_log_lr``). power_sd_db / tilt_sd_deg: std of the twin's hidden power and
    tilt error of each cell (the twin's calibration accuracy: U(+-2 dB), U(+-1 deg)); noise_db: std of one report's
    error that the co-sited difference leaves (measurement error and 1-dB quantisation); model_noise_db: what a
    UE's average residual keeps of the rest (its movement over the ROPs); slope_noise_deg: a further independent
    error per UE of this many deg times its tilt slopes (the pattern's curvature, which the linear tilt error model
    misses where the vertical pattern is steep: 1 deg cut the largest ratio on healthy stadium windows 76.6 ->
    28.0 nats, but the cold downtilts' too; 0 by default, docs/healing_journal.md); tilt_grid_deg: tilt errors
    [deg] at which the twin's own response stands in for the linear slope (``pattern_log_lr``'s
    ``tilt_response_db``; equal weights, so the midpoints of equal bins of the error's range: (-0.75, -0.25, 0.25,
    0.75) for U(+-1 deg)); empty: the linear model; min_ues: fewer usable UEs and the test is not made;
    position_draws: the UEs' movement over the report ROPs as a further independent error per UE, from the twin's
    own response at this many positions around each UE (``pattern_log_lr``'s ``position_response_db``; a vehicle
    22 m from a site swings through its sectors within 3 ROPs, and one such UE carried 29-33 of the 25-30 nats a
    healthy cell read on seeds 7360, 7361 and 7365); 0: none."""

    power_sd_db: float = 2.0 / np.sqrt(3.0)
    tilt_sd_deg: float = 1.0 / np.sqrt(3.0)
    noise_db: float = 3.0
    model_noise_db: float = 2.0
    slope_noise_deg: float = 0.0
    tilt_grid_deg: tuple[float, ...] = ()
    min_ues: int = 5
    position_draws: int = 0

    def __post_init__(self) -> None:
        for name in ("power_sd_db", "tilt_sd_deg", "noise_db", "model_noise_db"):
            v = getattr(self, name)
            if not np.isfinite(v) or v <= 0:
                raise ConfigError(f"{name} must be a finite value > 0, got {v!r}")
        if not np.isfinite(self.slope_noise_deg) or self.slope_noise_deg < 0:
            raise ConfigError(f"slope_noise_deg must be a finite value >= 0, got {self.slope_noise_deg!r}")
        if self.min_ues < 1:
            raise ConfigError(f"min_ues must be >= 1, got {self.min_ues!r}")
        if isinstance(self.position_draws, bool) or not isinstance(self.position_draws, int) or \
                self.position_draws < 0:
            raise ConfigError(f"position_draws must be an integer >= 0, got {self.position_draws!r}")
        if not all(np.isfinite(t) and t != 0 for t in self.tilt_grid_deg):
            raise ConfigError(f"tilt_grid_deg must hold finite non-zero tilt errors, got {self.tilt_grid_deg!r}")


def pattern_log_lr(reports: Sequence[np.ndarray], model_dbm: np.ndarray, slope_db_per_deg: np.ndarray, cell: int,
                   mates: Sequence[int], patterns_db: dict[str, np.ndarray], top_k: int,
                   rank_dbm: np.ndarray | None = None, cfg: PatternTestConfig | None = None,
                   tilt_response_db: np.ndarray | None = None,
                   position_response_db: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Which fault of ``cell`` best explains what the UEs report of it: per hypothesis the log likelihood ratio
    [nats] of the reports under the fault against no fault, [num_severities] float64 one per row of its pattern
    (``marginal_log_lr`` takes the severity out).

    ``reports``: per ROP [num_ues, num_cells] float64 reported RSRP [dBm] (NaN = not reported); ``model_dbm`` /
    ``slope_db_per_deg``: the twin's predicted RSRP [dBm] and its slope with each cell's tilt [dB/deg], both
    [num_ues, num_cells], with no fault; ``mates``: the cells co-sited with ``cell``; ``patterns_db``: hypothesis ->
    [num_severities, num_ues] float64 how the fault changes what each UE receives from ``cell`` [dB]; ``top_k`` /
    ``rank_dbm``: the UEs used are those with ``cell`` among their ``top_k`` by ``rank_dbm`` (default the model),
    as in ``report_residuals``.

    The statistic is, per UE and ROP, the cell's residual (report - model) minus the mean residual of the mates
    that UE reported in that ROP, averaged over the ROPs: co-sited cells share a UE's shadow fading in the
    network and in the twin, so the difference carries none of it. What it keeps of the twin's own error is the
    cell's and the mates' hidden power and tilt errors (``cfg.power_sd_db``, ``cfg.tilt_sd_deg``; a tilt error acts
    through each UE's slope), which enter the covariance as random effects, plus independent noise per UE
    (``cfg.noise_db`` over sqrt(ROPs) and ``cfg.model_noise_db``). ``tilt_response_db`` [G, num_ues, num_cells]
    (optional): how each cell's RSRP moves at G equally likely tilt errors (the twin's own prediction, e.g. at
    ``cfg.tilt_grid_deg``); the tilt errors' covariance is then the mean outer product of those responses instead
    of the slope's linear one, which misses the curvature of a steep vertical pattern. ``position_response_db``
    [P, num_ues, num_cells] (optional): how each UE's RSRP from every cell moves at P equally likely positions the
    UE may have moved to (the twin's own prediction); the spread of the UE's statistic over them is added to its
    independent noise. {} when fewer than ``cfg.min_ues`` UEs qualify or the cell has no mate."""
    cfg = cfg or PatternTestConfig()
    model = np.asarray(model_dbm, dtype=np.float64)
    slope = np.asarray(slope_db_per_deg, dtype=np.float64)
    if model.ndim != 2 or slope.shape != model.shape:
        raise ShapeError(f"model and slope must be the same [num_ues, num_cells], got {model.shape} / {slope.shape}")
    num_ues, num_cells = model.shape
    mates = [int(m) for m in mates if int(m) != int(cell)]
    if not 0 <= int(cell) < num_cells or any(not 0 <= m < num_cells for m in mates):
        raise ConfigError(f"cell {cell!r} and mates {mates!r} must be in [0, {num_cells})")
    for name, p in patterns_db.items():
        if np.ndim(p) != 2 or np.shape(p)[1] != num_ues or not np.all(np.isfinite(p)):
            raise ShapeError(f"pattern {name!r} must be a finite [num_severities, {num_ues}] array, got "
                             f"{np.shape(p)}")
    bad = [np.shape(r) for r in reports if np.shape(r) != model.shape]
    if bad:
        raise ShapeError(f"a report must be {model.shape}, got {bad[0]}")
    if not len(reports) or not mates:
        return {}
    stack = np.stack([np.asarray(r, dtype=np.float64) for r in reports])  # [T, U, C] dBm
    order = model if rank_dbm is None else np.asarray(rank_dbm, dtype=np.float64)
    rank = np.argsort(np.argsort(-np.where(np.isfinite(order), order, -np.inf), axis=1), axis=1)
    res = stack - model[None]  # [T, U, C] dB
    own = res[:, :, cell]  # [T, U]
    oth = res[:, :, mates]  # [T, U, M]
    has = np.isfinite(oth)
    k = has.sum(axis=2)  # [T, U] mates reported
    ok_t = np.isfinite(own) & (k > 0)
    w = np.where(ok_t[:, :, None] & has, 1.0 / np.maximum(k, 1)[:, :, None], 0.0)  # [T, U, M] the mates' weights
    diff = np.where(ok_t, own - np.sum(np.where(has, oth, 0.0) * w, axis=2), 0.0)  # [T, U]
    n = ok_t.sum(axis=0)  # [U] ROPs used per UE
    ues = (n > 0) & (rank[:, cell] < min(int(top_k), num_cells))
    if ues.sum() < cfg.min_ues:
        return {}
    y = diff.sum(axis=0)[ues] / n[ues]  # [u] dB
    wm = w.sum(axis=0)[ues] / n[ues][:, None]  # [u, M] each mate's mean weight
    g, gm = slope[ues, cell], slope[ues][:, mates]
    m = len(mates)
    steep = g ** 2 + np.sum(wm * gm ** 2, axis=1)  # [u] dB^2/deg^2
    moved = np.zeros(y.size)  # [u] dB^2 what the UE's movement may do to its statistic
    if position_response_db is not None:
        pos = np.asarray(position_response_db, dtype=np.float64)
        if pos.ndim != 3 or pos.shape[1:] != model.shape or not np.all(np.isfinite(pos)):
            raise ShapeError(f"position_response_db must be a finite [P, {num_ues}, {num_cells}] array, got "
                             f"{pos.shape}")
        stat = pos[:, ues, cell] - np.sum(pos[:, ues][:, :, mates] * wm[None], axis=2)  # [P, u] dB
        moved = np.mean(stat ** 2, axis=0)
    cov = np.diag(cfg.noise_db ** 2 / n[ues] + cfg.model_noise_db ** 2 + cfg.slope_noise_deg ** 2 * steep + moved)
    if tilt_response_db is None:
        a = np.concatenate([np.ones((y.size, 1)), g[:, None], -wm, -wm * gm], axis=1)  # [u, 2 + 2M] loadings
        var = np.array([cfg.power_sd_db ** 2, cfg.tilt_sd_deg ** 2] + [cfg.power_sd_db ** 2] * m +
                       [cfg.tilt_sd_deg ** 2] * m)
        cov = cov + (a * var) @ a.T
    else:
        resp = np.asarray(tilt_response_db, dtype=np.float64)
        if resp.ndim != 3 or resp.shape[1:] != model.shape or not np.all(np.isfinite(resp)):
            raise ShapeError(f"tilt_response_db must be a finite [G, {num_ues}, {num_cells}] array, got "
                             f"{resp.shape}")
        a = np.concatenate([np.ones((y.size, 1)), -wm], axis=1)  # [u, 1 + M] power loadings
        cov = cov + cfg.power_sd_db ** 2 * (a @ a.T)
        for j, c in enumerate([int(cell)] + mates):  # each cell's own tilt error, through the twin's response
            d = resp[:, ues, c] * (np.ones(y.size) if j == 0 else -wm[:, j - 1])[None, :]  # [G, u] dB
            cov = cov + d.T @ d / resp.shape[0]
    chol = np.linalg.cholesky(cov)

    def loglik(delta: np.ndarray) -> float:
        z = np.linalg.solve(chol, y - delta)
        return -0.5 * float(z @ z)  # the determinant is the same under every hypothesis

    l0 = loglik(np.zeros_like(y))
    return {name: np.array([loglik(np.asarray(row, dtype=np.float64)[ues]) for row in p]) - l0
            for name, p in patterns_db.items()}


def marginal_log_lr(log_lr: np.ndarray) -> float:
    """The log likelihood ratio [nats] of a hypothesis whose severity is uniform over the rows of ``log_lr``
    ([num_severities] float64, ``pattern_log_lr``'s per-severity ratios): the log of their mean ratio."""
    ll = np.asarray(log_lr, dtype=np.float64)
    if ll.ndim != 1 or ll.size == 0 or not np.all(np.isfinite(ll)):
        raise ConfigError(f"log likelihood ratios must be a finite non-empty 1-d array, got {log_lr!r}")
    return float(ll.max() + np.log(np.mean(np.exp(ll - ll.max()))))


def best_log_lr(result: dict[str, np.ndarray]) -> float:
    """The largest ``marginal_log_lr`` [nats] over the hypotheses of a pattern test's ``result`` (hypothesis ->
    [num_severities] ratios, ``pattern_log_lr``): how strongly its best fit beats no fault."""
    if not result:
        raise ConfigError("a pattern test result needs at least one hypothesis")
    return max(marginal_log_lr(v) for v in result.values())
