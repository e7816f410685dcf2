"""Replay the airan policy up to its first diagnosis, score diagnosis variants -> heal_first_diagnosis_TAG.json

The scorer's root cause and localization of an episode are the first diagnosis the policy logs at or after its
first detection inside the fault's scope. Nothing of a run up to that diagnosis depends on the ROPs after it,
so this benchmark cuts each selected episode at that detection + ``evidence_rops`` + 2 ROPs (the first
diagnosis usually comes at most ``evidence_rops`` ROPs after the incident opens), runs the policy in the true
twin through the runner without counterfactuals, and reads the first diagnosis exactly as the scorer does. A
diagnosis the cut came too early for reads as ``none``; rerun such episodes in full (session 32: 2 of 609). The
detection ROP comes from the default's full logs; ``--check-default`` also replays the default to confirm that
its first diagnosis matches the full run's on every episode (the replay's exactness).

Selected: detected fault episodes (per the default's logs) whose true cause is in ``--causes``, or whose
default first diagnosis is in ``--predicted``. Per variant it counts right top-1 / top-3 / localization, per
true cause, and lists the episodes whose top-1 changed.

    .venv/bin/python bench/heal_first_diagnosis.py --run SUITE.json LOGDIR [--run ...] \\
        --variant '{"shift_excludes_handover": true}' --workers 2 --tag s32b [--check-default]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heal_fkr_by_loss import read_logs  # noqa: E402
from machine import machine_info, peak_rss_mib, write_result  # noqa: E402

from airan.agents.policies.airan import AiranConfig, AiranPolicy  # noqa: E402
from airan.agents.runner import run_policy_episode  # noqa: E402
from airan.agents.scorer import episode_outcome  # noqa: E402
from airan.agents.suite import SuiteEpisode, episode_from_dict, episode_to_dict, load_suite  # noqa: E402
from airan.core.errors import ConfigError  # noqa: E402

MARGIN_ROPS = 2  # ROPs kept after detection + evidence_rops


def first_diagnosis(ep: SuiteEpisode, log: dict[str, Any]) -> dict[str, Any]:
    """The scorer's diagnosis fields of one episode log: predicted top-1, right top-1 / top-3 / localization,
    detection ROP (None: not detected)."""
    o = episode_outcome(ep, log)
    onset = min(f.onset_rop for f in ep.faults if f.kind != "benign_surge")
    return {"predicted": o["predicted"], "rca_top1": o.get("rca_top1", False), "rca_top3": o.get("rca_top3", False),
            "loc_top1": o.get("loc_top1", False), "det_rop": None if o["ttd"] is None else onset + o["ttd"]}


def _job(job: dict[str, Any]) -> dict[str, Any]:
    ep = episode_from_dict(job["episode"])
    cut = dataclasses.replace(ep, rops=min(ep.rops, job["cut_rops"]))
    log = run_policy_episode(cut, AiranPolicy(AiranConfig(**job["config"])), counterfactual_rops=0)
    return {"key": job["key"], "variant": job["variant"], **first_diagnosis(cut, log)}


def select(suite_path: Path, log_dir: Path, causes: set[str], predicted: set[str]) -> list[dict[str, Any]]:
    """The selected episodes of one run with the default's full-log diagnosis (``first_diagnosis``)."""
    suite = load_suite(suite_path)
    logs = read_logs(log_dir / "logs_airan.jsonl")
    out = []
    for ep in suite.episodes:
        if ep.control or ep.undetectable:
            continue
        if ep.id not in logs:
            raise ConfigError(f"no airan log of episode {ep.id!r} of {suite_path} in {log_dir}")
        d = first_diagnosis(ep, logs[ep.id])
        if d["det_rop"] is None or not (ep.cause in causes or d["predicted"] in predicted):
            continue
        out.append({"key": f"{suite.name}/{ep.id}", "cause": ep.cause, "episode": episode_to_dict(ep),
                    "default_full": d})
    return out


