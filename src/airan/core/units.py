"""Unit conversions. All dB/dBm/W conversions in airan go through here.

Linear SI values (m, s, Hz, W) carry no suffix; logarithmic ones carry ``_db`` / ``_dbm``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

BOLTZMANN_NOISE_DBM_PER_HZ = -174.0  # thermal noise density at 290 K [dBm/Hz]
SPEED_OF_LIGHT = 299_792_458.0  # [m/s]


def db_to_lin(x_db: ArrayLike) -> NDArray[np.float64]:
    """Power ratio in dB -> linear ratio."""
    return np.power(10.0, np.asarray(x_db, dtype=np.float64) / 10.0)


def lin_to_db(x: ArrayLike, floor: float = 1e-30) -> NDArray[np.float64]:
    """Linear power ratio -> dB; values below ``floor`` are clipped to it (no -inf)."""
    return 10.0 * np.log10(np.maximum(np.asarray(x, dtype=np.float64), floor))


def dbm_to_w(p_dbm: ArrayLike) -> NDArray[np.float64]:
    """Power in dBm -> W."""
    return np.power(10.0, (np.asarray(p_dbm, dtype=np.float64) - 30.0) / 10.0)


def w_to_dbm(p_w: ArrayLike, floor: float = 1e-30) -> NDArray[np.float64]:
    """Power in W -> dBm; values below ``floor`` W are clipped to it."""
    return lin_to_db(p_w, floor) + 30.0


def thermal_noise_dbm(bandwidth: float, noise_figure_db: float) -> float:
    """Receiver noise power [dBm] over ``bandwidth`` [Hz] with a noise figure [dB]."""
    if bandwidth <= 0:
        raise ValueError(f"bandwidth must be positive Hz, got {bandwidth!r}")
    return BOLTZMANN_NOISE_DBM_PER_HZ + 10.0 * float(np.log10(bandwidth)) + noise_figure_db
