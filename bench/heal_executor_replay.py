"""The executor's rollback test replayed on logged sets at other tolerances -> bench/results/heal_executor_replay*.json

The executor (``agents.executor``) rolls a set back when the guarded carried/offered ratio of the neighbourhood
falls below its pre-action level by more than ``max(k_sigma x ROP-to-ROP noise, margin)`` in either ROP of its
window. The scorer judges a set against its own counterfactual (``agents.counterfactual``: the true twin held still
from the set's ROP). This benchmark replays the executor's test on every logged non-handover set of a run
(``heal_dev.py --logs``) with the run's healed impact series (the same cells as the executor's guard for these
causes), first at the run's own settings, where it must reproduce the logged rollbacks, then at other ``k_sigma``
and ``margin``: how many counterfactual-harmful sets each setting would roll back, and how many other sets. It is
first-order: a set rolled back in the replay would have changed what followed, which the replay cannot know.

    .venv/bin/python bench/heal_executor_replay.py --run bench/results/heal_dev_suite.json LOGDIR/logs_airan.jsonl \
        [--run SUITE2 LOGS2 ...] --tag dev
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from airan.agents.executor import ExecutorConfig, pre_action_level, rop_noise  # noqa: E402
from airan.agents.scorer import HARM_K, noise_sigma  # noqa: E402
from airan.agents.suite import load_suite  # noqa: E402

RESULTS = Path(__file__).parent / "results"
K_SIGMAS = (4.0, 3.0, 2.5, 2.0, 1.5, 1.0)
MARGINS = (0.015, 0.01, 0.005)


def logged_sets(suite_path: Path, logs_path: Path) -> list[dict[str, Any]]:
    """Every non-rollback, non-handover action set of the logs with what the replay needs: the observed drops
    below the pre-action level in the window's two ROPs, the executor's noise estimate, the counterfactual effect
    and whether the run rolled it back."""
    eps = {e.id: e for e in load_suite(suite_path).episodes}
    rows = []
    with open(logs_path) as f:
        for line in f:
            log = json.loads(line)
            if "counterfactual" not in log:
                raise SystemExit(f"{logs_path}: episode {log['episode_id']} has no counterfactual records")
            ep = eps[log["episode_id"]]
            healed = np.asarray(log["impact"]["healed"], float)
            sigma = noise_sigma(np.asarray(log["impact"]["nofault"], float))
            rolled = {int(a["rollback_of"]) for a in log["applied"] if a["rollback_of"] >= 0}
            for s in log["counterfactual"]["sets"]:
                acts = [log["applied"][i] for i in s["actions"]]
                if any(a["rollback_of"] >= 0 for a in acts) or any(a["kind"] in ("ttt", "hysteresis") for a in acts) \
                        or "ho_misconfig" in acts[0]["reason"]:
                    continue
                rop = int(s["rop"])
                r = rop - 1  # the ROP the set was decided in: the executor's history ends there
                if r < 1 or rop + 1 >= healed.size:
                    continue
                pre = pre_action_level(healed[:r + 1])
                noise = rop_noise(healed[:r + 1])
                rows.append({"episode": ep.id, "cause": ep.cause, "rop": rop, "effect": float(s["effect"]),
                             "harmful": bool(float(s["effect"]) < -HARM_K * sigma),
                             "drops": [float(pre - healed[rop]), float(pre - healed[rop + 1])], "noise": noise,
                             "rolled_back": rop in rolled})
    return rows


def replay(rows: list[dict[str, Any]], k_sigma: float, margin: float) -> dict[str, Any]:
    harmful = caught = caught_first = other = other_gaining = 0
    thrown = 0.0
    for r in rows:
        tol = max(k_sigma * r["noise"], margin)
        back = r["drops"][0] > tol or r["drops"][1] > tol
        if r["harmful"]:
            harmful += 1
            caught += int(back)
            caught_first += int(r["drops"][0] > tol)
        elif back:
            other += 1
            other_gaining += int(r["effect"] > 0)
            thrown += max(r["effect"], 0.0)
    return {"k_sigma": k_sigma, "margin": margin, "sets": len(rows), "harmful_sets": harmful,
            "harmful_rolled_back": caught, "harmful_rolled_back_after_1_rop": caught_first,
            "other_sets_rolled_back": other, "of_them_gaining": other_gaining, "their_summed_gain": round(thrown, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", nargs=2, action="append", required=True, metavar=("SUITE", "LOGS"),
                    help="a suite file and the logs_POLICY.jsonl of one heal_dev.py run on it")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    rows = [row for suite, logs in args.run for row in logged_sets(Path(suite), Path(logs))]
    cfg = ExecutorConfig()
    own = [r for r in rows if r["rolled_back"] == (max(r["drops"]) > max(cfg.k_sigma * r["noise"], cfg.margin))]
    result = {"machine": machine_info(), "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
              "runs": [{"suite": s, "logs": lg} for s, lg in args.run],
              "replay_agrees_with_logged_rollbacks": f"{len(own)}/{len(rows)}",
              "grid": [replay(rows, k, m) for k in K_SIGMAS for m in MARGINS],
              "sets": rows}
    suffix = f"_{args.tag}" if args.tag else ""
    out = RESULTS / f"heal_executor_replay{suffix}.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"replay agrees with the logged rollbacks on {result['replay_agrees_with_logged_rollbacks']} sets")
    for g in result["grid"]:
        print(g)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
