"""How well the verifier's imperfect twin predicts what an action does -> bench/results/heal_verifier_fidelity*.json

The ``airan`` policy runs unchanged on a suite. Every time its verifier predicts the candidates of a round, this
benchmark also rolls each candidate out in a clone of the *true* network (which it has and the policy does not)
from the same ROP, over the same horizon, cells and objective, and records both: the verifier's per-rollout
changes (imperfect twins: seeds x severities) and the true change, and two references rolled out from the true
network's state with its future re-seeded: the *perfect model* (how well anyone could predict a few noisy ROPs)
and the perfect model with the verifier's radio errors (its calibration errors and shadow-fading perturbation on
the true UE state: what the intended imperfection alone costs). From those records it reports

- fidelity per hypothesised cause, for the verifier and each reference: sign agreement of the predicted mean
  with the true change, rank correlation (Spearman) over candidates, Pearson correlation, how often the true
  change falls within the rollouts' [min, max];
- the verifier's acceptance rule as a classifier of the true outcome: of the candidate each round would take (the
  best accepted one), how often the truth was a loss beyond ``--harm`` (a harmful pick) or a gain; of the rounds
  where it took nothing, how often some candidate truly gained more than ``--worth`` (a missed cure);
- the same for a grid of alternative rules (``min_gain``, ``max_harm``, ``consistent_gain``), judged on the
  same records offline, and the current rule applied to each reference's predictions.

The records are first decisions of each round under the current rule (later rounds depend on what was applied),
so the offline comparison of rules is a first-order guide, not an episode outcome: a rule that looks better here
must still win a full ``heal_dev.py`` run on the training split before dev. The true change is measured on the
verifier's objective (carried/offered DL traffic of the suspects and the lead cell's neighbours, or minus the
handover failures per ROP) over ``VerifierConfig.horizon_rops``, with the true network's own random streams.

    .venv/bin/python bench/heal_verifier_fidelity.py --suite SUITE.json --workers 2 [--tag train]
        [--verifier '{"sync_sessions": true, "sync_rates": true}']   # a VerifierConfig variant
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info, peak_rss_mib  # noqa: E402

from airan.agents.planner import Candidate  # noqa: E402
from airan.agents.policies.airan import AiranConfig, AiranPolicy  # noqa: E402
from airan.agents.runner import run_policy_episode  # noqa: E402
from airan.agents.suite import episode_from_dict, episode_to_dict, load_suite  # noqa: E402
from airan.agents.verifier import Verifier, VerifierConfig, judge  # noqa: E402
from airan.core.errors import ActionError  # noqa: E402
from airan.core.rng import spawn_rngs  # noqa: E402
from airan.data.datagen import make_executor  # noqa: E402
from airan.twin.env import TWIN_STREAMS  # noqa: E402
from airan.twin.imperfect import ImperfectTwin  # noqa: E402

RESULTS = Path(__file__).parent / "results"
PERFECT_DRAWS = 2  # re-seeded clones of the true twin per round (the perfect-model reference)
PERFECT_KEY = 0x5EED


def _reseeded(twin: Any, k: int) -> Any:
    """``twin`` with fresh random streams for what happens next (draw ``k`` of the perfect-model references)."""
    twin._s.rngs = spawn_rngs(PERFECT_KEY + 7919 * k + int(twin.rop), TWIN_STREAMS)
    return twin


class RecordingVerifier(Verifier):
    """The policy's verifier, unchanged, plus the true change of every candidate it predicts (from a clone of the
    true twin, ``true_now()``, at the decision ROP). The handle is not ``Verifier.true_twin``: with that set, the
    verifier itself would roll out in the true network (the ``airan_true_twin`` ablation), and the benchmark would
    compare the truth with itself (it did, from that ablation's commit until session 30; no committed result
    was affected)."""

    def __init__(self, make_twin: Any, cfg: VerifierConfig, true_now: Any, truth: tuple, sink: list) -> None:
        super().__init__(make_twin, cfg)
        self.true_now, self.truth, self.sink = true_now, truth, sink

    def radio_errors(self, now: Any, seed: int, k: int) -> Any:
        """A re-seeded clone of the true twin ``now`` carrying the radio errors of the verifier's own imperfect
        twin for ``seed``: its calibration errors and its shadow-fading perturbation (that twin is never stepped,
        so its shadow fading minus the drop's is the perturbation)."""
        own = self._twin(seed)
        twin = ImperfectTwin.__new__(ImperfectTwin)
        twin.__dict__.update(now.clone().__dict__)
        twin.power_err_db, twin.tilt_err_deg = own.power_err_db, own.tilt_err_deg
        # and the corrections its calibration learnt: what is left of the errors is the verifier's
        twin.power_corr_db, twin.tilt_corr_deg = own.power_corr_db, own.tilt_corr_deg
        twin._s.sf_db = twin._s.sf_db + (own._s.sf_db - own.drop.sf_db)  # [num_ues, num_cells] dB
        twin._s.gain_cache = None
        return _reseeded(twin, k)

    def verify(self, cause: str, fault_cells: tuple[int, ...], scope: np.ndarray, candidates: list[Candidate],
               severities: tuple[float, ...] | None = None, modes: tuple[str, ...] | None = None) -> list:
        preds = super().verify(cause, fault_cells, scope, candidates, severities, modes)
        if not candidates:
            return preds
        rolls = self.rollouts(cause, fault_cells, scope, candidates, severities, modes)
        now = self.true_now()
        # the perfect model: the true network's state, configuration and faults, with other random streams for
        # what happens next (UE movement, sessions, measurement noise): how well anyone could predict
        perfect, radio = [], []
        for k in range(PERFECT_DRAWS):
            t = _reseeded(now.clone(), k)
            perfect.append((t, self._rollout(t, (), scope, cause)))
            # the perfect model with the verifier's radio errors: what the intended imperfection alone costs
            t = self.radio_errors(now, self.cfg.seeds[k % len(self.cfg.seeds)], k)
            radio.append((t, self._rollout(t, (), scope, cause)))
        ref = self._rollout(now, (), scope, cause)
        recs = []
        for p in preds:
            try:
                true = self._rollout(now, p.candidate.actions, scope, cause) - ref
                best = [self._rollout(t, p.candidate.actions, scope, cause) - r0 for t, r0 in perfect]
                rad = [self._rollout(t, p.candidate.actions, scope, cause) - r0 for t, r0 in radio]
            except ActionError:
                true, best, rad = None, [], []
            recs.append({"name": p.candidate.name, "knobs": len(p.candidate.actions),
                         "rollouts": [float(x) for x in rolls[p.candidate.actions]],
                         "true": true, "perfect": best, "radio_errors": rad, "accepted": bool(p.accepted)})
        real = [f for f in self.truth if f.kind != "benign_surge"]
        self.sink.append({"rop": int(now.rop), "hypothesis": cause, "cells": [int(c) for c in fault_cells],
                          "true_cause": real[0].kind if real else "control",
                          "true_cells": [int(c) for c in real[0].cells] if real else [],
                          "severities": list(severities) if severities is not None else None,
                          "candidates": recs})
        return preds


class ProbePolicy(AiranPolicy):
    """``airan`` with a recording verifier. ``uses_truth`` only makes the runner hand over the true twin and the
    ground truth, which the recording reads; no decision reads them (the policy's code is ``AiranPolicy``'s)."""

    uses_truth = True

    def __init__(self, verifier: VerifierConfig | None = None) -> None:
        super().__init__(AiranConfig(verifier=verifier or VerifierConfig()))
        self.records: list[dict[str, Any]] = []

    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        self.verifier = RecordingVerifier(ctx.make_twin, self.cfg.verifier, ctx.true_twin, ctx.truth, self.records)


def _job(job: dict[str, Any], _out: str) -> dict[str, Any]:
    ep = episode_from_dict(job["episode"])
    policy = ProbePolicy(VerifierConfig(**job["verifier"]))
    log = run_policy_episode(ep, policy)
    for r in policy.records:
        r["episode"] = ep.id
    return {"records": policy.records, "wall_s": log["wall_s"]}


# ------------------------------------------------------------------------------------------------ analysis
def pick(cands: list[dict[str, Any]], cause: str, cfg: VerifierConfig) -> dict[str, Any] | None:
    """The candidate a round takes under ``cfg``'s acceptance rule: the accepted one of largest predicted mean
    (records written before session 38 do not say how many knobs a set moves: 1 is assumed)."""
    best, best_mean = None, -np.inf
    for c in cands:
        mean, _, _, ok = judge(np.asarray(c["rollouts"], float), cause, cfg, int(c.get("knobs", 1)))
        if ok and mean > best_mean:
            best, best_mean = c, mean
    return best


def rule_outcome(records: list[dict[str, Any]], cfg: VerifierConfig, harm: float, worth: float,
                 harm_ho: float, worth_ho: float) -> dict[str, Any]:
    """What ``cfg``'s rule would take in each recorded round, judged by the true change."""
    taken = harmful = gained = missed = 0
    gain_sum = 0.0
    for r in records:
        ho = r["hypothesis"] == "ho_misconfig"
        h, w = (harm_ho, worth_ho) if ho else (harm, worth)
        c = pick(r["candidates"], r["hypothesis"], cfg)
        trues = [x["true"] for x in r["candidates"] if x["true"] is not None]
        if c is None or c["true"] is None:
            missed += bool(trues) and max(trues) >= w
            continue
        taken += 1
        harmful += c["true"] < -h
        gained += c["true"] >= w
        if not ho:
            gain_sum += c["true"]
    return {"rounds": len(records), "taken": taken, "harmful": harmful, "gained": gained,
            "missed_cures": missed, "ratio_gain_sum": round(gain_sum, 4)}


def predicted_by(records: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The records with ``key``'s predictions (``rollouts`` or ``perfect``) as the rollouts to judge."""
    return [r | {"candidates": [c | {"rollouts": c[key]} for c in r["candidates"] if c.get(key)]} for r in records]


def fidelity(records: list[dict[str, Any]], key: str = "rollouts") -> dict[str, Any]:
    """Per hypothesised cause: sign agreement, Spearman over each round's candidates (mean of rounds with >= 3
    candidates), and how often the truth lies within the rollouts' [min, max]; ``key``: ``rollouts`` (the
    verifier) or ``perfect`` (the perfect-model reference)."""
    out: dict[str, Any] = {}
    ok = predicted_by(records, key)
    for cause in sorted({r["hypothesis"] for r in ok}):
        rs = [r for r in ok if r["hypothesis"] == cause]
        pairs = [(float(np.mean(c["rollouts"])), c["true"], min(c["rollouts"]), max(c["rollouts"]))
                 for r in rs for c in r["candidates"] if c["true"] is not None and np.all(np.isfinite(c["rollouts"]))]
        if not pairs:
            continue
        pm, tv, lo, hi = (np.asarray(x, float) for x in zip(*pairs, strict=True))
        moved = np.abs(tv) > 1e-9
        rhos = []
        for r in rs:
            cs = [(float(np.mean(c["rollouts"])), c["true"]) for c in r["candidates"]
                  if c["true"] is not None and np.all(np.isfinite(c["rollouts"]))]
            if len(cs) >= 3 and len({x for x, _ in cs}) > 1 and len({y for _, y in cs}) > 1:
                rhos.append(float(spearmanr(*zip(*cs, strict=True)).statistic))
        out[cause] = {"rounds": len(rs), "candidates": len(pairs),
                      "sign_agreement": round(float(np.mean(np.sign(pm[moved]) == np.sign(tv[moved]))), 3)
                      if moved.any() else None,
                      "spearman_mean": round(float(np.mean(rhos)), 3) if rhos else None,
                      "within_rollout_range": round(float(np.mean((tv >= lo) & (tv <= hi))), 3),
                      "true_mean": round(float(np.mean(tv)), 4), "predicted_mean": round(float(np.mean(pm)), 4),
                      "corr_pred_true": round(float(np.corrcoef(pm, tv)[0, 1]), 3) if len(pm) > 2 else None}
    return out


RULE_GRID = {"min_gain": (0.005, 0.01, 0.02), "max_harm": (0.0, 0.01, 0.02, 0.05), "consistent_gain": (0.0, 0.003)}


def rule_grid(records: list[dict[str, Any]], base: VerifierConfig, **kw: float) -> list[dict[str, Any]]:
    rows = []
    for g, h, cg in itertools.product(*RULE_GRID.values()):
        if cg > g:
            continue
        cfg = VerifierConfig(**{**base.__dict__, "min_gain": g, "max_harm": h, "consistent_gain": cg})
        rows.append({"min_gain": g, "max_harm": h, "consistent_gain": cg,
                     "current": (g, h, cg) == (base.min_gain, base.max_harm, base.consistent_gain),
                     **rule_outcome(records, cfg, **kw)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="first N episodes only (0: all)")
    ap.add_argument("--tag", default="")
    ap.add_argument("--harm", type=float, default=0.01, help="a true ratio change below -HARM is a harmful pick")
    ap.add_argument("--worth", type=float, default=0.02, help="a true ratio gain of at least WORTH is a cure")
    ap.add_argument("--verifier", type=json.loads, default={},
                    help='VerifierConfig fields to change, as JSON (e.g. \'{"sync_sessions": true}\')')
    ap.add_argument("--records", type=Path, default=None, help="reuse records written by an earlier run")
    args = ap.parse_args()
    t0 = time.perf_counter()
    suite = load_suite(args.suite)
    eps = [e for e in suite.episodes if not e.undetectable][: args.limit or None]
    if args.records is not None:
        records = json.loads(args.records.read_text())["records"]
    else:
        records = []
        from rich.progress import Progress

        with Progress() as progress:
            task = progress.add_task("verifier fidelity", total=len(eps))
            jobs = [{"episode": episode_to_dict(e), "verifier": args.verifier} for e in eps]
            for res in make_executor(args.workers, None).map(_job, jobs, ""):
                records += res["records"]
                progress.advance(task)
        records.sort(key=lambda r: r["episode"])  # workers finish in any order; rounds keep theirs (stable sort)
    kw = {"harm": args.harm, "worth": args.worth, "harm_ho": 1.0, "worth_ho": 0.5}
    base = VerifierConfig(**args.verifier)
    result = {"machine": machine_info(), "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
              "suite_file": str(args.suite), "verifier": args.verifier, "episodes": len(eps),
              "wall_s": round(time.perf_counter() - t0, 1),
              "peak_rss_mib": peak_rss_mib(), "thresholds": kw,
              "fidelity": fidelity(records), "fidelity_perfect_model": fidelity(records, "perfect"),
              "fidelity_radio_errors": fidelity(records, "radio_errors"),
              "rules": rule_grid(records, base, **kw),
              "current_rule_on_perfect_model": rule_outcome(predicted_by(records, "perfect"), base, **kw),
              "current_rule_on_radio_errors": rule_outcome(predicted_by(records, "radio_errors"), base, **kw),
              "records": records}
    suffix = f"_{args.tag}" if args.tag else ""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"heal_verifier_fidelity{suffix}.json"
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("episodes", "wall_s", "fidelity", "fidelity_perfect_model",
                                          "fidelity_radio_errors")}, indent=1))
    for row in sorted(result["rules"], key=lambda r: (r["harmful"], -r["ratio_gain_sum"]))[:12]:
        print(row)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
