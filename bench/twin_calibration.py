"""How well measurement reports calibrate the verifier's imperfect twin -> bench/results/twin_calibration_<tag>.json

For each episode of a suite: run the true network for ``--rops`` ROPs with no fault active yet (episodes whose
first fault starts earlier are skipped), feed its measurement reports to a ``Verifier`` with
``VerifierConfig(calibrate=True)``, build its what-if twins (``--seeds``) and compare the twins' hidden
calibration errors (which this benchmark can read and the policy cannot) before and after the fitted corrections:
rms and 95th percentile of |power error| [dB] and |tilt error| [deg] over cells, per scenario and overall, for
the per-cell fit alone (``links=False``) and the joint fit with a shadowing effect per (UE, site) link (the
default). Wall time per fit (building the twin included) is reported. And whether the fit knows how good it is:
the posterior z-scores of the residual errors (``(error + correction) / posterior std``, power and tilt; a
calibrated posterior gives rms 1 and 95 % of |z| below 1.96), the number ``VerifierConfig.draw_scale`` should
carry when the what-if twins draw their corrections from the posterior.

    .venv/bin/python bench/twin_calibration.py --suite bench/results/heal_dev_suite.json --episodes 60 --tag dev
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info, peak_rss_mib, write_result  # noqa: E402

from airan.agents.mr_calibration import CalibrationConfig  # noqa: E402
from airan.agents.runner import imperfect_factory  # noqa: E402
from airan.agents.suite import load_suite  # noqa: E402
from airan.agents.verifier import Verifier, VerifierConfig  # noqa: E402
from airan.twin.env import NetworkTwin  # noqa: E402


def _stats(err: list[np.ndarray]) -> dict[str, float | None]:
    """rms, 95th percentile of |err|, the share of |err| <= 1.96 (the 95 % coverage of a z-score) and n."""
    e = np.abs(np.concatenate(err)) if err else np.zeros(0)
    if not e.size:
        return {"rms": None, "p95": None, "within_1.96": None, "n": 0}
    return {"rms": float(np.sqrt(np.mean(e ** 2))), "p95": float(np.percentile(e, 95)),
            "within_1.96": float(np.mean(e <= 1.96)), "n": int(e.size)}


def first_reports(ep, rops: int) -> list:
    """The true network's measurement reports of ``ep``'s first ``rops`` ROPs (the suite's faults active as
    scheduled, nothing healed): per ROP [num_ues, num_cells] float64 [dBm], NaN = not reported."""
    net = NetworkTwin(ep.scenario)
    net.reset(seed=ep.seed, options={"faults": list(ep.faults)})
    return [net.step()[4]["mr_rsrp_dbm"] for _ in range(rops)]


def fed_verifier(ep, reports: list, cfg: VerifierConfig) -> Verifier:
    """A ``Verifier`` of ``ep`` that has observed ``reports`` (ROP 0 on): each what-if twin it builds
    (``_twin(seed)``) is calibrated to them, the fit in ``calibration[seed]``."""
    v = Verifier(imperfect_factory(ep), cfg)
    for r, mr in enumerate(reports):
        v.observe_reports(r, mr)
    return v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", required=True)
    ap.add_argument("--episodes", type=int, default=60)
    ap.add_argument("--rops", type=int, default=CalibrationConfig().rops)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(VerifierConfig().seeds))
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    if args.episodes < 1 or args.rops < 1:
        raise SystemExit(f"--episodes and --rops must be >= 1, got {args.episodes} / {args.rops}")
    suite = load_suite(args.suite)
    fits = {"cells": CalibrationConfig(rops=args.rops, links=False), "links": CalibrationConfig(rops=args.rops)}
    acc: dict[str, dict[str, dict[str, list[np.ndarray]]]] = {}
    wall: dict[str, list[float]] = {k: [] for k in fits}
    used, skipped = 0, 0
    t0 = time.perf_counter()
    for ep in suite.episodes:
        if used >= args.episodes:
            break
        onset = min((f.onset_rop for f in ep.faults), default=ep.rops)
        if onset < args.rops:
            skipped += 1
            continue
        used += 1
        reports = first_reports(ep, args.rops)
        for name, cal in fits.items():
            v = fed_verifier(ep, reports, VerifierConfig(calibrate=True, calibration=cal))
            for seed in args.seeds:
                t = time.perf_counter()
                twin = v._twin(seed)
                wall[name].append(time.perf_counter() - t)
                cal = v.calibration[seed]
                for scope in (ep.scenario, "all"):
                    a = acc.setdefault(scope, {}).setdefault(name, {k: [] for k in (
                        "power_before", "power_after", "tilt_before", "tilt_after", "power_z", "tilt_z")})
                    a["power_z"].append((twin.power_err_db + twin.power_corr_db) / cal["sd_power_db"])
                    a["tilt_z"].append((twin.tilt_err_deg + twin.tilt_corr_deg) / cal["sd_tilt_deg"])
                    a["power_before"].append(twin.power_err_db)
                    a["power_after"].append(twin.power_err_db + twin.power_corr_db)
                    a["tilt_before"].append(twin.tilt_err_deg)
                    a["tilt_after"].append(twin.tilt_err_deg + twin.tilt_corr_deg)
        print(f"{ep.id} {ep.scenario}: done ({time.perf_counter() - t0:.0f} s)", flush=True)
    out = {
        "machine": machine_info(), "suite_file": args.suite, "suite": suite.name, "episodes": used,
        "skipped_fault_before_rops": skipped, "rops": args.rops, "seeds": args.seeds,
        "command": "python bench/twin_calibration.py " + " ".join(sys.argv[1:]),
        "fits": {k: dataclasses.asdict(v) for k, v in fits.items()},
        "fit_wall_s_mean": {k: float(np.mean(v)) if v else None for k, v in wall.items()},
        "peak_rss_mib": peak_rss_mib(), "wall_s": time.perf_counter() - t0,
        "by_scenario": {scope: {name: {k: _stats(v) for k, v in a.items()} for name, a in per.items()}
                        for scope, per in acc.items()},
    }
    path = write_result("twin_calibration", args.tag, out)
    for scope, per in out["by_scenario"].items():
        for name, s in per.items():
            print(f"{scope:8s} {name:5s} power rms {s['power_before']['rms']:.2f} -> {s['power_after']['rms']:.2f} dB, "
                  f"tilt rms {s['tilt_before']['rms']:.2f} -> {s['tilt_after']['rms']:.2f} deg; posterior z rms "
                  f"power {s['power_z']['rms']:.2f} tilt {s['tilt_z']['rms']:.2f}, within 1.96: "
                  f"{s['power_z']['within_1.96']:.2f} / {s['tilt_z']['within_1.96']:.2f}")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
