"""Self-supervised pretraining: a plain loop over bucketed CSI batches with AdamW, warmup + cosine schedule,
gradient accumulation, AMP (bf16) on CUDA, periodic checkpoints and resume. Each step is ``prepare_step`` (CPU:
tokens, noise, masks, the classical prior) then ``forward_loss`` (the model); with ``prep_workers`` threads the
preparation of later batches overlaps the model's work (on a GPU the loop waits for the CPU otherwise).

``PretrainConfig.arch`` picks the backbone: ``airan`` (``CsiMAE``, our masking families) or ``wifo`` (the
WiFo-style replica ``WifoMAE`` of matched parameter count with WiFo's fixed random/temporal/frequency masking
mix; ``maskings`` and ``mask_ratio`` are then not used). Both see the same data through the same loop."""

from __future__ import annotations

import dataclasses
import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from airan.core.errors import ConfigError
from airan.data.reader import CsiDataset
from airan.fm import checkpoint
from airan.fm.masking import MASKINGS, make_mask
from airan.fm.model import CsiMAE, fm_config, masked_nmse, masked_nmse_db
from airan.fm.prior import PRIOR_INTERPS, prior_kwargs
from airan.fm.tokenizer import tokenize
from airan.fm.wifo import WIFO_MASKINGS, WifoMAE, wifo_config, wifo_mask

ARCHS = ("airan", "wifo")
LOSSES = ("nmse", "nmse_db")


@dataclass(frozen=True)
class PretrainConfig:
    size: str = "tiny"
    steps: int = 200
    batch_size: int = 32
    lr: float = 1e-3
    warmup_steps: int = 20
    weight_decay: float = 0.05
    grad_accum: int = 1
    maskings: tuple[str, ...] = ("random", "temporal", "frequency", "pilot")
    mask_ratio: float = 0.5
    noise_snr_db: tuple[float, float] | None = (0.0, 30.0)  # denoising: inputs noisy at U(lo, hi) dB, targets clean
    seed: int = 0
    device: str = "cpu"
    ckpt_every: int = 100
    arch: str = "airan"
    prior: bool = False  # prior-conditioned backbone (fm.prior; arch airan only)
    prior_denoise: bool = True  # with prior: the prior denoises the observed block first (fm.prior.prior_inputs)
    loss: str = "nmse"  # nmse: the batch's linear NMSE; nmse_db: mean per-sample NMSE [dB] (every task pulls)
    prior_interp: str = "linear"  # with prior: linear | adaptive subcarrier filling (fm.prior.prior_inputs)
    prep_workers: int = 0  # >0: threads prepare batches ahead (masks, noise, prior) with a generator per step

    def __post_init__(self) -> None:
        if self.prior_interp not in PRIOR_INTERPS:
            raise ConfigError(f"unknown prior_interp {self.prior_interp!r}; choose one of {PRIOR_INTERPS}")
        if self.arch not in ARCHS:
            raise ConfigError(f"unknown arch {self.arch!r}; choose one of {ARCHS}")
        bad = [m for m in self.maskings if m not in MASKINGS]
        if bad:
            raise ConfigError(f"unknown masking(s) {bad}; choose from {MASKINGS}")
        if isinstance(self.prep_workers, bool) or not isinstance(self.prep_workers, int) or self.prep_workers < 0:
            raise ConfigError(f"prep_workers must be an integer >= 0, got {self.prep_workers!r}")
        if self.steps < 1 or self.batch_size < 1 or self.grad_accum < 1:
            raise ConfigError(f"steps/batch_size/grad_accum must be >= 1, got {self.steps}/{self.batch_size}/"
                              f"{self.grad_accum}")
        if self.noise_snr_db is not None and (len(self.noise_snr_db) != 2
                                              or self.noise_snr_db[0] > self.noise_snr_db[1]):
            raise ConfigError(f"noise_snr_db must be (lo, hi) with lo <= hi, got {self.noise_snr_db!r}")
        if not 0 < self.mask_ratio < 1:
            raise ConfigError(f"mask_ratio must be in (0, 1), got {self.mask_ratio!r}")
        if self.loss not in LOSSES:
            raise ConfigError(f"unknown loss {self.loss!r}; choose one of {LOSSES}")
        if self.prior and self.arch != "airan":
            raise ConfigError(f"prior=True needs arch 'airan', got {self.arch!r} (the WiFo replica has no prior)")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device {self.device!r} asked for but CUDA is not available")


