"""Were the executor's rollbacks right? -> bench/results/heal_rollback_replay_TAG.json

The executor undoes a set when the guarded objective of its neighbourhood falls below the level before the set by
more than its tolerance. It has no counterfactual, so it cannot tell its own set's harm from a fault that keeps
growing. This replays every rolled-back set of each log in the true twin (``agents.counterfactual.
rollback_counterfactuals``: the replay must reproduce the logged impact exactly) and compares, from the rollback's
ROP on (``--horizon`` ROPs, no later action), keeping the set with undoing it, on the same random future. A
rollback *protected* when keeping would have been worse by more than the scorer's harm threshold (``HARM_K``
times the episode's noise sigma), *cost* when keeping would have been better by as much, else it was *neutral*.
Each set's effect while it was in place, against never acting, is reported too (``first_effect``), in sigma.

    .venv/bin/python bench/heal_rollback_replay.py --suite bench/results/heal_dev_suite.json \\
        --logs LOGDIR/logs_airan.jsonl --workers 2 --tag dev
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heal_fkr_by_loss import log_replay_parser, parse_workers, replay_each_log  # noqa: E402
from machine import machine_info, peak_rss_mib, write_result  # noqa: E402

from airan.agents.counterfactual import ROLLBACK_HORIZON_ROPS, rollback_counterfactuals, rollback_verdict  # noqa: E402
from airan.agents.scorer import noise_sigma  # noqa: E402
from airan.agents.suite import load_suite  # noqa: E402

VERDICTS = ("protected", "neutral", "cost")


def _job(args: tuple) -> list[dict]:
    ep, log, horizon = args
    sigma = noise_sigma(np.asarray(log["impact"]["nofault"], dtype=np.float64))
    rows = []
    for r in rollback_counterfactuals(ep, log, horizon_rops=horizon):
        acts = [log["applied"][i] for i in r["set"]]
        sig = sigma if sigma > 0 else float("nan")
        rows.append({"episode": ep.id, "cause": ep.cause, "undetectable": ep.undetectable, "set_rop": r["set_rop"],
                     "rop": r["rop"], "set": [f"{a['kind']}@{a['cell']} {a['pre']:g}->{a['post']:g}" for a in acts],
                     "sigma": sigma, "first_effect_sigma": r["first_effect"] / sig,
                     "keep_minus_undo_sigma": r["keep_minus_undo"] / sig,
                     "keep_minus_never_sigma": r["keep_minus_never"] / sig, "verdict": rollback_verdict(r, sigma),
                     "reason": next((a.get("reason", "") for a in log["applied"] if a.get("rollback_of", -1) >= 0
                                     and int(a["rop"]) == r["rop"]), "")})
    return rows


def summary(rows: list[dict]) -> dict:
    """Counts of the verdicts, overall and per fault class (``{}`` per class with no rollback)."""
    def counts(rs: list[dict]) -> dict:
        c = Counter(r["verdict"] for r in rs)
        return {"rolled_back_sets": len(rs), **{v: c.get(v, 0) for v in VERDICTS}}

    causes = sorted({str(r["cause"]) for r in rows})
    return {**counts(rows), "per_class": {k: counts([r for r in rows if str(r["cause"]) == k]) for k in causes}}


def main() -> None:
    ap = log_replay_parser(__doc__.splitlines()[0], "logs_POLICY.jsonl files (heal_dev --logs)")
    ap.add_argument("--horizon", type=int, default=ROLLBACK_HORIZON_ROPS,
                    help=f"ROPs from the rollback on over which keeping and undoing are compared "
                         f"(default {ROLLBACK_HORIZON_ROPS})")
    args = parse_workers(ap)
    if args.horizon < 1:
        raise SystemExit(f"--horizon must be >= 1, got {args.horizon}")
    t0 = time.perf_counter()
    suite = load_suite(args.suite)
    runs = replay_each_log(args.logs, args.workers, "rollbacks", _job, lambda logs: [
        (ep, logs[ep.id], args.horizon) for ep in suite.episodes
        if ep.id in logs and any(a.get("rollback_of", -1) >= 0 for a in logs[ep.id]["applied"])], summary, "sets")
    out = {"machine": machine_info(), "command": "heal_rollback_replay.py " + " ".join(sys.argv[1:]),
           "suite_file": str(args.suite), "horizon_rops": args.horizon, "runs": runs,
           "pooled": summary([r for res in runs.values() for r in res["sets"]]),
           "wall_s": time.perf_counter() - t0, "peak_rss_mib": peak_rss_mib()}
    path = write_result("heal_rollback_replay", args.tag, out)
    for label, res in list(runs.items()) + [("pooled", {"summary": out["pooled"]})]:
        s = res["summary"]
        print(f"{label}: {s['rolled_back_sets']} rolled-back sets: " + ", ".join(f"{v} {s[v]}" for v in VERDICTS))
    print(f"wrote {path} ({out['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
