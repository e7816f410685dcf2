"""Conformance checker for the twin (run in CI on every scenario), in the spirit of Gymnasium's env_checker.

Checks: declared spaces hold what reset/step return; every KPI is present with shape [num_cells]; KPIs are
finite where defined and within physical bounds; same seed -> identical rollout; a clone is independent;
``evaluate`` draws no randomness. Raises ``ConformanceError`` naming the first violation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airan.core.errors import AiranError
from airan.twin.env import NetworkTwin
from airan.twin.kpis import KPI_NAMES

BOUNDS = {"RRU.PrbUsedDl": (0.0, 100.0 + 1e-9), "Cell.Available": (0.0, 1.0), "BH.LossRate": (0.0, 1.0),
          "L1M.RSRP": (-200.0, 0.0), "DRB.UEThpDl": (0.0, 1e5), "PEE.Energy": (0.0, 1.0)}


class ConformanceError(AiranError):
    """The twin broke its contract."""


@dataclass(frozen=True)
class CheckReport:
    scenario: str
    rops: int
    checks: tuple[str, ...]


def _check_kpis(kpis: dict[str, np.ndarray], num_cells: int, where: str) -> None:
    for name in KPI_NAMES:
        if name not in kpis:
            raise ConformanceError(f"{where}: KPI {name!r} missing")
        v = kpis[name]
        if v.shape != (num_cells,):
            raise ConformanceError(f"{where}: KPI {name!r} has shape {v.shape}, expected ({num_cells},)")
        if np.isinf(v).any():
            raise ConformanceError(f"{where}: KPI {name!r} has infinite values")
        lo, hi = BOUNDS.get(name, (-np.inf, np.inf))
        fin = v[np.isfinite(v)]
        if fin.size and (fin.min() < lo or fin.max() > hi):
            raise ConformanceError(f"{where}: KPI {name!r} outside [{lo}, {hi}]: {fin.min():.4g}..{fin.max():.4g}")


def _rollout(env: NetworkTwin, seed: int, rops: int) -> list[np.ndarray]:
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for _ in range(rops):
        out.append(env.step()[0])
    return out


def check_twin(env: NetworkTwin, *, seed: int = 0, rops: int = 3) -> CheckReport:
    """Run every conformance check on ``env``; return what passed or raise ``ConformanceError``."""
    n = env.cfg.num_cells
    obs, info = env.reset(seed=seed)
    if not env.observation_space.contains(obs):
        raise ConformanceError(f"reset observation {obs.shape} {obs.dtype} not in {env.observation_space}")
    _check_kpis(info["kpis"], n, "reset")
    for t in range(rops):
        obs, reward, term, trunc, info = env.step(env.action_space.sample() if t == 1 else None)
        if not env.observation_space.contains(obs):
            raise ConformanceError(f"step {t}: observation not in observation_space")
        if not np.isfinite(reward):
            raise ConformanceError(f"step {t}: reward {reward!r} is not finite")
        if not isinstance(term, bool) or not isinstance(trunc, bool):
            raise ConformanceError(f"step {t}: terminated/truncated must be bool")
        _check_kpis(info["kpis"], n, f"step {t}")
    a = _rollout(env, seed, rops)
    b = _rollout(env, seed, rops)
    for t, (x, y) in enumerate(zip(a, b)):
        if not np.array_equal(x, y):
            raise ConformanceError(f"same seed {seed} gave different observations at ROP {t}")
    env.reset(seed=seed)
    env.step()
    before = env.evaluate()
    twin = env.clone()
    for _ in range(2):
        twin.step()
    after = env.evaluate()
    for k in KPI_NAMES:
        if not np.array_equal(before[k], after[k], equal_nan=True):
            raise ConformanceError(f"stepping a clone changed the original's KPI {k!r}")
    o1 = env.step()[0]
    env2 = env.clone()  # clone then step both: identical futures
    o2 = env2.step()[0]
    o3 = env.step()[0]
    if not np.array_equal(o2, o3):
        raise ConformanceError("a clone and its original diverged on the same step")
    del o1
    return CheckReport(env.cfg.name, rops, ("spaces", "kpi-shapes-bounds", "determinism", "clone-independence",
                                             "clone-equivalence", "evaluate-pure"))
