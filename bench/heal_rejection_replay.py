"""Were the verifier's rejections right? -> bench/results/heal_rejection_replay_TAG.json

A round in which the verifier accepts no candidate ends with no action (and, with ``retry_rops`` off, spends one
of the incident's rounds). This replays an ``airan`` log in the true twin (the replay must reproduce the logged
impact) and, at every such round, rolls a clone from the ROP its set would have taken effect for each rejected
candidate (rebuilt by the planner from the knobs as they were at the decision, as ``heal_selection_replay.py``
does for the accepted ones) and one with no action, ``CF_HORIZON_ROPS`` ROPs on the same random future, with no
follow-up. A candidate's *pure* effect is the mean impact difference to holding still. The round is read through
the candidate the verifier ranked first (the highest predicted mean, what relaxing the acceptance would have
taken): a *missed gain* when its effect is above the scorer's harm threshold (``HARM_K`` x the episode's noise
sigma) on the good side, *rightly rejected* when below it on the bad side, else *neutral*; ``any_gain`` counts
the rounds where some rejected candidate would have gained that much (a ceiling: it needs the truth). Rounds whose
candidates the planner does not rebuild under the round's diagnosis (a self-inflicted or follow-up plan) are
counted apart (``not_rebuilt``).

    .venv/bin/python bench/heal_rejection_replay.py --suite bench/results/heal_dev_suite.json \\
        --logs LOGDIR/logs_airan.jsonl --workers 2 --tag dev

Arrays: impact series ``[CF_HORIZON_ROPS] float64`` in the impact KPI's unit (``runner.impact_kpi_name``).
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heal_fkr_by_loss import log_replay_parser, parse_workers, replay_each_log  # noqa: E402
from heal_selection_replay import NOTE, proposed_at, pure_effect  # noqa: E402
from machine import machine_info, peak_rss_mib, write_result  # noqa: E402

from airan.agents.counterfactual import REPLAY_ATOL, logged_action  # noqa: E402
from airan.agents.planner import Planner  # noqa: E402
from airan.agents.runner import CF_HORIZON_ROPS, counterfactual_series, episode_context, impact_value  # noqa: E402
from airan.agents.scorer import HARM_K, noise_sigma  # noqa: E402
from airan.agents.suite import SuiteEpisode, load_suite  # noqa: E402
from airan.twin.actions import Action  # noqa: E402
from airan.twin.env import NetworkTwin  # noqa: E402

VERDICTS = ("missed_gain", "neutral", "rightly_rejected")


def rejected_rounds(decisions: list[dict]) -> dict[int, list[tuple[str, float, float, float]]]:
    """Decision ROP -> the round's candidates ``(name, mean, low, high)``, for every verifier round of the log's
    ``decisions`` in which at least one candidate was judged and none accepted."""
    out = {}
    for d in decisions:
        found = [m.groups() for n in d.get("notes", []) for m in [NOTE.search(n)] if m]
        if found and not any(g[4] == "accepted" for g in found):
            out[int(d["rop"])] = [(g[0], float(g[1]), float(g[2]), float(g[3])) for g in found]
    return out


def replay_rejections(ep: SuiteEpisode, log: dict[str, Any], horizon: int = CF_HORIZON_ROPS) -> list[dict]:
    """One record per rejected round of ``log`` whose window fits in the episode: ``{"episode", "true_cause",
    "cause", "cell", "decided_rop", "rop", "kpi", "sigma", "scored_population", "rebuilt", "candidates": [{"name",
    "pred", "low", "high", "actions", "effect"}]}`` (``effect``: the pure effect from ``rop`` = the decision ROP +
    1; empty when ``rebuilt`` is False)."""
    decisions = sorted(log["decisions"], key=lambda d: int(d["rop"]))
    rounds = rejected_rounds(decisions)
    rops = len(log["impact"]["healed"])
    rounds = {q: c for q, c in rounds.items() if q + 1 + horizon <= rops}
    if not rounds:
        return []
    by_q = {int(d["rop"]): d for d in decisions}
    applied = log["applied"]
    by_rop: dict[int, list[Action]] = defaultdict(list)
    for a in applied:
        by_rop[int(a["rop"])].append(logged_action(a))
    cells = np.asarray(log["impact"]["cells"], dtype=np.int64)
    kpi = str(log["impact"]["kpi"])
    sigma = noise_sigma(np.asarray(log["impact"]["nofault"], dtype=np.float64))
    logged = np.asarray(log["impact"]["healed"], dtype=np.float64)
    twin = NetworkTwin(ep.scenario)
    twin.reset(seed=ep.seed, options={"faults": list(ep.faults)})
    ctx = episode_context(ep, twin)
    planner = Planner(ctx)
    out = []
    for r in range(max(rounds) + 2):
        q = r - 1
        if q in rounds:
            diag = by_q[q].get("diagnosis") or {}
            causes = diag.get("causes") or {}
            cause = max(causes, key=causes.get) if causes else None
            cell = int(diag["cells"][0]) if diag.get("cells") else -1
            proposed = proposed_at(planner, ctx, applied, q, cause, cell) if cause is not None else {}
            rebuilt = all(name in proposed for name, *_ in rounds[q])
            cands = []
            if rebuilt:
                hold = counterfactual_series(twin, horizon, cells, kpi)
                cands = [{"name": name, "pred": mean, "low": low, "high": high,
                          "actions": len(proposed[name].actions),
                          "effect": pure_effect(twin, list(proposed[name].actions), hold, cells, kpi)}
                         for name, mean, low, high in rounds[q]]
            out.append({"episode": ep.id, "true_cause": ep.cause, "cause": cause, "cell": cell, "decided_rop": q,
                        "rop": r, "kpi": kpi, "sigma": sigma, "scored_population": not ep.undetectable,
                        "rebuilt": rebuilt, "candidates": cands})
        if r >= rops:
            break
        step = twin.step(by_rop.get(r, []))
        if abs(impact_value(step[4]["kpis"], cells, kpi) - logged[r]) > REPLAY_ATOL:
            raise SystemExit(f"{ep.id}: replay diverged from the log at ROP {r}")
    return out


def verdict(rec: dict, k: float = HARM_K) -> str:
    """The round read through its first-ranked candidate (highest predicted mean): ``VERDICTS``."""
    top = max(rec["candidates"], key=lambda c: c["pred"])
    e, s = top["effect"], k * rec["sigma"]
    return "missed_gain" if e > s else "rightly_rejected" if e < -s else "neutral"


def top_sigma(rec: dict) -> float:
    """The first-ranked candidate's pure effect in units of the episode's noise sigma (nan with no noise)."""
    top = max(rec["candidates"], key=lambda c: c["pred"])
    return top["effect"] / rec["sigma"] if rec["sigma"] > 0 else float("nan")


def summary(records: list[dict]) -> dict:
    """Counts over the scored, rebuilt rounds (overall and per true fault class): each ``verdict``, ``any_gain``,
    the first-ranked candidate's effect above / below zero and its median in sigma (the 2-sigma verdicts are the
    scorer's harm test; a gain of 1 sigma held over the rest of an episode is still a large share of its loss; a
    median, because a network that carries everything it is offered has a sigma near 0); ``not_rebuilt`` counts
    the scored rounds left out."""
    def counts(rs: list[dict]) -> dict:
        c = {v: 0 for v in VERDICTS}
        for r in rs:
            c[verdict(r)] += 1
        gain = sum(any(x["effect"] > HARM_K * r["sigma"] for x in r["candidates"]) for r in rs)
        z = np.array([top_sigma(r) for r in rs], dtype=np.float64)
        z = z[np.isfinite(z)]
        return {"rounds": len(rs), **c, "any_gain": gain, "top_above_zero": int((z > 0).sum()),
                "top_below_zero": int((z < 0).sum()),
                "top_effect_sigma_median": float(np.median(z)) if z.size else None}

    scored = [r for r in records if r["scored_population"]]
    ok = [r for r in scored if r["rebuilt"] and r["candidates"]]
    classes = sorted({str(r["true_cause"]) for r in ok})
    return {**counts(ok), "not_rebuilt": len(scored) - len(ok),
            "per_class": {c: counts([r for r in ok if str(r["true_cause"]) == c]) for c in classes}}


def _job(args: tuple) -> list[dict]:
    return replay_rejections(*args)


def main() -> None:
    args = parse_workers(log_replay_parser(__doc__.splitlines()[0], "airan logs_*.jsonl (heal_dev --logs)"))
    t0 = time.perf_counter()
    suite = load_suite(args.suite)
    runs = replay_each_log(args.logs, args.workers, "rejections", _job, lambda logs: [
        (ep, logs[ep.id]) for ep in suite.episodes if ep.id in logs], summary, "rounds")
    out = {"machine": machine_info(), "command": "heal_rejection_replay.py " + " ".join(sys.argv[1:]),
           "suite_file": str(args.suite), "horizon_rops": CF_HORIZON_ROPS, "runs": runs,
           "pooled": summary([r for res in runs.values() for r in res["rounds"]]),
           "wall_s": time.perf_counter() - t0, "peak_rss_mib": peak_rss_mib()}
    path = write_result("heal_rejection_replay", args.tag, out)
    for label, res in list(runs.items()) + [("pooled", {"summary": out["pooled"]})]:
        s = res["summary"]
        print(f"{label}: {s['rounds']} rejected rounds: " + ", ".join(f"{v} {s[v]}" for v in VERDICTS)
              + f"; some candidate would have gained in {s['any_gain']}; first-ranked above / below zero "
              f"{s['top_above_zero']} / {s['top_below_zero']}, median {s['top_effect_sigma_median'] or 0:+.2f} sigma; "
              f"not rebuilt {s['not_rebuilt']}")
    print(f"wrote {path} ({out['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
