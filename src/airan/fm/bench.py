"""Benchmark harness: the foundation model and the baselines on the same dataset split, masks and noise.

Tasks (on unit-power samples): ``time`` predicts the last quarter of the slots (rounded to whole patches)
from the earlier ones; ``freq`` reconstructs every other subcarrier patch from the rest; ``estimation``
recovers the whole channel from noisy comb pilots (every 4th subcarrier; baselines only for now). Inputs are noisy at
``snr_db``; NMSE [dB] is reported against the clean target and against the noisy target (WiFo's protocol),
over the hidden REs only. Cost: parameters, GFLOPs per sample (torch's FLOP counter), CPU latency at batch 1.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from airan.data.reader import CsiDataset
from airan.fm.baselines import BASELINES
from airan.fm.model import CsiMAE
from airan.fm.tokenizer import detokenize, tokenize


def _known_mask(task: str, t: int, s: int, pt: int, ps: int) -> torch.Tensor:
    """[T, S] bool: REs the predictor may look at."""
    known = torch.ones(t, s, dtype=torch.bool)
    if task == "time":
        nt = -(-t // pt)
        n_out = max(1, round(0.25 * nt))
        known[(nt - n_out) * pt:] = False
    elif task == "estimation":
        known = torch.zeros(t, s, dtype=torch.bool)
        known[:, ::4] = True  # comb pilots on every 4th subcarrier of every slot
    elif task == "freq":
        for k in range(-(-s // ps)):
            if k % 2 == 1:
                known[:, k * ps:(k + 1) * ps] = False
    else:
        raise ValueError(f"unknown task {task!r}; choose time, freq or estimation")
    return known


@torch.no_grad()
def _model_predict(model: CsiMAE, y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    tok = tokenize(y, model.cfg.patch, normalize=False)
    spec = model.cfg.patch
    # a token is hidden when its patch has no known RE
    kt = torch.zeros(tok.grid[0] * spec.pt, tok.grid[2] * spec.ps, dtype=torch.bool)
    kt[: known.shape[0], : known.shape[1]] = known
    patch_known = kt.reshape(tok.grid[0], spec.pt, tok.grid[2], spec.ps).any(dim=(1, 3))  # [nt, ns]
    hidden = ~patch_known[tok.pos[:, 0], tok.pos[:, 2]]
    masked = hidden[None].expand(y.shape[0], -1)
    pred = model(tok.x, tok.pos, masked)
    return detokenize(pred, tok, spec, rescale=False)


def _nmse_db(est: torch.Tensor, ref: torch.Tensor, hidden: torch.Tensor) -> float:
    w = hidden[None, :, None, :]
    err = ((est - ref).abs() ** 2 * w).sum()
    return 10 * math.log10(max(float(err / ((ref.abs() ** 2) * w).sum().clamp_min(1e-30)), 1e-12))


def _cost(fn, y: torch.Tensor) -> tuple[float, float]:
    one = y[:1]
    with FlopCounterMode(display=False) as fc:
        fn(one)
    lat = []
    for _ in range(20):
        t0 = time.perf_counter()
        fn(one)
        lat.append((time.perf_counter() - t0) * 1e3)
    return fc.get_total_flops() / 1e9, float(np.percentile(lat, 50))


def run_bench(dataset: str | Path, task: str, *, model: CsiMAE | None = None, model_name: str = "airan-fm",
              snr_db: float = 20.0, split: str = "test", max_samples: int = 256, seed: int = 0,
              learned_steps: int = 150) -> list[dict[str, Any]]:
    """One row per (predictor, config) of the dataset's ``split`` (``test``, ``zero_shot`` or ``all``).
    For ``time``, GRU/LSTM/Transformer/MLP predictors are trained for ``learned_steps`` on the same config's
    training split (skipped when it has none, e.g. held-out configs; 0 disables them)."""
    ds = CsiDataset(dataset)
    idx = (list(range(len(ds))) if split == "all" else ds.split("sample", seed=seed)[split])[:max_samples]
    by_cfg: dict[str, list[int]] = {}
    for i in idx:
        by_cfg.setdefault(ds.refs[i].config, []).append(i)
    rows = []
    pt, ps = (model.cfg.pt, model.cfg.ps) if model is not None else (2, 4)
    for cfg_name, members in sorted(by_cfg.items()):
        batch = next(ds.batches(members, batch_size=len(members), shuffle=False, snr_db=snr_db, seed=seed))
        y, clean = batch["h"], batch["h_clean"]
        t, s = y.shape[1], y.shape[3]
        known = _known_mask(task, t, s, pt, ps)
        if known.all() or not known.any():
            continue
        hidden = ~known if task != "estimation" else torch.ones_like(known)
        if task == "estimation":
            from airan.fm.baselines import lmmse, sample_covariance

            train = [i for i in ds.split("sample", seed=seed)["train"] if ds.refs[i].config == cfg_name]
            ref_idx = train or members
            cov = sample_covariance(next(ds.batches(ref_idx[:256], batch_size=256, shuffle=False))["h"])
            noise_var = 10 ** (-snr_db / 10)
            preds = {"linear interpolation": lambda v, kn=known: BASELINES["freq"]["linear interpolation"](v, kn),
                     "LMMSE (sample covariance)": lambda v, kn=known, c=cov, nv=noise_var: lmmse(v, kn, c, nv)}
        else:
            preds = {k: (lambda v, f=f, kn=known: f(v, kn)) for k, f in BASELINES[task].items()}
        params = {k: 0 for k in preds}
        if task == "time" and learned_steps > 0:
            from airan.fm.predictors import KINDS, train_predictor

            train = [i for i in ds.split("sample", seed=seed)["train"] if ds.refs[i].config == cfg_name]
            if train:
                h_train = next(ds.batches(train[:1024], batch_size=1024, shuffle=False))["h"]
                t_in = int(known.any(dim=1).nonzero().max()) + 1
                for kind in KINDS:
                    p = train_predictor(kind, h_train, t_in, steps=learned_steps, seed=seed)
                    preds[kind] = lambda v, p=p, ti=t_in: p.predict(v, ti)
                    params[kind] = sum(x.numel() for x in p.parameters())
        if model is not None and task != "estimation":
            model.eval()
            preds[model_name] = lambda v, kn=known: _model_predict(model, v, kn)
            params[model_name] = sum(p.numel() for p in model.parameters())
        for name, fn in preds.items():
            est = fn(y)
            gflops, lat = _cost(fn, y)
            rows.append({"model": name, "task": task, "family": ds.manifest["family"]["name"], "config": cfg_name,
                         "split": split, "shots": "zero", "snr_db": snr_db, "samples": len(members),
                         "nmse_db_clean": _nmse_db(est, clean, hidden), "nmse_db_noisy": _nmse_db(est, y, hidden),
                         "params": params[name], "gflops": gflops, "latency_ms_p50": lat})
    return rows
