"""UE mobility with large-scale continuity, as pure functions.

Sionna draws the drop once (positions, LoS, path loss, shadow fading). Between ROPs we keep each link's
large-scale state continuous instead of redrawing it (a redraw jumps ~10 dB):
- positions: constant speed, Gauss-Markov heading, reflected at the network boundary;
- path loss: the drop's Sionna value plus the TR 38.901 distance slope of the link's LoS state,
  PL(t) = PL_drop + slope * log10(d3d(t) / d3d_drop);
- shadow fading: Gudmundson/Gauss-Markov in the distance moved, rho = exp(-dx / d_corr) with the TR 38.901
  decorrelation distance of the link state; the innovation is drawn per (UE, site) so co-sited sectors keep
  sharing their shadowing as in the drop.
The LoS state of each link is held for the episode (documented limitation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LinkGeometry:
    """Geometry of every UE-cell link towards the nearest wraparound image of the cell's site.

    d2d_m, d3d_m           : [num_ues, num_cells] float64 [m]
    zenith_deg             : [num_ues, num_cells] float64, zenith of departure at the BS (90 = horizon) [deg]
    azimuth_rel_deg        : [num_ues, num_cells] float64, azimuth relative to sector boresight [deg]
    """

    d2d_m: np.ndarray
    d3d_m: np.ndarray
    zenith_deg: np.ndarray
    azimuth_rel_deg: np.ndarray


def link_geometry(ue_xyz: np.ndarray, site_xy: np.ndarray, cell_site: np.ndarray, cell_yaw_deg: np.ndarray,
                  wrap_xy: np.ndarray, bs_height_m: float) -> LinkGeometry:
    """Distances and BS-side angles of all links. ue_xyz [U,3] m, site_xy [S,2] m, cell_site [C] int,
    cell_yaw_deg [C] deg, wrap_xy [W,2] m."""
    # images of every site: [S, W, 2]; vectors UE - image: [U, S, W, 2]
    images = site_xy[:, None, :] + wrap_xy[None, :, :]
    vec = ue_xyz[:, None, None, :2] - images[None]
    dist2 = np.einsum("uswk,uswk->usw", vec, vec)
    best = np.argmin(dist2, axis=2)  # [U, S]
    vec_best = np.take_along_axis(vec, best[:, :, None, None], axis=2)[:, :, 0, :]  # [U, S, 2]
    # everything but the yaw is per site: computed once per site, then read per cell [U, C]
    d2d_site = np.maximum(np.hypot(vec_best[..., 0], vec_best[..., 1]), 1.0)
    dh = bs_height_m - ue_xyz[:, 2:3]  # [U, 1]
    d3d_site = np.sqrt(d2d_site**2 + dh**2)
    zenith_site = 90.0 + np.rad2deg(np.arctan2(dh, d2d_site))
    bearing_site = np.rad2deg(np.arctan2(vec_best[..., 1], vec_best[..., 0]))
    az = bearing_site[:, cell_site] - cell_yaw_deg[None, :]
    az = (az + 180.0) % 360.0 - 180.0
    return LinkGeometry(d2d_m=d2d_site[:, cell_site], d3d_m=d3d_site[:, cell_site],
                        zenith_deg=zenith_site[:, cell_site], azimuth_rel_deg=az)


def move_ues(xy: np.ndarray, heading_rad: np.ndarray, speed: np.ndarray, dt: float, bound_radius_m: float,
             rng: np.random.Generator, heading_std_rad: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Advance positions by ``dt`` [s]. xy [U,2] m, heading [U] rad, speed [U] m/s.

    Returns (new_xy [U,2], new_heading [U], moved [U] m). UEs leaving the disc of ``bound_radius_m``
    around the origin are reflected back inside (heading turned towards the centre)."""
    heading = heading_rad + heading_std_rad * np.sqrt(dt) * rng.standard_normal(heading_rad.shape)
    step = speed[:, None] * dt * np.stack([np.cos(heading), np.sin(heading)], axis=-1)
    new = xy + step
    r = np.hypot(new[:, 0], new[:, 1])
    out = r > bound_radius_m
    if out.any():
        new[out] = xy[out] - step[out]
        heading[out] = np.arctan2(-xy[out, 1], -xy[out, 0]) + rng.uniform(-0.5, 0.5, out.sum())
    moved = np.hypot(*(new - xy).T)
    return new, heading, moved


def evolve_large_scale(pathloss_drop_db: np.ndarray, d3d_drop_m: np.ndarray, d3d_m: np.ndarray,
                       los: np.ndarray, slope_db_per_decade: tuple[float, float]) -> np.ndarray:
    """Path loss [dB] [U,C] at the current distances, anchored on the Sionna drop value of each link."""
    slope = np.where(los, slope_db_per_decade[0], slope_db_per_decade[1])
    return pathloss_drop_db + slope * np.log10(d3d_m / d3d_drop_m)


def evolve_shadowing(sf_db: np.ndarray, sf_std_db: np.ndarray, moved_m: np.ndarray, los: np.ndarray,
                     decorr_m: tuple[float, float], cell_site: np.ndarray, num_sites: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Gauss-Markov update of shadow fading [dB] [U,C] after each UE moved ``moved_m`` [U] metres.

    Stationary: if sf ~ N(0, std^2) then so is the result; rho -> 1 as moved -> 0 (no jumps)."""
    d_corr = np.where(los, decorr_m[0], decorr_m[1])
    rho = np.exp(-moved_m[:, None] / d_corr)
    innov_site = rng.standard_normal((sf_db.shape[0], num_sites))
    innov = innov_site[:, cell_site]
    return rho * sf_db + np.sqrt(1.0 - rho**2) * sf_std_db * innov
