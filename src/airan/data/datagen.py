"""Dataset generation driver: plan shards over a family's configs, run them on an executor (in-process,
a local process pool, or a Ray cluster through the same interface), resume, and write the manifest last."""

from __future__ import annotations

import multiprocessing
import os
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from airan.core.errors import ConfigError
from airan.data.families import CsiConfig, Family
from airan.data.shards import complete_shard, write_manifest, write_shard

DEFAULT_SHARD_SIZE = 256
WORKER_TORCH_THREADS = 1
"""Torch intra-op threads of every pool or Ray worker, and of every healing episode wherever it runs (inline
included). Torch's parallel reductions sum in an order that depends on the thread count, so a result computed
with 1 thread and with 2 can differ in the last bits, and a decision taken on a threshold can flip; one fixed
count keeps a run's results independent of ``--workers`` and of the machine's core count."""


@dataclass(frozen=True)
class Job:
    """One shard to generate: ``n`` samples of ``config`` with its own seed sequence."""

    config: dict[str, Any]
    shard: int
    n: int
    seed: int
    config_index: int


def plan_jobs(family: Family, samples: int, seed: int, shard_size: int = DEFAULT_SHARD_SIZE) -> list[Job]:
    """Split ``samples`` evenly over the family's configs (remainder to the first ones), then into shards."""
    if samples < len(family.configs):
        raise ConfigError(f"--samples {samples} is fewer than the family's {len(family.configs)} configs")
    if shard_size < 1:
        raise ConfigError(f"shard_size must be >= 1, got {shard_size!r}")
    per, rest = divmod(samples, len(family.configs))
    jobs = []
    for ci, cfg in enumerate(family.configs):
        n_cfg = per + (1 if ci < rest else 0)
        for si, start in enumerate(range(0, n_cfg, shard_size)):
            jobs.append(Job(cfg.to_dict(), si, min(shard_size, n_cfg - start), seed, ci))
    return jobs


def _rngs(job: Job, cfg: CsiConfig) -> tuple[np.random.Generator, np.random.Generator]:
    chan = np.random.Generator(np.random.PCG64(np.random.SeedSequence([job.seed, job.config_index, job.shard])))
    group = cfg.position_group or f"cfg{job.config_index}"
    pos = np.random.Generator(np.random.PCG64(np.random.SeedSequence([job.seed, zlib.crc32(group.encode()),
                                                                      job.shard, 7])))
    return chan, pos


def run_job(job: Job, out: str) -> dict[str, Any]:
    """Generate and write one shard (a top-level function, so process pools and Ray can ship it)."""
    from airan.twin.adapter.csi import generate_csi
    from airan.twin.csi import angular_delay, best_beam

    cfg = CsiConfig.from_dict(dict(job.config))
    rng, pos_rng = _rngs(job, cfg)
    b = generate_csi(cfg.model, cfg.carrier_hz, cfg.bs_rows, cfg.bs_cols, cfg.dual_pol, cfg.num_slots, cfg.slot_s,
                     cfg.num_subcarriers, cfg.subcarrier_spacing_hz, job.n, cfg.speed_kmh, cfg.distance_m, cfg.los,
                     cfg.indoor_probability, rng, pos_rng=pos_rng, window_slots=cfg.window_slots,
                     num_neighbors=cfg.num_neighbors, fdd_gap_hz=cfg.fdd_gap_hz)
    bs_id = job.shard % cfg.num_bs
    arrays: dict[str, np.ndarray] = {
        "h": b.h, "ue_xyz": b.ue_xyz, "velocity": b.velocity, "los": b.los, "path_gain_db": b.path_gain_db,
        "delay_spread_s": b.delay_spread_s, "bs_id": np.full(job.n, bs_id, np.int32),
        "serving_cell": np.full(job.n, 3 * bs_id, np.int32)}
    if b.h_nb is not None:
        arrays.update(h_nb=b.h_nb, nb_id=b.nb_id, nb_gain_db=b.nb_gain_db)
    if b.h_ul is not None:
        arrays["h_ul"] = b.h_ul
    for nb in cfg.beams:
        arrays[f"best_beam_{nb}"] = best_beam(b.h, cfg.bs_rows, cfg.bs_cols, nb)
    if cfg.ad_taps:
        arrays["ad"] = angular_delay(b.h[:, 0], cfg.ad_taps)
    return write_shard(Path(out), job.config, job.shard, arrays, job.seed, {"bs_id": bs_id})


class Executor(ABC):
    """Runs jobs and yields their results as they finish."""

    @abstractmethod
    def map(self, fn: Callable[[Job, str], dict], jobs: list[Job], out: str) -> Iterator[dict]:
        """Yield ``fn(job, out)`` for every job, in completion order."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release workers (pools, Ray)."""


class InlineExecutor(Executor):
    def map(self, fn, jobs, out):
        for j in jobs:
            yield fn(j, out)


