"""Benchmark harness: the foundation model and every baseline on the same split, masks and noise.

Tasks (on unit-power samples, inputs noisy at ``snr_db``):
- ``time``: predict the last quarter of the slots (rounded to whole time patches) from the earlier ones;
- ``freq``: reconstruct every other subcarrier patch from the rest;
- ``estimation``: recover the whole channel from noisy comb pilots (every 4th subcarrier of every slot).

Metrics per (contender, config): NMSE [dB] over the hidden REs against the clean target and against the noisy
target (WiFo's protocol); for ``time``, the spectral efficiency [bit/s/Hz] of matched-filter precoding computed
from the prediction and applied to the true channel (LLM4CP's protocol), next to the perfect-CSI value; and cost:
parameters, trainable parameters, GFLOPs per sample (torch's FLOP counter, batch 1) and CPU latency p50/p99 at
batch 1.

Shots: ``zero`` evaluates pretrained models as they are and trains nothing; ``1pct``/``10pct``/``full``
fine-tune the foundation model(s) on that share of the dataset's training split and train the learned
baselines (GRU, LSTM, Transformer, MLP, LLM4CP) on the same share of their config's training split. A config
without training data (held-out, zero-shot) gets no learned per-config baselines.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from airan.core.errors import ConfigError
from airan.data.reader import CsiDataset
from airan.fm.baselines import ADAPTIVE, BASELINES, DENOISED, lmmse, sample_covariance
from airan.fm.prior import prior_kwargs
from airan.fm.tokenizer import detokenize, known_tokens, tokenize

TASKS = ("time", "freq", "estimation")
SHOTS = ("zero", "1pct", "10pct", "full")
SHOT_FRACTION = {"zero": 0.0, "1pct": 0.01, "10pct": 0.10, "full": 1.0}
PILOT_SC_EVERY = 4


def known_mask(task: str, t: int, s: int, pt: int = 2, ps: int = 4) -> torch.Tensor:
    """[T, S] bool: the REs a predictor may look at for ``task``."""
    known = torch.ones(t, s, dtype=torch.bool)
    if task == "time":
        nt = -(-t // pt)
        n_out = max(1, round(0.25 * nt))
        known[(nt - n_out) * pt:] = False
    elif task == "estimation":
        known = torch.zeros(t, s, dtype=torch.bool)
        known[:, ::PILOT_SC_EVERY] = True
    elif task == "freq":
        for k in range(-(-s // ps)):
            if k % 2 == 1:
                known[:, k * ps:(k + 1) * ps] = False
    else:
        raise ConfigError(f"unknown task {task!r}; choose one of {TASKS}")
    return known




def shots_subset(indices: list[int], shots: str, seed: int) -> list[int]:
    """A deterministic share of ``indices`` for ``shots`` (at least one sample unless ``zero``)."""
    if shots not in SHOTS:
        raise ConfigError(f"unknown shots {shots!r}; choose one of {SHOTS}")
    if shots == "zero" or not indices:
        return []
    if shots == "full":
        return list(indices)
    n = max(1, int(round(SHOT_FRACTION[shots] * len(indices))))
    perm = np.random.default_rng(seed).permutation(len(indices))[:n]
    return [indices[i] for i in sorted(perm)]


@torch.no_grad()
def mae_predict(model: Any, y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Zero-shot prediction with a masked autoencoder (CsiMAE or a replica with the same contract): every
    patch without a known RE is hidden and reconstructed. y: [B, T, A, S] complex -> same shape."""
    spec = model.cfg.patch
    tok = tokenize(y, spec, normalize=False)
    kt = torch.zeros(tok.grid[0] * spec.pt, tok.grid[2] * spec.ps, dtype=torch.bool)
    kt[: known.shape[0], : known.shape[1]] = known
    patch_known = kt.reshape(tok.grid[0], spec.pt, tok.grid[2], spec.ps).any(dim=(1, 3))  # [nt, ns]
    hidden = ~patch_known[tok.pos[:, 0], tok.pos[:, 2]]
    masked = hidden[None].expand(y.shape[0], -1)
    dev = next(model.parameters()).device
    extra = prior_kwargs(model, tok.x, ~masked[..., None] & tok.valid, tok)
    pred = model(tok.x.to(dev), tok.pos.to(dev), masked.to(dev), **extra).float().cpu()
    return detokenize(pred, tok, spec, rescale=False)




