"""The episode runner: steps the *true* twin of a suite episode, hands a policy its observations, applies its
decisions at the next ROP, plays the operator who grants approvals, and writes a JSON-safe episode log.

Per ROP ``r`` (0-based): the twin simulates ROP ``r`` with the actions the policy decided at ROP ``r - 1``;
the policy then sees ``Observation(rop=r, ...)`` and returns a ``Decision``. An ``ApprovalRequest`` made at
ROP ``r`` is granted ``approval_delay_rops`` later (its id appears in ``Observation.approvals`` from ROP
``r + approval_delay_rops``); a granted request also covers the rollback of its actions (its ``backout``).
Actions out of their knob's bounds are rejected (logged, not applied).

Log schema (``run_policy_episode``'s return value)::

    {"episode_id", "policy", "scenario", "seed", "rops", "run_id",
     "decisions": [Decision.to_dict() | {"rop": r}] (one per ROP),
     "applied": [{"rop", "decided_rop", "kind", "cell", "value", "mode", "pre", "post", "high_risk",
                  "approval", "approval_valid", "preauthorized", "preauth_valid", "rollback_of"}],
     "rejected": [{"rop", "kind", "cell", "value", "mode", "error"}],
     "approvals": [{"id", "requested_rop", "granted_rop", "actions", "backout"}],
     "impact": {"cells", "fault_cells", "kpi", "healed", "unhealed", "nofault"},
     "counterfactual": {"horizon_rops", "sets": [{"rop", "actions", "factual", "counterfactual", "effect"}]},
     "report": str, "wall_s": float}

``applied[].rop`` is the ROP in which the action took effect; ``high_risk`` follows ``base.is_high_risk``
for the action itself, or for the set of non-rollback actions taking effect in the same ROP (> 3 cells);
a rollback (``rollback_of >= 0``) restores a known state and is never high-risk by the set rule.
``impact`` is the KPI the fault class damages, aggregated over the fault cells + their neighbours
(``suite.fault_scope``), per ROP, for the healed run and the two policy-independent references (faults
but no healing; no fault), cached per episode:

* ``dl_served_ratio``: carried / offered DL traffic (sum of ``DRB.CellThpDl`` / sum of ``DRB.DemandDl``)
  for every coverage, capacity, backhaul and availability fault (and for controls);
* ``ho_failures_neg``: minus (``HO.PingPong`` + ``RLF.Count``) for ``ho_misconfig``.

Higher is better for both. ``counterfactual`` (absent when ``counterfactual_rops`` is 0) has one record per
ROP ``r`` in which non-rollback actions took effect: ``actions`` their indices into ``applied``, ``counterfactual``
the impact KPI of a clone of the true twin taken just before ROP ``r`` and stepped ``horizon_rops`` ROPs with no
action (``[h]`` float, ``h`` <= ``horizon_rops`` at the episode's end; the clone shares the twin's random future,
so only the policy's actions differ), ``factual`` the same ROPs of ``healed`` and ``effect`` the mean difference
(the scorer's harm test against the set's own counterfactual). Everything except ``wall_s`` is deterministic
given the episode and the policy.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from airan.agents.base import Decision, EpisodeContext, Observation, Policy, is_high_risk
from airan.agents.monitor import sector_neighbours
from airan.agents.suite import Suite, SuiteEpisode, episode_from_dict, episode_to_dict, fault_scope
from airan.core.errors import ActionError, ConfigError
from airan.data.datagen import WORKER_TORCH_THREADS, make_executor, torch_threads
from airan.twin.actions import Action, apply_action
from airan.twin.env import NetworkTwin
from airan.twin.faults import SITE_FAULTS, Fault
from airan.twin.imperfect import imperfect_twin
from airan.twin.scenarios import get_scenario

IMPERFECT_KEY = 0x1AFE  # seed-stream key of the policies' imperfect twins (independent of the twin's own)
CF_HORIZON_ROPS = 2  # ROPs of each action set's counterfactual: the scorer's harm window (its ROP and the next)
REFERENCE_KPIS = ("DRB.CellThpDl", "DRB.DemandDl", "HO.PingPong", "RLF.Count")
_REF_CACHE: dict[str, dict[str, dict[str, np.ndarray]]] = {}
_REF_CACHE_SIZE = 32


# ---------------------------------------------------------------------------------------------- impact KPI
def impact_kpi_name(cause: str | None) -> str:
    return "ho_failures_neg" if cause == "ho_misconfig" else "dl_served_ratio"


def impact_value(kpis: dict[str, np.ndarray], cells: np.ndarray, kpi: str) -> float:
    """The impact KPI of one ROP. kpis: name -> [num_cells]; cells: [M] int64."""
    if kpi == "ho_failures_neg":
        return -float(np.nansum(kpis["HO.PingPong"][cells]) + np.nansum(kpis["RLF.Count"][cells]))
    demand = float(np.nansum(kpis["DRB.DemandDl"][cells]))
    return float(np.nansum(kpis["DRB.CellThpDl"][cells])) / demand if demand > 1e-9 else 1.0


def impact_cells(ep: SuiteEpisode, cell_site: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """[M] int64 cells the episode's impact KPI aggregates over: the fault scope; for a control its focus
    cells (or benign surge cells) and their neighbours, or every cell when it has neither."""
    real = tuple(f for f in ep.faults if f.kind != "benign_surge")
    if real:
        return fault_scope(real, cell_site, neighbours)
    focus = tuple(ep.focus_cells) or tuple(c for f in ep.faults for c in f.cells)
    if focus:
        return fault_scope((Fault("benign_surge", focus),), cell_site, neighbours)
    return np.arange(cell_site.shape[0], dtype=np.int64)


def fault_cells(ep: SuiteEpisode, cell_site: np.ndarray) -> list[int]:
    """The real faults' cells, every cell of the site for a backhaul fault (sorted)."""
    out: set[int] = set()
    for f in ep.faults:
        if f.kind == "benign_surge":
            continue
        cells = list(f.cells)
        if f.kind in SITE_FAULTS:
            cells = [int(c) for c in np.nonzero(np.isin(cell_site, cell_site[cells]))[0]]
        out |= {int(c) for c in cells}
    return sorted(out)