def _lr(step: int, cfg: PretrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    p = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))


def _stream(ds: CsiDataset, idx: list[int], cfg: PretrainConfig, epoch0: int) -> Iterator[torch.Tensor]:
    epoch = epoch0
    while True:
        for batch in ds.batches(idx, cfg.batch_size, shuffle=True, seed=cfg.seed + epoch):
            yield batch["h"]
        epoch += 1


def build_model(cfg: PretrainConfig) -> CsiMAE | WifoMAE:
    """A fresh backbone of ``cfg.arch`` at ``cfg.size``."""
    if cfg.arch == "wifo":
        return WifoMAE(wifo_config(cfg.size))
    return CsiMAE(dataclasses.replace(fm_config(cfg.size), prior=cfg.prior,
                                      prior_denoise=cfg.prior and cfg.prior_denoise,
                                      prior_interp=cfg.prior_interp if cfg.prior else "linear"))


@dataclass
class StepInputs:
    """One prepared batch of ``step_loss``, on the model's device: tokens ``x`` [B, N, D] float32 (masked and
    noisy as the masking asks), ``pos`` [N, 3] int64, ``masked`` [B, N] bool (the hidden tokens), ``extra`` the
    prior keywords (``fm.prior.prior_kwargs``; empty for a plain backbone), ``target`` [B, N, D] float32 (the
    clean tokens), ``score`` [B, N] bool (tokens whose reconstruction is scored) and ``valid`` [B, N, D] or
    [N, D] bool (entries that are not padding)."""

    x: torch.Tensor
    pos: torch.Tensor
    masked: torch.Tensor
    extra: dict[str, torch.Tensor]
    target: torch.Tensor
    score: torch.Tensor
    valid: torch.Tensor


def prepare_step(model: CsiMAE | WifoMAE, h: torch.Tensor, kind: str, ratio: float, g: torch.Generator,
                 device: str, noise_snr_db: tuple[float, float] | None = None,
                 mask_fn: Callable[..., torch.Tensor] = make_mask) -> StepInputs:
    """The CPU side of one training step (tokens, noise, masks, classical prior), moved to ``device``; reads
    only ``model.cfg`` and the model's device, so worker threads can run it while the model trains."""
    tok = tokenize(h, model.cfg.patch)
    x_in = tok.x
    if noise_snr_db is not None:
        lo, hi = noise_snr_db
        snr = lo + (hi - lo) * torch.rand(h.shape[0], generator=g)
        sigma = torch.sqrt(10 ** (-snr / 10) / 2)[:, None, None]  # tokens are unit power per complex RE
        x_in = x_in + sigma * torch.randn(x_in.shape, generator=g) * tok.valid
    if kind == "pilot":
        keep = pilot_keep(tok, model.cfg.patch, h.shape[3], g)  # [N, D] bool
        x_in = x_in * keep
        masked = torch.zeros(h.shape[0], tok.pos.shape[0], dtype=torch.bool)
        extra = {}
        if getattr(model.cfg, "prior", False):  # the encoder reads the pilots filled in by the classical estimate
            extra = prior_kwargs(model, x_in, keep & tok.valid, tok)
            x_in = extra["prior"]
        return StepInputs(x_in.to(device), tok.pos.to(device), masked.to(device), extra, tok.x.to(device),
                          torch.ones_like(masked).to(device), (tok.valid & ~keep[None]).to(device))
    masked = mask_fn(kind, h.shape[0], tok.pos, g, ratio)
    extra = prior_kwargs(model, x_in, ~masked[..., None] & tok.valid, tok)
    return StepInputs(x_in.to(device), tok.pos.to(device), masked.to(device), extra, tok.x.to(device),
                      masked.to(device), tok.valid.to(device))


def forward_loss(model: CsiMAE | WifoMAE, inp: StepInputs, loss: str = "nmse") -> torch.Tensor:
    """The masked-reconstruction loss of a prepared batch (``prepare_step``): linear NMSE or mean per-sample
    NMSE in dB (``loss``)."""
    if loss not in LOSSES:
        raise ConfigError(f"unknown loss {loss!r}; choose one of {LOSSES}")
    crit = masked_nmse_db if loss == "nmse_db" else masked_nmse
    pred = model(inp.x, inp.pos, inp.masked, **inp.extra)
    return crit(pred, inp.target, inp.score, inp.valid)


