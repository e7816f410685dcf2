"""Calibration benchmark -> bench/results/calibration_<scenario>.json (+ PNG of the CDFs).

Twin vs Sionna's own SYS computation (coupling_loss_db, geometry_sinr_db) on the same drops, for several seeds.

    .venv/bin/python bench/calibration.py [--scenario uma-19] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine_info, peak_rss_mib

from airan.twin.calibration import calibrate, plot_cdfs
from airan.twin.scenarios import get_scenario

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="uma-19")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = ap.parse_args()
    cfg = get_scenario(args.scenario)
    runs = []
    for seed in args.seeds:
        t = time.perf_counter()
        r = calibrate(cfg, seed)
        if seed == args.seeds[0]:
            plot_cdfs(r, RESULTS / f"calibration_{cfg.name}.png")
        r.pop("samples")
        r["seconds"] = time.perf_counter() - t
        runs.append(r)
        print(f"seed {seed}: max |diff| {r['max_abs_diff_db']:.2f} dB ({r['seconds']:.0f} s)", flush=True)
    out = {"machine": machine_info(), "command": " ".join(["python", "bench/calibration.py", *sys.argv[1:]]),
           "scenario": cfg.name, "tolerance_db": 1.0, "runs": runs,
           "max_abs_diff_db": max(r["max_abs_diff_db"] for r in runs), "peak_rss_mib": peak_rss_mib()}
    out["within_tolerance"] = out["max_abs_diff_db"] <= 1.0
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"calibration_{cfg.name}.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: out[k] for k in ("scenario", "max_abs_diff_db", "within_tolerance")}, indent=2))


if __name__ == "__main__":
    main()
