"""Two policies' recovery on the same suite, episode by episode -> bench/results/heal_paired_fkr_TAG.json

The FKR median over ~110 episodes moves by 0.1 or more when a handful of episodes cross it, so two policies'
medians can differ by more than their difference. This pairs them instead: over the compensable fault episodes
where both have a defined FKR (``agents.scorer.episode_outcome``), the mean FKR of each, the mean of the
per-episode difference B - A with a bootstrap 95 % interval (2000 resamples, seed 0), how many episodes moved by
more than 0.05 either way, and the same mean difference per fault class. ``post_fault``: the same pairing of the
scorer's post-fault gain (what the actions left in place cost once the fault had ended) over the episodes where
both policies have one, and how many episodes linger under each.

    .venv/bin/python bench/heal_paired_fkr.py --suite bench/results/heal_dev_suite.json \\
        --a LOGS_A/logs_airan.jsonl --b LOGS_B/logs_airan_true_twin.jsonl --tag dev_twin
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heal_fkr_by_loss import read_logs  # noqa: E402
from machine import machine_info, write_result  # noqa: E402

from airan.agents.scorer import COMPENSABLE, episode_outcome  # noqa: E402
from airan.agents.suite import load_suite  # noqa: E402

MOVED = 0.05  # an episode "moved" when its FKR changed by more than this


def fkr_by_episode(path: Path, suite, field: str = "fkr") -> dict[str, tuple[str, float]]:
    """episode id -> (cause, FKR) for the compensable fault episodes of ``path`` with a defined FKR (``field``
    "fkr_raw": the FKR unclipped, which keeps what a policy lost below never acting)."""
    logs = read_logs(path)  # (exits naming the file when it is missing)
    out = {}
    for ep in suite.episodes:
        log = logs.get(ep.id)
        if log is None or ep.control or ep.undetectable or ep.cause not in COMPENSABLE:
            continue
        fkr = episode_outcome(ep, log)[field]
        if fkr is not None:
            out[ep.id] = (ep.cause, float(fkr))
    return out


def post_fault_by_episode(path: Path, suite) -> dict[str, tuple[str, float, bool]]:
    """episode id -> (cause, post-fault gain, lingering) for the fault episodes of ``path`` that the scorer's
    post-fault metrics count (the fault ended >= POST_FAULT_MIN_ROPS ROPs before the episode did, >= 1 action)."""
    logs = read_logs(path)
    out = {}
    for ep in suite.episodes:
        log = logs.get(ep.id)
        if log is None or ep.control:
            continue
        o = episode_outcome(ep, log)
        if o["post_gain"] is not None:
            out[ep.id] = (ep.cause, float(o["post_gain"]), bool(o["lingering"]))
    return out


def paired(a: np.ndarray, b: np.ndarray, seed: int = 0, resamples: int = 2000) -> dict:
    """Mean of b - a [N] with a bootstrap 95 % interval; a, b: per-episode FKR, same episodes."""
    d = b - a
    rng = np.random.default_rng(seed)
    boot = d[rng.integers(0, d.size, size=(resamples, d.size))].mean(axis=1)
    return {"n": int(d.size), "mean_a": float(a.mean()), "mean_b": float(b.mean()), "mean_diff": float(d.mean()),
            "ci95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
            "better": int((d > MOVED).sum()), "worse": int((d < -MOVED).sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", type=Path, required=True)
    ap.add_argument("--a", type=Path, required=True, help="logs_POLICY.jsonl of the reference policy")
    ap.add_argument("--b", type=Path, required=True, help="logs_POLICY.jsonl of the policy compared with it")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    t0 = time.perf_counter()
    suite = load_suite(args.suite)
    fa, fb = fkr_by_episode(args.a, suite), fkr_by_episode(args.b, suite)
    ids = sorted(set(fa) & set(fb))
    if not ids:
        raise SystemExit("no compensable episode with a defined FKR in both logs")
    a = np.array([fa[i][1] for i in ids])
    b = np.array([fb[i][1] for i in ids])
    causes = np.array([fa[i][0] for i in ids])
    per_class = {c: paired(a[causes == c], b[causes == c]) for c in sorted(set(causes.tolist()))}
    ra, rb = fkr_by_episode(args.a, suite, "fkr_raw"), fkr_by_episode(args.b, suite, "fkr_raw")
    raw = paired(np.array([ra[i][1] for i in ids]), np.array([rb[i][1] for i in ids]))
    # after the fault: what each policy's actions left in place (episodes both acted in and whose fault ended)
    pa, pb = post_fault_by_episode(args.a, suite), post_fault_by_episode(args.b, suite)
    both = sorted(set(pa) & set(pb))
    post = {"episodes_a": len(pa), "episodes_b": len(pb), "lingering_a": sum(v[2] for v in pa.values()),
            "lingering_b": sum(v[2] for v in pb.values()), "paired": None}
    if both:
        ga, gb = np.array([pa[i][1] for i in both]), np.array([pb[i][1] for i in both])
        post["paired"] = paired(ga, gb) | {"moved": 0.01, "better": int((gb - ga > 0.01).sum()),
                                           "worse": int((gb - ga < -0.01).sum())}
    out = {"machine": machine_info(), "command": "heal_paired_fkr.py " + " ".join(sys.argv[1:]),
           "suite_file": str(args.suite), "a": str(args.a), "b": str(args.b), "moved": MOVED,
           "all": paired(a, b), "all_raw": raw, "per_class": per_class, "post_fault": post,
           "wall_s": time.perf_counter() - t0}
    path = write_result("heal_paired_fkr", args.tag, out)
    r = out["all"]
    print(f"{r['n']} episodes: mean FKR A {r['mean_a']:.3f}, B {r['mean_b']:.3f}, B - A {r['mean_diff']:+.3f} "
          f"[{r['ci95'][0]:+.3f}, {r['ci95'][1]:+.3f}]; {r['better']} better, {r['worse']} worse by > {MOVED}")
    print(f"unclipped FKR (fkr_raw): B - A {raw['mean_diff']:+.3f} [{raw['ci95'][0]:+.3f}, {raw['ci95'][1]:+.3f}]")
    pp = post["paired"]
    print(f"after the fault: A lingers in {post['lingering_a']} of {post['episodes_a']}, B in {post['lingering_b']} "
          f"of {post['episodes_b']}" + ("" if pp is None else
                                          f"; paired post-fault gain over {pp['n']}: B - A {pp['mean_diff']:+.4f} "
                                          f"[{pp['ci95'][0]:+.4f}, {pp['ci95'][1]:+.4f}]"))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
