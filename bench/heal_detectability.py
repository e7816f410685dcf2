"""How far can KPI telemetry alone detect each fault class? -> bench/results/heal_detectability*.json

The healing benchmark's monitor misses most soft faults (tilt errors, hotspots). This benchmark separates
"the monitor is weak" from "the telemetry cannot tell": it runs a train-split suite *without* healing, and for
every derived KPI (``airan.agents.monitor.derived_kpis``), cell and ROP computes a windowed mean-shift statistic
with a clean reference, the best case for a persistent soft fault that a sliding baseline would absorb:

    z = (mean of the last ``m`` ROPs - mean of the ``ref`` ROPs before them) / (s * sqrt(1/m + 1/n_ref))

with ``s`` the reference's standard deviation (floored at the network's median standard deviation of that KPI
at that ROP and at the monitor's absolute floor), kept only where the cell's z and its z minus its neighbours'
median agree in sign (the smaller magnitude counts), so a network-wide surge cancels. Per episode and KPI the
statistic's maximum is taken over all cells and ROPs for a control (any cell can raise a false alarm) and over
the fault cells from onset for a fault. A KPI's threshold is the 95th percentile of the controls' maxima
(5 % control false alarms), at least ``MIN_Z`` so that a KPI that never moves in the controls (the PRB load of
a saturated network) does not count every tiny movement as a detection. The benchmark reports, per fault
class, the recall each KPI reaches at its threshold, and the recall of one combined detector: the max over
KPIs of the statistic divided by that KPI's control median (floored at 1), thresholded at the combined
controls' 95th percentile. Per-episode maxima are kept in the JSON (``rows``) so other thresholds can be tried
without rerunning. Thresholds are set on the same controls they are judged on, so the recalls are optimistic:
an upper bound for this family of detectors.

The same is done for the UEs' measurement reports (``mr.shift``: the median over UEs of the change in the
RSRP they report of a cell, ``airan.agents.monitor.mr_shift``, last 2 ROPs against an 8-ROP window ending 2
ROPs earlier, as the live monitor does; in dB), their edge drop (``mr.drop``: how much at least a quarter of
the UEs lost, the lower quartile instead of the median) and the UE trace's demand surge (``ue.surge``:
``airan.agents.monitor.demand_surge``, log2), each reported on its own and inside the combined detector
(``combined_recall``; ``kpi_only_recall`` leaves the per-UE statistics out).

``--ues-per-cell`` overrides the scenarios' UE density with the same layouts, seeds and faults: it shows how
much of the gap is the twin's few UEs per cell (a 1-s ROP of 2-6 active UEs is a noisy KPI sample);
``--dl-demand-scale`` scales every UE's DL demand, so density and load can be varied apart.
``--ue-volume-jitter`` puts lognormal noise on every UE's traced volume in every ROP: the twin keeps one rate per
UE session, live per-UE volumes do not, and this shows how much of ``ue.surge``'s margin survives.

    .venv/bin/python bench/heal_detectability.py --episodes 120 --scenarios ci-tiny
    .venv/bin/python bench/heal_detectability.py --episodes 120 --scenarios ci-tiny --ues-per-cell 40
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine_info, peak_rss_mib

from airan.agents.monitor import (
    DERIVED,
    change_quantile,
    demand_surge,
    derived_kpis,
    report_change,
    sector_neighbours,
)
from airan.agents.suite import SuiteEpisode, make_suite, step_kpis
from airan.twin.env import NetworkTwin
from airan.twin.scenarios import get_scenario

RESULTS = Path(__file__).parent / "results"
KPIS = ("served", "thp", "thp_p5", "cell_thp", "demand", "prb", "conn", "rsrp", "rsrp_p5", "sinr", "sinr_p5", "ul")
STATS = KPIS + ("mr.shift", "mr.drop", "ue.surge")
UE_STATS = ("mr.shift", "mr.drop", "ue.surge")  # per-UE telemetry (measurement reports, UE trace)
MR_RECENT, MR_GAP, MR_BASE = 2, 2, 8  # the live monitor's windows (MonitorConfig defaults)
SOFT = ("excessive_downtilt", "uptilt_overshoot", "overload_hotspot", "ho_misconfig")
Z_CAP = 50.0
MIN_Z = 3.0


def shift_statistic(x: np.ndarray, neighbours: np.ndarray, m: int, ref: int, floor: float,
                    min_ref: int = 5) -> np.ndarray:
    """Neighbour-agreeing windowed mean-shift statistic (module docstring) of one KPI.

    x: [rops, num_cells] float64 (NaN where undefined); neighbours: [num_cells, K] int64 (-1 pads).
    Returns [rops, num_cells] float64, signed, 0 where the reference is too short."""
    rops, n = x.shape
    z = np.zeros((rops, n))
    for t in range(rops):
        hi = t - m + 1
        lo = max(0, hi - ref)
        if hi - lo < min_ref:
            continue
        r, rec = x[lo:hi], x[hi:t + 1]
        cnt = np.sum(np.isfinite(r), axis=0)
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (cells without UEs)
            mu = np.nanmean(r, axis=0)
            sd = np.nanstd(r, axis=0, ddof=1)
            now = np.nanmean(rec, axis=0)
            pooled = np.nanmedian(sd) if np.any(np.isfinite(sd)) else 0.0
        s = np.fmax(np.fmax(np.nan_to_num(sd), np.nan_to_num(pooled)), floor)
        zt = (now - mu) / (s * np.sqrt(1.0 / m + 1.0 / np.maximum(cnt, 1)))
        z[t] = np.where(cnt >= min_ref, np.clip(np.nan_to_num(zt), -Z_CAP, Z_CAP), 0.0)
    valid = neighbours >= 0
    idx = np.where(valid, neighbours, 0)
    nz = np.where(valid[None], z[:, idx], np.nan)  # [rops, n, K]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        nmed = np.nan_to_num(np.nanmedian(nz, axis=2))
    rel = z - nmed
    agree = np.sign(z) == np.sign(rel)
    return np.where(agree, np.sign(z) * np.minimum(np.abs(z), np.abs(rel)), 0.0)


def live_series(rops: int, num_cells: int, stat) -> np.ndarray:
    """``stat(start, stop, t)`` [num_cells] at every ROP ``t`` with the live monitor's windows (baseline
    ``[start, stop)``): [rops, num_cells] float64 (0 while the baseline window has fewer than 5 ROPs)."""
    out = np.zeros((rops, num_cells))
    for t in range(rops):
        stop = t + 1 - MR_GAP
        start = max(stop - MR_BASE, 0)
        if stop - start >= 5:
            out[t] = stat(start, stop, t)
    return out


def report_stats(reports: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(``mr_shift``, its lower quartile) at every ROP: two [rops, num_cells] float64 dB."""
    c = reports[0].shape[1]

    def both(start: int, stop: int, t: int) -> np.ndarray:
        d = report_change(reports, start, stop, t, MR_RECENT)
        return np.concatenate([change_quantile(d, 0.5), change_quantile(d, 0.25)])

    out = live_series(len(reports), 2 * c, both)
    return out[:, :c], out[:, c:]


