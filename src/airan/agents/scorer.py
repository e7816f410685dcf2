"""Scoring healing runs: a pure function of (suite, episode logs). Definitions, per policy:

Episode sets. *Fault episodes*: not ``control`` and not ``undetectable``; *controls*: ``control``;
*undetectable* episodes are scored apart (same metrics, reported under ``undetectable``). The *scope* of an
episode is ``log["impact"]["cells"]`` (fault cells, all site cells for backhaul faults, plus neighbours);
the *fault cells* (``impact["fault_cells"]``) are the faults' cells, every cell of the site for a backhaul
fault. ``onset`` is the first real fault's onset ROP;
``end`` its end ROP (episode length when it lasts).

* **detection**: the first ``Detection`` at ROP ``>= onset`` on a scope cell. ``detection_recall`` = detected
  fault episodes / fault episodes. ``hard_recall``: the same over the hard faults (outage, backhaul failure,
  sleeping cell).
* **detection_precision** (episode level) = detected fault episodes / episodes with any alarm that count as
  positives (detected fault episodes + controls with an alarm + fault episodes whose alarms all miss, i.e.
  before onset or outside the scope). **alarm_precision** (alarm level) = detections (ROP, cell) on scope
  cells within ``[onset, end + 2)`` / all detections in fault episodes and controls.
* **control_alarm_rate** / **control_action_rate**: controls with >= 1 detection / >= 1 applied action.
* **ttd_rops**: detection ROP - onset (detected episodes).
* **rca_top1 / rca_top3**: from the first ``Diagnosis`` at or after the detection ROP, whether the true cause
  is its top-1 / among its top-3 causes; over detected fault episodes (no diagnosis = wrong). ``rca_top1`` is
  the macro average over causes (``rca_top1_micro`` the pooled rate). **localization_top1**: the same
  diagnosis ranks a fault cell first.
* **impact noise** ``sigma``: std of the no-fault impact series' ROP-to-ROP differences / sqrt(2).
* **FKR** (fraction of KPI loss recovered) over the window ``W`` = ROPs after the detection ROP (after onset
  when undetected) while the fault is active: ``sum(healed - unhealed) / sum(nofault - unhealed)``, clipped
  to [0, 1]; defined only when the mean loss ``mean(nofault - unhealed)`` over ``W`` exceeds
  ``2 sigma / sqrt(|W|)`` (the standard error of a mean of ``|W|`` ROPs)
  (episodes without loss beyond noise are counted in ``no_loss``). ``fkr_median`` over compensable
  fault episodes with a defined FKR. ``fkr_raw`` (per episode, in ``recovery``) is the same ratio unclipped.
* **worsened_rate**: compensable episodes with a defined FKR whose actions left the window worse than never
  acting, ``mean(healed - unhealed) < -2 sigma / sqrt(|W|)`` (the loss test, mirrored) / those episodes. The
  clipped FKR reads 0 both for an episode the policy left alone and for one it made worse; this tells them apart.
* **compensable** classes (``COMPENSABLE``): some catalogue action can recover part of the loss in the twin:
  sleeping cell (restart cures it), excessive downtilt / uptilt overshoot (counter-tilt the cell's own knob),
  PA degradation (+3 dB power headroom, neighbour power), cell outage and backhaul failure (neighbours'
  power/tilt cover the hole; switching the dead-backhaul cells off lets UEs reselect), overload hotspot (offload
  with CIO, or shrink the hot cell with its own downtilt), external interference and backhaul congestion (offload
  with CIO), handover misconfiguration (re-pushing the cell's CIO/TTT/hysteresis replaces the bad set in the
  twin). Every catalogue cause is compensable.
* **full_recovery_rate**: compensable episodes whose FKR over the last 3 ROPs of the fault window is
  ``>= 0.9`` / compensable episodes with a defined FKR. ``recovery_vs_reference`` splits it (and the FKR
  median) by whether a reference policy, the oracle, fully recovered the same episode: an episode class can be
  compensable while a given episode is not, and the oracle's search in the true twin shows which.
* **mttr_rops**: ROPs from onset to the first ROP after detection at which the per-ROP recovered fraction
  ``(healed - unhealed) / (nofault - unhealed)`` is ``>= 0.9`` for 2 consecutive ROPs (or the fault ended);
  episodes that never recover count as the fault window's length (censored). Compensable, defined FKR.
* **harmful action**: an applied action (not a rollback) after which the mean impact over its ROP and the next,
  ``healed - unhealed``, is below ``-2 sigma``. ``harmful_action_rate`` = harmful / applied non-rollback
  actions (all episodes, controls included). Its 95 % interval (and the counterfactual rate's) also
  resamples whole episodes (``clustered_rate``): harmful actions come in sets, so they are not independent
  trials.
* **harmful action against its counterfactual** (``harmful_action_rate_counterfactual``): the same test against
  the set's own counterfactual instead of the run that never acted. The runner records, at every ROP in which
  non-rollback actions took effect, the impact of a clone of the true twin taken just before them and rolled
  the same ROPs with no action, on the same random future (log field ``counterfactual``; ``agents.counterfactual``
  adds it to an older log by replay); the set's effect is ``mean(factual - counterfactual)`` over its ROP and the
  next, and every action of a set below ``-2 sigma`` is harmful. An action is then charged only with what it
  changed, not with what earlier actions left in place or with a dip that came with or without it. ``None``
  unless every log carries the records; ``rollback_within_2_rops_counterfactual`` as below for these actions.
* **rollbacks**: applied actions with ``rollback_of >= 0``. ``rollback_within_2_rops`` = harmful actions whose
  knob was restored (a rollback, or any action resetting the knob to its pre-state, on the same cell and
  kind) taking effect at most 2 ROPs later / harmful actions (``None`` when there were none).
* **post-fault** (episodes whose real faults all end >= ``POST_FAULT_MIN_ROPS`` ROPs before the episode does,
  with >= 1 applied action): ``post_gain`` = mean ``healed - unhealed`` over the ROPs from the end on, what the
  actions still in place cost (< 0) or win once the fault is gone; the episode *lingers* when it is below
  ``-2 sigma / sqrt(n)``. ``post_fault_lingering_rate`` = lingering / such episodes, ``post_fault_gain_median``
  their median ``post_gain``.
* **approvals_held**: approval requests made; ``approval_hold_rops_mean`` the mean ROPs until the grant.
* **unapproved_high_risk_actions**: applied high-risk actions with neither a granted approval covering them
  nor an operator pre-authorisation of their kind.

Rates carry Wilson 95 % intervals; medians a bootstrap 95 % interval (2000 resamples, seed 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from airan.agents.base import CAUSES
from airan.agents.suite import HARD_FAULTS, Suite, SuiteEpisode
from airan.core.errors import ConfigError

COMPENSABLE = ("cell_outage", "sleeping_cell", "excessive_downtilt", "uptilt_overshoot", "pa_degradation",
               "external_interference", "backhaul_congestion", "backhaul_failure", "overload_hotspot", "ho_misconfig")
LOSS_K = 2.0
HARM_K = 2.0
FULL_RECOVERY_FKR = 0.9
POST_FAULT_MIN_ROPS = 3
CONFUSION_ROWS = (*CAUSES, "control")
CONFUSION_COLS = (*CAUSES, "none")


# ---------------------------------------------------------------------------------------------- statistics
def wilson(k: int, n: int, z: float = 1.96) -> dict[str, Any]:
    """Rate k/n with its Wilson score interval (value None when n == 0)."""
    if n == 0:
        return {"value": None, "ci95": [None, None], "k": 0, "n": 0}
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return {"value": p, "ci95": [max(0.0, mid - half), min(1.0, mid + half)], "k": int(k), "n": int(n)}


def clustered_rate(k_per: Sequence[int], n_per: Sequence[int], resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Rate ``sum(k) / sum(n)`` of events that come in clusters, ``k_per`` / ``n_per`` one entry per cluster
    (harmful / applied actions per episode: a policy's harmful actions come in sets, several from one decision),
    with a 95 % interval that is the union of the Wilson interval and a percentile bootstrap over whole
    clusters (fixed seed). Treating each action as an independent trial, as Wilson alone does, makes the
    interval too narrow when one set of 6 actions is 6 "events"; the bootstrap alone collapses to a point when
    no cluster has an event, hence the union. Fields as ``wilson`` plus ``clusters`` (clusters with n > 0)."""
    k = np.asarray(k_per, dtype=np.float64)
    n = np.asarray(n_per, dtype=np.float64)
    if k.shape != n.shape or k.ndim != 1 or np.any(k < 0) or np.any(k > n):
        raise ConfigError(f"clustered_rate needs equal-length counts with 0 <= k <= n, got {k.tolist()!r} / "
                          f"{n.tolist()!r}")
    out = wilson(int(k.sum()), int(n.sum()), z=1.96)
    keep = n > 0
    k, n = k[keep], n[keep]
    out["clusters"] = int(n.size)
    if n.size == 0:
        return out
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n.size, (resamples, n.size))
    boot = k[idx].sum(axis=1) / n[idx].sum(axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    out["ci95"] = [min(out["ci95"][0], float(lo)), max(out["ci95"][1], float(hi))]
    return out


def median_ci(values: Sequence[float], resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Median with a percentile-bootstrap 95 % interval (fixed seed; value None when empty)."""
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if x.size == 0:
        return {"value": None, "ci95": [None, None], "n": 0}
    rng = np.random.default_rng(seed)
    meds = np.median(x[rng.integers(0, x.size, (resamples, x.size))], axis=1)
    lo, hi = np.percentile(meds, [2.5, 97.5])
    return {"value": float(np.median(x)), "ci95": [float(lo), float(hi)], "n": int(x.size)}


def macro(rates: dict[str, tuple[int, int]], resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Macro average of per-class rates {class: (k, n)} with a bootstrap 95 % interval (classes with n=0
    are left out)."""
    cls = [(k, n) for k, n in rates.values() if n > 0]
    if not cls:
        return {"value": None, "ci95": [None, None], "n": 0, "classes": 0}
    rng = np.random.default_rng(seed)
    boot = np.mean([rng.binomial(n, k / n, resamples) / n for k, n in cls], axis=0)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {"value": float(np.mean([k / n for k, n in cls])), "ci95": [float(lo), float(hi)],
            "n": int(sum(n for _, n in cls)), "classes": len(cls)}


# ---------------------------------------------------------------------------------------------- per episode
def noise_sigma(nofault: np.ndarray) -> float:
    """Impact noise ``sigma`` of an episode from its no-fault impact series ``[rops]`` (module docstring)."""
    if nofault.size < 3:
        return 0.0
    return float(np.std(np.diff(nofault)) / math.sqrt(2.0))


def _action_impact(healed: np.ndarray, unhealed: np.ndarray, i: int, log: dict[str, Any]) -> float:
    """Mean ``healed - unhealed`` over the ROP applied action ``i`` took effect and the next (+inf past the end)."""
    r = int(log["applied"][i]["rop"])
    win = np.arange(r, min(r + 2, len(healed)))
    return float(np.mean(healed[win] - unhealed[win])) if win.size else math.inf


def rolled_back(log: dict[str, Any], indices: Sequence[int]) -> list[int]:
    """Those of ``indices`` (into ``log["applied"]``) whose knob was restored within 2 ROPs: a rollback, or any
    action setting the same cell's same knob back to its pre-state (cell on/off count as one knob)."""
    out = []
    for i in indices:
        a = log["applied"][i]
        for b in log["applied"][i + 1:]:
            if b["cell"] != a["cell"] or b["kind"] != a["kind"] and not (
                    {a["kind"], b["kind"]} <= {"cell_on", "cell_off"}):
                continue
            if int(b["rop"]) - int(a["rop"]) > 2:
                break
            if b.get("rollback_of", -1) >= 0 or abs(float(b["post"]) - float(a["pre"])) < 1e-9:
                out.append(i)
                break
    return out


def counterfactual_harmful(sets: Sequence[dict[str, Any]], sigma: float) -> list[int]:
    """Indices into the log's ``applied`` of the actions harmful against their set's own counterfactual (module
    docstring), from the log's ``counterfactual["sets"]`` records and the episode's impact noise ``sigma``."""
    return sorted(int(i) for s in sets if float(s["effect"]) < -HARM_K * sigma for i in s["actions"])


def episode_outcome(ep: SuiteEpisode, log: dict[str, Any]) -> dict[str, Any]:
    """Everything the metrics need from one episode (definitions in the module docstring)."""
    imp = log["impact"]
    scope = {int(c) for c in imp["cells"]}
    healed, unhealed, nofault = (np.asarray(imp[k], dtype=np.float64) for k in ("healed", "unhealed", "nofault"))
    rops = len(healed)
    sigma = noise_sigma(nofault)
    real = [f for f in ep.faults if f.kind != "benign_surge"]
    onset = min(f.onset_rop for f in real) if real else None
    ends = [f.end_rop if f.end_rop is not None else rops for f in real]
    end = min(max(ends), rops) if real else rops
    fcells = {int(c) for c in imp.get("fault_cells", [c for f in real for c in f.cells])}
    alarms = [(d["rop"], int(x["cell"])) for d in log["decisions"] for x in d["detections"]]
    out: dict[str, Any] = {"id": ep.id, "cause": ep.cause, "control": ep.control, "undetectable": ep.undetectable,
                           "lookalike": ep.lookalike, "alarmed": bool(alarms), "alarms": len(alarms),
                           "acted": bool(log["applied"]), "sigma": sigma}
    det = None
    if real:
        hits = sorted(r for r, c in alarms if r >= onset and c in scope)
        det = hits[0] if hits else None
        out["true_alarms"] = sum(1 for r, c in alarms if c in scope and onset <= r < end + 2)
    else:
        out["true_alarms"] = 0
    out["detected"] = det is not None
    out["ttd"] = None if det is None else det - onset
    # diagnosis
    diag = None
    first_alarm = det if det is not None else (min(r for r, _ in alarms) if alarms else None)
    if first_alarm is not None:
        for d in log["decisions"]:
            if d["rop"] >= first_alarm and d["diagnosis"] is not None:
                diag = d["diagnosis"]
                break
    ranked = sorted(diag["causes"].items(), key=lambda kv: -kv[1]) if diag else []
    out["predicted"] = ranked[0][0] if ranked and (det is not None or not real) and alarms else "none"
    if det is not None:
        top = [c for c, _ in ranked]
        out["rca_top1"] = bool(top) and top[0] == ep.cause
        out["rca_top3"] = ep.cause in top[:3]
        cells = diag["cells"] if diag else []
        out["loc_top1"] = bool(cells) and int(cells[0]) in fcells
    # recovery
    out.update(fkr=None, fkr_raw=None, worsened=False, full=None, mttr=None, no_loss=False)
    if real:
        start = (det if det is not None else onset) + 1
        w = np.arange(start, end)
        if w.size:
            loss = nofault[w] - unhealed[w]
            if float(np.mean(loss)) > LOSS_K * sigma / math.sqrt(w.size) and float(np.sum(loss)) > 0:
                gain = healed[w] - unhealed[w]
                out["fkr_raw"] = float(np.sum(gain) / np.sum(loss))
                out["fkr"] = float(np.clip(out["fkr_raw"], 0.0, 1.0))
                out["worsened"] = bool(float(np.mean(gain)) < -LOSS_K * sigma / math.sqrt(w.size))
                tail = w[-3:]
                tl = float(np.sum(nofault[tail] - unhealed[tail]))
                tg = float(np.sum(healed[tail] - unhealed[tail]))
                out["full"] = bool(tl > 0 and tg / tl >= FULL_RECOVERY_FKR) or bool(tl <= 0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    frac = np.where(loss > 0, gain / loss, 1.0)
                ok = frac >= FULL_RECOVERY_FKR
                rec = None
                for i in range(len(w)):
                    if ok[i] and (i + 1 == len(w) or ok[i + 1]):
                        rec = int(w[i])
                        break
                if det is None:
                    rec = None
                out["mttr"] = (rec - onset) if rec is not None else (end - onset)
            else:
                out["no_loss"] = True
    # after the fault: what the actions left behind once it had ended (a compensation still in place)
    out.update(post_rops=0, post_gain=None, lingering=False)
    if real and log["applied"] and rops - end >= POST_FAULT_MIN_ROPS:
        p = np.arange(end, rops)
        out["post_rops"] = int(p.size)
        out["post_gain"] = float(np.mean(healed[p] - unhealed[p]))
        out["lingering"] = out["post_gain"] < -LOSS_K * sigma / math.sqrt(p.size)
    # actions
    impact = {i: _action_impact(healed, unhealed, i, log) for i, a in enumerate(log["applied"])
              if a.get("rollback_of", -1) < 0}
    harmful = [i for i, v in impact.items() if v < -HARM_K * sigma]
    out["harmful"] = harmful
    out["actions"] = sum(1 for a in log["applied"] if a.get("rollback_of", -1) < 0)
    out["rollbacks"] = sum(1 for a in log["applied"] if a.get("rollback_of", -1) >= 0)
    rolled = rolled_back(log, harmful)
    out["harmful_rolled_back"] = len(rolled)
    out["harmful_detail"] = []
    for i in harmful:
        a = log["applied"][i]
        out["harmful_detail"].append({"rop": int(a["rop"]), "kind": a["kind"], "cell": int(a["cell"]),
                                      "pre": a["pre"], "post": a["post"],
                                      "impact": impact[i],
                                      "rolled_back": i in rolled, "reason": a.get("reason", "")})
    # None for a log written before the runner recorded the counterfactuals
    cf = counterfactual_harmful(log["counterfactual"]["sets"], sigma) if "counterfactual" in log else None
    out["harmful_cf"] = cf
    out["harmful_cf_rolled_back"] = None if cf is None else len(rolled_back(log, cf))
    out["approvals"] = len(log.get("approvals", []))
    holds = [q["granted_rop"] - q["requested_rop"] for q in log.get("approvals", []) if q["granted_rop"] is not None]
    out["approval_holds"] = holds
    out["unapproved"] = sum(1 for a in log["applied"] if a["high_risk"] and not a.get("approval_valid")
                            and not a.get("preauth_valid"))
    return out


# ---------------------------------------------------------------------------------------------- aggregation
def _block(outs: list[dict[str, Any]]) -> dict[str, Any]:
    """Metrics of a set of episode outcomes (fault episodes + controls)."""
    faults = [o for o in outs if not o["control"]]
    ctrls = [o for o in outs if o["control"]]
    det = [o for o in faults if o["detected"]]
    hard = [o for o in faults if o["cause"] in HARD_FAULTS]
    tp = len(det)
    fp = sum(o["alarmed"] for o in ctrls) + sum(o["alarmed"] and not o["detected"] for o in faults)
    alarms = sum(o["alarms"] for o in outs)
    true_alarms = sum(o["true_alarms"] for o in faults)
    per_cause_rca = {c: (sum(o["rca_top1"] for o in det if o["cause"] == c),
                         sum(1 for o in det if o["cause"] == c)) for c in CAUSES}
    per_cause_rca3 = {c: (sum(o["rca_top3"] for o in det if o["cause"] == c),
                          sum(1 for o in det if o["cause"] == c)) for c in CAUSES}
    comp = [o for o in faults if o["cause"] in COMPENSABLE and o["fkr"] is not None]
    actions = sum(o["actions"] for o in outs)
    harmful = sum(len(o["harmful"]) for o in outs)
    holds = [h for o in outs for h in o["approval_holds"]]
    with_cf = all(o["harmful_cf"] is not None for o in outs)
    harmful_cf = sum(len(o["harmful_cf"]) for o in outs) if with_cf else 0
    post = [o for o in faults if o["post_gain"] is not None]
    return {
        "detection_recall": wilson(tp, len(faults)),
        "hard_fault_recall": wilson(sum(o["detected"] for o in hard), len(hard)),
        "detection_precision": wilson(tp, tp + fp),
        "alarm_precision": wilson(true_alarms, alarms),
        "false_alarm_episodes": int(fp),
        "control_alarm_rate": wilson(sum(o["alarmed"] for o in ctrls), len(ctrls)),
        "control_action_rate": wilson(sum(o["acted"] for o in ctrls), len(ctrls)),
        "ttd_rops_median": median_ci([o["ttd"] for o in det]),
        "rca_top1": macro(per_cause_rca),
        "rca_top1_micro": wilson(sum(o["rca_top1"] for o in det), len(det)),
        "rca_top3": macro(per_cause_rca3),
        "localization_top1": wilson(sum(o["loc_top1"] for o in det), len(det)),
        "fkr_median": median_ci([o["fkr"] for o in comp]),
        "full_recovery_rate": wilson(sum(o["full"] for o in comp), len(comp)),
        "worsened_rate": wilson(sum(o["worsened"] for o in comp), len(comp)),
        "mttr_rops_median": median_ci([o["mttr"] for o in comp]),
        "no_loss_episodes": int(sum(o["no_loss"] for o in faults)),
        "harmful_action_rate": clustered_rate([len(o["harmful"]) for o in outs], [o["actions"] for o in outs]),
        "actions_applied": int(actions),
        "rollbacks": int(sum(o["rollbacks"] for o in outs)),
        "rollback_within_2_rops": wilson(sum(o["harmful_rolled_back"] for o in outs), harmful),
        "harmful_action_rate_counterfactual":
            clustered_rate([len(o["harmful_cf"]) for o in outs], [o["actions"] for o in outs]) if with_cf else None,
        "rollback_within_2_rops_counterfactual":
            wilson(sum(o["harmful_cf_rolled_back"] for o in outs), harmful_cf) if with_cf else None,
        "approvals_held": int(sum(o["approvals"] for o in outs)),
        "approval_hold_rops_mean": float(np.mean(holds)) if holds else None,
        "unapproved_high_risk_actions": int(sum(o["unapproved"] for o in outs)),
        "post_fault_lingering_rate": wilson(sum(o["lingering"] for o in post), len(post)),
        "post_fault_gain_median": median_ci([o["post_gain"] for o in post]),
        "fault_episodes": len(faults), "control_episodes": len(ctrls),
    }


def confusion(outs: list[dict[str, Any]]) -> dict[str, Any]:
    """Cause confusion: rows = true cause (or ``control``), columns = predicted top-1 (``none`` = not
    detected / no diagnosis)."""
    m = np.zeros((len(CONFUSION_ROWS), len(CONFUSION_COLS)), dtype=np.int64)
    for o in outs:
        row = "control" if o["control"] else o["cause"]
        col = o["predicted"] if o["predicted"] in CONFUSION_COLS else "none"
        m[CONFUSION_ROWS.index(row), CONFUSION_COLS.index(col)] += 1
    return {"rows": list(CONFUSION_ROWS), "cols": list(CONFUSION_COLS), "matrix": m.tolist()}


def _match(suite: Suite, logs: Sequence[dict[str, Any]]) -> list[tuple[SuiteEpisode, dict[str, Any]]]:
    by_id = {e.id: e for e in suite.episodes}
    pairs = []
    for lg in logs:
        ep = by_id.get(lg.get("episode_id"))
        if ep is None:
            raise ConfigError(f"log of episode {lg.get('episode_id')!r} matches no episode of suite {suite.name!r}")
        pairs.append((ep, lg))
    return pairs


def score(suite: Suite, logs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Score one policy's logs against ``suite`` (a pure function; definitions in the module docstring)."""
    if not logs:
        raise ConfigError("score() needs at least one episode log")
    names = sorted({lg["policy"] for lg in logs})
    if len(names) != 1:
        raise ConfigError(f"score() takes one policy's logs, got policies {names}; use score_policies()")
    outs = [episode_outcome(ep, lg) for ep, lg in _match(suite, logs)]
    main = [o for o in outs if not o["undetectable"]]
    und = [o for o in outs if o["undetectable"]]
    per_class = {}
    for c in CAUSES:
        sub = [o for o in main if o["cause"] == c]
        if sub:
            b = _block(sub)
            per_class[c] = {k: b[k] for k in ("detection_recall", "ttd_rops_median", "rca_top1_micro", "rca_top3",
                                              "localization_top1", "fkr_median", "full_recovery_rate",
                                              "worsened_rate", "mttr_rops_median", "harmful_action_rate",
                                              "harmful_action_rate_counterfactual", "no_loss_episodes",
                                              "fault_episodes")}
    ctrl = [o for o in main if o["control"]]
    if ctrl:
        b = _block(ctrl)
        per_class["control"] = {k: b[k] for k in ("control_alarm_rate", "control_action_rate",
                                                  "harmful_action_rate", "harmful_action_rate_counterfactual",
                                                  "control_episodes")}
    look = {}
    for name in sorted({o["lookalike"] for o in main if o["lookalike"]}):
        sub = [o for o in main if o["lookalike"] == name]
        right = sum(1 for o in sub if (o["control"] and o["predicted"] == "none") or
                    (not o["control"] and o["predicted"] == o["cause"]))
        look[name] = {"episodes": len(sub), "correct_top1": wilson(right, len(sub))}
    return {
        "policy": names[0], "suite": suite.name, "episodes": len(outs),
        "metrics": _block(main), "per_class": per_class, "lookalike": look,
        "undetectable": {"episodes": len(und), "metrics": _block(und) if und else None},
        "confusion": confusion(main),
        "recovery": [{"id": o["id"], "cause": o["cause"], "fkr": o["fkr"], "fkr_raw": o["fkr_raw"],
                      "full": o["full"], "worsened": o["worsened"]} for o in main
                     if not o["control"] and o["cause"] in COMPENSABLE and o["fkr"] is not None],
        "wall_s_total": float(sum(lg.get("wall_s", 0.0) for lg in logs)),
    }


# per-episode outcome fields ``compare`` reports when they differ between two runs
COMPARED = ("alarmed", "detected", "ttd", "predicted", "loc_top1", "fkr", "full", "worsened", "mttr", "actions",
            "rollbacks", "harmful_count", "harmful_rolled_back", "harmful_cf_count", "unapproved")


def _same(a: Any, b: Any) -> bool:
    """Equal, floats within 1e-6: the same actions in two runs (one and two workers) gave FKRs that differed in
    the 8th digit, floating-point noise that is no change."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-6
    return a == b


def compare(suite: Suite, logs_a: Sequence[dict[str, Any]], logs_b: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Episode by episode, what differs between two runs on ``suite`` (two policies, or two versions of one):
    a pure function of the suite and the two runs' logs, as ``score`` is. Returns ``episodes`` (in both runs),
    ``only_a`` / ``only_b`` (episode ids in one run only), ``changed``: one entry per episode whose outcome
    differs in any ``COMPARED`` field (``id``, ``cause`` or "control", ``undetectable``, ``diff``: field ->
    [a, b]), ``summary`` (episodes changed, FKR up/down, detections gained/lost, full recoveries gained/lost,
    harmful actions a/b) and ``harmful``: {"a": [...], "b": [...]}, every harmful action of each run with its
    episode, ROP, knob, pre/post values, impact (mean healed - unhealed over its ROP and the next) and whether it
    was rolled back within 2 ROPs."""
    if not logs_a or not logs_b:
        raise ConfigError("compare() needs episode logs on both sides")
    sides = []
    for logs in (logs_a, logs_b):
        outs = {}
        for ep, lg in _match(suite, logs):
            o = episode_outcome(ep, lg)
            o["harmful_count"] = len(o["harmful"])
            o["harmful_cf_count"] = None if o["harmful_cf"] is None else len(o["harmful_cf"])
            outs[ep.id] = o
        sides.append(outs)
    a, b = sides
    order = [e.id for e in suite.episodes]
    both = [i for i in order if i in a and i in b]
    changed = []
    for i in both:
        diff = {f: [a[i].get(f), b[i].get(f)] for f in COMPARED if not _same(a[i].get(f), b[i].get(f))}
        if diff:
            changed.append({"id": i, "cause": a[i]["cause"] or "control", "undetectable": a[i]["undetectable"],
                            "diff": diff})

    def count(field: str, up: bool) -> int:
        """Changed episodes whose ``field`` rose (``up``) or fell; bools: became True / stopped being True;
        numbers: both sides defined (an FKR of None means no loss to recover, not zero)."""
        n = 0
        for c in changed:
            va, vb = c["diff"].get(field, (None, None))
            if field in ("detected", "full"):
                n += (vb is True and va is not True) if up else (va is True and vb is not True)
            elif va is not None and vb is not None:
                n += (vb > va) == up
        return n

    def harmful(outs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"episode": i, **h} for i in order if i in outs for h in outs[i]["harmful_detail"]]

    ha, hb = harmful(a), harmful(b)
    return {"episodes": len(both), "only_a": [i for i in order if i in a and i not in b],
            "only_b": [i for i in order if i in b and i not in a], "changed": changed,
            "summary": {"changed": len(changed), "fkr_up": count("fkr", True), "fkr_down": count("fkr", False),
                        "detections_gained": count("detected", True), "detections_lost": count("detected", False),
                        "full_gained": count("full", True), "full_lost": count("full", False),
                        "harmful_a": len(ha), "harmful_b": len(hb)},
            "harmful": {"a": ha, "b": hb}}


def recovery_vs_reference(scored: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any] | None:
    """Recovery of one policy split by what a reference policy (the oracle) achieved on the same episodes:
    ``scored`` / ``reference`` are ``score()`` results on the same suite. On the episodes the reference fully
    recovered (*recoverable*: the catalogue can do it, shown in the true twin) and on the rest: the policy's
    full recovery rate and FKR median there. None when either score lacks the per-episode ``recovery`` table
    (scores written before it existed)."""
    if "recovery" not in scored or "recovery" not in reference:
        return None
    ref = {r["id"]: r for r in reference["recovery"]}
    mine = {r["id"]: r for r in scored["recovery"]}
    ids = sorted(set(ref) & set(mine))
    out: dict[str, Any] = {"reference": reference["policy"], "episodes": len(ids)}
    for name, keep in (("recoverable", True), ("not_recoverable", False)):
        sub = [mine[i] for i in ids if bool(ref[i]["full"]) is keep]
        out[name] = {"episodes": len(sub), "full_recovery_rate": wilson(sum(bool(r["full"]) for r in sub), len(sub)),
                     "fkr_median": median_ci([r["fkr"] for r in sub]),
                     "reference_fkr_median": median_ci([ref[r["id"]]["fkr"] for r in sub])}
    return out


def score_policies(suite: Suite, logs: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``score`` per policy found in ``logs``."""
    by: dict[str, list[dict[str, Any]]] = {}
    for lg in logs:
        by.setdefault(lg["policy"], []).append(lg)
    return {p: score(suite, lgs) for p, lgs in sorted(by.items())}


def plot_confusion(matrix: dict[str, Any], path: str | Path, title: str = "") -> Path:
    """Write the confusion matrix (``score(...)["confusion"]``) as a PNG heat map (matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix["matrix"], dtype=np.float64)
    rows, cols = matrix["rows"], matrix["cols"]
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(9, 7))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted top-1 cause")
    ax.set_ylabel("true cause")
    ax.set_title(title or "root-cause confusion")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