@torch.no_grad()
def pilot_predict(model: Any, y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Zero-shot estimation with a masked autoencoder pretrained with ``pilot`` masking: every token is
    visible, REs outside ``known`` [T, S] are zeroed, the whole channel is reconstructed. y: [B, T, A, S]."""
    spec = model.cfg.patch
    y_in = y * known[None, :, None, :]
    tok = tokenize(y_in, spec, normalize=False)
    masked = torch.zeros(y.shape[0], tok.pos.shape[0], dtype=torch.bool)
    dev = next(model.parameters()).device
    extra = prior_kwargs(model, tok.x, known_tokens(known, tuple(y.shape[1:]), spec) & tok.valid, tok)
    x = extra.get("prior", tok.x)  # a prior model's encoder reads the pilots filled in, as in pretraining
    pred = model(x.to(dev), tok.pos.to(dev), masked.to(dev), **extra).float().cpu()
    return detokenize(pred, tok, spec, rescale=False)


def nmse_db(est: torch.Tensor, ref: torch.Tensor, hidden: torch.Tensor) -> float:
    """NMSE [dB] of est vs ref [B, T, A, S] over the REs where ``hidden`` [T, S] is True."""
    w = hidden[None, :, None, :]
    err = ((est - ref).abs() ** 2 * w).sum()
    return 10 * math.log10(max(float(err / ((ref.abs() ** 2) * w).sum().clamp_min(1e-30)), 1e-12))




def matched_filter_se(est: torch.Tensor, clean: torch.Tensor, hidden: torch.Tensor, snr_db: float) -> float:
    """Mean spectral efficiency [bit/s/Hz] over hidden REs when the BS precodes with w = conj(est)/||est|| over
    its antennas and the true channel is ``clean`` (unit mean power per antenna): log2(1 + snr |h^T w|^2)."""
    h = clean.permute(0, 1, 3, 2)  # [B, T, S, A]
    e = est.permute(0, 1, 3, 2)
    w = e.conj() / e.abs().pow(2).sum(-1, keepdim=True).sqrt().clamp_min(1e-30)
    gain = (h * w).sum(-1).abs() ** 2  # [B, T, S]
    se = torch.log2(1 + 10 ** (snr_db / 10) * gain)
    return float(se[:, hidden].mean())


def prior_baseline(model: Any, task: str) -> str:
    """The harness row that is a prior-conditioned model's classical estimate alone on ``task`` (the bench masks
    make ``fm.prior.prior_inputs`` equal to it): PAD for future slots, (denoised or adaptive) interpolation
    otherwise."""
    if task == "time":
        return "PAD (Prony, angular-delay)"
    if getattr(model.cfg, "prior_interp", "linear") == "adaptive":
        return ADAPTIVE
    return DENOISED if getattr(model.cfg, "prior_denoise", False) else "linear interpolation"


@dataclass
class Contender:
    """One predictor in the harness: ``fn(y [B, T, A, S] complex noisy) -> estimate`` of the same shape."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    params: int = 0
    trainable_params: int = 0
    shots: str = "zero"
    note: str = ""
    prior: bool = False  # a prior-conditioned foundation model (refines the classical estimate, fm.prior)
    prior_baseline: str = ""  # for such a model: the baseline row that is its classical estimate alone


def _cost(fn: Callable, y: torch.Tensor, repeats: int = 20) -> tuple[float, float, float]:
    """(GFLOPs per sample, latency p50 [ms], latency p99 [ms]) at batch 1 on this machine's CPU."""
    one = y[:1]
    with FlopCounterMode(display=False) as fc:
        fn(one)
    lat = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(one)
        lat.append((time.perf_counter() - t0) * 1e3)
    return fc.get_total_flops() / 1e9, float(np.percentile(lat, 50)), float(np.percentile(lat, 99))


def _n_params(m: torch.nn.Module) -> tuple[int, int]:
    return (sum(p.numel() for p in m.parameters()), sum(p.numel() for p in m.parameters() if p.requires_grad))