def episode_maxima(ep: SuiteEpisode, ues_per_cell: int | None, m: int, ref: int,
                   dl_demand_scale: float = 1.0, ue_volume_jitter: float = 0.0) -> dict[str, Any]:
    """Run ``ep`` without healing; per KPI the statistic's largest magnitude (controls: all cells and ROPs;
    faults: the fault cells from onset). ``ue_volume_jitter``: log-std of a lognormal factor on every traced
    UE's offered traffic in every ROP (the twin keeps one rate per session; live per-UE volumes fluctuate),
    drawn from a generator seeded by the episode's seed."""
    cfg = get_scenario(ep.scenario)
    if ues_per_cell is not None:
        cfg = dataclasses.replace(cfg, ues_per_cell=int(ues_per_cell))
    if dl_demand_scale != 1.0:
        tr = cfg.traffic
        cfg = dataclasses.replace(cfg, traffic=dataclasses.replace(
            tr, mean_dl_demand_mbps=tr.mean_dl_demand_mbps * dl_demand_scale))
    twin = NetworkTwin(cfg)
    twin.reset(seed=ep.seed, options={"faults": list(ep.faults)})
    d = twin.drop
    nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)
    reports: list[np.ndarray] = []
    trace: list[tuple[np.ndarray, np.ndarray]] = []
    der = derived_kpis(step_kpis(twin, ep.rops, reports, trace))
    if ue_volume_jitter > 0:
        rng = np.random.default_rng([ep.seed, 7])
        trace = [(s, d * np.exp(rng.normal(0.0, ue_volume_jitter, d.shape))) for s, d in trace]
    real = [f for f in ep.faults if f.kind != "benign_surge"]
    out = {"id": ep.id, "cause": real[0].kind if real else "control", "maxima": {}}
    shift, q25 = report_stats(reports)
    serving, demand = [s for s, _ in trace], [d for _, d in trace]
    for k in STATS:
        if k == "mr.shift":
            s = np.abs(shift)
        elif k == "mr.drop":  # a quarter of the UEs lost at least this much
            s = np.maximum(-q25, 0.0)
        elif k == "ue.surge":  # the cell's UEs ask this many doublings more
            s = np.maximum(live_series(ep.rops, nb.shape[0], lambda start, stop, t: demand_surge(
                serving, demand, nb.shape[0], start, stop, t, recent_rops=MR_RECENT)), 0.0)
        else:
            s = np.abs(shift_statistic(np.asarray(der[k], float), nb, m, ref, DERIVED[k][0]))
        if real:
            cells = sorted({int(c) for f in real for c in f.cells})
            onset = min(f.onset_rop for f in real)
            out["maxima"][k] = float(s[onset:, cells].max()) if onset < ep.rops else 0.0
        else:
            out["maxima"][k] = float(s.max())
    return out


