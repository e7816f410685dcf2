"""Per-site backhaul: capacity sharing, queueing latency and loss (pure functions)."""

from __future__ import annotations

import numpy as np

from airan.twin.scenarios import BackhaulConfig


def backhaul_state(offered: np.ndarray, capacity: np.ndarray, cfg: BackhaulConfig,
                   extra_latency_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Carried fraction, latency [ms] and loss ratio per site.

    offered [S] bit/s of DL traffic the site's cells would carry; capacity [S] bit/s (0 = link down).
    Latency follows an M/M/1-like 1/(1-rho) growth capped at ``max_latency_ms``; loss is the excess share."""
    rho = np.where(capacity > 0, offered / np.maximum(capacity, 1.0), np.inf)
    carried = np.where(capacity > 0, np.minimum(1.0, 1.0 / np.maximum(rho, 1e-12)), 0.0)
    carried = np.where(offered <= 0, np.where(capacity > 0, 1.0, 0.0), carried)
    util = np.minimum(rho, 0.99)
    latency = cfg.base_latency_ms / (1.0 - util) + extra_latency_ms
    latency = np.where(capacity > 0, np.minimum(latency, cfg.max_latency_ms), cfg.max_latency_ms)
    loss = np.where(capacity > 0, np.clip(1.0 - 1.0 / np.maximum(rho, 1.0), 0.0, 1.0), 1.0)
    return carried, latency, loss
