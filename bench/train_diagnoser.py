"""Train the AIRAN diagnoser (softmax regression over the monitor's per-cell features) on twin episodes.

Episodes come from ``airan.agents.suite.make_suite("train", ...)`` when that module is present (its seed stream
is disjoint from dev/test); otherwise from this script's own generator with seeds >= 7_000_000 (the same fault
catalogue, severities 0.35-1, onsets after 5-9 clean ROPs). Each episode runs the true twin without healing; the
features of every ROP are labelled with the fault's cause on the affected cells (whole site for backhaul
faults) once the fault is active, and ``none`` elsewhere. 80% of episodes train the weights, 20% fit the
temperature and give the held-out numbers printed at the end (and stored in the model's meta).

    .venv/bin/python bench/train_diagnoser.py --episodes 360 --workers 2
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from airan.agents.base import CAUSES, Observation
from airan.agents.diagnoser import CLASSES, MODEL_PATH, fit_temperature, train_softmax
from airan.agents.monitor import Monitor, MonitorConfig, sector_neighbours
from airan.twin.env import NetworkTwin
from airan.twin.faults import SITE_FAULTS, Fault

SCENARIOS = ("ci-tiny", "rma-7", "stadium")


def own_episodes(n: int, seed: int, rops: int) -> list[dict]:
    """Episode specs: {scenario, seed, rops, faults: [Fault kwargs]} (20% controls: none or benign surge)."""
    rng = np.random.default_rng(seed)
    eps = []
    for i in range(n):
        scen = SCENARIOS[i % len(SCENARIOS)]
        twin_seed = 7_000_000 + int(rng.integers(0, 6))  # few drops per scenario: resets hit the drop cache
        onset = int(rng.integers(5, 10))
        kind = "control" if rng.random() < 0.2 else CAUSES[i % len(CAUSES)]
        faults = []
        cell = int(rng.integers(0, 21))
        if kind == "control":
            if rng.random() < 0.6:
                cells = sorted({int(c) for c in rng.integers(0, 21, size=int(rng.integers(1, 8)))})
                faults.append(dict(kind="benign_surge", cells=tuple(cells), severity=float(rng.uniform(0.4, 1)),
                                   onset_rop=onset, ramp_rops=int(rng.integers(0, 3))))
        else:
            mode = ("pingpong", "too_late")[int(rng.integers(0, 2))] if kind == "ho_misconfig" else ""
            faults.append(dict(kind=kind, cells=(cell,), severity=float(rng.uniform(0.35, 1.0)), onset_rop=onset,
                               ramp_rops=int(rng.integers(0, 3)), mode=mode))
        eps.append({"id": f"train-{i}", "scenario": scen, "seed": twin_seed, "rops": rops, "faults": faults})
    return sorted(eps, key=lambda e: (e["scenario"], e["seed"]))


def suite_episodes(n: int, seed: int) -> list[dict] | None:
    try:
        from airan.agents.suite import make_suite
    except ImportError:
        return None
    suite = make_suite("train", n, seed)
    return [{"id": e.id, "scenario": e.scenario, "seed": e.seed, "rops": e.rops,
             "faults": [dict(kind=f.kind, cells=tuple(f.cells), severity=f.severity, onset_rop=f.onset_rop,
                             ramp_rops=f.ramp_rops, duration_rops=f.duration_rops, mode=f.mode) for f in e.faults]}
            for e in suite.episodes]


def episode_rows(ep: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run one episode; return features [R, F], labels [R] and ROP-of-episode weights [R]."""
    faults = [Fault(**f) for f in ep["faults"]]
    twin = NetworkTwin(ep["scenario"])
    twin.reset(seed=int(ep["seed"]), options={"faults": faults})
    d = twin.drop
    nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)
    mon = Monitor(nb, MonitorConfig())
    real = [f for f in faults if f.kind != "benign_surge"]
    onset = min((f.onset_rop for f in faults), default=None)
    hist: dict[str, list[np.ndarray]] = {}
    xs, ys, ws = [], [], []
    for r in range(int(ep["rops"])):
        _, _, _, _, info = twin.step()
        for k, v in info["kpis"].items():
            hist.setdefault(k, []).append(v)
        obs = Observation(rop=r, kpis=info["kpis"], history={k: np.stack(v) for k, v in hist.items()},
                          events=info["events"])
        if onset is not None and r >= onset and mon.frozen_stop is None:
            mon.frozen_stop = max(onset, 1)
        mon.update(obs)
        if mon.features is None:
            continue
        y = np.zeros(twin.cfg.num_cells, np.int64)
        for f in real:
            if f.level(r) <= 0 or r < f.onset_rop + 1:
                continue
            cells = list(f.cells)
            if f.kind in SITE_FAULTS:
                cells = list(np.nonzero(np.isin(d.cell_site, d.cell_site[cells]))[0])
            y[cells] = CLASSES.index(f.kind)
        xs.append(mon.features)
        ys.append(y)
        ws.append(np.full(len(y), 1.0))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=360)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--rops", type=int, default=22)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--own", action="store_true", help="use this script's generator even if agents.suite exists")
    args = ap.parse_args()
    t0 = time.time()
    eps = None if args.own else suite_episodes(args.episodes, args.seed)
    source = "suite:train" if eps is not None else "own-generator"
    eps = eps or own_episodes(args.episodes, args.seed, args.rops)
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(episode_rows, eps, chunksize=8))
    split = np.arange(len(eps)) % 5 != 4
    def cat(sel):
        parts = [r for r, s in zip(rows, sel) if s]
        return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    xtr, ytr = cat(split)
    xte, yte = cat(~split)
    counts = np.bincount(ytr, minlength=len(CLASSES)).astype(float)
    w = 1.0 / np.maximum(counts[ytr], 1.0)  # class-balanced
    w[ytr == 0] *= 3.0  # false alarms cost more than a late detection
    model = train_softmax(xtr, ytr, sample_weight=w, l2=1e-4, steps=800, lr=0.05)
    temp = fit_temperature(model, xte, yte)
    pred = model.proba(xte).argmax(axis=1)
    fault = yte > 0
    per_class = {c: float(np.mean(pred[yte == i] == i)) for i, c in enumerate(CLASSES) if np.any(yte == i)}
    meta = {"source": source, "episodes": len(eps), "seed": args.seed, "rows_train": int(len(ytr)),
            "rows_heldout": int(len(yte)), "temperature": temp, "heldout_row_accuracy": per_class,
            "heldout_fault_rows_top1": float(np.mean(pred[fault] == yte[fault])),
            "heldout_none_false_positive": float(np.mean(pred[~fault] != 0)), "wall_s": round(time.time() - t0, 1)}
    model.meta = meta
    model.save(args.out)
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
