"""Twin speed benchmark -> bench/results/twin_speed.json.

Measures on this machine: ROP steps/s for uma-19 with 570 UEs, what-if latency (clone + one tilt change + one
ROP), action re-evaluation latency (one tilt change + evaluate), reset (Sionna drop) time, peak RSS, and how
the step cost grows with cells and UEs. Targets (2-core CPU): >= 20 steps/s, what-if <= 50 ms, action <= 10 ms.

    .venv/bin/python bench/twin_speed.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine_info, peak_rss_mib

from airan.twin.actions import Action
from airan.twin.env import NetworkTwin
from airan.twin.scenarios import get_scenario

OUT = Path(__file__).parent / "results" / "twin_speed.json"


def _steps_per_s(env: NetworkTwin, n: int) -> float:
    env.step()  # warm caches
    t = time.perf_counter()
    for _ in range(n):
        env.step()
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and a smaller scaling table")
    args = ap.parse_args()
    reps = 10 if args.quick else 40
    command = "python bench/twin_speed.py" + (" --quick" if args.quick else "")
    res: dict = {"machine": machine_info(), "command": command}

    cfg = get_scenario("uma-19")
    env = NetworkTwin(cfg)
    t = time.perf_counter()
    env.reset(seed=0)
    res["reset_s"] = time.perf_counter() - t
    res["scenario"] = {"name": cfg.name, "num_cells": cfg.num_cells, "num_ues": cfg.num_ues}
    res["rop_steps_per_s"] = _steps_per_s(env, reps * 2)

    what_if = []
    for i in range(reps):
        t = time.perf_counter()
        twin = env.clone()
        twin.apply(Action("tilt", i % cfg.num_cells, 2.0 if i % 2 else -2.0))
        twin.step()
        what_if.append((time.perf_counter() - t) * 1e3)
    res["what_if_ms"] = {"median": float(np.median(what_if)), "p95": float(np.percentile(what_if, 95))}

    evals = []
    for i in range(reps):
        action = Action("tilt", i % cfg.num_cells, 1.0 if i % 2 == 0 else -1.0)
        t = time.perf_counter()
        env.apply(action)
        env.evaluate()
        evals.append((time.perf_counter() - t) * 1e3)
    res["action_eval_ms"] = {"median": float(np.median(evals)), "p95": float(np.percentile(evals, 95))}

    res["peak_rss_mib_uma19"] = peak_rss_mib()  # before the scaling runs (the 1140-UE Sionna drop needs ~12 GB)
    scaling = []
    grid = [(1, 4), (1, 10), (1, 20), (2, 5), (2, 10)] if args.quick else \
        [(1, 4), (1, 10), (1, 20), (1, 40), (2, 5), (2, 10), (2, 20)]
    for rings, upc in grid:
        c = get_scenario("uma-19").with_(num_rings=rings, ues_per_cell=upc, name=f"uma-r{rings}-u{upc}")
        e = NetworkTwin(c)
        t = time.perf_counter()
        e.reset(seed=0)
        reset_s = time.perf_counter() - t
        sps = _steps_per_s(e, max(5, reps // 2))
        scaling.append({"num_cells": c.num_cells, "num_ues": c.num_ues, "links": c.num_cells * c.num_ues,
                        "rop_steps_per_s": sps, "step_ms": 1e3 / sps, "reset_s": reset_s})
        print(f"  {c.num_cells:3d} cells x {c.num_ues:5d} UEs: {sps:6.1f} steps/s, reset {reset_s:5.1f} s", flush=True)
    res["scaling"] = scaling
    res["peak_rss_mib_all"] = peak_rss_mib()
    res["targets"] = {"rop_steps_per_s": ">= 20", "what_if_ms": "<= 50", "action_eval_ms": "<= 10"}
    res["meets_targets"] = {"rop_steps_per_s": res["rop_steps_per_s"] >= 20,
                            "what_if_ms": res["what_if_ms"]["median"] <= 50,
                            "action_eval_ms": res["action_eval_ms"]["median"] <= 10}
    res["gpu_note"] = ("The large-scale tier steps in NumPy on the CPU; Sionna runs only at reset. No GPU was "
                       "available to this run, so the largest real-time network on a GPU is not measured.")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps({k: res[k] for k in ("rop_steps_per_s", "what_if_ms", "action_eval_ms", "peak_rss_mib_uma19",
                                          "meets_targets")}, indent=2))


if __name__ == "__main__":
    main()
