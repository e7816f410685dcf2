"""Harmful actions judged against each action set's own counterfactual -> bench/results/heal_cf_harm_TAG.json

The scorer calls an action harmful when the impact KPI over its ROP and the next falls below the run that never
acted (``agents.scorer``). That charges an action with whatever earlier actions left in place. This replays each
log in the true twin (``agents.counterfactual``: the replay must reproduce the logged impact exactly) and, at
every ROP where a set of actions took effect, rolls a clone of the twin the same two ROPs without any action, on
the same random future. Per policy it reports both counts side by side: harmful by the scorer, harmful against
the counterfactual, both, and each alone, with every discordant set (episode, ROP, actions, the two effects).
The runner now records these counterfactuals while it runs and the scorer reports them
(``harmful_action_rate_counterfactual``); this script checks a log's records against the replay, adds them to
logs written before the runner kept them (``--write-logs DIR``, then ``heal_dev.py --from-logs DIR``), and lists
the sets on which the two tests disagree.

    .venv/bin/python bench/heal_counterfactual_harm.py --suite bench/results/heal_dev_suite.json \\
        --logs LOGDIR/logs_airan.jsonl LOGDIR/logs_son.jsonl --workers 2 --tag dev
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heal_fkr_by_loss import log_replay_parser, parse_workers, progress_pool, read_logs  # noqa: E402
from machine import machine_info, peak_rss_mib, write_result  # noqa: E402

from airan.agents.counterfactual import with_counterfactuals  # noqa: E402
from airan.agents.scorer import HARM_K, episode_outcome, wilson  # noqa: E402
from airan.agents.suite import load_suite  # noqa: E402


def _job(args: tuple) -> dict:
    ep, log = args
    log = with_counterfactuals(ep, log)  # replays; a log with the runner's records must agree with the replay
    o = episode_outcome(ep, log)
    cf_sets = log["counterfactual"]["sets"]
    sets = []
    for s in cf_sets:
        scored = sorted(set(s["actions"]) & set(o["harmful"]))
        cf = sorted(set(s["actions"]) & set(o["harmful_cf"]))
        if scored != cf:
            acts = [log["applied"][i] for i in s["actions"]]
            sets.append({"episode": ep.id, "cause": ep.cause, "rop": s["rop"],
                         "actions": [f"{a['kind']}@{a['cell']} {a['pre']:g}->{a['post']:g}" for a in acts],
                         "scorer_harmful": bool(scored), "cf_harmful": bool(cf), "cf_effect": s["effect"],
                         "scorer_impact": min(h["impact"] for h in o["harmful_detail"] if h["rop"] == s["rop"])
                         if scored else None, "threshold": -HARM_K * o["sigma"],
                         "reason": acts[0].get("reason", "")})
    return {"id": ep.id, "scored_population": not ep.undetectable, "log": log,
            "actions": o["actions"], "scored": set(o["harmful"]), "cf": set(o["harmful_cf"]),
            "scored_rolled": o["harmful_rolled_back"], "cf_rolled": o["harmful_cf_rolled_back"], "discordant": sets}


def policy_counts(rows: list[dict]) -> dict:
    n = sum(r["actions"] for r in rows)
    both = sum(len(r["scored"] & r["cf"]) for r in rows)
    scored = sum(len(r["scored"]) for r in rows)
    cf = sum(len(r["cf"]) for r in rows)
    return {"actions": n, "harmful_scorer": wilson(scored, n), "harmful_counterfactual": wilson(cf, n),
            "both": both, "scorer_only": scored - both, "counterfactual_only": cf - both,
            "rolled_back_within_2_rops_scorer": wilson(sum(r["scored_rolled"] for r in rows), scored),
            "rolled_back_within_2_rops_counterfactual": wilson(sum(r["cf_rolled"] for r in rows), cf),
            "discordant_sets": [s for r in rows for s in r["discordant"]]}


def main() -> None:
    ap = log_replay_parser(__doc__.splitlines()[0], "logs_POLICY.jsonl files (heal_dev --logs)")
    ap.add_argument("--write-logs", type=Path, default=None,
                    help="write each log with its counterfactual records here (logs_POLICY.jsonl, every episode), "
                         "for heal_dev.py --from-logs to score harmful_action_rate_counterfactual")
    args = parse_workers(ap)
    t0 = time.perf_counter()
    suite = load_suite(args.suite)
    policies = {}
    with progress_pool(args.workers) as run:
        for path in args.logs:
            logs = read_logs(path)
            # the scorer's population: undetectable episodes are scored apart, and so left out here
            missing = [ep.id for ep in suite.episodes if ep.id not in logs]
            if missing:
                raise SystemExit(f"{path}: no log for {len(missing)} suite episodes (first {missing[0]!r})")
            jobs = [(ep, logs[ep.id]) for ep in suite.episodes if logs[ep.id]["applied"] or args.write_logs]
            name = next(iter(logs.values()))["policy"]
            if name in policies:  # two runs of one policy: name the second by its log folder
                name = f"{name} ({path.resolve().parent.name})"
            rows = run(f"counterfactual {name}", _job, jobs)
            if args.write_logs is not None:
                args.write_logs.mkdir(parents=True, exist_ok=True)
                (args.write_logs / path.name).write_text("".join(json.dumps(r["log"]) + "\n" for r in rows))
            # the scorer's population: undetectable episodes are scored apart, and so left out of the counts
            policies[name] = policy_counts([r for r in rows if r["scored_population"]]) | {"logs": str(path)}
    out = {"machine": machine_info(), "command": "heal_counterfactual_harm.py " + " ".join(sys.argv[1:]),
           "suite_file": str(args.suite), "horizon_rops": 2, "policies": policies,
           "wall_s": time.perf_counter() - t0, "peak_rss_mib": peak_rss_mib()}
    path = write_result("heal_cf_harm", args.tag, out)
    print("| policy | actions | harmful (scorer) | harmful (counterfactual) | both | scorer only "
          "| counterfactual only |")
    print("|---|---|---|---|---|---|---|")
    for name, p in policies.items():
        s, c = p["harmful_scorer"], p["harmful_counterfactual"]
        print(f"| {name} | {p['actions']} | {s['k']} ({100 * (s['value'] or 0):.2f} %) | {c['k']} "
              f"({100 * (c['value'] or 0):.2f} %) | {p['both']} | {p['scorer_only']} | {p['counterfactual_only']} |")
    print(f"wrote {path} ({out['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
