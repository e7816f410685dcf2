"""Shared test helpers for the airan agents: a ci-tiny context and a tiny rollout loop (no runner needed)."""

from __future__ import annotations

import numpy as np

from airan.agents.base import EpisodeContext, Observation
from airan.agents.monitor import sector_neighbours
from airan.twin.env import NetworkTwin
from airan.twin.faults import Fault
from airan.twin.imperfect import imperfect_twin
from airan.twin.scenarios import get_scenario

SEED = 3


def tiny_ctx(twin: NetworkTwin, episode_id: str = "t") -> EpisodeContext:
    d = twin.drop
    xy = d.site_xy[d.cell_site]

    def make_twin(seed: int) -> NetworkTwin:
        # the operator's twin of this network, as the runner builds it: same drop, hidden calibration errors
        # (one set per network), its own propagation perturbation and randomness per seed
        return imperfect_twin("ci-tiny", twin.seed_value, np.random.default_rng([7, seed]),
                              calibration_rng=np.random.default_rng(7))

    return EpisodeContext(episode_id, get_scenario("ci-tiny"), 16, xy, d.cell_yaw_deg, d.cell_site,
                          sector_neighbours(xy, d.cell_yaw_deg), make_twin)


def observations(faults: list[Fault], rops: int, seed: int = SEED):
    """Yield (twin, Observation) for ``rops`` ROPs of a ci-tiny episode without healing."""
    twin = NetworkTwin("ci-tiny")
    twin.reset(seed=seed, options={"faults": faults})
    hist: dict[str, list[np.ndarray]] = {}
    for r in range(rops):
        _, _, _, _, info = twin.step()
        for k, v in info["kpis"].items():
            hist.setdefault(k, []).append(v)
        yield twin, Observation(r, info["kpis"], {k: np.stack(v) for k, v in hist.items()}, info["events"],
                                mr_rsrp_dbm=info["mr_rsrp_dbm"], ue_serving=info["ue_serving"],
                                ue_dl_demand_mbps=info["ue_dl_demand_mbps"])


def load_bench(name: str):
    """Import ``bench/NAME.py`` (the benchmarks are scripts, not a package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