def tally(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    per: Counter = Counter()
    n: Counter = Counter()
    for r in rows:
        n[r["cause"]] += 1
        per[r["cause"]] += bool(r[key]["rca_top1"])
    return {"rca_top1": sum(bool(r[key]["rca_top1"]) for r in rows),
            "rca_top3": sum(bool(r[key]["rca_top3"]) for r in rows),
            "loc_top1": sum(bool(r[key]["loc_top1"]) for r in rows), "episodes": len(rows),
            "per_cause_top1": {c: [per[c], n[c]] for c in sorted(n)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", nargs=2, action="append", metavar=("SUITE", "LOGDIR"), required=True,
                    help="a suite and the directory holding the default's logs_airan.jsonl (repeatable)")
    ap.add_argument("--variant", default="{}", help="AiranConfig fields of the variant (JSON)")
    ap.add_argument("--causes", default="excessive_downtilt,uptilt_overshoot,ho_misconfig")
    ap.add_argument("--predicted", default="ho_misconfig")
    ap.add_argument("--check-default", action="store_true", help="also replay the default (exactness check)")
    ap.add_argument("--limit", type=int, default=0, help="first N selected episodes only (0: all)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tag", default="")
    a = ap.parse_args()
    t0 = time.perf_counter()
    variant = json.loads(a.variant)
    AiranConfig(**variant)  # a bad field fails here, before any replay
    rows: list[dict[str, Any]] = []
    for suite_path, log_dir in a.run:
        rows += select(Path(suite_path), Path(log_dir), set(a.causes.split(",")), set(a.predicted.split(",")))
    rows = rows[: a.limit] if a.limit > 0 else rows
    evidence = AiranConfig().evidence_rops
    configs = {"variant": variant} | ({"default": {}} if a.check_default else {})
    jobs = [{"key": r["key"], "episode": r["episode"], "variant": name, "config": cfg,
             "cut_rops": r["default_full"]["det_rop"] + evidence + MARGIN_ROPS + 1}
            for r in rows for name, cfg in configs.items()]
    print(f"{len(rows)} episodes selected, {len(jobs)} replays", flush=True)
    by_key = {r["key"]: r for r in rows}
    with ProcessPoolExecutor(max(1, a.workers), mp_context=mp.get_context("spawn")) as ex:
        for i, res in enumerate(ex.map(_job, jobs, chunksize=1)):
            by_key[res["key"]][res["variant"]] = {k: res[k] for k in ("predicted", "rca_top1", "rca_top3",
                                                                       "loc_top1", "det_rop")}
            if (i + 1) % 50 == 0:
                print(f"  {i + 1}/{len(jobs)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    for r in rows:
        r.pop("episode")
    out: dict[str, Any] = {"machine": machine_info(), "command": "heal_first_diagnosis.py " + " ".join(sys.argv[1:]),
                           "variant": variant, "runs": [list(x) for x in a.run],
                           "default_full": tally(rows, "default_full"), "variant_result": tally(rows, "variant"),
                           "changed": [{"key": r["key"], "cause": r["cause"], "default": r["default_full"]["predicted"],
                                        "variant": r["variant"]["predicted"]}
                                       for r in rows if r["variant"]["predicted"] != r["default_full"]["predicted"]]}
    if a.check_default:
        out["default_replay"] = tally(rows, "default")
        out["default_replay_mismatches"] = [r["key"] for r in rows
                                            if r["default"]["predicted"] != r["default_full"]["predicted"]]
    out |= {"episodes": rows, "wall_s": time.perf_counter() - t0, "peak_rss_mib": peak_rss_mib()}
    path = write_result("heal_first_diagnosis", a.tag, out)
    for k in ("default_full", "variant_result", "default_replay"):
        if k in out:
            t = out[k]
            print(f"{k:15s} top1 {t['rca_top1']}/{t['episodes']}  top3 {t['rca_top3']}  loc {t['loc_top1']}  "
                  f"{t['per_cause_top1']}")
    print(f"changed: {len(out['changed'])}; wrote {path} ({out['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
