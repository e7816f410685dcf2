"""Fine-tuning the foundation model for a task: full, head-only or LoRA, on the task's own masking.

Objective (denoising, as in the benchmark): inputs are noisy at ``snr_db`` and only the task's known REs are
shown (``known_mask``: time = earlier slots, freq = every other subcarrier patch, estimation = comb pilots);
the loss is the NMSE against the *clean* channel over the hidden tokens (time, freq) or over every RE
(estimation). Inputs are scaled per sample by the RMS of their known REs (so any user scale works) and the
prediction is scaled back.

Modes: ``full`` trains the encoder and the head; ``head`` freezes the encoder (the head, a copy of the
pretrained MAE decoder, trains); ``lora`` freezes the encoder, adds LoRA factors to its linear weights
(``airan.fm.lora``) and trains them with the head. The backbone's own MAE decoder is never trained or counted
here: the task head replaces it. After training LoRA is merged, so inference costs what the base model costs.

Model selection (optional, ``val_fraction`` > 0): that share of the training samples is held out, the task NMSE
[dB] on it is measured every ``val_every`` steps (and before training), and the best weights are kept. Off by
default: with few shots the held-out set is a handful of samples (6 for ci-tiny's 10pct) and it chose the
untrained model on a split where training helped on the test set.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from airan.core.errors import ConfigError, ShapeError
from airan.fm.bench import known_mask, shots_subset
from airan.fm.heads import DecoderHead, head_class, hold_fill, interp_fill
from airan.fm.lora import apply_lora, merge_lora
from airan.fm.model import masked_nmse
from airan.fm.prior import prior_inputs
from airan.fm.tokenizer import detokenize, known_tokens, tokenize

TASKS = ("time", "freq", "estimation")
MODES = ("full", "head", "lora")


@dataclass(frozen=True)
class FinetuneConfig:
    """task: time | freq | estimation; mode: full | head | lora; snr_db: SNR of the noisy training inputs;
    lora_rank/lora_alpha: LoRA size and scale (mode lora); val_fraction/val_every: optional best-step selection
    on held-out training samples; augment: multiply each training sample by a random global phase (a channel's
    statistics do not depend on it; on ci-tiny 10pct time prediction it gained ~1.4 dB); device: cpu | cuda:N."""

    task: str = "time"
    mode: str = "lora"
    steps: int = 300
    batch_size: int = 32
    lr: float = 1e-3
    snr_db: float = 20.0
    lora_rank: int = 8
    lora_alpha: float = 16.0
    weight_decay: float = 0.01
    val_fraction: float = 0.0
    val_every: int = 25
    augment: bool = True
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ConfigError(f"unknown task {self.task!r}; choose one of {TASKS}")
        if self.mode not in MODES:
            raise ConfigError(f"unknown fine-tuning mode {self.mode!r}; choose one of {MODES}")
        if self.steps < 1 or self.batch_size < 1:
            raise ConfigError(f"steps and batch_size must be >= 1, got {self.steps!r}, {self.batch_size!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be a positive number, got {self.lr!r}")
        if not math.isfinite(self.snr_db):
            raise ConfigError(f"snr_db must be finite, got {self.snr_db!r}")
        if self.lora_rank < 1 or not self.lora_alpha > 0:
            raise ConfigError(f"lora_rank must be >= 1 and lora_alpha > 0, got {self.lora_rank!r}, "
                              f"{self.lora_alpha!r}")
        if not 0 <= self.val_fraction < 1 or self.val_every < 1:
            raise ConfigError(f"val_fraction must be in [0, 1) and val_every >= 1, got {self.val_fraction!r}, "
                              f"{self.val_every!r}")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device {self.device!r} asked for but CUDA is not available")

    @property
    def warmup_steps(self) -> int:
        return min(20, max(1, self.steps // 10))


def shots_indices(train_idx: Sequence[int], shots: str, seed: int = 0) -> list[int]:
    """The deterministic share of ``train_idx`` for ``shots`` (zero | 1pct | 10pct | full; at least one sample
    unless zero; 1pct is a subset of 10pct). The same subset the benchmark harness draws."""
    return shots_subset(list(train_idx), shots, seed)


DECODER_PARTS = ("to_dec", "mask_token", "dec_pos", "decoder", "dec_norm", "head")  # the backbone's MAE decoder


class FineTuned(nn.Module):
    """A backbone encoder + a task head, predicting complex channels. ``params`` / ``trainable_params`` count
    what inference uses (encoder + head) and what fine-tuning trained; ``meta`` holds the training record."""

    def __init__(self, backbone: nn.Module, head: DecoderHead, task: str, mode: str) -> None:
        super().__init__()
        self.backbone, self.head, self.task, self.mode = backbone, head, task, mode
        self.meta: dict[str, Any] = {}
        self.params, self.trainable_params = self.count()

    def encoder_modules(self) -> list[nn.Module]:
        """The backbone parts that LoRA adapts (patch embedding and transformer encoder)."""
        parts = [getattr(self.backbone, n, None) for n in ("embed", "encoder")]
        return [p for p in parts if isinstance(p, nn.Module)] or [self.backbone]

    def _used(self) -> list[nn.Parameter]:
        seen = {id(p): p for n, p in self.backbone.named_parameters() if n.split(".")[0] not in DECODER_PARTS}
        seen.update({id(p): p for p in self.head.parameters()})
        return list(seen.values())

    def count(self) -> tuple[int, int]:
        used = self._used()
        return sum(p.numel() for p in used), sum(p.numel() for p in used if p.requires_grad)

    def freeze(self) -> None:
        for p in self.parameters():
            p.requires_grad_(False)

    @property
    def device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    def _inputs(self, y: torch.Tensor, known: torch.Tensor) -> tuple[Any, ...]:
        """y [B, T, A, S] complex noisy, known [T, S] bool -> (x [B, N, D] input tokens, pos [N, 3],
        masked [B, N] bool hidden tokens, valid [B, N, D] bool, scale [B] float RMS of the known REs, tokens,
        extra: the head's keyword arguments ({"prior", "noise_db"} for a classical-prefill head, else {}))."""
        spec = self.backbone.cfg.patch
        y, known = y.cpu(), known.cpu()  # tokenised on the CPU, as in pretraining; tokens move to the device
        kf = known[None, :, None, :]  # [1, T, 1, S]
        n_known = kf.sum() * y.shape[2]
        scale = ((y.abs() ** 2 * kf).sum(dim=(1, 2, 3)) / n_known).sqrt().clamp_min(1e-30)  # [B]
        y0 = y * kf / scale[:, None, None, None]
        if self.head.prefill == "interp":
            y0 = interp_fill(y0, known)
        elif self.head.prefill == "hold":
            y0 = hold_fill(y0, known)
        extra_cpu = {}
        if self.head.prefill == "classical":
            cfg = self.backbone.cfg
            y0, extra_cpu["noise_db"] = prior_inputs(y0, kf, bool(getattr(cfg, "prior_denoise", False)),
                                                     getattr(cfg, "prior_interp", "linear"))
        tok = tokenize(y0, spec, normalize=False)
        ktok = known_tokens(known, tuple(y.shape[1:]), spec)  # [N, D]
        dev = self.device
        x, valid = tok.x.to(dev), tok.valid.to(dev)
        if self.head.hides_tokens:
            masked = (~ktok.any(dim=-1))[None].expand(y.shape[0], -1).to(dev)  # no known RE in the patch
        else:
            masked = torch.zeros(x.shape[:2], dtype=torch.bool, device=dev)
            x = x + self.head.fill * (~ktok.to(dev) & valid)
        extra = {"prior": x, "noise_db": extra_cpu["noise_db"].to(dev)} if extra_cpu else {}
        return x, tok.pos.to(dev), masked, valid, scale.to(dev), tok, extra

    def forward_tokens(self, x: torch.Tensor, pos: torch.Tensor, masked: torch.Tensor,
                       **extra: torch.Tensor) -> torch.Tensor:
        """Input tokens x [B, N, D] -> predicted tokens [B, N, D] float32 (``extra``: from ``_inputs``)."""
        lat, vis_idx = self.backbone.encode(x, pos, masked)
        out = self.head(lat, vis_idx, pos, **extra)
        return out + x if self.head.residual else out

    def loss(self, noisy: torch.Tensor, clean: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """NMSE (linear) of the prediction from ``noisy`` against ``clean`` [B, T, A, S] complex over the hidden
        tokens (time, freq) or every RE (estimation)."""
        x, pos, masked, valid, scale, _, extra = self._inputs(noisy, known)
        target = tokenize(clean.cpu() / scale.cpu()[:, None, None, None], self.backbone.cfg.patch,
                          normalize=False).x.to(x.device)
        w = masked if self.head.hides_tokens else torch.ones_like(masked)
        return masked_nmse(self.forward_tokens(x, pos, masked, **extra).float(), target, w, valid)

    @torch.no_grad()
    def predict(self, y: torch.Tensor, known: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """y [B, T, A, S] complex (noisy observations, any scale; unknown REs are ignored), known [T, S] bool
        -> [B, T, A, S] complex64 on the CPU: the observed values where known (time, freq) and the prediction
        elsewhere; the full estimate for estimation."""
        if y.dim() != 4 or not torch.is_complex(y):
            raise ShapeError(f"expected complex y [B, T, A, S], got {tuple(y.shape)} {y.dtype}")
        if known.dtype != torch.bool or tuple(known.shape) != (y.shape[1], y.shape[3]):
            raise ShapeError(f"known must be bool [T, S] = {(y.shape[1], y.shape[3])}, got "
                             f"{tuple(known.shape)} {known.dtype}")
        if not known.any():
            raise ShapeError("known marks no RE: nothing to predict from")
        self.eval()
        outs = []
        for part in y.split(batch_size):
            x, pos, masked, _, scale, tok, extra = self._inputs(part, known)
            pred = detokenize(self.forward_tokens(x, pos, masked, **extra).float().cpu(), tok, self.backbone.cfg.patch,
                              rescale=False) * scale.cpu()[:, None, None, None]
            if self.head.hides_tokens:
                pred = torch.where(known[None, :, None, :], part.cpu(), pred)
            outs.append(pred.to(torch.complex64))
        return torch.cat(outs)

    def save(self, out: str | Path) -> Path:
        """Write ckpt.pt (backbone + head) and meta.json (with the ``finetune`` record) to ``out``."""
        from airan.fm import checkpoint

        out = Path(out)
        record = {**self.meta, "task": self.task, "mode": self.mode, "params": self.params,
                  "trainable_params": self.trainable_params,
                  "head": {"prefill": self.head.prefill, "residual": self.head.residual,
                           "positions": self.head.positions, "dec_norm": self.head.has_dec_norm}}
        checkpoint.save(out, self.backbone, {"head": self.head.state_dict()}, {"finetune": record})
        return out


def build(backbone: nn.Module, task: str, mode: str) -> FineTuned:
    """Backbone + a fresh head for ``task`` initialised from its MAE decoder, with ``requires_grad`` set for
    ``mode`` (full: encoder + head; head and lora: head only, LoRA adds its factors later; zero: nothing, and
    the head *is* the MAE decoder)."""
    head = head_class(task).from_backbone(backbone, share=mode == "zero")
    for n, p in backbone.named_parameters():
        p.requires_grad_(mode == "full" and n.split(".")[0] not in DECODER_PARTS)
    for p in head.parameters():
        p.requires_grad_(mode != "zero")
    return FineTuned(backbone, head.to(next(backbone.parameters()).device), task, mode)


def zero_shot(backbone: nn.Module, task: str) -> FineTuned:
    """The pretrained MAE as a predictor for ``task`` (time or freq; estimation too for a prior-conditioned
    backbone, pretrained with pilot masking on the classical prefill), nothing trained."""
    if task == "estimation" and not getattr(backbone.cfg, "prior", False):
        raise ConfigError("zero-shot estimation is not available: the pilot comb leaves no patch fully hidden for "
                          "the MAE decoder to fill; fine-tune an estimation head (airan finetune --task estimation) "
                          "or use a prior-conditioned backbone (airan pretrain --prior), whose decoder was "
                          "pretrained on interpolated pilots")
    ft = build(backbone, task, "zero")
    ft.freeze()
    ft.meta = {"task": task, "mode": "zero"}
    return ft.eval()


def load_predictor(path: str | Path, task: str | None = None, device: str = "cpu") -> FineTuned:
    """A predictor from a fine-tuned checkpoint, or from a pretrained one (zero-shot; ``task`` required)."""
    from airan.fm import checkpoint

    backbone, state, meta = checkpoint.load(path, device)
    record = meta.get("finetune")
    if record is None:
        if task is None:
            raise ConfigError(f"{str(path)!r} is a pretrained checkpoint: say which task (time or freq)")
        return zero_shot(backbone, task)
    if task is not None and task != record["task"]:
        raise ConfigError(f"{str(path)!r} was fine-tuned for task {record['task']!r}, not {task!r}")
    head = head_class(record["task"])(backbone.cfg, **record.get("head", {}))
    head.load_state_dict(state["head"])
    ft = FineTuned(backbone, head.to(device), record["task"], record["mode"])
    ft.freeze()
    ft.meta = record
    ft.params, ft.trainable_params = record["params"], record["trainable_params"]
    return ft.eval()


def _lr(step: int, cfg: FinetuneConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    p = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))


def _unit_power(h: torch.Tensor) -> torch.Tensor:
    return h / h.abs().pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt().clamp_min(1e-30)


def _tensor_stream(data: Sequence[torch.Tensor], cfg: FinetuneConfig) -> Iterator[tuple[torch.Tensor, ...]]:
    """(noisy, clean) batches [B, T, A, S] complex64 from clean channel tensors (one per shape)."""
    rng = np.random.default_rng(cfg.seed)
    while True:
        for k in rng.permutation(len(data)):
            h = data[int(k)]
            order = torch.from_numpy(rng.permutation(h.shape[0]))
            for chunk in order.split(cfg.batch_size):
                clean = _unit_power(h[chunk].to(torch.complex64))
                noisy = torch.from_numpy(_noisy(clean.numpy(), cfg.snr_db, rng))
                yield noisy, clean


def _noisy(h: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    from airan.twin.csi import add_noise

    return add_noise(h, snr_db, rng)


def _holdout(idx: list[int], cfg: FinetuneConfig) -> tuple[list[int], list[int]]:
    """(train, validation) from ``idx``: a ``val_fraction`` share (deterministic) picks the best step; none
    when that would leave fewer than 1 validation or 4 training samples."""
    n_val = int(round(cfg.val_fraction * len(idx)))
    if n_val < 1 or len(idx) - n_val < 4:
        return idx, []
    perm = np.random.default_rng(cfg.seed + 1).permutation(len(idx))
    return sorted(idx[i] for i in perm[n_val:]), sorted(idx[i] for i in perm[:n_val])


@torch.no_grad()
def _val_loss(model: FineTuned, val: list[tuple[torch.Tensor, torch.Tensor]], cfg: FinetuneConfig) -> float:
    """Task NMSE [dB] of ``model`` on fixed noisy validation batches (one shape each), averaged over batches
    weighted by their samples: in dB, like the benchmark's average over configs, so one hard shape does not
    decide alone."""
    spec = model.backbone.cfg.patch
    model.eval()
    total, n = 0.0, 0
    for noisy, clean in val:
        known = known_mask(cfg.task, noisy.shape[1], noisy.shape[3], spec.pt, spec.ps)
        if known.all() or not known.any():
            continue
        total += 10 * math.log10(max(float(model.loss(noisy, clean, known)), 1e-12)) * noisy.shape[0]
        n += noisy.shape[0]
    model.train()
    return total / n if n else float("inf")


def _dataset_stream(path: str | Path, idx: list[int], cfg: FinetuneConfig) -> Iterator[tuple[torch.Tensor, ...]]:
    from airan.data.reader import CsiDataset

    ds = CsiDataset(path)
    epoch = 0
    while True:
        for batch in ds.batches(idx, cfg.batch_size, shuffle=True, seed=cfg.seed + epoch, snr_db=cfg.snr_db):
            yield batch["h"], batch["h_clean"]
        epoch += 1


def _as_tensors(data: Any) -> list[torch.Tensor]:
    items = [data] if isinstance(data, torch.Tensor) else list(data)
    out = []
    for i, h in enumerate(items):
        h = torch.as_tensor(h)
        if h.dim() != 4 or not torch.is_complex(h) or h.shape[0] < 1:
            raise ConfigError(f"training tensor {i} must be complex [N, T, A, S] with N >= 1, got "
                              f"{tuple(h.shape)} {h.dtype}")
        out.append(h)
    if not out:
        raise ConfigError("no training tensors given")
    return out


def _backbone(backbone_or_ckpt: Any, device: str) -> tuple[torch.nn.Module, str | None]:
    if isinstance(backbone_or_ckpt, (str, Path)):
        from airan.fm import checkpoint

        model, _, meta = checkpoint.load(backbone_or_ckpt, device)
        if "finetune" in meta:
            raise ConfigError(f"{str(backbone_or_ckpt)!r} is a fine-tuned checkpoint; fine-tune from the "
                              f"pretrained one ({meta['finetune'].get('base_checkpoint')!r})")
        return model, str(backbone_or_ckpt)
    if not isinstance(backbone_or_ckpt, torch.nn.Module) or not hasattr(backbone_or_ckpt, "encode"):
        raise ConfigError(f"expected a backbone with encode() or a checkpoint directory, got "
                          f"{type(backbone_or_ckpt).__name__}")
    return copy.deepcopy(backbone_or_ckpt).to(device), None


def finetune(backbone_or_ckpt: Any, data: str | Path | torch.Tensor | Sequence[torch.Tensor], cfg: FinetuneConfig,
             *, train_idx: Sequence[int] | None = None,
             on_step: Callable[[int, float], None] | None = None) -> FineTuned:
    """Fine-tune a pretrained backbone (a CsiMAE-like module, left untouched, or a checkpoint directory) for
    ``cfg.task``.

    data      : a dataset directory (``train_idx`` picks samples; default its ``sample`` training split at
                ``cfg.seed``), or clean channels, one complex tensor [N, T, A, S] per shape (any scale)
    on_step   : called with (step, loss) after every optimiser step
    returns   : a ``FineTuned`` predictor in eval mode, LoRA merged, with its loss history in ``meta``"""
    backbone, base_ckpt = _backbone(backbone_or_ckpt, cfg.device)
    if isinstance(data, (str, Path)):
        from airan.data.reader import CsiDataset

        if train_idx is not None and not list(train_idx):
            raise ConfigError(f"no training samples to fine-tune on in {str(data)!r} (train_idx is empty)")
        ds = CsiDataset(data)
        idx = list(ds.split("sample", seed=cfg.seed)["train"] if train_idx is None else train_idx)
        if not idx:
            raise ConfigError(f"no training samples to fine-tune on in {str(data)!r} (train_idx is empty)")
        idx, val_idx = _holdout(idx, cfg)
        val = [(b["h"], b["h_clean"]) for b in ds.batches(val_idx, 64, shuffle=False, snr_db=cfg.snr_db,
                                                           seed=cfg.seed + 7919)] if val_idx else []
        stream, n_train, n_val, data_name = _dataset_stream(data, idx, cfg), len(idx), len(val_idx), str(data)
    else:
        if train_idx is not None:
            raise ConfigError("train_idx applies to a dataset directory, not to tensors")
        tensors, val = [], []
        for h in _as_tensors(data):
            keep, held = _holdout(list(range(h.shape[0])), cfg)
            tensors.append(h[keep])
            if held:
                clean = _unit_power(h[held].to(torch.complex64))
                rng = np.random.default_rng(cfg.seed + 7919)
                val.append((torch.from_numpy(_noisy(clean.numpy(), cfg.snr_db, rng)), clean))
        stream, data_name = _tensor_stream(tensors, cfg), "tensors"
        n_train, n_val = sum(h.shape[0] for h in tensors), sum(c.shape[0] for _, c in val)
    torch.manual_seed(cfg.seed)
    model = build(backbone, cfg.task, cfg.mode)
    if cfg.mode == "lora":
        for part in model.encoder_modules():
            apply_lora(part, cfg.lora_rank, cfg.lora_alpha)
    _, trainable = model.count()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                            weight_decay=cfg.weight_decay)
    spec = backbone.cfg.patch
    use_amp = cfg.device.startswith("cuda")
    g = torch.Generator().manual_seed(cfg.seed)
    history: list[float] = []
    skipped: set[tuple[int, ...]] = set()
    t0 = time.perf_counter()
    model.train()
    step = 0
    best = (_val_loss(model, val, cfg), 0, copy.deepcopy(model.state_dict())) if val else None
    val_history = [[0, best[0]]] if best else []
    while step < cfg.steps:
        noisy, clean = next(stream)
        if cfg.augment:  # a random global phase per sample: same statistics, more distinct examples
            rot = torch.polar(torch.ones(noisy.shape[0]), 2 * math.pi * torch.rand(noisy.shape[0], generator=g))
            noisy, clean = noisy * rot[:, None, None, None], clean * rot[:, None, None, None]
        known = known_mask(cfg.task, noisy.shape[1], noisy.shape[3], spec.pt, spec.ps)
        if known.all() or not known.any():
            skipped.add(tuple(noisy.shape[1:]))
            if len(skipped) > 64 or (not history and len(skipped) >= 8):
                raise ConfigError(f"task {cfg.task!r} hides nothing or everything for shapes {sorted(skipped)}")
            continue
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            loss = model.loss(noisy, clean, known)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(opt.param_groups[0]["params"], 1.0)
        opt.step()
        history.append(float(loss.detach()))
        if on_step is not None:
            on_step(step, history[-1])
        step += 1
        if best is not None and (step % cfg.val_every == 0 or step == cfg.steps):
            v = _val_loss(model, val, cfg)
            val_history.append([step, v])
            if v < best[0]:
                best = (v, step, copy.deepcopy(model.state_dict()))
    if best is not None:
        model.load_state_dict(best[2])
    for part in model.encoder_modules():
        merge_lora(part)
    model.freeze()
    params = model.count()[0]
    model.meta = {"task": cfg.task, "mode": cfg.mode, "config": asdict(cfg), "base_checkpoint": base_ckpt,
                  "data": data_name, "train_samples": n_train, "steps": cfg.steps, "history": history,
                  "loss_first": history[0], "loss_last": float(np.mean(history[-10:])),
                  "seconds": time.perf_counter() - t0, "params": params, "trainable_params": trainable,
                  "val_samples": n_val, "val_history": val_history, "best_step": best[1] if best else cfg.steps,
                  "skipped_shapes": sorted(skipped)}
    model.params, model.trainable_params = params, trainable
    return model.eval()
