"""Per-action-set counterfactuals from an episode log, by replay: what acting at ROP ``r`` changed against holding
still. The runner records the same counterfactuals while it runs (its log's ``counterfactual`` field, which the
scorer's ``harmful_action_rate_counterfactual`` reads); this module recomputes them from a log's actions alone,
to check those records and to add them to logs written before the runner kept them (``with_counterfactuals``).

The scorer's harm test (``scorer`` docstring, *harmful action*) compares the healed run with the run that never
acted. An action taken while an earlier action's effect is still in place is then charged with that earlier
effect too (a compensation that was right while the fault lasted, and is taken back once it ended, reads as
harm). This module measures each action set against its own counterfactual instead, by replaying the log:

1. the true twin of the episode is rebuilt (scenario, seed, faults) and stepped with exactly the actions the log
   says took effect, ROP by ROP; the replayed impact series must equal the log's ``impact.healed`` (else
   ``ConfigError``: the log is not from this suite or this code);
2. at every ROP ``r`` in which a non-rollback action took effect, the twin is cloned just before ``r`` and the
   clone is stepped ``horizon_rops`` ROPs with no action taking effect. A clone shares its parent's random
   future (``NetworkTwin.clone``), so the two runs differ only by what the policy did (common random numbers);
3. the set's effect is ``mean(factual - counterfactual)`` of the episode's impact KPI over ``[r, r + horizon)``:
   the same window as the scorer's (the set's ROP and the next), and what happened in it (a rollback, another
   set) is the policy's doing, as in the scorer.

A set is *harmful* when its effect is below ``-HARM_K * sigma`` (the scorer's threshold and noise); every action
of a harmful set counts as harmful, as the scorer counts the actions of one ROP alike.

``rollback_counterfactuals`` asks the same of each rollback: from the rollback's ROP on, the replayed twin is
stepped once with the undone set kept and once undone (and from the set's ROP on, once never acting), so a
rollback can be called protective, costly or neutral (``rollback_verdict``). The executor has no such
counterfactual: it rolls back when the guarded objective falls below its pre-action level, which a fault that
keeps growing does too.

Arrays: impact series are ``[rops] float64``, unit of the impact KPI (``runner.impact_kpi_name``: carried/offered
DL ratio, dimensionless; or minus handover failures per ROP, count).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from airan.agents.runner import CF_HORIZON_ROPS, counterfactual_records, counterfactual_series, impact_value
from airan.agents.scorer import HARM_K, counterfactual_harmful, noise_sigma, rolled_back
from airan.agents.suite import SuiteEpisode
from airan.core.errors import ConfigError
from airan.twin.actions import Action
from airan.twin.env import NetworkTwin

# replayed vs logged impact. The twin is deterministic given its seed and the actions; logs written by earlier code
# (session 24's baselines) agree to ~1e-8 (floating-point summation order), a diverged replay by far more
REPLAY_ATOL = 1e-6
# how long a rollback is judged for (``rollback_counterfactuals``): the executor's 2-ROP window, and as long again
ROLLBACK_HORIZON_ROPS = 4


def logged_action(entry: dict[str, Any]) -> Action:
    """The ``Action`` of one entry of a log's ``applied`` list."""
    return Action(kind=str(entry["kind"]), cell=int(entry["cell"]), value=float(entry["value"]),
                  mode=str(entry.get("mode", "")))


def _replayed(ep: SuiteEpisode, log: dict[str, Any], last: int,
              before_rop: Callable[[int, NetworkTwin], None] | None = None) -> np.ndarray:
    """The true twin of ``ep`` rebuilt (scenario, seed, faults) and stepped through ROPs ``[0, last)`` with exactly
    the actions ``log`` says took effect, ``before_rop(r, twin)`` called before each ROP ``r`` is stepped (to clone
    the twin there). Returns the replayed impact ``[last]`` float64; raises ``ConfigError`` when the log does not
    belong to ``ep`` or the replay does not reproduce its ``impact.healed``."""
    if log.get("episode_id") != ep.id:
        raise ConfigError(f"log of episode {log.get('episode_id')!r} replayed against episode {ep.id!r}")
    by_rop: dict[int, list[Action]] = defaultdict(list)
    for a in log["applied"]:
        by_rop[int(a["rop"])].append(logged_action(a))
    cells = np.asarray(log["impact"]["cells"], dtype=np.int64)
    kpi = str(log["impact"]["kpi"])
    logged = np.asarray(log["impact"]["healed"], dtype=np.float64)
    twin = NetworkTwin(ep.scenario)
    twin.reset(seed=ep.seed, options={"faults": list(ep.faults)})
    factual = np.empty(last, dtype=np.float64)
    for r in range(last):
        if before_rop is not None:
            before_rop(r, twin)
        factual[r] = impact_value(twin.step(by_rop.get(r, []))[4]["kpis"], cells, kpi)
    diff = np.abs(factual - logged[:last])
    if not np.all(diff <= REPLAY_ATOL):
        bad = int(np.argmax(diff))
        raise ConfigError(f"episode {ep.id!r}: the replay does not reproduce the log (ROP {bad}: logged "
                          f"{logged[bad]!r}, replayed {factual[bad]!r}); the log is from another suite or code")
    return factual