def _learned_baselines(task: str, h_train: torch.Tensor, known: torch.Tensor, shots: str, steps: int,
                       seed: int, llm4cp_width: str) -> list[Contender]:
    """GRU/LSTM/Transformer/MLP and LLM4CP trained on ``h_train`` [N, T, A, S] (noisy, unit power)."""
    if task != "time":
        return []
    from airan.fm.predictors import KINDS, train_predictor

    t_in = int(known.any(dim=1).nonzero().max()) + 1
    out = []
    for kind in KINDS:
        p = train_predictor(kind, h_train, t_in, steps=steps, seed=seed)
        n = sum(x.numel() for x in p.parameters())
        out.append(Contender(kind, lambda v, p=p: p.predict(v, t_in), n, n, shots))
    try:
        from airan.fm.llm4cp import train_llm4cp
    except ImportError:  # the LLM4CP replica is optional until it lands
        return out
    for width in llm4cp_widths(llm4cp_width):
        m = train_llm4cp(h_train, t_in, steps=steps, seed=seed, width=width)
        n = sum(x.numel() for x in m.parameters())
        out.append(Contender(f"LLM4CP-arch ({width})", lambda v, m=m: m.predict(v, t_in), n, n, shots,
                             "LLM4CP architecture trained from scratch (no GPT-2 text weights)"))
    return out


def llm4cp_widths(spec: str) -> list[str]:
    """``"small"``, ``"paper"`` or a comma-separated list of them -> the widths, validated."""
    from airan.fm.llm4cp import WIDTHS

    widths = [w.strip() for w in spec.split(",") if w.strip()]
    bad = [w for w in widths if w not in WIDTHS]
    if not widths or bad:
        raise ConfigError(f"unknown LLM4CP width(s) {bad or spec!r} in {spec!r}; choose from {sorted(WIDTHS)}, "
                          "comma-separated")
    return widths


