"""Large-scale radio evaluation on cached gains: knobs -> received powers, SINR, rates (pure functions).

The isotropic path gain of every link (path loss + shadowing from the Sionna drop, evolved by mobility) is
cached; tilt and power are applied on top, so an operator knob is re-evaluated in milliseconds.
"""

from __future__ import annotations

import numpy as np

from airan.twin.antenna import bs_gain_dbi, effective_gain_dbi, horizontal_factor_fast, vertical_factor_fast

SECTOR_HALF_WIDTH_DEG = 60.0


def rx_power_dbm(tx_power_per_re_dbm: np.ndarray, iso_gain_db: np.ndarray, ant_gain_dbi: np.ndarray) -> np.ndarray:
    """Per-RE received power [dBm] [U, C] = per-RE tx power [C] + isotropic path gain [U,C] + BS gain [U,C]."""
    return tx_power_per_re_dbm[None, :] + iso_gain_db + ant_gain_dbi


def antenna_gains(zenith_deg: np.ndarray, azimuth_rel_deg: np.ndarray, tilt_deg: np.ndarray,
                  num_elements: int, spacing_wavelengths: float) -> np.ndarray:
    """BS gain [dBi] [U, C] of each link for per-cell electrical tilts ``tilt_deg`` [C]."""
    return bs_gain_dbi(zenith_deg, azimuth_rel_deg, num_elements, spacing_wavelengths, tilt_deg[None, :])


def in_sector(azimuth_rel_deg: np.ndarray, d2d_m: np.ndarray, radius_m: float) -> np.ndarray:
    """[U, C] bool: the UE lies inside the cell's 120 deg sector within ``radius_m`` of its site."""
    return (np.abs(azimuth_rel_deg) <= SECTOR_HALF_WIDTH_DEG) & (d2d_m <= radius_m)


def spread_antenna_factors(geom, drop, tilt_deg: np.ndarray, num_elements: int, spacing_wavelengths: float,
                           cells: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Angular-spread averaged (H, V, AF) linear factors [U, C] (or [U, len(cells)] for a subset of cells),
    from link geometry and the drop's ASD/ZSD/ZOD-offset/K (table path of ``airan.twin.antenna``)."""
    sel = slice(None) if cells is None else cells
    k = drop.k_factor[:, sel]
    h = horizontal_factor_fast(geom.azimuth_rel_deg[:, sel], drop.asd_deg[:, sel], k)
    v, af = vertical_factor_fast(geom.zenith_deg[:, sel], drop.zsd_deg[:, sel], drop.zod_offset_deg[:, sel], k,
                                 np.asarray(tilt_deg)[sel], num_elements, spacing_wavelengths)
    return h, v, af


def combine_factors(h: np.ndarray, v: np.ndarray, af: np.ndarray) -> np.ndarray:
    """BS gain [dBi] [U, C] from averaged factors (``effective_gain_dbi`` with the array-gain floor)."""
    return effective_gain_dbi(h, v, af)