def set_counterfactuals(ep: SuiteEpisode, log: dict[str, Any], *, horizon_rops: int = CF_HORIZON_ROPS
                        ) -> list[dict[str, Any]]:
    """One record per ROP in which >= 1 non-rollback action of ``log`` took effect, in ROP order:
    ``{"rop", "actions": [indices into log["applied"]], "factual": [h] float, "counterfactual": [h] float,
    "effect": float}`` (``h`` = ROPs left in the window, <= ``horizon_rops``): the records the runner writes into
    the log's ``counterfactual`` field, recomputed by replay. Raises ``ConfigError`` when the log does not belong
    to ``ep`` or its replay does not reproduce the logged impact."""
    _check_horizon(horizon_rops)
    applied = log["applied"]
    members: dict[int, list[int]] = defaultdict(list)
    for i, a in enumerate(applied):
        if a.get("rollback_of", -1) < 0:
            members[int(a["rop"])].append(i)
    if not members:
        return []
    cells = np.asarray(log["impact"]["cells"], dtype=np.int64)
    kpi = str(log["impact"]["kpi"])
    rops = len(log["impact"]["healed"])
    cf: dict[int, np.ndarray] = {}

    def hold_still(r: int, twin: NetworkTwin) -> None:
        if r in members:
            cf[r] = counterfactual_series(twin, min(horizon_rops, rops - r), cells, kpi)

    factual = _replayed(ep, log, min(rops, max(members) + horizon_rops), hold_still)
    return counterfactual_records(cf, members, factual)


def rollback_counterfactuals(ep: SuiteEpisode, log: dict[str, Any], *, horizon_rops: int = ROLLBACK_HORIZON_ROPS
                             ) -> list[dict[str, Any]]:
    """Was each rollback right? One record per ROP in which a rollback took effect, in ROP order, by replay in the
    true twin (common random numbers, as ``set_counterfactuals``): ``{"rop": the rollback's ROP, "set_rop": the
    undone set's ROP, "rollback" / "set": [indices into log["applied"]], "keep": [h], "undo": [h], "never":
    [rop - set_rop + h] float, "first_effect", "keep_minus_undo", "keep_minus_never": float}``. From the
    rollback's ROP on (``h`` = ROPs left, <= ``horizon_rops``) the twin is stepped with no later action, once
    without the rollback (*keep*: the set stays; any other action of that ROP still takes effect) and once with it
    (*undo*); *never* holds still from the set's ROP on. ``first_effect`` is the mean of the logged impact minus
    *never* over the ROPs the set was in place, ``keep_minus_undo`` and ``keep_minus_never`` the means over the
    ``h`` ROPs, in the impact KPI's unit. Raises ``ConfigError`` as ``set_counterfactuals``."""
    _check_horizon(horizon_rops)
    applied = log["applied"]
    undone: dict[int, int] = {}
    for a in applied:
        if a.get("rollback_of", -1) >= 0:
            undone.setdefault(int(a["rop"]), int(a["rollback_of"]))
    if not undone:
        return []
    cells = np.asarray(log["impact"]["cells"], dtype=np.int64)
    kpi = str(log["impact"]["kpi"])
    rops = len(log["impact"]["healed"])
    at: dict[int, NetworkTwin] = {}

    def keep_a_copy(r: int, twin: NetworkTwin) -> None:
        if r in undone or r in undone.values():
            at[r] = twin.clone()

    factual = _replayed(ep, log, max(undone) + 1, keep_a_copy)
    out = []
    for rop, set_rop in sorted(undone.items()):
        h = min(horizon_rops, rops - rop)
        here = [i for i, a in enumerate(applied) if int(a["rop"]) == rop]
        back = [i for i in here if applied[i].get("rollback_of", -1) >= 0]
        series = {}
        for name, acts in (("keep", [i for i in here if i not in back]), ("undo", here)):
            twin = at[rop].clone()
            series[name] = np.array([impact_value(twin.step([logged_action(applied[i]) for i in acts] if j == 0
                                                             else [])[4]["kpis"], cells, kpi) for j in range(h)])
        never = counterfactual_series(at[set_rop], rop - set_rop + h, cells, kpi)
        was = rop - set_rop
        out.append({"rop": rop, "set_rop": set_rop, "rollback": back,
                    "set": [i for i, a in enumerate(applied) if int(a["rop"]) == set_rop
                            and a.get("rollback_of", -1) < 0],
                    "keep": series["keep"].tolist(), "undo": series["undo"].tolist(), "never": never.tolist(),
                    "first_effect": float(np.mean(factual[set_rop:rop] - never[:was])),
                    "keep_minus_undo": float(np.mean(series["keep"] - series["undo"])),
                    "keep_minus_never": float(np.mean(series["keep"] - never[was:]))})
    return out