def step_loss(model: CsiMAE | WifoMAE, h: torch.Tensor, kind: str, ratio: float, g: torch.Generator,
              device: str, noise_snr_db: tuple[float, float] | None = None,
              mask_fn: Callable[..., torch.Tensor] = make_mask, loss: str = "nmse") -> torch.Tensor:
    """Masked-reconstruction loss of one batch h [B, T, A, S] complex (clean, any power): the batch's NMSE
    (``loss="nmse"``, linear) or the mean per-sample NMSE in dB (``"nmse_db"``, ``model.masked_nmse_db``).

    Token maskings hide whole patches and score the hidden ones; ``pilot`` keeps every token but zeroes all
    REs except a comb of pilot subcarriers (spacing 2, 4 or 8, random offset) and scores every RE. With
    ``noise_snr_db`` the visible input is noisy at a per-sample SNR drawn uniformly in that range [dB] while
    the target stays clean (a denoising objective: real inputs are noisy). ``mask_fn(kind, b, pos, g, ratio)``
    makes the token masks (``make_mask``; ``wifo.wifo_mask`` for the WiFo replica). ``prepare_step`` then
    ``forward_loss``."""
    return forward_loss(model, prepare_step(model, h, kind, ratio, g, device, noise_snr_db, mask_fn), loss)


def pilot_keep(tok, spec, s: int, g: torch.Generator) -> torch.Tensor:
    """[N, D] bool: the token entries that fall on pilot subcarriers of a random comb (spacing 2/4/8)."""
    every = int((2, 4, 8)[int(torch.randint(3, (1,), generator=g))])
    offset = int(torch.randint(every, (1,), generator=g))
    sc = torch.zeros(tok.grid[2] * spec.ps, dtype=torch.bool)
    sc[offset:s:every] = True
    # entry layout of a token: [2, pt, pa, ps] flattened; its subcarrier index is pos_s * ps + k
    k = torch.arange(spec.ps)
    sc_of = tok.pos[:, 2:3] * spec.ps + k[None]  # [N, ps]
    on = sc[sc_of]  # [N, ps]
    return on[:, None, None, None, :].expand(-1, 2, spec.pt, spec.pa, -1).reshape(tok.pos.shape[0], -1)


def pick_masking(model: CsiMAE | WifoMAE, cfg: PretrainConfig, h: torch.Tensor,
                 rng: np.random.Generator) -> tuple[str, float]:
    """(masking, mask ratio) for a batch h [B, T, A, S]: one of the run's maskings (WiFo's fixed mix for the
    replica) drawn uniformly, ``random`` where the batch is too short for it (one patch along the masked axis)."""
    wifo = cfg.arch == "wifo"
    kinds = tuple(WIFO_MASKINGS) if wifo else cfg.maskings
    kind = kinds[int(rng.integers(len(kinds)))]
    if kind == "temporal" and h.shape[1] <= model.cfg.pt:
        kind = "random"
    if wifo and kind == "frequency" and h.shape[3] <= model.cfg.ps:
        kind = "random"
    return kind, (WIFO_MASKINGS[kind] if wifo else cfg.mask_ratio)