def summarize(rows: list[dict[str, Any]], fa: float = 0.05) -> dict[str, Any]:
    ctrl = [r for r in rows if r["cause"] == "control"]
    if len(ctrl) < 5:
        raise SystemExit(f"need >= 5 controls to set thresholds, got {len(ctrl)}")
    stats = [k for k in STATS if k in ctrl[0]["maxima"]]  # rows from before the reports: KPIs only
    kpi_cols = np.array([k not in UE_STATS for k in stats])
    C = np.array([[r["maxima"][k] for k in stats] for r in ctrl])  # [controls, K]
    # the MIN_Z floor is for the KPIs' z-statistics; the per-UE statistics are in their own units (dB, log2)
    thr = np.percentile(C, 100 * (1 - fa), axis=0)
    thr = np.where(kpi_cols, np.maximum(thr, MIN_Z), thr)
    med = np.maximum(np.median(C, axis=0), 1.0)
    comb_thr = float(np.percentile((C / med).max(axis=1), 100 * (1 - fa)))
    kpi_thr = float(np.percentile((C / med)[:, kpi_cols].max(axis=1), 100 * (1 - fa)))

    def recall(F: np.ndarray, cols: np.ndarray, t: float) -> float:
        return round(float(np.mean((F / med)[:, cols].max(axis=1) > t)), 3) if len(F) else float("nan")

    all_cols = np.ones(len(stats), bool)
    classes = sorted({r["cause"] for r in rows} - {"control"})
    per_class = {}
    for c in classes:
        F = np.array([[r["maxima"][k] for k in stats] for r in rows if r["cause"] == c])
        per_kpi = {k: round(float(np.mean(F[:, j] > thr[j])), 3) for j, k in enumerate(stats)}
        best = max(per_kpi, key=per_kpi.get)
        per_class[c] = {"n": int(len(F)), "combined_recall": recall(F, all_cols, comb_thr),
                        "kpi_only_recall": recall(F, kpi_cols, kpi_thr),
                        "best_kpi": best, "best_kpi_recall": per_kpi[best], "recall_per_kpi": per_kpi,
                        "median_maxima": {k: round(float(np.median(F[:, j])), 2) for j, k in enumerate(stats)}}
    soft = [r for r in rows if r["cause"] in SOFT]
    S = np.array([[r["maxima"][k] for k in stats] for r in soft]) if soft else np.zeros((0, len(stats)))
    return {"controls": len(ctrl), "control_false_alarm_target": fa,
            "thresholds": {k: round(float(t), 2) for k, t in zip(stats, thr)},
            "control_median_maxima": {k: round(float(v), 2) for k, v in zip(stats, med)},
            "combined_threshold": round(comb_thr, 3), "kpi_only_threshold": round(kpi_thr, 3),
            "soft_fault_combined_recall": recall(S, all_cols, comb_thr) if soft else None,
            "soft_fault_kpi_only_recall": recall(S, kpi_cols, kpi_thr) if soft else None,
            "per_class": per_class}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=120)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--scenarios", default="", help="comma-separated scenario names (default: the suite mix)")
    ap.add_argument("--ues-per-cell", type=int, default=None, help="override the scenarios' UE density")
    ap.add_argument("--dl-demand-scale", type=float, default=1.0,
                    help="scale every UE's mean DL demand (with --ues-per-cell: same offered load, more UEs)")
    ap.add_argument("--ue-volume-jitter", type=float, default=0.0,
                    help="log-std of per-UE, per-ROP lognormal noise on the UE trace's offered traffic")
    ap.add_argument("--recent-rops", type=int, default=4)
    ap.add_argument("--ref-rops", type=int, default=12)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="")
    a = ap.parse_args(argv)
    if a.ues_per_cell is not None and not 1 <= a.ues_per_cell <= 1000:
        raise SystemExit(f"--ues-per-cell must be in [1, 1000], got {a.ues_per_cell}")
    if not 0 < a.dl_demand_scale <= 100:
        raise SystemExit(f"--dl-demand-scale must be in (0, 100], got {a.dl_demand_scale}")
    if not 0 <= a.ue_volume_jitter <= 3:
        raise SystemExit(f"--ue-volume-jitter must be in [0, 3], got {a.ue_volume_jitter}")
    t0 = time.perf_counter()
    scen = tuple(s for s in a.scenarios.split(",") if s) or None
    suite = make_suite("train", a.episodes, a.seed, scenarios=scen, detectable_check=False)
    args = [(ep, a.ues_per_cell, a.recent_rops, a.ref_rops, a.dl_demand_scale, a.ue_volume_jitter)
            for ep in suite.episodes]
    from rich.progress import track

    if a.workers > 1:
        with ProcessPoolExecutor(a.workers, mp_context=mp.get_context("spawn")) as pool:
            futs = [pool.submit(episode_maxima, *x) for x in args]
            rows = [f.result() for f in track(futs, description="episodes")]
    else:
        rows = [episode_maxima(*x) for x in track(args, description="episodes")]
    res = {"machine": machine_info(), "command": "python bench/heal_detectability.py " + " ".join(sys.argv[1:]),
           "suite": {"split": "train", "episodes": a.episodes, "seed": a.seed, "scenarios": list(scen or ()),
                     "ues_per_cell": a.ues_per_cell or "scenario default", "dl_demand_scale": a.dl_demand_scale,
                     "ue_volume_jitter": a.ue_volume_jitter},
           "recent_rops": a.recent_rops, "ref_rops": a.ref_rops, **summarize(rows), "rows": rows,
           "wall_s": round(time.perf_counter() - t0, 1), "peak_rss_mib": peak_rss_mib()}
    tag = (a.scenarios.replace(",", "+") or "mix") + (f"_ues{a.ues_per_cell}" if a.ues_per_cell else "")
    tag += f"_dl{a.dl_demand_scale:g}" if a.dl_demand_scale != 1.0 else ""
    tag += f"_jit{a.ue_volume_jitter:g}" if a.ue_volume_jitter > 0 else ""
    out = Path(a.out) if a.out else RESULTS / f"heal_detectability_{tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    brief = {c: (v["combined_recall"], v["kpi_only_recall"], v["best_kpi"], v["best_kpi_recall"])
             for c, v in res["per_class"].items()}
    print(json.dumps({k: res[k] for k in ("combined_threshold", "soft_fault_combined_recall",
                                          "soft_fault_kpi_only_recall")} | brief))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