def run_bench(dataset: str | Path, task: str, *, model: Any = None, model_name: str = "airan-fm",
              extra_models: dict[str, Any] | None = None, snr_db: float = 20.0, split: str = "test",
              shots: str = "zero", finetune_mode: str = "lora", finetune_steps: int = 300,
              max_samples: int = 256, seed: int = 0, learned_steps: int = 150, llm4cp_width: str = "small",
              finetune_batch: int = 32, finetune_val: float = 0.0,
              on_progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """One row per (contender, config) of the dataset's ``split`` (``test``, ``zero_shot`` or ``all``).

    ``model`` is our pretrained backbone; ``extra_models`` maps a name to another masked autoencoder with the
    same contract (e.g. the WiFo-style replica). With ``shots`` other than ``zero`` every pretrained model is
    fine-tuned (``finetune_mode``: full | head | lora, ``finetune_steps`` of ``finetune_batch`` samples) on that
    share of the training split (``finetune_val`` of it held out to pick the best step, the pretrained model
    being step 0; ``FinetuneConfig.val_fraction``). ``llm4cp_width``: ``small``, ``paper`` or both,
    comma-separated (one LLM4CP row per width)."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {TASKS}")
    if shots not in SHOTS:
        raise ConfigError(f"unknown shots {shots!r}; choose one of {SHOTS}")
    llm4cp_widths(llm4cp_width)  # fail before any training
    say = on_progress or (lambda _m: None)
    ds = CsiDataset(dataset)
    parts = ds.split("sample", seed=seed)
    if split == "all":
        idx = list(range(len(ds)))
    elif split in parts:
        idx = parts[split]
    else:
        raise ConfigError(f"unknown split {split!r}; choose all or one of {sorted(parts)}")
    train_all = parts["train"]
    by_cfg: dict[str, list[int]] = {}
    for i in idx:
        by_cfg.setdefault(ds.refs[i].config, []).append(i)
    pretrained = {**({model_name: model} if model is not None else {}), **(extra_models or {})}
    pt, ps = (model.cfg.pt, model.cfg.ps) if model is not None else (2, 4)
    # Fine-tune every pretrained model once on the pooled share of the training split (all configs).
    tuned: dict[str, Any] = {}
    if shots != "zero" and pretrained:
        from airan.fm.finetune import FinetuneConfig, finetune

        sub = shots_subset(train_all, shots, seed)
        for name, m in pretrained.items():
            say(f"fine-tuning {name} ({finetune_mode}, {shots}: {len(sub)} samples)")
            cfg = FinetuneConfig(task=task, mode=finetune_mode, steps=finetune_steps, batch_size=finetune_batch,
                                 snr_db=snr_db, seed=seed, val_fraction=finetune_val)
            tuned[name] = finetune(m, dataset, cfg, train_idx=sub)
    rows = []
    family = ds.manifest["family"]["name"]
    for cfg_name, members in sorted(by_cfg.items()):
        members = members[:max_samples]
        say(f"{cfg_name}: {len(members)} samples")
        batch = next(ds.batches(members, batch_size=len(members), shuffle=False, snr_db=snr_db, seed=seed))
        y, clean = batch["h"], batch["h_clean"]
        t, s = y.shape[1], y.shape[3]
        known = known_mask(task, t, s, pt, ps)
        if known.all() or not known.any():
            continue
        hidden = ~known if task != "estimation" else torch.ones_like(known)
        cfg_train = [i for i in train_all if ds.refs[i].config == cfg_name]
        contenders: list[Contender] = []
        if task == "estimation":
            ref = cfg_train or members
            cov = sample_covariance(next(ds.batches(ref[:512], batch_size=512, shuffle=False))["h"])
            nv = 10 ** (-snr_db / 10)
            note = "" if cfg_train else "covariance from the evaluated samples (config has no training data)"
            contenders += [Contender(k, lambda v, f=f, kn=known: f(v, kn)) for k, f in BASELINES["freq"].items()]
            contenders.append(Contender("LMMSE (sample covariance)",
                                        lambda v, kn=known, c=cov, nv=nv: lmmse(v, kn, c, nv), note=note))
        else:
            contenders += [Contender(k, lambda v, f=f, kn=known: f(v, kn)) for k, f in BASELINES[task].items()]
        if shots != "zero" and cfg_train:
            sub = shots_subset(cfg_train, shots, seed)
            h_train = next(ds.batches(sub[:4096], batch_size=4096, shuffle=False, snr_db=snr_db, seed=seed + 1))["h"]
            say(f"{cfg_name}: training learned baselines on {len(sub)} samples")
            contenders += _learned_baselines(task, h_train, known, shots, learned_steps, seed, llm4cp_width)
        for name, m in pretrained.items():
            m.eval()
            n, _ = _n_params(m)
            prior = bool(getattr(m.cfg, "prior", False))
            alone = prior_baseline(m, task) if prior else ""
            if name in tuned:
                ft = tuned[name]
                contenders.append(Contender(f"{name} ({finetune_mode})", lambda v, ft=ft, kn=known: ft.predict(v, kn),
                                            ft.params, ft.trainable_params, shots, prior=prior,
                                            prior_baseline=alone))
            else:
                fn = pilot_predict if task == "estimation" else mae_predict
                contenders.append(Contender(name, lambda v, m=m, kn=known, fn=fn: fn(m, v, kn), n, 0, "zero",
                                            prior=prior, prior_baseline=alone))
        for c in contenders:
            with torch.no_grad():
                est = c.fn(y)
            gflops, p50, p99 = _cost(c.fn, y)
            row = {"model": c.name, "task": task, "family": family, "config": cfg_name, "split": split,
                   "shots": shots,
                   "snr_db": snr_db, "samples": len(members), "nmse_db_clean": nmse_db(est, clean, hidden),
                   "nmse_db_noisy": nmse_db(est, y, hidden), "params": c.params,
                   "trainable_params": c.trainable_params, "gflops": gflops, "latency_ms_p50": p50,
                   "latency_ms_p99": p99, "note": c.note, "prior": c.prior,
                   "prior_baseline": c.prior_baseline}
            if task == "time":
                row["se"] = matched_filter_se(est, clean, hidden, snr_db)
                row["se_perfect_csi"] = matched_filter_se(clean, clean, hidden, snr_db)
            rows.append(row)
    return rows
