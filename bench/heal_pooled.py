"""Score policies over several suites at once -> bench/results/heal_pooled_TAG.json + HEAL_POOLED_TAG.md.

One 300-episode suite holds 2-4 harmful action sets and a few dozen episodes per fault class, so a policy's
harm rate swings from 0.15 % to 2.7 % between suites under the same code. Pooling the logs of every suite a
policy ran on (``airan.agents.suite.pool_suites``: episode ids become ``SUITE_NAME/ID``) gives the scorer one
sample of them all, and its intervals shrink accordingly. Each ``--run`` names a suite file and the directory of
its logs (``logs_POLICY.jsonl``, as ``heal_dev.py --logs`` writes them); every policy must have logs in every
run, so all policies are scored on the same episodes. Nothing is rerun: this costs seconds.

    .venv/bin/python bench/heal_pooled.py --run S1.json LOGS1 --run S2.json LOGS2 --policies airan,son --tag T
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from heal_dev import RESULTS, TABLE, TARGETS, markdown, value
from heal_fkr_by_loss import read_logs
from machine import machine_info, peak_rss_mib

from airan.agents.scorer import score
from airan.agents.suite import load_suite, pool_suites, suite_summary


def pooled_scores(runs: list[tuple[Path, Path]], policies: list[str]) -> tuple[dict, dict]:
    """(policy -> scorer output over the pooled runs, the pooled suite's summary)."""
    suites = [load_suite(s) for s, _ in runs]
    scores, summary = {}, None
    for p in policies:
        runs_p = [(s, list(read_logs(d / f"logs_{p}.jsonl").values())) for s, (_, d) in zip(suites, runs, strict=True)]
        pooled, logs = pool_suites(runs_p)
        scores[p] = score(pooled, logs)
        summary = summary or suite_summary(pooled) | {"pooled": pooled.meta["pooled"]}
    return scores, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", nargs=2, action="append", type=Path, required=True, metavar=("SUITE", "LOGDIR"),
                    help="a suite file and the directory holding its logs_POLICY.jsonl (repeat per suite)")
    ap.add_argument("--policies", default="airan")
    ap.add_argument("--tag", required=True, help="suffix of the output files")
    args = ap.parse_args()
    t0 = time.perf_counter()
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    if not policies:
        raise SystemExit("--policies names no policy")
    scores, summary = pooled_scores([(Path(s), Path(d)) for s, d in args.run], policies)
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    result = {"machine": machine_info(), "command": command, "policy_commands": {p: command for p in scores},
              "policy_machines": {}, "suite_file": [str(s) for s, _ in args.run],
              "log_dirs": [str(d) for _, d in args.run],
              "suite": summary, "suite_s": 0.0, "wall_s": time.perf_counter() - t0,
              "policy_wall_s": {p: None for p in scores}, "peak_rss_mib": peak_rss_mib(),
              "targets": {k: list(v) for k, v in TARGETS.items()}, "skipped": {}, "policies": scores}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"heal_pooled_{args.tag}.json").write_text(json.dumps(result, indent=1, default=str))
    md = markdown(result).replace("# Healing on the", "# Healing, pooled over "
                                  f"{len(args.run)} suites ({', '.join(summary['pooled'])}): the", 1)
    (RESULTS / f"HEAL_POOLED_{args.tag.upper()}.md").write_text(md)
    print(json.dumps({k: {m: value(v["metrics"].get(m)) for m in TABLE} for k, v in scores.items()}, indent=1))


if __name__ == "__main__":
    main()
