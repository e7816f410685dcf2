"""Where a policy's recovery falls short of the oracle's, by fault cost -> bench/results/heal_fkr_by_loss_TAG.json

Reads two ``heal_dev.py --logs DIR`` runs of the same suite (``logs_POLICY.jsonl`` and ``logs_oracle.jsonl``) and
scores every episode with the scorer (``agents.scorer.episode_outcome``). For the episodes whose impact KPI is the
carried/offered DL ratio (every class but handover misconfiguration, whose impact is counted in failures) and
whose FKR is defined for the policy, the *loss* is the mean of ``nofault - unhealed`` over the ROPs after onset
(ratio units: 0.05 = the neighbourhood carried 5 % less of what it was offered). Per loss bin it reports the
number of episodes and, for the policy and the oracle, the FKR median and the share of episodes at FKR >= 0.9.

    .venv/bin/python bench/heal_fkr_by_loss.py --suite bench/results/heal_dev_suite.json --logs LOGDIR \\
        [--oracle-logs ORACLE_LOGDIR] [--policy airan] --tag dev
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info, write_result  # noqa: E402

from airan.agents.scorer import episode_outcome  # noqa: E402
from airan.agents.suite import load_suite  # noqa: E402

EDGES = (-np.inf, 0.01, 0.03, 0.1, 0.3, np.inf)  # loss bin edges [carried/offered ratio]


def read_logs(path: Path) -> dict[str, dict]:
    if not path.is_file():
        raise SystemExit(f"no log file {path} (run heal_dev.py with --logs first)")
    return {lg["episode_id"]: lg for lg in map(json.loads, path.read_text().splitlines()) if lg}


def log_replay_parser(description: str, logs_help: str) -> argparse.ArgumentParser:
    """The arguments of the scripts that replay saved logs on their suite: ``--suite``, ``--logs`` (one or more
    logs_POLICY.jsonl), ``--workers``, ``--tag``; add more, then ``parse_workers``."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--suite", type=Path, required=True)
    ap.add_argument("--logs", type=Path, nargs="+", required=True, help=logs_help)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--tag", default="")
    return ap


@contextlib.contextmanager
def progress_pool(workers: int) -> Iterator[Callable[[str, Callable, list], list]]:
    """A process pool with a progress bar on stderr, for the log-replay scripts: yields ``run(desc, fn, jobs)``,
    which maps ``fn`` over ``jobs`` in ``workers`` processes (one job per task, results in order)."""
    from rich.console import Console
    from rich.progress import Progress

    with ProcessPoolExecutor(workers) as pool, Progress(console=Console(stderr=True)) as progress:
        def run(desc: str, fn: Callable, jobs: list) -> list:
            task = progress.add_task(desc, total=len(jobs))
            out = []
            for r in pool.map(fn, jobs, chunksize=1):
                out.append(r)
                progress.advance(task)
            return out

        yield run


def replay_each_log(paths: list[Path], workers: int, desc: str, fn: Callable[[Any], list],
                    jobs_of: Callable[[dict], list], summarise: Callable[[list], dict], key: str) -> dict[str, dict]:
    """For the log-replay scripts that return records per episode: for each logs file in ``paths``, ``fn`` mapped
    over ``jobs_of(logs)`` (``logs``: episode id -> log) in a ``progress_pool``, its records flattened ->
    ``{str(path): {"summary": summarise(records), key: records}}``."""
    runs = {}
    with progress_pool(workers) as run:
        for path in paths:
            recs = [r for rs in run(f"{desc} {path.parent.name}", fn, jobs_of(read_logs(path))) for r in rs]
            runs[str(path)] = {"summary": summarise(recs), key: recs}
    return runs


def parse_workers(ap: argparse.ArgumentParser) -> argparse.Namespace:
    args = ap.parse_args()
    if args.workers < 1:
        raise SystemExit(f"--workers must be >= 1, got {args.workers}")
    return args


def episode_loss(log: dict, onset: int) -> float:
    """Mean ``nofault - unhealed`` impact KPI over the ROPs after ``onset`` (ratio units)."""
    imp = log["impact"]
    un, nf = np.asarray(imp["unhealed"], float), np.asarray(imp["nofault"], float)
    return float(np.mean(nf[onset + 1:] - un[onset + 1:]))


def by_loss(rows: list[tuple[float, float, float | None]]) -> list[dict]:
    """rows: (loss, policy FKR, oracle FKR or None) -> one dict per non-empty loss bin."""
    out = []
    for lo, hi in zip(EDGES[:-1], EDGES[1:], strict=True):
        sel = [r for r in rows if lo <= r[0] < hi]
        if not sel:
            continue
        pol = np.array([r[1] for r in sel])
        orc = np.array([r[2] for r in sel if r[2] is not None])
        out.append({"loss_from": None if np.isinf(lo) else lo, "loss_to": None if np.isinf(hi) else hi,
                    "episodes": len(sel), "fkr_median": float(np.median(pol)),
                    "share_fkr_ge_0_9": float(np.mean(pol >= 0.9)),
                    "oracle_episodes": int(orc.size),
                    "oracle_fkr_median": float(np.median(orc)) if orc.size else None,
                    "oracle_share_fkr_ge_0_9": float(np.mean(orc >= 0.9)) if orc.size else None})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", type=Path, required=True)
    ap.add_argument("--logs", type=Path, required=True, help="folder with logs_POLICY.jsonl")
    ap.add_argument("--oracle-logs", type=Path, default=None, help="folder with logs_oracle.jsonl (default: --logs)")
    ap.add_argument("--policy", default="airan")
    ap.add_argument("--tag", default="")
    a = ap.parse_args()
    t0 = time.perf_counter()
    suite = load_suite(a.suite)
    pol = read_logs(a.logs / f"logs_{a.policy}.jsonl")
    orc = read_logs((a.oracle_logs or a.logs) / "logs_oracle.jsonl")
    rows = []
    for ep in suite.episodes:
        if ep.control or ep.cause == "ho_misconfig" or ep.id not in pol:
            continue
        p = episode_outcome(ep, pol[ep.id])
        if p["fkr"] is None:
            continue
        o = episode_outcome(ep, orc[ep.id]) if ep.id in orc else {"fkr": None}
        onset = min(f.onset_rop for f in ep.faults if f.kind != "benign_surge")
        rows.append((episode_loss(pol[ep.id], onset), float(p["fkr"]), o["fkr"]))
    if not rows:
        raise SystemExit(f"no scored episode of {a.policy!r} with a defined FKR in {a.logs}")
    bins = by_loss(rows)
    out = {"machine": machine_info(), "command": "heal_fkr_by_loss.py " + " ".join(sys.argv[1:]),
           "suite_file": str(a.suite), "policy": a.policy, "episodes": len(rows), "bins": bins,
           "wall_s": time.perf_counter() - t0}
    path = write_result("heal_fkr_by_loss", a.tag, out)
    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    for b in bins:
        print(f"loss [{f(b['loss_from'])}, {f(b['loss_to'])}): {b['episodes']:3d} episodes  {a.policy} FKR median "
              f"{f(b['fkr_median'])} (>= 0.9: {f(b['share_fkr_ge_0_9'])})  oracle {f(b['oracle_fkr_median'])} "
              f"(>= 0.9: {f(b['oracle_share_fkr_ge_0_9'])}, {b['oracle_episodes']} episodes)")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
