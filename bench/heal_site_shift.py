"""Calibrate the monitor's site-relative coverage signatures -> bench/results/heal_site_shift_SPLIT.json

Statistics of the UEs' measurement reports, per cell and ROP, against the monitor's sliding baseline
(``MonitorConfig.baseline_rops`` ROPs ending ``gap_rops`` before now):
- ``median``: ``mr_shift``, the median over UEs of the change in the RSRP each reports of the cell (the
  monitor's coverage shift; it fires at ``coverage_shift_db`` for ``coverage_shift_rops`` ROPs);
- ``site``: the median over UEs of ``site_relative_change``, the same change minus the UE's change of the
  cell's co-sited cells: the cells of a site share a UE's path loss and shadowing, so UE movement cancels;
- ``site_drop`` / ``site_spread``: minus the lower quartile / the interquartile range over UEs of that same
  site-relative change (``monitor.site_relative_spread``; a mild tilt lifts the near UEs and drops the far
  ones, the median staying put), each swept OR-ed with the monitor's default coverage rules ("(+monitor)").

The benchmark runs a suite's episodes without healing (no action, so what fires is what the network shows)
and, for each statistic and each (threshold, ROPs) in the sweep, OR-ed with the default median rule, counts
- controls with any cell firing (false alarms of a healthy network),
- fault episodes with a cell firing before the onset or outside the fault's scope (false leads),
- per coverage class (excessive downtilt, uptilt overshoot, PA degradation), the detectable episodes whose
  scope fires while the fault is active (recall; the suite's ``undetectable`` flags).

    .venv/bin/python bench/heal_site_shift.py --episodes 200 --seed 34            # training split (calibrates)
    .venv/bin/python bench/heal_site_shift.py --suite bench/results/heal_dev_suite.json --tag dev
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info, peak_rss_mib  # noqa: E402

from airan.agents.monitor import (  # noqa: E402
    Monitor,
    MonitorConfig,
    change_quantile,
    report_change,
    sector_neighbours,
    site_backed,
    site_relative_change,
    site_relative_spread,
)
from airan.agents.suite import SuiteEpisode, fault_scope, load_suite, make_suite, step_kpis  # noqa: E402
from airan.twin.env import NetworkTwin  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
COVERAGE = ("excessive_downtilt", "uptilt_overshoot", "pa_degradation")
THRESHOLDS_DB = (1.5, 2.0, 2.5, 3.0)
RUN_ROPS = (2, 3, 4)
GATES_DB = (0.5, 1.0, 1.5, 2.0)  # site-relative gates on the default median rule
# the spread of the site-relative change: its lower quartile (the *site-relative edge drop*) and its IQR
SPREAD_THRESHOLDS_DB = {"site_drop": (3.0, 4.0, 5.0, 6.0, 8.0), "site_spread": (4.0, 6.0, 8.0, 10.0, 12.0)}


def shifts(ep: SuiteEpisode) -> dict:
    """Run ``ep`` without healing: per ROP and cell the ``median`` and ``site`` shifts [R, C] float64 [dB], with
    the episode's class, onset, scope and detectability."""
    twin = NetworkTwin(ep.scenario)
    twin.reset(seed=ep.seed, options={"faults": list(ep.faults)})
    d = twin.drop
    reports: list[np.ndarray] = []
    step_kpis(twin, ep.rops, reports)
    c = len(d.cell_site)
    nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)
    mon = Monitor(nb)  # only for its baseline window (no incident: never frozen)
    med, site = np.zeros((ep.rops, c)), np.zeros((ep.rops, c))
    site_drop, site_spread = np.zeros((ep.rops, c)), np.zeros((ep.rops, c))
    ready = np.zeros(ep.rops, bool)  # [R] the baseline is in place
    for r in range(ep.rops):
        start, stop = mon.baseline_window(r)
        if stop - start < mon.cfg.min_baseline_rops:
            continue
        diff = report_change(reports, start, stop, r)
        if diff is None:
            continue
        ready[r] = True
        med[r] = change_quantile(diff, 0.5)
        rel = site_relative_change(diff, d.cell_site)
        site[r] = change_quantile(rel, 0.5)
        site_drop[r] = -change_quantile(rel, 0.25)
        site_spread[r] = site_relative_spread(rel)
    real = tuple(f for f in ep.faults if f.kind != "benign_surge")
    scope = fault_scope(real, d.cell_site, nb) if real else np.zeros(0, np.int64)
    active = np.array([any(f.level(r) > 0 for f in real) for r in range(ep.rops)])
    return {"id": ep.id, "cls": "control" if ep.control else ep.cause, "undetectable": bool(ep.undetectable),
            "onset": min((f.onset_rop for f in real), default=ep.rops), "scope": scope, "active": active,
            "ready": ready, "median": med, "site": site,
            "site_drop": site_drop, "site_spread": site_spread}


def fires(x: np.ndarray, threshold_db: float, rops: int) -> np.ndarray:
    """[R, C] bool: ``|x| >= threshold_db`` for ``rops`` consecutive ROPs up to and including each ROP."""
    hit = np.abs(x) >= threshold_db
    streak = np.zeros(x.shape[1], np.int64)
    out = np.zeros_like(hit)
    for r in range(x.shape[0]):
        streak = np.where(hit[r], streak + 1, 0)
        out[r] = streak >= rops
    return out


def gated(median: np.ndarray, site: np.ndarray, gate_db: float) -> np.ndarray:
    """[R, C] the median shift where the site-relative shift backs it (``monitor.site_backed``), else 0."""
    return np.where(site_backed(median, site, gate_db), median, 0.0)