def rollback_verdict(record: dict[str, Any], sigma: float, k: float = HARM_K) -> str:
    """``"protected"`` when keeping the undone set would have been worse than the rollback by more than ``k``
    ``sigma`` (the impact KPI's noise, ``scorer.noise_sigma``; the scorer's harm threshold), ``"cost"`` when
    better by more than that, else ``"neutral"`` (``record``: one of ``rollback_counterfactuals``)."""
    d = record["keep_minus_undo"]
    return "protected" if d < -k * sigma else "cost" if d > k * sigma else "neutral"


def _check_horizon(horizon_rops: int) -> None:
    if isinstance(horizon_rops, bool) or not isinstance(horizon_rops, int) or horizon_rops < 1:
        raise ConfigError(f"horizon_rops must be an integer >= 1, got {horizon_rops!r}")


def with_counterfactuals(ep: SuiteEpisode, log: dict[str, Any], *, horizon_rops: int = CF_HORIZON_ROPS
                         ) -> dict[str, Any]:
    """``log`` with its ``counterfactual`` field (runner schema) computed by replay: for logs written before the
    runner recorded it, so the scorer can judge their actions against their own counterfactuals. A log that
    already has the field is returned as is when the replay agrees with it (effects to ``REPLAY_ATOL``), else
    ``ConfigError``."""
    sets = set_counterfactuals(ep, log, horizon_rops=horizon_rops)
    have = log.get("counterfactual")
    if have is not None:
        ok = int(have["horizon_rops"]) == horizon_rops and len(have["sets"]) == len(sets) and all(
            a["rop"] == b["rop"] and a["actions"] == b["actions"] and abs(a["effect"] - b["effect"]) <= REPLAY_ATOL
            for a, b in zip(have["sets"], sets, strict=True))
        if not ok:
            raise ConfigError(f"episode {ep.id!r}: the log's counterfactual records disagree with the replay")
        return log
    return log | {"counterfactual": {"horizon_rops": horizon_rops, "sets": sets}}


def counterfactual_harm(ep: SuiteEpisode, log: dict[str, Any], *, horizon_rops: int = CF_HORIZON_ROPS
                        ) -> dict[str, Any]:
    """The episode's actions judged against their own counterfactual, by replay: ``{"id", "sigma", "actions"
    (non-rollback applied), "harmful": [indices], "harmful_rolled_back": int, "sets": set_counterfactuals(...)}``
    (``harmful`` is the scorer's ``counterfactual_harmful`` of the replayed records)."""
    sets = set_counterfactuals(ep, log, horizon_rops=horizon_rops)
    sigma = noise_sigma(np.asarray(log["impact"]["nofault"], dtype=np.float64))
    harmful = counterfactual_harmful(sets, sigma)
    return {"id": ep.id, "sigma": sigma,
            "actions": sum(1 for a in log["applied"] if a.get("rollback_of", -1) < 0),
            "harmful": harmful, "harmful_rolled_back": len(rolled_back(log, harmful)), "sets": sets}
