"""Non-full-buffer traffic demand: diurnal profile, on/off sessions, lognormal rates, hotspot events."""

from __future__ import annotations

import numpy as np

from airan.twin.scenarios import TrafficConfig


def diurnal_factor(rop: int, cfg: TrafficConfig) -> float:
    """Load multiplier in [1-a, 1+a] of a compressed day: peak at 20:00, trough at 04:00."""
    hour = (cfg.start_hour + 24.0 * rop / cfg.day_length_rops) % 24.0
    return float(1.0 + cfg.diurnal_amplitude * np.cos(2 * np.pi * (hour - 20.0) / 24.0))


def session_activity(active: np.ndarray, p_active: float, rng: np.random.Generator,
                     mean_session_rops: float = 20.0) -> np.ndarray:
    """Two-state Markov on/off sessions per UE [U] bool with stationary probability ``p_active``."""
    p_off = 1.0 / mean_session_rops
    p_on = p_off * p_active / max(1e-9, 1.0 - p_active) if p_active < 1 else 1.0
    u = rng.random(active.shape)
    return np.where(active, u >= p_off, u < min(p_on, 1.0))


def demand_mbps(active: np.ndarray, base_rate_mbps: np.ndarray, factor: np.ndarray | float) -> np.ndarray:
    """Offered rate [Mbit/s] [U]: the UE's session rate while active, times diurnal/hotspot ``factor``."""
    return np.where(active, base_rate_mbps * factor, 0.0)


def draw_session_rates(num_ues: int, mean_mbps: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Per-UE session rates [Mbit/s] [U], lognormal with the given mean and log-std."""
    mu = np.log(mean_mbps) - sigma**2 / 2
    return rng.lognormal(mu, sigma, num_ues)