def monitor_fires(r: dict, cfg: MonitorConfig) -> np.ndarray:
    """[R, C] bool: the monitor's default coverage signatures (the site-gated median rule, the site rule)."""
    f = fires(gated(r["median"], r["site"], cfg.coverage_site_gate_db), cfg.coverage_shift_db,
              cfg.coverage_shift_rops)
    return f | fires(r["site"], cfg.site_shift_db, cfg.site_shift_rops)


def summarize(rows: list[dict]) -> list[dict]:
    cfg = MonitorConfig()
    out = []
    rules = [("median", cfg.coverage_shift_db, cfg.coverage_shift_rops, False, None)]
    rules += [(s, t, k, True, None) for s, t, k in itertools.product(("site", "median"), THRESHOLDS_DB, RUN_ROPS)]
    # the default median rule gated by the site-relative shift, OR-ed with the default site rule
    rules += [("median_gated", cfg.coverage_shift_db, cfg.coverage_shift_rops, False, g) for g in GATES_DB]
    # the monitor's default coverage rules (gated median, site-relative median) OR-ed with a spread statistic
    rules += [(s, t, k, "monitor", None) for s, ts in SPREAD_THRESHOLDS_DB.items() for t in ts for k in RUN_ROPS]
    for stat, t, k, with_default, gate in rules:
        ctrl, lead, rec = [], [], {c: {"detected": 0, "of": 0} for c in COVERAGE}
        for r in rows:
            if gate is not None:
                f = fires(gated(r["median"], r["site"], gate), t, k)
                f |= fires(r["site"], cfg.site_shift_db, cfg.site_shift_rops)
            else:
                f = fires(r[stat], t, k)
            if with_default == "monitor":
                f = fires(np.maximum(r[stat], 0.0), t, k) | monitor_fires(r, cfg)
            elif with_default:
                f |= fires(r["median"], cfg.coverage_shift_db, cfg.coverage_shift_rops)
            if r["cls"] == "control":
                ctrl += [r["id"]] if f.any() else []
                continue
            out_scope = np.ones(f.shape[1], bool)
            out_scope[r["scope"]] = False
            if f[: r["onset"]].any() or f[:, out_scope].any():
                lead.append(r["id"])
            if r["cls"] in COVERAGE and not r["undetectable"]:
                rec[r["cls"]]["of"] += 1
                rec[r["cls"]]["detected"] += int(f[r["active"]][:, r["scope"]].any())
        out.append({"statistic": stat, "threshold_db": t, "rops": k, "or_default_median_rule": with_default,
                    **({} if gate is None else {"site_gate_db": gate, "or_default_site_rule": True}),
                    "controls_firing": ctrl, "controls": sum(r["cls"] == "control" for r in rows),
                    "fault_episodes_firing_early_or_outside_scope": lead,
                    "fault_episodes": sum(r["cls"] != "control" for r in rows), "recall": rec})
    return out


def no_fault_spread(rows: list[dict]) -> dict:
    """|shift| quantiles [dB] over the controls' cells and ROPs with a baseline in place (0 where < 3 UEs)."""
    out = {}
    for stat in ("median", "site", "site_drop", "site_spread"):
        a = np.concatenate([np.abs(r[stat][r["ready"]]).ravel() for r in rows if r["cls"] == "control"])
        if a.size:
            q = np.quantile(a, [0.95, 0.99, 0.999])
            out[stat] = {"q95": round(float(q[0]), 2), "q99": round(float(q[1]), 2), "q999": round(float(q[2]), 2),
                         "max": round(float(a.max()), 2), "samples": int(a.size)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", default=None, help="a suite file (default: make the training split)")
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=34)
    ap.add_argument("--tag", default="train")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    if a.workers < 1:
        raise SystemExit(f"--workers must be >= 1, got {a.workers}")
    t0 = time.perf_counter()
    suite = load_suite(a.suite) if a.suite else make_suite("train", a.episodes, a.seed)
    from rich.progress import track

    with ProcessPoolExecutor(a.workers, mp_context=mp.get_context("spawn")) as pool:
        futs = [pool.submit(shifts, ep) for ep in suite.episodes]
        rows = [f.result() for f in track(futs, description="episodes")]
    cfg = MonitorConfig()
    res = {"machine": machine_info(), "command": "python bench/heal_site_shift.py " + " ".join(sys.argv[1:]),
           "suite": a.suite or {"split": "train", "episodes": a.episodes, "seed": a.seed},
           "default": {"coverage_shift_db": cfg.coverage_shift_db, "coverage_shift_rops": cfg.coverage_shift_rops,
                       "site_shift_db": cfg.site_shift_db, "site_shift_rops": cfg.site_shift_rops},
           "no_fault_abs_db": no_fault_spread(rows), "sweep": summarize(rows),
           "wall_s": round(time.perf_counter() - t0, 1), "peak_rss_mib": peak_rss_mib()}
    out = RESULTS / f"heal_site_shift_{a.tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    for s in res["sweep"]:
        rec = " ".join(f"{c.split('_')[0]} {v['detected']}/{v['of']}" for c, v in s["recall"].items())
        tag = {"monitor": "(+monitor)", True: "(+default)"}.get(s["or_default_median_rule"], " " * 10)
        if "site_gate_db" in s:
            tag = f"gate {s['site_gate_db']:.1f}"
        print(f"{s['statistic']:12s} {s['threshold_db']:.1f} dB x {s['rops']} {tag} "
              f"controls {len(s['controls_firing'])}/{s['controls']}, early/outside "
              f"{len(s['fault_episodes_firing_early_or_outside_scope'])}/{s['fault_episodes']} | {rec}")
    print("no-fault |shift| [dB]:", json.dumps(res["no_fault_abs_db"]))
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
