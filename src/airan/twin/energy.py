"""Load-dependent RU power with sleep states (EARTH / 3GPP TR 38.864 style), pure functions."""

from __future__ import annotations

import numpy as np

from airan.core.units import dbm_to_w
from airan.twin.scenarios import EnergyConfig

SLEEP_AWAKE, SLEEP_MICRO, SLEEP_DEEP = 0, 1, 2


def cell_power_w(load: np.ndarray, tx_power_dbm: np.ndarray, on_air: np.ndarray, sleep_mode: np.ndarray,
                 powered: np.ndarray, cfg: EnergyConfig) -> np.ndarray:
    """Consumed power [W] per cell [C].

    load [C] PRB utilisation in [0, 1]; tx_power_dbm [C]; on_air [C] bool (radiating);
    sleep_mode [C] int (0 awake, 1 micro, 2 deep); powered [C] bool (False = switched off / outage)."""
    active = cfg.p_idle_w + cfg.load_slope * dbm_to_w(tx_power_dbm) * np.clip(load, 0.0, 1.0)
    p = np.where(sleep_mode == SLEEP_DEEP, cfg.p_deep_sleep_w,
                 np.where(sleep_mode == SLEEP_MICRO, cfg.p_micro_sleep_w, active))
    p = np.where(on_air | (sleep_mode > 0), p, cfg.p_idle_w)
    return np.where(powered, p, cfg.p_off_w)


def energy_kwh(power_w: np.ndarray, duration_s: float) -> np.ndarray:
    """Energy [kWh] drawn at ``power_w`` [W] for ``duration_s`` [s]."""
    return power_w * duration_s / 3.6e6
