"""Could the twin's calibration find a fault that was there before the agents started? -> bench/results/
heal_config_audit_TAG.json

The verifier calibrates its imperfect twin to the UEs' measurement reports of the first ROPs of an episode
(``agents.mr_calibration``: a power correction [dB] and a tilt correction [deg] per cell, on top of the twin's
hidden calibration error of +-2 dB / +-1 deg). When a cell's fault is already there in those ROPs (a cold-start
suite, ``airan suite make --cold-start``), the fit takes the fault into the cell's correction, and a correction
far beyond the twin's known calibration accuracy is the evidence a configuration audit would read. This fits the
calibration on every episode of the suites, as the verifier does (default ``VerifierConfig``, its first seed), and
reports:

* **healthy windows**: episodes with no fault in the calibration ROPs (controls, and faults that start later):
  per episode the largest |power correction| over the cells, the false alarms an audit at each threshold raises;
* **faults from the start** (a real fault active in the calibration ROPs), per class: the faulty cell's power
  and tilt corrections, and how many an audit at each threshold flags on the faulty cell (on another cell too);
  and the fault-pattern test on the faulty cell (``Verifier.audit_patterns``, which ``AiranConfig.audit_patterns``
  reads for a flagged cell): how often the hypothesis it rates most likely is the true cause, the gap between its
  most likely severity and the true one, and the largest ratio against no fault (for a cause that leaves the
  cell's RSRP alone, how far the test is from naming a fault that is not there).

With ``--scan-grid T1,T2,...`` it also runs the pattern test on every cell of every episode with the tilt errors'
non-linear covariance at those errors (``PatternTestConfig.tilt_grid_deg``): the largest ratio against no fault
over a healthy window's cells (what a detector built on the test would have to stay below) and the faulty cell's
best ratio (``scan_*`` fields, ``summary["scan"]``); ``--position-draws P`` adds the UEs' movement over the
report ROPs to the test (``PatternTestConfig.position_draws``). With ``--null-draws K`` as well, the cell with
the largest ratio and the faulty cell are also tested in K simulated healthy networks (``Verifier.audit_null``), and the
summary counts, at the policy's threshold and margin (``AiranConfig.audit_scan_log_lr`` /
``audit_scan_null_margin``), the windows the scan flags with and without that check, on the right cell or not.

It measures; nothing in the policy reads it.

    .venv/bin/python bench/heal_config_audit.py --suite bench/results/heal_cold_suite.json \\
        --suite bench/results/heal_dev_suite.json --workers 2 --tag cold
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heal_fkr_by_loss import progress_pool  # noqa: E402
from machine import machine_info, peak_rss_mib, write_result  # noqa: E402
from twin_calibration import fed_verifier, first_reports  # noqa: E402

from airan.agents.mr_calibration import (  # noqa: E402
    CalibrationConfig,
    PatternTestConfig,
    best_log_lr,
    marginal_log_lr,
)
from airan.agents.policies.airan import AiranConfig  # noqa: E402
from airan.agents.suite import load_suite  # noqa: E402
from airan.agents.verifier import (  # noqa: E402
    AUDIT_SEVERITIES,
    RSRP_CAUSES,
    VerifierConfig,
    most_likely_severity,
)
from airan.core.errors import ConfigError  # noqa: E402

THRESHOLDS_DB = (3.0, 3.5, 4.0, 5.0)


def _job(args: tuple) -> dict:
    suite_name, ep, rops = args[:3]
    grid = args[3] if len(args) > 3 else ()
    v = fed_verifier(ep, first_reports(ep, rops), VerifierConfig())
    cal = v.calibration_of(v.cfg.seeds[0])
    power = np.asarray(cal["power_db"], dtype=np.float64)  # [num_cells] dB
    tilt = np.asarray(cal["tilt_deg"], dtype=np.float64)  # [num_cells] deg
    early = [f for f in ep.faults if f.kind != "benign_surge" and f.onset_rop < rops]
    worst = int(np.nanargmax(np.abs(power)))
    row = {"suite": suite_name, "episode": ep.id, "scenario": ep.scenario, "cause": ep.cause or "control",
           "healthy": not early, "max_abs_power_db": float(abs(power[worst])), "max_cell": worst}
    if early:
        c = int(early[0].cells[0])
        row |= {"cell": c, "severity": early[0].severity, "power_db": float(power[c]), "tilt_deg": float(tilt[c]),
                "power_z": float(power[c] / cal["sd_power_db"][c])}
        llr = v.audit_patterns(c)
        if llr:
            marg = {k: marginal_log_lr(x) for k, x in llr.items()}
            best = max(marg, key=marg.get)
            row |= {"pattern_log_lr": marg, "pattern_cause": best,
                    "pattern_severity": most_likely_severity(llr[best], AUDIT_SEVERITIES)}
    if grid:
        cfg = PatternTestConfig(tilt_grid_deg=tuple(grid), position_draws=args[5] if len(args) > 5 else 0)
        scan = v.audit_patterns_of(range(power.size), cfg=cfg)
        best = {c: best_log_lr(r) for c, r in scan.items()}
        top = max(best, key=best.get) if best else None
        row |= {"scan_max_log_lr": None if top is None else float(best[top]), "scan_max_cell": top}
        fc = int(early[0].cells[0]) if early else None
        if early:
            row["scan_faulty_log_lr"] = float(best[fc]) if fc in best else None
        draws = args[4] if len(args) > 4 else 0
        for key, c in (("scan_max_null", top), ("scan_faulty_null", fc)):
            if draws and c is not None and c in best:
                null = v.audit_null(c, draws, cfg=cfg)
                row[key] = float(np.max(null)) if null.size else None
    return row


def _scan_flags(rows: list[dict], thr: float, margin: float | None) -> dict:
    """What the scan (every cell; the best fit from ``thr`` nats, and with ``margin`` only if it reads that much
    above its simulated healthy networks) flags in windows the power rule leaves alone (no cell beyond 4 dB):
    healthy windows flagged, and in windows with a fault from the start, flags on the faulty cell and elsewhere.
    A window whose best fit fails the check counts as not flagged (the policy would try the next cell; the
    benchmark tests only the best)."""
    def flags(r: dict) -> bool:
        if r.get("scan_max_log_lr") is None or r["scan_max_log_lr"] < thr or r["max_abs_power_db"] >= 4.0:
            return False
        null = r.get("scan_max_null")
        return margin is None or null is None or r["scan_max_log_lr"] >= null + margin
    hs = [r for r in rows if r["healthy"] and flags(r)]
    fs = [r for r in rows if not r["healthy"] and flags(r)]
    right = [r for r in fs if r["scan_max_cell"] == r["cell"] and r["cause"] in RSRP_CAUSES]
    return {"healthy_flagged": [r["episode"] for r in hs], "faulty_flagged_right": len(right),
            "faulty_flagged_wrong": [f"{r['episode']} ({r['cause']}, cell {r['scan_max_cell']})"
                                     for r in fs if r not in right]}


def summary(rows: list[dict]) -> dict:
    healthy = [r for r in rows if r["healthy"]]
    out: dict = {"healthy_windows": len(healthy),
                 "healthy_max_abs_power_db": max((r["max_abs_power_db"] for r in healthy), default=None),
                 "healthy_flagged": {str(t): sum(r["max_abs_power_db"] >= t for r in healthy) for t in THRESHOLDS_DB},
                 "faulty_from_start": {}}
    for cause in sorted({r["cause"] for r in rows if not r["healthy"]}):
        rs = [r for r in rows if not r["healthy"] and r["cause"] == cause]
        p = [r["power_db"] for r in rs]
        out["faulty_from_start"][cause] = {
            "n": len(rs), "power_db_min": min(p), "power_db_max": max(p),
            "tilt_deg_min": min(r["tilt_deg"] for r in rs), "tilt_deg_max": max(r["tilt_deg"] for r in rs),
            "flagged_on_the_faulty_cell": {str(t): sum(abs(x) >= t for x in p) for t in THRESHOLDS_DB},
            "flagged_elsewhere_only": {str(t): sum(abs(r["power_db"]) < t <= r["max_abs_power_db"] for r in rs)
                                       for t in THRESHOLDS_DB}}
        tested = [r for r in rs if "pattern_cause" in r]
        right = [r for r in tested if r["pattern_cause"] == cause]
        best = [max(r["pattern_log_lr"].values()) for r in tested]
        out["faulty_from_start"][cause] |= {
            "pattern_tested": len(tested), "pattern_names_the_cause": len(right),
            "pattern_severity_error_max": max((abs(r["pattern_severity"] - r["severity"]) for r in right),
                                              default=None),
            "pattern_best_log_lr_max": max(best, default=None),
            "pattern_best_log_lr_over_10": sum(b > 10 for b in best)}
    scanned = [r for r in rows if r.get("scan_max_log_lr") is not None]
    if scanned:
        hs = [r["scan_max_log_lr"] for r in scanned if r["healthy"]]
        out["scan"] = {"healthy_windows": len(hs), "healthy_max_log_lr": max(hs, default=None),
                       "healthy_p90_log_lr": float(np.percentile(hs, 90)) if hs else None, "faulty_cell": {}}
        for cause in sorted({r["cause"] for r in scanned if not r["healthy"]}):
            fl = [r["scan_faulty_log_lr"] for r in scanned if not r["healthy"] and r["cause"] == cause
                  and r.get("scan_faulty_log_lr") is not None]
            out["scan"]["faulty_cell"][cause] = {"n": len(fl), "min": min(fl, default=None),
                                                 "max": max(fl, default=None),
                                                 "above_healthy_max": sum(x > max(hs, default=np.inf) for x in fl)}
        if any("scan_max_null" in r for r in scanned):
            thr, margin = AiranConfig().audit_scan_log_lr, AiranConfig().audit_scan_null_margin
            out["scan"]["policy"] = {"threshold_log_lr": thr, "margin_log_lr": margin,
                                     "without_draws": _scan_flags(scanned, thr, None),
                                     "with_draws": _scan_flags(scanned, thr, margin)}
            nf = [r["scan_faulty_null"] for r in scanned if r.get("scan_faulty_null") is not None]
            out["scan"]["faulty_cell_null_max"] = {"n": len(nf), "max": max(nf, default=None),
                                                   "median": float(np.median(nf)) if nf else None}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", type=Path, action="append", required=True, help="a suite file (repeatable)")
    ap.add_argument("--rops", type=int, default=CalibrationConfig().rops, help="calibration ROPs (the verifier's)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--scan-grid", default="", help="tilt errors [deg], comma-separated: scan every cell with "
                    "the pattern test's non-linear tilt covariance, e.g. -0.75,-0.25,0.25,0.75")
    ap.add_argument("--position-draws", type=int, default=0, help="with --scan-grid: the UEs' movement as a "
                    "further error per UE, from this many positions (PatternTestConfig.position_draws)")
    ap.add_argument("--null-draws", type=int, default=0, help="with --scan-grid: test the best-fitting and the "
                    "faulty cell in this many simulated healthy networks (Verifier.audit_null)")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    try:
        grid = tuple(float(x) for x in args.scan_grid.split(",")) if args.scan_grid.strip() else ()
        PatternTestConfig(tilt_grid_deg=grid)
    except (ValueError, ConfigError) as e:
        raise SystemExit(f"--scan-grid {args.scan_grid!r}: {e}") from None
    if args.workers < 1 or args.rops < 1:
        raise SystemExit(f"--workers and --rops must be >= 1, got {args.workers} / {args.rops}")
    t0 = time.perf_counter()
    if args.null_draws < 0 or (args.null_draws and not grid):
        raise SystemExit(f"--null-draws must be >= 0 and needs --scan-grid, got {args.null_draws}")
    if args.position_draws < 0 or (args.position_draws and not grid):
        raise SystemExit(f"--position-draws must be >= 0 and needs --scan-grid, got {args.position_draws}")
    jobs = [(path.name, ep, args.rops, grid, args.null_draws, args.position_draws) for path in args.suite
            for ep in load_suite(path).episodes]
    with progress_pool(args.workers) as run:
        rows = run("calibrations", _job, jobs)
    out = {"machine": machine_info(), "command": "heal_config_audit.py " + " ".join(sys.argv[1:]),
           "suite_files": [str(p) for p in args.suite], "rops": args.rops, "thresholds_db": THRESHOLDS_DB,
           "summary": summary(rows), "episodes": rows, "wall_s": time.perf_counter() - t0,
           "peak_rss_mib": peak_rss_mib()}
    path = write_result("heal_config_audit", args.tag, out)
    s = out["summary"]
    print(f"{s['healthy_windows']} healthy windows: largest |power correction| {s['healthy_max_abs_power_db']:.2f} dB;"
          f" flagged per threshold {s['healthy_flagged']}")
    for cause, c in s["faulty_from_start"].items():
        print(f"{cause}: {c['n']} from the start, faulty cell's power correction {c['power_db_min']:+.1f} to "
              f"{c['power_db_max']:+.1f} dB, flagged {c['flagged_on_the_faulty_cell']}; the pattern test names "
              f"the cause in {c['pattern_names_the_cause']} of {c['pattern_tested']}")
    if "scan" in s:
        print(f"scan: healthy windows' largest ratio {s['scan']['healthy_max_log_lr']:.1f} nats; faulty cells "
              + "; ".join(f"{c} {v['min']:.1f}..{v['max']:.1f} ({v['above_healthy_max']} of {v['n']} above)"
                          for c, v in s["scan"]["faulty_cell"].items() if v["n"]))
    pol = s.get("scan", {}).get("policy")
    for k in ("without_draws", "with_draws") if pol else ():
        f = pol[k]
        print(f"scan at {pol['threshold_log_lr']:g} nats {k.replace('_', ' ')}: healthy windows flagged "
              f"{f['healthy_flagged']}, faulty windows flagged on the faulty cell {f['faulty_flagged_right']}, "
              f"elsewhere {f['faulty_flagged_wrong']}")
    print(f"wrote {path} ({out['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
