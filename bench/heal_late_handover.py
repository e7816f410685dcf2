"""Calibrate the monitor's late-handover rules on the training split -> bench/results/heal_late_handover.json

The signature (``airan.agents.monitor.overdue_ues``, ``Monitor.late_held``): a UE that reports a neighbour at
least ``margin`` dB stronger than its serving cell in two consecutive ROPs, still served by the same cell, is
*held*; a cell holding at least ``min`` such UE-ROPs summed over ``rops`` ROPs fires. With a sane A3 setting a UE
hands over within a fraction of a second of a neighbour becoming a few dB stronger, so a held UE needs handover
parameters that keep it (a too-late misconfiguration: a large hysteresis, a long time-to-trigger, a negative
CIO) or a handover that fails.

The benchmark runs training-split episodes without healing (up to ``--per-class`` per fault class and every
control) and, for every (margin, min) in the sweep, counts
- controls with any firing cell (false alarms of a healthy network),
- episodes of other fault classes with a firing cell that is not a fault cell (a false lead),
- detectable ``too_late`` handover misconfigurations whose fault cell fires while the fault is active (recall;
  detectability as the suite defines it, ``airan.agents.suite.is_undetectable``), and the same for
  ``pingpong`` ones (the signature is not meant for them: their UEs leave the cell early).
The same episodes also score the *held streak* (the default rule since it replaced the summed count; see
``MonitorConfig.late_ho_streak_rops``): a cell fires when one of its UEs has been overdue by ``margin`` dB,
served by that same cell, for ``streak`` consecutive ROPs, and (``quiet`` > 0) the cell made no outgoing
handover attempt (``HO.AttOut``) in the last ``quiet`` ROPs; ``streak_sweep`` in the JSON, same counts.
The same episodes also score the opposite case, *early* handovers (``airan.agents.monitor.early_handovers``,
not a monitor rule yet): a UE handed over out of a cell whose reports after the handover still hear that cell
at least ``margin`` dB stronger than the new one, summed over ``rops`` ROPs per source cell, firing at ``min``;
``early_sweep`` in the JSON, with ping-pong misconfigurations as the class it is meant for.
The seeds are the training split's, disjoint from dev and test.

    .venv/bin/python bench/heal_late_handover.py --episodes 200 --seed 34 --per-class 12
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info, peak_rss_mib  # noqa: E402

from airan.agents.monitor import Monitor, MonitorConfig, early_handovers, sector_neighbours, silent_cells  # noqa: E402
from airan.agents.suite import SuiteEpisode, is_undetectable, make_suite, step_kpis  # noqa: E402
from airan.twin.env import NetworkTwin  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
MARGINS_DB = (4.0, 6.0, 8.0)
MINS = (1.0, 2.0, 3.0)
STREAK_MARGINS_DB = (3.0, 4.0, 5.0, 6.0)
STREAKS = (3, 4, 5)
QUIETS = (0, 3)
EARLY_MARGINS_DB = (0.0, 1.0, 2.0, 3.0)
EARLY_MINS = (1.0, 2.0, 3.0)


def window_sums(per_rop: np.ndarray, rops: int) -> np.ndarray:
    """[R, C] float64: each cell's ``per_rop`` [R, C] counts summed over the last ``rops`` ROPs up to each ROP."""
    kernel = np.ones(rops)
    return np.stack([np.convolve(per_rop[:, c], kernel)[: per_rop.shape[0]] for c in range(per_rop.shape[1])],
                    axis=1)


def held_counts(ep: SuiteEpisode, rops_window: int) -> dict:
    """Run ``ep`` without healing; per margin the held UEs summed over ``rops_window`` ROPs: [R, C] float64,
    with the episode's class, mode, fault cells, active mask [R, C] bool and detectability."""
    twin = NetworkTwin(ep.scenario)
    twin.reset(seed=ep.seed, options={"faults": list(ep.faults)})
    d = twin.drop
    nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)
    reports: list[np.ndarray] = []
    trace: list[tuple[np.ndarray, np.ndarray]] = []
    kpis = step_kpis(twin, ep.rops, reports, trace)
    real = [f for f in ep.faults if f.kind != "benign_surge"]
    active = np.array([[any(f.level(r) > 0 and c in f.cells for f in real) for c in range(nb.shape[0])]
                       for r in range(ep.rops)])
    sums, streaks = {}, {}
    for m in sorted(set(MARGINS_DB) | set(STREAK_MARGINS_DB)):
        mon = Monitor(nb, MonitorConfig(late_ho_margin_db=m))
        held = np.stack([mon.late_held(reports[r], trace[r][0]) for r in range(ep.rops)])  # [R, C]
        sums[m] = window_sums(held, rops_window)
        streaks[m] = np.stack(mon.held_streak)  # [R, C] longest run of a UE held overdue by the cell [ROPs]
    att = np.nan_to_num(kpis["HO.AttOut"])  # [R, C] outgoing handover attempts
    quiet = {q: np.stack([silent_cells(att, r, q) for r in range(ep.rops)]) for q in QUIETS if q > 0}
    fires = {(m, k, q): (streaks[m] >= k) & (quiet[q] if q > 0 else True)
             for m in STREAK_MARGINS_DB for k in STREAKS for q in QUIETS}
    early = {}
    for m in EARLY_MARGINS_DB:
        per_rop = np.stack([early_handovers(trace[r - 1][0] if r else None, trace[r][0], reports[r], nb.shape[0], m)
                            for r in range(ep.rops)]).astype(float)  # [R, C]
        early[m] = window_sums(per_rop, rops_window)
    ho = real[0] if real and real[0].kind == "ho_misconfig" else None
    return {"id": ep.id, "cls": "control" if ep.control else ep.cause, "mode": ho.mode if ho else None,
            "detectable": (not is_undetectable(ep)) if ho else None, "active": active, "sums": sums,
            "fires": fires, "early": early}


