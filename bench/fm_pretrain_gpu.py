"""Foundation-model pretraining on a GPU: throughput (samples/s, achieved TFLOP/s) of each size and the `small`
checkpoints the CPU leaderboard then scores.

    python bench/fm_pretrain_gpu.py --out DIR [--samples 19500] [--deadline-s 480]

In one call, inside a wall-clock deadline (device time is scarce):
1. generates a `hetero` dataset with the twin on the CPU cores (seed 1, so it shares no sample with the seed-0
   dataset the CPU leaderboard evaluates on; the held-out configs are never trained on either way);
2. for each run (arch, size, prior): a 30-step probe measures the step rate, the run's step count is set so the
   run fills its time budget (cosine schedule over those steps), then it trains and exports the weights
   (float16, no optimiser state) under DIR/<run>/;
3. measures for each run: end-to-end samples/s of the training loop; model FLOPs per sample (forward + backward,
   ``torch.utils.flop_counter`` over 24 batches of the training mix) and so the achieved TFLOP/s; the
   model-bound rate (forward + backward + AdamW on batches already prepared on the GPU, so with data
   preparation free) and the CPU preparation rate (tokens, noise, masks and classical prior, one thread),
   which together say what bounds the loop.

Writes DIR/fm_pretrain_gpu.json after every stage (partial results survive a deadline or a failure).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from machine import machine_info  # noqa: E402

RUNS = (  # name, arch, size, prior, training budget [s], export the weights
    ("airan-small-prior-gpu", "airan", "small", True, 170.0, True),
    ("wifo-small-gpu", "wifo", "small", False, 100.0, True),
    ("airan-base-prior-gpu", "airan", "base", True, 40.0, False),
    ("airan-small-gpu", "airan", "small", False, 120.0, True),  # ablation: no prior (run with --only)
)


def datagen(out: Path, samples: int, workers: int, seed: int) -> dict:
    """The twin on the CPU only (CUDA hidden from the workers), in a child process."""
    code = ("import json,sys;from airan.data.datagen import generate_dataset;from airan.data.families import "
            "load_family\nif __name__=='__main__':\n s=generate_dataset(load_family('hetero'),int(sys.argv[1]),"
            "sys.argv[2],seed=int(sys.argv[3]),workers=int(sys.argv[4]));print(json.dumps({k:s[k] for k in "
            "('samples','bytes','seconds','samples_per_s')}))")
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-c", code, str(samples), str(out), str(seed), str(workers)], env=env,
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"datagen failed (rc {r.returncode}): {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(model, cfg, data: Path, n_batches: int = 24) -> dict:
    """FLOPs per sample (forward + backward), model-bound and preparation rates for ``model`` (trained)."""
    import numpy as np
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from airan.data.reader import CsiDataset
    from airan.fm.masking import make_mask
    from airan.fm.pretrain import _stream, forward_loss, pick_masking, prepare_step
    from airan.fm.wifo import wifo_mask

    ds = CsiDataset(data, cache_shards=10_000)
    stream = _stream(ds, ds.split("sample", seed=cfg.seed)["train"], cfg, epoch0=1000)
    rng = np.random.default_rng(7)
    g = torch.Generator().manual_seed(7)
    batches, prep_s, n_samples = [], 0.0, 0
    for _ in range(n_batches):
        h = next(stream)
        kind, ratio = pick_masking(model, cfg, h, rng)
        t = time.perf_counter()
        batches.append(prepare_step(model, h, kind, ratio, g, cfg.device, cfg.noise_snr_db,
                                    wifo_mask if cfg.arch == "wifo" else make_mask))
        _sync(cfg.device)
        prep_s += time.perf_counter() - t
        n_samples += h.shape[0]
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    flops = 0
    for inp in batches:
        with FlopCounterMode(display=False) as fc:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cfg.device.startswith("cuda")):
                loss = forward_loss(model, inp, cfg.loss)
            loss.backward()
        flops += fc.get_total_flops()
        opt.zero_grad(set_to_none=True)

    def one_pass() -> None:
        for inp in batches:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cfg.device.startswith("cuda")):
                loss = forward_loss(model, inp, cfg.loss)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

    one_pass()  # warm-up
    _sync(cfg.device)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        one_pass()
        _sync(cfg.device)
        times.append(time.perf_counter() - t)
    model_s = float(np.median(times))
    return {"measure_batches": n_batches, "measure_samples": n_samples,
            "flops_per_sample": flops / n_samples,
            "model_bound_samples_per_s": n_samples / model_s,
            "model_bound_tflops": flops / model_s / 1e12,
            "prep_samples_per_s_one_thread": n_samples / prep_s}


def train_run(name: str, arch: str, size: str, prior: bool, budget_s: float, data: Path, out: Path, work: Path,
              batch: int, workers: int, export: bool, device: str, steps: int = 0) -> dict:
    import torch

    from airan.fm import checkpoint
    from airan.fm.pretrain import PretrainConfig, pretrain

    common = dict(size=size, arch=arch, prior=prior, loss="nmse_db", batch_size=batch, lr=1e-3, device=device,
                  prep_workers=workers, seed=0)
    rate, probe_rate = None, None
    if steps <= 0:  # a probe sets the step count that fills the budget
        stamps: list[float] = []
        probe_cfg = PretrainConfig(steps=30, warmup_steps=5, ckpt_every=10_000, **common)
        probe = pretrain(data, work / f"{name}-probe", probe_cfg,
                         on_step=lambda s, loss: stamps.append(time.perf_counter()), cache_shards=10_000)
        rate = (len(stamps) - 11) / (stamps[-1] - stamps[10])  # steps/s after 10 warm-up steps
        probe_rate = probe["samples_per_s"]
        steps = int(min(50_000, max(60, budget_s * rate)))
    cfg = PretrainConfig(steps=steps, warmup_steps=max(20, steps // 20), ckpt_every=10 * steps, **common)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    ck = work / f"{name}-full"
    summary = pretrain(data, ck, cfg, cache_shards=10_000)
    res = {"name": name, "arch": arch, "size": size, "prior": prior, "batch_size": batch, "prep_workers": workers,
           "probe_steps_per_s": rate, "probe_samples_per_s": probe_rate, "steps": steps,
           "seconds": summary["seconds"], "samples_per_s": summary["samples_per_s"], "params": summary["params"],
           "loss_first": summary["loss_first"], "loss_last": summary["loss_last"],
           "loss_curve_every_1pct": summary["history"][:: max(1, steps // 100)],
           "peak_gpu_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None}
    if export:
        meta = checkpoint.export_weights(ck, out / name, dtype="float16")
        res["exported_bytes"] = meta["bytes"]
    try:
        model, _, _ = checkpoint.load(ck, device)
        res.update(measure(model, cfg, data))
        res["achieved_tflops"] = res["flops_per_sample"] * res["samples_per_s"] / 1e12
    except Exception:
        res["measure_error"] = traceback.format_exc()
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--samples", type=int, default=19_500)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--workers", type=int, default=0, help="datagen processes and prep threads (0: the cores)")
    p.add_argument("--deadline-s", type=float, default=480.0, help="skip a run that could not finish before this")
    p.add_argument("--only", nargs="*", default=None, help="run names to do (default: all)")
    p.add_argument("--device", default="cuda", help="cuda, or cpu for a dry run of the script")
    p.add_argument("--size", default="", help="override every run's size (a CPU dry run: tiny)")
    p.add_argument("--budget-scale", type=float, default=1.0, help="scale every run's time budget")
    p.add_argument("--steps", type=int, default=0, help="train every run for this many steps (no probe, no budget)")
    p.add_argument("--json-name", default="fm_pretrain_gpu.json", help="the record's file name under --out")
    a = p.parse_args()
    t0 = time.perf_counter()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "airan-pretrain-gpu"
    data = work / "hetero"
    workers = a.workers or (os.cpu_count() or 2)
    result: dict = {"command": " ".join(["python", *sys.argv]), "machine": machine_info(), "runs": [], "errors": []}

    def save() -> None:
        result["elapsed_s"] = time.perf_counter() - t0
        (out / a.json_name).write_text(json.dumps(result, indent=1))

    try:
        result["datagen"] = {"family": "hetero", "seed": 1, "workers": workers,
                             **datagen(data, a.samples, workers, seed=1)}
        print("datagen", result["datagen"], flush=True)
    except Exception:
        result["errors"].append(traceback.format_exc())
        save()
        raise
    import torch

    result["torch"] = torch.__version__
    result["cuda"] = torch.version.cuda
    save()
    for name, arch, size, prior, budget, export in RUNS:
        if (name not in a.only) if a.only is not None else name == "airan-small-gpu":
            continue
        size = a.size or size
        budget *= a.budget_scale
        left = a.deadline_s - (time.perf_counter() - t0)
        if left < (budget if a.steps <= 0 else 60) + 40:
            result["errors"].append(f"{name}: skipped, {left:.0f} s left before the deadline")
            save()
            continue
        try:
            r = train_run(name, arch, size, prior, budget, data, out, work, a.batch, min(workers, 12), export,
                          a.device, a.steps)
            result["runs"].append(r)
            print(f"{name}: {r['steps']} steps in {r['seconds']:.0f} s, {r['samples_per_s']:.0f} samples/s, loss "
                  f"{r['loss_first']:.2f} -> {r['loss_last']:.2f}", flush=True)
            if "measure_error" in r:
                print(r["measure_error"], flush=True)
            else:
                print(f"  {r['achieved_tflops']:.2f} TFLOP/s achieved; model-bound "
                      f"{r['model_bound_samples_per_s']:.0f} samples/s ({r['model_bound_tflops']:.1f} TFLOP/s); prep "
                      f"{r['prep_samples_per_s_one_thread']:.0f} samples/s per thread", flush=True)
        except Exception:
            result["errors"].append(f"{name}: {traceback.format_exc()}")
            print(result["errors"][-1], flush=True)
        save()
    save()


if __name__ == "__main__":
    main()