@contextmanager
def torch_threads(n: int = WORKER_TORCH_THREADS) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, then restore the caller's count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(WORKER_TORCH_THREADS)


class ProcessExecutor(Executor):
    """A local process pool (``concurrent.futures``); each worker uses one torch thread. Workers are spawned,
    not forked: a fork taken after the parent ran the twin (TensorFlow / torch thread pools) can deadlock."""

    def __init__(self, workers: int) -> None:
        self.pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                        mp_context=multiprocessing.get_context("spawn"))

    def map(self, fn, jobs, out):
        futures = [self.pool.submit(fn, j, out) for j in jobs]
        for f in as_completed(futures):
            yield f.result()

    def close(self) -> None:
        self.pool.shutdown()


class RayExecutor(Executor):
    """The same jobs as Ray tasks. ``address``: "local" starts a private local instance bound to 127.0.0.1;
    anything else is passed to ``ray.init(address=...)`` (e.g. "auto" or "ray://host:10001")."""

    def __init__(self, address: str, workers: int) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("--ray-address needs Ray: pip install 'ray==2.55.1' (Flower's pin)") from None
        self.ray = ray
        if address == "local":
            ray.init(num_cpus=workers, include_dashboard=False, _node_ip_address="127.0.0.1",
                     ignore_reinit_error=True, log_to_driver=False)
        else:
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        self.remote = ray.remote(num_cpus=1)(_ray_call)

    def map(self, fn, jobs, out):
        pending = [self.remote.remote(fn, j, out) for j in jobs]
        while pending:
            done, pending = self.ray.wait(pending, num_returns=1)
            yield self.ray.get(done[0])

    def close(self) -> None:
        self.ray.shutdown()


def _ray_call(fn: Callable[[Any, str], dict], job: Any, out: str) -> dict:
    _init_worker()
    return fn(job, out)


def make_executor(workers: int, ray_address: str | None) -> Executor:
    """In-process (1 worker), a local process pool, or Ray (``ray_address``); any top-level ``fn(job, out)``."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be an integer >= 1, got {workers!r}")
    if ray_address:
        return RayExecutor(ray_address, max(1, workers))
    return InlineExecutor() if workers <= 1 else ProcessExecutor(workers)


def generate_dataset(family: Family, samples: int, out: str | Path, *, seed: int = 0, workers: int = 1,
                     ray_address: str | None = None, shard_size: int = DEFAULT_SHARD_SIZE,
                     on_shard: Callable[[dict, int], None] | None = None) -> dict[str, Any]:
    """Generate (or resume) a dataset; return the JSON summary of the datagen contract."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = plan_jobs(family, samples, seed, shard_size)
    done, todo = [], []
    for j in jobs:
        meta = complete_shard(out, j.config["name"], j.shard)
        if meta is not None and meta["samples"] == j.n and meta["seed"] == seed:
            done.append(meta)
        else:
            todo.append(j)
    resumed = len(done)
    t0 = time.perf_counter()
    ex = make_executor(workers, ray_address)
    try:
        for meta in ex.map(run_job, todo, str(out)):
            done.append(meta)
            if on_shard is not None:
                on_shard(meta, len(jobs))
    finally:
        ex.close()
    seconds = time.perf_counter() - t0
    done.sort(key=lambda m: (m["config"]["name"], m["shard"]))
    write_manifest(out, {"name": family.name, "description": family.description,
                         "configs": [c.to_dict() for c in family.configs]}, done, seed)
    summary = summarize(out)
    generated = sum(m["samples"] for m in done[resumed:]) if todo else 0
    summary.update({"seconds": seconds, "samples_generated": generated, "resumed_shards": resumed,
                    "samples_per_s": generated / seconds if seconds > 0 and generated else 0.0,
                    "workers": workers, "ray_address": ray_address, "pid": os.getpid()})
    return summary


def summarize(out: str | Path) -> dict[str, Any]:
    """``airan data info``: samples, bytes and per-config shapes of an existing dataset."""
    from airan.data.shards import read_manifest

    m = read_manifest(out)
    per: dict[str, dict[str, Any]] = {}
    for c in m["family"]["configs"]:
        cfg = CsiConfig.from_dict(c)
        per[cfg.name] = {"name": cfg.name, "samples": 0, "shape": list(cfg.shape), "held_out": cfg.held_out,
                         "model": cfg.model, "carrier_hz": cfg.carrier_hz, "shards": 0}
    for s in m["shards"]:
        per[s["config"]]["samples"] += s["samples"]
        per[s["config"]]["shards"] += 1
    return {"dir": str(out), "family": m["family"]["name"], "seed": m["seed"],
            "samples": sum(s["samples"] for s in m["shards"]), "bytes": sum(s["bytes"] for s in m["shards"]),
            "configs": list(per.values())}
