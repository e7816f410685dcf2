"""Per-cause acceptance thresholds fitted on verifier-fidelity records -> bench/results/heal_acceptance_fit*.json

The verifier accepts a candidate by one rule for every hypothesised cause (``verifier.judge``: mean predicted
gain >= ``min_gain`` with no rollout below ``-max_harm``, or every rollout a gain and the mean >=
``consistent_gain``). The imperfect twin is not equally wrong for every cause (on dev its predictions correlate
0.79 with the truth for a sleeping cell and 0.12 for external interference, ``heal_verifier_fidelity_dev_s37.json``),
so a threshold per cause might take the good picks of the faithful causes and decline the noisy ones. This
benchmark tests that offline, with no policy run. On the records of one ``heal_verifier_fidelity.py`` run
(``--fit``) it picks, per cause, the (``min_gain``, ``max_harm``, ``consistent_gain``) of a grid that maximises
the summed true change of the rounds' picks minus ``--penalty`` per harmful pick (true change below ``-harm``).
Then it applies those thresholds to the records of other runs (``--judge``) and compares them with the current
rule. It also reports, per cause, the verifier's predicted mean / worst / best rollout of the current rule's
harmful picks against its other picks: if they look alike, no threshold on them can tell the two apart. Rounds
are first decisions (``heal_verifier_fidelity.py``): a first-order guide, not an episode outcome.

    .venv/bin/python bench/heal_acceptance_fit.py --fit bench/results/heal_verifier_fidelity_train34_s37.json \
        --judge bench/results/heal_verifier_fidelity_dev_s37.json --tag s37
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heal_verifier_fidelity import RESULTS, pick, rule_outcome  # noqa: E402
from machine import machine_info  # noqa: E402

from airan.agents.verifier import VerifierConfig  # noqa: E402

GRID_MIN_GAIN = (0.0, 0.003, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05)
GRID_MAX_HARM = (0.0, 0.005, 0.01, 0.02, 0.05)
GRID_CONSISTENT = (0.0, 0.003, 0.01, 0.02, 0.05)  # capped at min_gain (``VerifierConfig``)


def load_records(path: Path) -> list[dict[str, Any]]:
    """The carried/offered-ratio rounds of a fidelity result (handover rounds are in failures, left out)."""
    return [r for r in json.loads(path.read_text())["records"] if r["hypothesis"] != "ho_misconfig"]


def score(out: dict[str, Any], penalty: float) -> float:
    return float(out["ratio_gain_sum"]) - penalty * int(out["harmful"])


def fit(records: list[dict[str, Any]], penalty: float, kw: dict[str, float]) -> dict[str, VerifierConfig]:
    """cause -> the grid's rule of best ``score`` on ``records`` (ties: the earlier, stricter grid point)."""
    rules = {}
    for cause in sorted({r["hypothesis"] for r in records}):
        rs = [r for r in records if r["hypothesis"] == cause]
        best = None
        for g, h, cg in itertools.product(GRID_MIN_GAIN, GRID_MAX_HARM, GRID_CONSISTENT):
            if cg > g:
                continue
            cfg = VerifierConfig(min_gain=g, max_harm=h, consistent_gain=cg)
            s = score(rule_outcome(rs, cfg, **kw), penalty)
            if best is None or s > best[0] + 1e-9:
                best = (s, cfg)
        rules[cause] = best[1]
    return rules


def per_cause(records: list[dict[str, Any]], rules: dict[str, VerifierConfig] | None,
              kw: dict[str, float]) -> dict[str, Any]:
    """Outcome of the per-cause ``rules`` (None: the current rule everywhere) by cause and in total."""
    out: dict[str, Any] = {}
    total = {"rounds": 0, "taken": 0, "harmful": 0, "gained": 0, "missed_cures": 0, "ratio_gain_sum": 0.0}
    for cause in sorted({r["hypothesis"] for r in records}):
        rs = [r for r in records if r["hypothesis"] == cause]
        cfg = VerifierConfig() if rules is None else rules.get(cause, VerifierConfig())
        o = rule_outcome(rs, cfg, **kw)
        out[cause] = o
        for k in total:
            total[k] += o[k]
    total["ratio_gain_sum"] = round(total["ratio_gain_sum"], 4)
    out["total"] = total
    return out


def separability(records: list[dict[str, Any]], harm: float) -> dict[str, Any]:
    """Per cause: mean predicted mean / worst / best rollout of the current rule's harmful picks and other picks."""
    out: dict[str, Any] = {}
    base = VerifierConfig()
    for cause in sorted({r["hypothesis"] for r in records}):
        groups: dict[str, list[tuple[float, float, float]]] = {"harmful": [], "other": []}
        for r in (r for r in records if r["hypothesis"] == cause):
            c = pick(r["candidates"], cause, base)
            if c is None or c["true"] is None:
                continue
            x = np.asarray(c["rollouts"], float)
            key = "harmful" if c["true"] < -harm else "other"
            groups[key].append((float(x.mean()), float(x.min()), float(x.max())))
        out[cause] = {k: {"picks": len(v), **({"mean": round(float(np.mean([a for a, _, _ in v])), 4),
                                                "worst": round(float(np.mean([b for _, b, _ in v])), 4),
                                                "best": round(float(np.mean([c for _, _, c in v])), 4)} if v else {})}
                      for k, v in groups.items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", type=Path, required=True, help="fidelity result whose records fit the thresholds")
    ap.add_argument("--judge", type=Path, nargs="+", required=True, help="fidelity results to judge them on")
    ap.add_argument("--penalty", type=float, default=0.05,
                    help="summed carried/offered ratio one harmful pick costs in the fit's objective")
    ap.add_argument("--harm", type=float, default=0.01)
    ap.add_argument("--worth", type=float, default=0.02)
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    if not np.isfinite(args.penalty) or args.penalty < 0:
        raise SystemExit(f"--penalty must be a finite value >= 0, got {args.penalty!r}")
    kw = {"harm": args.harm, "worth": args.worth, "harm_ho": 1.0, "worth_ho": 0.5}
    fit_recs = load_records(args.fit)
    rules = fit(fit_recs, args.penalty, kw)
    result: dict[str, Any] = {
        "machine": machine_info(), "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "penalty": args.penalty, "thresholds": kw,
        "fitted": {c: {"min_gain": r.min_gain, "max_harm": r.max_harm, "consistent_gain": r.consistent_gain}
                   for c, r in rules.items()},
        "runs": {}}
    for path in [args.fit, *args.judge]:
        recs = load_records(path)
        result["runs"][str(path)] = {"role": "fit" if path == args.fit else "judge",
                                     "current": per_cause(recs, None, kw), "fitted": per_cause(recs, rules, kw),
                                     "separability": separability(recs, args.harm)}
    suffix = f"_{args.tag}" if args.tag else ""
    out = RESULTS / f"heal_acceptance_fit{suffix}.json"
    out.write_text(json.dumps(result, indent=1))
    for path, run in result["runs"].items():
        print(f"{run['role']:5s} {Path(path).name}: current {run['current']['total']}")
        print(f"      {'':{len(Path(path).name)}s}  fitted  {run['fitted']['total']}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
