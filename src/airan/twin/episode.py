"""Run an episode of the twin: faults and scheduled actions in, an ``EpisodeResult`` (and telemetry) out."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

import numpy as np

from airan import __version__
from airan.twin.actions import Action
from airan.twin.env import NetworkTwin
from airan.twin.faults import Fault
from airan.twin.result import EpisodeResult
from airan.twin.scenarios import ScenarioConfig


def make_run_id(scenario: str, seed: int, rops: int, faults: Sequence[Fault],
                actions: Sequence[tuple[int, Action]]) -> str:
    """Deterministic run id: the same scenario, seed, length, faults and actions give the same id, so
    re-running a run replaces its telemetry instead of duplicating it."""
    key = repr((scenario, seed, rops, [f.truth() for f in faults], [(t, a) for t, a in actions], __version__))
    return f"{scenario}-s{seed}-{uuid.uuid5(uuid.NAMESPACE_URL, key).hex[:10]}"


def run_episode(scenario: ScenarioConfig | str, *, rops: int, seed: int, faults: Sequence[Fault] = (),
                actions: Sequence[tuple[int, Action]] = (), run_id: str | None = None,
                on_rop: Callable[[int, dict], None] | None = None,
                twin: NetworkTwin | None = None) -> EpisodeResult:
    """Reset a twin with ``seed`` and ``faults``, step ``rops`` ROPs applying each ``(rop, action)`` at its ROP.

    ``on_rop(rop, info)`` is called after each ROP (progress bars, telemetry writers)."""
    if rops < 1:
        raise ValueError(f"rops must be >= 1, got {rops!r}")
    env = twin or NetworkTwin(scenario)
    cfg = env.cfg
    env.reset(seed=seed, options={"faults": list(faults)})
    run_id = run_id or make_run_id(cfg.name, seed, rops, faults, actions)
    by_rop: dict[int, list[Action]] = {}
    for t, a in actions:
        by_rop.setdefault(int(t), []).append(a)
    series: dict[str, list[np.ndarray]] = {}
    sinr, thp, events = [], [], []
    for _ in range(rops):
        _, _, _, _, info = env.step(by_rop.get(env.rop, []))
        for name, v in info["kpis"].items():
            series.setdefault(name, []).append(v)
        sinr.append(info["ue_sinr_db"])
        thp.append(info["ue_thp_mbps"])
        events.extend(info["events"])
        if on_rop is not None:
            on_rop(info["rop"], info)
    return EpisodeResult(
        run_id=run_id, scenario=cfg.name, seed=seed, rops=rops, rop_s=cfg.rop_s,
        kpis={k: np.stack(v) for k, v in series.items()}, ue_sinr_db=np.stack(sinr), ue_thp_mbps=np.stack(thp),
        cell_xy=env.cell_xy, ue_xy=env.ue_xy, events=events, faults=[f.truth() for f in env.faults],
        config=cfg.to_dict())