def counts(rows: list[dict], fire) -> dict:
    """Controls firing, other-fault episodes with a non-fault cell firing and too-late / ping-pong recall of a
    rule ``fire(row)`` -> [R, C] bool."""
    ctrl = [r["id"] for r in rows if r["cls"] == "control" and fire(r).any()]
    lead = [r["id"] for r in rows if r["cls"] not in ("control", "ho_misconfig") and (fire(r) & ~r["active"]).any()]
    rec = {}
    for mode in ("too_late", "pingpong"):
        eps = [r for r in rows if r["mode"] == mode and r["detectable"]]
        hit = [r["id"] for r in eps if (fire(r) & r["active"]).any()]
        rec[mode] = {"detected": len(hit), "of": len(eps), "ids": hit}
    return {"controls_firing": ctrl, "controls": sum(r["cls"] == "control" for r in rows),
            "other_fault_episodes_with_a_non_fault_cell_firing": lead,
            "other_fault_episodes": sum(r["cls"] not in ("control", "ho_misconfig") for r in rows), "recall": rec}


def summarize(rows: list[dict]) -> list[dict]:
    return [{"margin_db": m, "min": k, **counts(rows, lambda r, m=m, k=k: r["sums"][m] >= k)}
            for m in MARGINS_DB for k in MINS]


def summarize_early(rows: list[dict]) -> list[dict]:
    return [{"margin_db": m, "min": k, **counts(rows, lambda r, m=m, k=k: r["early"][m] >= k)}
            for m in EARLY_MARGINS_DB for k in EARLY_MINS]


def summarize_streaks(rows: list[dict]) -> list[dict]:
    return [{"margin_db": m, "streak": k, "quiet": q, **counts(rows, lambda r, key=(m, k, q): r["fires"][key])}
            for m in STREAK_MARGINS_DB for k in STREAKS for q in QUIETS]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=34)
    ap.add_argument("--per-class", type=int, default=12, help="at most this many episodes per fault class")
    ap.add_argument("--rops", type=int, default=MonitorConfig().late_ho_rops, help="window summed [ROPs]")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(RESULTS / "heal_late_handover.json"))
    a = ap.parse_args(argv)
    if a.per_class < 1 or a.rops < 1:
        raise SystemExit(f"--per-class and --rops must be >= 1, got {a.per_class} / {a.rops}")
    t0 = time.perf_counter()
    cfg = MonitorConfig()
    suite = make_suite("train", a.episodes, a.seed, detectable_check=False)
    seen: Counter = Counter()
    eps = []
    for ep in suite.episodes:
        key = "control" if ep.control else ep.cause
        if key == "control" or seen[key] < a.per_class:
            seen[key] += 1
            eps.append(ep)
    from rich.progress import track

    with ProcessPoolExecutor(a.workers, mp_context=mp.get_context("spawn")) as pool:
        futs = [pool.submit(held_counts, ep, a.rops) for ep in eps]
        rows = [f.result() for f in track(futs, description="episodes")]
    res = {"machine": machine_info(), "command": "python bench/heal_late_handover.py " + " ".join(sys.argv[1:]),
           "suite": {"split": "train", "episodes": a.episodes, "seed": a.seed, "per_class": a.per_class,
                     "run": len(eps)},
           "rops": a.rops, "summed_rule": {"margin_db": 6.0, "min": MonitorConfig().late_ho_min},
           "default": {"margin_db": cfg.late_ho_margin_db, "streak": cfg.late_ho_streak_rops,
                       "quiet": cfg.late_ho_quiet_rops},
           "sweep": summarize(rows), "streak_sweep": summarize_streaks(rows), "early_sweep": summarize_early(rows),
           "wall_s": round(time.perf_counter() - t0, 1), "peak_rss_mib": peak_rss_mib()}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    for s in res["sweep"]:
        lead = len(s["other_fault_episodes_with_a_non_fault_cell_firing"])
        print(f"margin {s['margin_db']:.0f} dB, min {s['min']:.0f}: controls firing {len(s['controls_firing'])}/"
              f"{s['controls']}, other faults with a false lead {lead}"
              f"/{s['other_fault_episodes']}, too_late {s['recall']['too_late']['detected']}/"
              f"{s['recall']['too_late']['of']}, pingpong {s['recall']['pingpong']['detected']}/"
              f"{s['recall']['pingpong']['of']}")
    for s in res["streak_sweep"]:
        lead = len(s["other_fault_episodes_with_a_non_fault_cell_firing"])
        print(f"streak: margin {s['margin_db']:.0f} dB, {s['streak']} ROPs, quiet {s['quiet']}: controls firing "
              f"{len(s['controls_firing'])}/{s['controls']}, false lead {lead}/{s['other_fault_episodes']}, too_late "
              f"{s['recall']['too_late']['detected']}/{s['recall']['too_late']['of']}")
    for s in res["early_sweep"]:
        lead = len(s["other_fault_episodes_with_a_non_fault_cell_firing"])
        print(f"early: margin {s['margin_db']:.0f} dB, min {s['min']:.0f}: controls firing {len(s['controls_firing'])}/"
              f"{s['controls']}, false lead {lead}/{s['other_fault_episodes']}, pingpong "
              f"{s['recall']['pingpong']['detected']}/{s['recall']['pingpong']['of']}, too_late "
              f"{s['recall']['too_late']['detected']}/{s['recall']['too_late']['of']}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