def _faults_key(scenario: str, seed: int, rops: int, faults: tuple[Fault, ...]) -> str:
    return json.dumps([scenario, seed, rops, [f.truth() for f in faults]], sort_keys=True, default=str)


def reference_series(scenario: str, seed: int, rops: int, faults: tuple[Fault, ...]) -> dict[str, np.ndarray]:
    """KPIs needed for the impact of a run without healing: name -> [rops, num_cells] (cached)."""
    key = _faults_key(scenario, seed, rops, faults)
    hit = _REF_CACHE.get(key)
    if hit is not None:
        return hit
    twin = NetworkTwin(scenario)
    twin.reset(seed=seed, options={"faults": list(faults)})
    rows: dict[str, list[np.ndarray]] = {k: [] for k in REFERENCE_KPIS}
    for _ in range(rops):
        kpis = twin.step()[4]["kpis"]
        for k in REFERENCE_KPIS:
            rows[k].append(np.asarray(kpis[k], dtype=np.float64))
    out = {k: np.stack(v) for k, v in rows.items()}
    if len(_REF_CACHE) >= _REF_CACHE_SIZE:
        _REF_CACHE.pop(next(iter(_REF_CACHE)))
    _REF_CACHE[key] = out
    return out


def counterfactual_series(twin: NetworkTwin, rops: int, cells: np.ndarray, kpi: str) -> np.ndarray:
    """``[rops]`` float64 impact KPI of a clone of ``twin`` stepped ``rops`` ROPs with no action (``twin`` itself
    is not advanced: a clone shares its random future, so the series is what holding still would have given)."""
    clone = twin.clone()
    return np.array([impact_value(clone.step([])[4]["kpis"], cells, kpi) for _ in range(rops)], dtype=np.float64)


