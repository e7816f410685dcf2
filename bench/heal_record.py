"""The healing record against the issue's targets -> bench/results/heal_record.json + HEAL_RECORD.md

Reads committed ``heal_dev.py`` results; nothing is rerun (seconds). Each ``--run LABEL=F1[,F2,...]`` names the
result files of one suite, one file per draw of the verifier's seeds (the same suite and the same code in every
file); the first file also holds the baselines. For every headline metric and run it reports

- ``airan``'s value over the draws: a rate's counts summed over the draws (``k`` of ``n``); a median (FKR, MTTR,
  time to detect) and the macro root-cause accuracy as the mean of the draws' values, with their range;
- whether that meets the issue's target (``heal_dev.TARGETS``; MTTR: at most half of ``son``'s);
- ``son``'s and ``rules``' values from the first file, and whether ``airan`` beats each of them (strictly better
  on the target's direction; for MTTR lower is better; equal values are a tie).

One draw of a 300-episode suite holds 2-4 harmful action sets, so a harm rate or a rollback share read from one
file is a coarse number; pooling draws narrows the verifier's part of that noise, not the suite's.

    .venv/bin/python bench/heal_record.py --run dev=bench/results/heal_dev.json \\
        --run 7368=bench/results/heal_dev_fresh68_s69_default_d01.json,...d23.json,...d45.json,...d67.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from heal_dev import RESULTS, TARGETS, better, check, value
from machine import machine_info, peak_rss_mib

HEADLINE = ("detection_recall", "hard_fault_recall", "detection_precision", "control_alarm_rate", "rca_top1",
            "rca_top1_lowest_class", "localization_top1", "fkr_median", "full_recovery_rate", "mttr_rops_median",
            "harmful_action_rate", "rollback_within_2_rops", "harmful_action_rate_counterfactual",
            "rollback_within_2_rops_counterfactual", "unapproved_high_risk_actions")


def pool(draws: list[Any]) -> dict[str, Any]:
    """One metric over draws: ``draws`` are the scorer's entries of each draw (a dict with ``value`` and, for a
    rate, ``k``/``n``; or a bare number; or None). A rate is pooled as sum(k)/sum(n); anything else as the mean
    of the draws' values with their [min, max]. Draws with no value (no harmful action to roll back) are left
    out; ``value`` is None when none has one."""
    vals = [value(d) for d in draws if value(d) is not None]
    if not vals:
        return {"value": None, "draws": len(draws)}
    counted = [d for d in draws if isinstance(d, dict) and "k" in d and "n" in d]
    if counted and len(counted) == len(draws):
        k, n = sum(int(d["k"]) for d in draws), sum(int(d["n"]) for d in draws)
        return {"value": k / n if n else None, "k": k, "n": n, "draws": len(draws)}
    return {"value": float(sum(vals) / len(vals)), "min": float(min(vals)), "max": float(max(vals)),
            "draws": len(draws)}


CLASS_RCA_TARGET = 0.80  # the issue: root cause top-1 >= 0.90 macro "with every class >= 0.80"


def lowest_class_rca(files: list[dict[str, Any]]) -> dict[str, Any]:
    """The fault class with the lowest root-cause top-1, each class's counts summed over the draws (the
    scorer's per-class ``rca_top1_micro``): {"value", "k", "n", "class", "draws"}; value None if no class has
    a diagnosed episode."""
    counts: dict[str, list[int]] = {}
    for f in files:
        for cls, m in f["policies"]["airan"].get("per_class", {}).items():
            r = m.get("rca_top1_micro")
            if isinstance(r, dict) and r.get("n"):
                c = counts.setdefault(cls, [0, 0])
                c[0] += int(r["k"])
                c[1] += int(r["n"])
    if not counts:
        return {"value": None, "draws": len(files)}
    cls, (k, n) = min(counts.items(), key=lambda kv: (kv[1][0] / kv[1][1], kv[0]))
    return {"value": k / n, "k": k, "n": n, "class": cls, "draws": len(files)}


def meets(metric: str, v: float | None, son_mttr: float | None) -> bool | None:
    """Whether ``v`` meets the issue's target for ``metric`` (``heal_dev.check``; None: no target or nothing to
    judge). With no harmful action there is none to roll back, so the rollback targets hold."""
    if metric == "rca_top1_lowest_class":
        return None if v is None else v >= CLASS_RCA_TARGET
    return {"pass": True, "FAIL": False}.get(check(metric, {"value": v}, son_mttr))


def beats(metric: str, a: float | None, b: float | None) -> str | None:
    """``a`` against ``b``: "yes" strictly better, "tie" equal, "no" worse, None when either is missing."""
    if a is None or b is None:
        return None
    if a == b:
        return "tie"
    return "yes" if better(metric, a, b) else "no"


def record(label: str, files: list[dict[str, Any]]) -> dict[str, Any]:
    """The record of one run: ``files`` are ``heal_dev.py`` results of the same suite, one per verifier draw."""
    if not files:
        raise ValueError(f"run {label!r} names no result file")
    missing = [i for i, f in enumerate(files) if "airan" not in f.get("policies", {})]
    if missing:
        raise ValueError(f"run {label!r}: result file(s) {missing} hold no 'airan' policy")
    suites = {json.dumps(f.get("suite"), sort_keys=True) for f in files}
    if len(suites) > 1:
        raise ValueError(f"run {label!r}: the result files were not run on the same suite")
    base = files[0]["policies"]
    son_mttr = value(base.get("son", {}).get("metrics", {}).get("mttr_rops_median"))
    rows = {}
    for m in HEADLINE:
        if m == "rca_top1_lowest_class":
            a = lowest_class_rca(files)
            rows[m] = {"airan": a, "meets": meets(m, a["value"], son_mttr)}
            continue
        a = pool([f["policies"]["airan"]["metrics"].get(m) for f in files])
        row = {"airan": a, "meets": meets(m, a["value"], son_mttr)}
        for b in ("son", "rules"):
            if b in base:
                bv = value(base[b]["metrics"].get(m))
                row[b] = bv
                row[f"beats_{b}"] = beats(m, a["value"], bv)
        rows[m] = row
    return {"label": label, "draws": len(files), "suite": files[0].get("suite"), "metrics": rows}


def _cell(m: str, a: dict[str, Any]) -> str:
    v = a["value"]
    if v is None:
        return "-"
    if "k" in a:
        return f"{v:{'.4f' if v < 0.1 else '.3f'}} ({a['k']}/{a['n']}{', ' + a['class'] if 'class' in a else ''})"
    s = f"{v:.3g}" if m == "unapproved_high_risk_actions" else f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}"
    if a["draws"] > 1 and a["max"] > a["min"]:
        s += f" ({a['min']:.2f}-{a['max']:.2f})"
    return s


def markdown(records: list[dict[str, Any]]) -> str:
    mark = {True: "yes", False: "**no**", None: "-", "yes": "yes", "no": "**no**", "tie": "tie"}
    heads = " | ".join(f"{r['label']} ({r['draws']} draw{'s' * (r['draws'] > 1)}): airan | met | beats son / rules"
                       for r in records)
    out = ["# The healing record against the issue's targets", "",
           "`airan` pooled over each run's draws of the verifier's seeds (rates: counts summed; medians and the "
           "macro RCA: mean of the draws, their range in parentheses); `son` and `rules` from the run's first file "
           "(`bench/heal_record.py`).", "",
           f"| metric | target | {heads} |", "|---|---|" + "---|---|---|" * len(records)]
    for m in HEADLINE:
        op, t = TARGETS.get(m, (">=", CLASS_RCA_TARGET))
        target = "<= son / 2" if m == "mttr_rops_median" else f"{op} {t:g}"
        cells = []
        for r in records:
            row = r["metrics"][m]
            vs = " / ".join(mark[row.get(f"beats_{b}")] for b in ("son", "rules"))  # "-": no baseline value
            cells.append(f"{_cell(m, row['airan'])} | {mark[row['meets']]} | {vs}")
        out.append(f"| {m} | {target} | {' | '.join(cells)} |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="append", required=True, metavar="LABEL=F1[,F2,...]",
                    help="a run's label and its heal_dev.py result files, one per verifier draw (repeat per run)")
    ap.add_argument("--tag", default="", help="suffix of the output files")
    args = ap.parse_args()
    t0 = time.perf_counter()
    records = []
    for spec in args.run:
        label, sep, names = spec.partition("=")
        if not sep or not label or not names:
            raise SystemExit(f"--run wants LABEL=FILE[,FILE...], got {spec!r}")
        paths = [Path(p) for p in names.split(",") if p]
        for p in paths:
            if not p.is_file():
                raise SystemExit(f"--run {label}: result file {str(p)!r} does not exist")
        try:
            records.append(record(label, [json.loads(p.read_text()) for p in paths]))
        except ValueError as e:
            raise SystemExit(str(e)) from None
        records[-1]["files"] = [str(p) for p in paths]
    stem = f"heal_record{'_' + args.tag if args.tag else ''}"
    result = {"machine": machine_info(), "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
              "wall_s": time.perf_counter() - t0, "peak_rss_mib": peak_rss_mib(), "runs": records}
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / f"{stem.upper()}.md").write_text(markdown(records))
    print(markdown(records))


if __name__ == "__main__":
    main()