def pretrain(data_dir: str | Path, out_dir: str | Path, cfg: PretrainConfig, *, resume: bool = False,
             on_step: Callable[[int, float], None] | None = None, cache_shards: int = 8) -> dict[str, Any]:
    """Train; write checkpoints to ``out_dir``; return the summary (losses, samples/s, params).
    ``cache_shards``: shards the reader keeps in memory (as many as the dataset has: read each once)."""
    out = Path(out_dir)
    ds = CsiDataset(data_dir, cache_shards=cache_shards)
    train = ds.split("sample", seed=cfg.seed)["train"]
    if not train:
        raise ConfigError(f"dataset {str(data_dir)!r} has no training samples (all configs held out?)")
    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(cfg.device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start, history = 0, []
    g = torch.Generator().manual_seed(cfg.seed)
    if resume and (out / "ckpt.pt").exists():
        model, state, meta = checkpoint.load(out, cfg.device)
        if "opt" not in state:
            raise ConfigError(f"the checkpoint in {str(out)!r} holds weights only (exported); it cannot be resumed")
        if meta.get("arch", "airan") != cfg.arch:
            raise ConfigError(f"cannot resume arch {cfg.arch!r} from a {meta.get('arch', 'airan')!r} checkpoint "
                              f"in {str(out)!r}")
        have = (bool(getattr(model.cfg, "prior", False)), bool(getattr(model.cfg, "prior_denoise", False)),
                getattr(model.cfg, "prior_interp", "linear"))
        want = (cfg.prior, cfg.prior and cfg.prior_denoise, cfg.prior_interp if cfg.prior else "linear")
        if have != want:
            raise ConfigError(f"cannot resume with prior={want[0]}, prior_denoise={want[1]}, prior_interp={want[2]} "
                              f"from a checkpoint with prior={have[0]}, prior_denoise={have[1]}, "
                              f"prior_interp={have[2]} in {str(out)!r}")
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        opt.load_state_dict(state["opt"])
        start, history = state["step"], meta.get("history", [])
        g.set_state(state["gen"])
    stream = _stream(ds, train, cfg, epoch0=start)
    use_amp = cfg.device.startswith("cuda")
    model.train()
    t0, samples = time.perf_counter(), 0
    rng = np.random.default_rng(cfg.seed + start)
    mask_fn = wifo_mask if cfg.arch == "wifo" else make_mask

    def draw() -> tuple[torch.Tensor, str, float]:  # the next batch and its masking (main thread only)
        h = next(stream)
        return h, *pick_masking(model, cfg, h, rng)

    def prepared(step: int) -> Iterator[tuple[int, StepInputs]]:  # (batch size, inputs) per micro-batch, in order
        if cfg.prep_workers == 0:  # one generator for the whole run (its state is checkpointed)
            while True:
                h, kind, ratio = draw()
                yield h.shape[0], prepare_step(model, h, kind, ratio, g, cfg.device, cfg.noise_snr_db, mask_fn)
        ahead: deque[tuple[int, Future[StepInputs]]] = deque()
        micro = step * cfg.grad_accum
        with ThreadPoolExecutor(cfg.prep_workers) as pool:
            while True:
                while len(ahead) < 2 * cfg.prep_workers:
                    h, kind, ratio = draw()
                    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + micro)  # reproducible per batch
                    micro += 1
                    ahead.append((h.shape[0], pool.submit(prepare_step, model, h, kind, ratio, gen, cfg.device,
                                                          cfg.noise_snr_db, mask_fn)))
                n, fut = ahead.popleft()
                yield n, fut.result()

    batches = prepared(start)
    for step in range(start, cfg.steps):
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg)
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for _ in range(cfg.grad_accum):
            n, inp = next(batches)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                loss = forward_loss(model, inp, cfg.loss) / cfg.grad_accum
            loss.backward()
            total += float(loss.detach())
            samples += n
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        history.append(total)
        if on_step is not None:
            on_step(step, total)
        if (step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps:
            checkpoint.save(out, model, {"opt": opt.state_dict(), "step": step + 1, "gen": g.get_state()},
                            {"train_config": asdict(cfg), "arch": cfg.arch, "data": str(data_dir), "step": step + 1,
                             "history": history})
    batches.close()
    seconds = time.perf_counter() - t0
    return {"steps": cfg.steps, "start_step": start, "loss_first": history[0] if history else None,
            "loss_last": float(np.mean(history[-10:])) if history else None, "history": history,
            "samples_per_s": samples / seconds if seconds > 0 else 0.0, "seconds": seconds,
            "params": sum(p.numel() for p in model.parameters()), "arch": cfg.arch, "checkpoint": str(out)}


@torch.no_grad()
def reconstruct(model: CsiMAE, h: torch.Tensor, kind: str = "temporal", ratio: float = 0.25,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Zero-shot inference on any-shaped CSI: returns (prediction [B, T, A, S] complex, mask [B, N], NMSE dB
    over the hidden part)."""
    from airan.fm.tokenizer import detokenize

    model.eval()
    tok = tokenize(h, model.cfg.patch)
    masked = make_mask(kind, h.shape[0], tok.pos, torch.Generator().manual_seed(seed), ratio)
    dev = next(model.parameters()).device
    extra = prior_kwargs(model, tok.x, ~masked[..., None] & tok.valid, tok)
    pred = model(tok.x.to(dev), tok.pos.to(dev), masked.to(dev), **extra).cpu()
    nmse = float(masked_nmse(pred, tok.x, masked, tok.valid))
    return detokenize(pred, tok, model.cfg.patch), masked, 10 * math.log10(max(nmse, 1e-12))