def counterfactual_records(cf: dict[int, np.ndarray], members: dict[int, list[int]],
                           healed: Sequence[float]) -> list[dict[str, Any]]:
    """The log's ``counterfactual["sets"]`` from the counterfactual series per set ROP (``cf``), the indices of
    each set's actions (``members``) and the run's impact series ``healed`` ``[rops]``."""
    out = []
    for r in sorted(cf):
        f = np.asarray(healed[r: r + len(cf[r])], dtype=np.float64)
        out.append({"rop": int(r), "actions": list(members[r]), "factual": f.tolist(), "counterfactual": cf[r].tolist(),
                    "effect": float(np.mean(f - cf[r]))})
    return out


def _impact_series(series: dict[str, np.ndarray], cells: np.ndarray, kpi: str) -> list[float]:
    rops = series[REFERENCE_KPIS[0]].shape[0]
    return [impact_value({k: v[r] for k, v in series.items()}, cells, kpi) for r in range(rops)]


# ---------------------------------------------------------------------------------------------- context
def imperfect_factory(ep: SuiteEpisode) -> Callable[[int], NetworkTwin]:
    """``make_twin(seed)`` for the episode: one set of calibration errors per episode, propagation and
    randomness varying with ``seed``; streams keyed by ``IMPERFECT_KEY`` so they never coincide with the
    true twin's."""
    cfg = get_scenario(ep.scenario)

    def make_twin(seed: int) -> NetworkTwin:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ConfigError(f"make_twin seed must be a non-negative int, got {seed!r}")
        calib = np.random.Generator(np.random.PCG64(np.random.SeedSequence([IMPERFECT_KEY, ep.seed, 0])))
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([IMPERFECT_KEY, ep.seed, 1, int(seed)])))
        return imperfect_twin(cfg, ep.seed, rng, calibration_rng=calib)

    return make_twin


def episode_context(ep: SuiteEpisode, twin: NetworkTwin, *, oracle: bool = False,
                    preauthorized: frozenset[str] = frozenset()) -> EpisodeContext:
    """The policy's context for ``ep`` (``twin``: the reset true twin; ground truth only when ``oracle``)."""
    d = twin.drop
    xy = d.site_xy[d.cell_site]
    extra: dict[str, Any] = {}
    if "preauthorized" in EpisodeContext.__dataclass_fields__:
        extra["preauthorized"] = frozenset(preauthorized)
    return EpisodeContext(
        episode_id=ep.id, scenario=twin.cfg, rops=ep.rops, cell_xy=xy, cell_yaw_deg=d.cell_yaw_deg.copy(),
        cell_site=d.cell_site.copy(), neighbours=sector_neighbours(xy, d.cell_yaw_deg),
        make_twin=imperfect_factory(ep), truth=tuple(ep.faults) if oracle else None,
        true_twin=twin.clone if oracle else None, **extra)


# ---------------------------------------------------------------------------------------------- one episode
def _jsonable(v: Any) -> Any:
    return json.loads(json.dumps(v, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else
                                 (o.item() if isinstance(o, np.generic) else str(o))))


def run_policy_episode(ep: SuiteEpisode, policy: Policy, *, approval_delay_rops: int = 1,
                       preauthorized: frozenset[str] = frozenset(), audit: Any = None,
                       counterfactual_rops: int = CF_HORIZON_ROPS) -> dict[str, Any]:
    """Run ``policy`` on ``ep`` in the true twin; return the episode log (schema in the module docstring).

    ``preauthorized``: action kinds the operator pre-authorised (a high-risk action of such a kind may be
    applied without an approval id when the policy says so). ``audit``: anything with
    ``record(run_id, rop, stage, payload)`` (e.g. ``AuditLog``); gets every decision, approval request,
    approval, applied action / rollback and the final report. ``counterfactual_rops``: the window of each action
    set's counterfactual (module docstring; 0 records none). The episode runs with ``WORKER_TORCH_THREADS`` torch
    threads wherever it runs (inline, a pool, Ray, ``airan replay``), so its log does not depend on ``--workers``."""
    with torch_threads(WORKER_TORCH_THREADS):
        return _run_policy_episode(ep, policy, approval_delay_rops, preauthorized, audit, counterfactual_rops)


def _run_policy_episode(ep: SuiteEpisode, policy: Policy, approval_delay_rops: int, preauthorized: frozenset[str],
                        audit: Any, counterfactual_rops: int) -> dict[str, Any]:
    if isinstance(approval_delay_rops, bool) or not isinstance(approval_delay_rops, int) or approval_delay_rops < 0:
        raise ConfigError(f"approval_delay_rops must be an integer >= 0, got {approval_delay_rops!r}")
    if isinstance(counterfactual_rops, bool) or not isinstance(counterfactual_rops, int) or counterfactual_rops < 0:
        raise ConfigError(f"counterfactual_rops must be an integer >= 0, got {counterfactual_rops!r}")
    t0 = time.perf_counter()
    run_id = f"{ep.id}-{policy.name}"
    preauthorized = frozenset(preauthorized)
    twin = NetworkTwin(ep.scenario)
    twin.reset(seed=ep.seed, options={"faults": list(ep.faults)})
    ctx = episode_context(ep, twin, oracle=bool(getattr(policy, "uses_truth", False)), preauthorized=preauthorized)
    policy.reset(ctx)
    a_cfg = twin.cfg.antenna
    tilt_bounds = (a_cfg.min_tilt_deg, a_cfg.max_tilt_deg)
    cells = impact_cells(ep, ctx.cell_site, ctx.neighbours)
    kpi = impact_kpi_name(ep.cause)

    def rec(rop: int, stage: str, payload: dict[str, Any]) -> None:
        if audit is not None:
            audit.record(run_id, int(rop), stage, payload)

    hist: dict[str, list[np.ndarray]] = {}
    pending: list[tuple[int, Any]] = []  # (decided_rop, PlannedAction)
    requests: dict[str, dict[str, Any]] = {}
    granted: set[str] = set()
    applied_obs: list[tuple[int, Action, float, float]] = []
    log_dec: list[dict[str, Any]] = []
    log_app: list[dict[str, Any]] = []
    log_rej: list[dict[str, Any]] = []
    healed: list[float] = []
    cf: dict[int, np.ndarray] = {}  # set ROP -> [h] impact of holding still from there
    cf_members: dict[int, list[int]] = {}
    for r in range(ep.rops):
        # 1. validate the actions decided last ROP against the current knobs; apply the valid ones this ROP
        knobs = twin.knobs.copy()
        valid: list[tuple[int, Any]] = []
        for decided, pa in pending:
            try:
                apply_action(knobs, pa.action, tilt_bounds)
                valid.append((decided, pa))
            except ActionError as e:
                log_rej.append({**asdict(pa.action), "rop": r, "error": str(e)})
        if counterfactual_rops and any(pa.rollback_of < 0 for _, pa in valid):
            cf[r] = counterfactual_series(twin, min(counterfactual_rops, ep.rops - r), cells, kpi)
        _, _, _, _, info = twin.step([pa.action for _, pa in valid])
        acts = [e for e in info["events"] if e.kind == "action"]
        set_cells = {pa.action.cell for _, pa in valid if pa.rollback_of < 0}  # undoing needs no approval
        for (decided, pa), ev in zip(valid, acts, strict=True):
            a = pa.action
            high = is_high_risk([a]) or (pa.rollback_of < 0 and len(set_cells) > 3)
            req = requests.get(pa.approval) if pa.approval else None
            covered_by = req["actions"] + (req["backout"] if pa.rollback_of >= 0 else []) if req else []
            approval_valid = bool(req) and pa.approval in granted and asdict(a) in covered_by
            covered = {a.kind} if is_high_risk([a]) else {"multi_cell"}
            preauth_valid = bool(pa.preauthorized) and covered <= preauthorized
            entry = {"rop": r, "decided_rop": decided, **asdict(a), "pre": float(ev.detail["pre"]),
                     "post": float(ev.detail["post"]), "high_risk": bool(high), "approval": pa.approval,
                     "approval_valid": approval_valid, "preauthorized": pa.preauthorized,
                     "preauth_valid": preauth_valid, "rollback_of": int(pa.rollback_of), "reason": pa.reason}
            if r in cf and pa.rollback_of < 0:
                cf_members.setdefault(r, []).append(len(log_app))
            log_app.append(entry)
            applied_obs.append((r, a, entry["pre"], entry["post"]))
            rec(r, "rollback" if pa.rollback_of >= 0 else "action", entry)
        pending = []
        kp = info["kpis"]
        for k, v in kp.items():
            hist.setdefault(k, []).append(np.asarray(v, dtype=np.float64))
        healed.append(impact_value(kp, cells, kpi))
        # 2. the operator grants requests whose delay has passed
        for rid, q in requests.items():
            if rid not in granted and q["requested_rop"] + approval_delay_rops <= r:
                granted.add(rid)
                q["granted_rop"] = r
                rec(r, "approval", {"id": rid, "requested_rop": q["requested_rop"], "granted_rop": r})
        obs = Observation(rop=r, kpis={k: v.copy() for k, v in kp.items()},
                          history={k: np.stack(v) for k, v in hist.items()}, events=list(info["events"]),
                          approvals=frozenset(granted), applied=list(applied_obs),
                          mr_rsrp_dbm=info["mr_rsrp_dbm"], ue_serving=info["ue_serving"],
                          ue_dl_demand_mbps=info["ue_dl_demand_mbps"], ue_xy_m=info["ue_xy_m"],
                          mr_sinr_db=info["mr_sinr_db"])
        dec = policy.decide(obs)
        if not isinstance(dec, Decision):
            raise ConfigError(f"policy {policy.name!r} returned {type(dec).__name__} instead of a Decision")
        d = _jsonable(dec.to_dict())
        log_dec.append(d | {"rop": r})
        rec(r, "decision", d)
        for q in dec.approval_requests:
            if q.id in requests:
                raise ConfigError(f"policy {policy.name!r} reused approval request id {q.id!r} at ROP {r}")
            asked = {"id": q.id, "actions": [asdict(a) for a in q.actions], "reason": q.reason,
                     "backout": [asdict(a) for a in q.backout]}
            requests[q.id] = asked | {"requested_rop": r, "granted_rop": None}
            rec(r, "approval_request", asked)
            if approval_delay_rops == 0:
                granted.add(q.id)
                requests[q.id]["granted_rop"] = r
                rec(r, "approval", {"id": q.id, "requested_rop": r, "granted_rop": r})
        pending = [(r, pa) for pa in dec.actions]
    report = policy.report()
    rec(ep.rops - 1, "report", {"text": report})
    unhealed = reference_series(ep.scenario, ep.seed, ep.rops, tuple(ep.faults))
    nofault = reference_series(ep.scenario, ep.seed, ep.rops, tuple(f for f in ep.faults if f.kind == "benign_surge"))
    return {
        "episode_id": ep.id, "policy": policy.name, "scenario": ep.scenario, "seed": int(ep.seed),
        "rops": int(ep.rops), "run_id": run_id, "approval_delay_rops": approval_delay_rops,
        "preauthorized": sorted(preauthorized), "decisions": log_dec, "applied": log_app, "rejected": log_rej,
        "approvals": [{k: q[k] for k in ("id", "requested_rop", "granted_rop", "actions", "backout")}
                      for q in requests.values()],
        "impact": {"cells": [int(c) for c in cells], "kpi": kpi, "fault_cells": fault_cells(ep, ctx.cell_site),
                   "healed": healed, "unhealed": _impact_series(unhealed, cells, kpi),
                   "nofault": _impact_series(nofault, cells, kpi)},
        "report": report, "wall_s": time.perf_counter() - t0,
    } | ({"counterfactual": {"horizon_rops": counterfactual_rops,
                             "sets": counterfactual_records(cf, cf_members, healed)}} if counterfactual_rops else {})


# ---------------------------------------------------------------------------------------------- executors
class _Collector:
    """Collects audit records in a worker; the parent writes them to the DuckDB file (one writer)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, int, str, Any]] = []

    def record(self, run_id: str, rop: int, stage: str, payload: Any) -> None:
        self.rows.append((run_id, rop, stage, payload))


def _run_job(job: dict[str, Any]) -> dict[str, Any]:
    from airan.agents.policies import make_policy

    ep = episode_from_dict(job["episode"])
    col = _Collector() if job["audit"] else None
    overrides = job.get("overrides") or {}
    log = run_policy_episode(ep, make_policy(job["policy"], overrides), approval_delay_rops=job["approval_delay_rops"],
                             preauthorized=frozenset(job["preauthorized"]), audit=col)
    if overrides:
        log["policy_overrides"] = dict(overrides)
    return {"index": job["index"], "log": log, "audit": col.rows if col else []}


def _run_job_to(job: dict[str, Any], _out: str) -> dict[str, Any]:
    """``_run_job`` in the ``fn(job, out)`` shape of the shared executors (episode logs are returned)."""
    return _run_job(job)


def run_suite(suite: Suite, policy_name: str, *, workers: int = 1, ray_address: str | None = None,
              show_progress: bool = True, audit_path: str | Path | None = None, approval_delay_rops: int = 1,
              preauthorized: frozenset[str] = frozenset(),
              overrides: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Run ``policy_name`` on every episode of ``suite``; return the logs in suite order. ``audit_path``: a
    DuckDB audit file receiving each run's episode spec (for ``airan replay``) and its trail. ``overrides``:
    settings of the policy's config changed for this run (dotted field -> text, ``make_policy``); each log then
    carries them as ``policy_overrides``, and the audit's episode spec too, so ``airan replay`` re-runs them."""
    from airan.agents.policies import POLICIES, make_policy

    overrides = dict(overrides or {})
    make_policy(policy_name, overrides)  # fail fast (ConfigError naming the policy or setting) before workers
    jobs = [{"index": i, "episode": episode_to_dict(e), "policy": policy_name,
             "approval_delay_rops": approval_delay_rops, "preauthorized": sorted(preauthorized),
             "audit": audit_path is not None, "overrides": overrides} for i, e in enumerate(suite.episodes)]
    logs: list[dict[str, Any] | None] = [None] * len(jobs)
    audit = None
    if audit_path is not None:
        from airan.agents.audit import AuditLog

        audit = AuditLog(audit_path)
    ex = make_executor(workers, ray_address)  # the datagen executors: inline, process pool or Ray
    progress = None
    try:
        if show_progress:
            from rich.console import Console
            from rich.progress import Progress

            progress = Progress(console=Console(stderr=True), transient=False)
            progress.start()
            task = progress.add_task(f"heal {policy_name} ({POLICIES.get(policy_name, '?').split(':')[-1]})",
                                     total=len(jobs))
        for res in ex.map(_run_job_to, jobs, ""):
            logs[res["index"]] = res["log"]
            if audit is not None:
                ep = suite.episodes[res["index"]]
                audit.record_episode(res["log"]["run_id"], episode_to_dict(ep), policy_name,
                                     approval_delay_rops=approval_delay_rops, preauthorized=sorted(preauthorized),
                                     **({"overrides": overrides} if overrides else {}))
                for run_id, rop, stage, payload in res["audit"]:
                    audit.record(run_id, rop, stage, payload)
            if progress is not None:
                progress.advance(task)
    finally:
        if progress is not None:
            progress.stop()
        ex.close()
        if audit is not None:
            audit.close()
    return [lg for lg in logs if lg is not None]
