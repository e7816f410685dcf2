"""The LLM4CP architecture, re-implemented as a channel-prediction baseline and trained from scratch.

LLM4CP predicts future CSI slots from past ones with a GPT-2 backbone. Its structure, kept here:

1. per-slot CSI flattening: a slot H [A, S] complex becomes 2*A*S reals (real/imag);
2. two parallel preprocessing branches, the frequency domain (the slot as it is) and the delay domain (an
   inverse DFT over the subcarriers), each through a CSI attention block: a residual feature block followed by
   channel attention (squeeze over time, excite the features), the branches summed;
3. patching over time (``patch_len`` consecutive slots per token) and a linear embedding to ``d_model``;
4. a GPT-2 style causal transformer (pre-LayerNorm, GELU MLP, learned positions, GPT-2 initialisation),
   ``n_layer`` blocks;
5. an output projection (per-token features, then a linear map from the tokens to the future slots).

What differs from the paper, on purpose: there are no GPT-2 text weights to download, so the whole body is
trained from scratch (the paper fine-tunes a pretrained GPT-2 with most weights frozen); ``width="paper"``
builds the paper's body (6 layers, d=768, 12 heads), ``width="small"`` a CPU-sized one (4 layers, d=128).
The model is a per-config specialist: it is built for one (T_in, T_out, A, S) and predicts all future slots at
once. Inputs are normalised per sample by the RMS of the observed slots and the output is scaled back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from airan.core.errors import ConfigError, ShapeError

WIDTHS = {"paper": (6, 768, 12), "small": (4, 128, 4)}  # width -> (n_layer, d_model, n_head)


@dataclass(frozen=True)
class LLM4CPConfig:
    t_in: int
    t_out: int
    a: int
    s: int
    n_layer: int = 6
    d_model: int = 768
    n_head: int = 12
    patch_len: int = 4
    att_hidden: int = 256  # bottleneck of the residual feature block of each CSI attention block
    se_reduction: int = 16  # channel-attention reduction
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("t_in", "t_out", "a", "s", "n_layer", "d_model", "n_head", "patch_len", "att_hidden",
                     "se_reduction"):
            if getattr(self, name) < 1:
                raise ConfigError(f"LLM4CPConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.d_model % self.n_head:
            raise ConfigError(f"d_model {self.d_model} is not divisible by n_head {self.n_head}")

    @property
    def features(self) -> int:
        """Reals per slot: 2 * A * S."""
        return 2 * self.a * self.s

    @property
    def n_tokens(self) -> int:
        return math.ceil(self.t_in / self.patch_len)


def llm4cp_config(t_in: int, t_out: int, a: int, s: int, width: str = "small") -> LLM4CPConfig:
    if width not in WIDTHS:
        raise ConfigError(f"unknown LLM4CP width {width!r}; choose one of {sorted(WIDTHS)}")
    n_layer, d_model, n_head = WIDTHS[width]
    return LLM4CPConfig(t_in, t_out, a, s, n_layer, d_model, n_head, att_hidden=2 * d_model if width == "small"
                        else 256)


class CsiAttention(nn.Module):
    """Residual feature block + channel attention over the features. [B, T, C] -> [B, T, C]."""

    def __init__(self, c: int, hidden: int, reduction: int) -> None:
        super().__init__()
        self.res = nn.Sequential(nn.Linear(c, hidden), nn.GELU(), nn.Linear(hidden, c))
        r = max(1, c // reduction)
        self.squeeze = nn.Sequential(nn.Linear(c, r), nn.ReLU(), nn.Linear(r, c), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x + self.res(x)  # [B, T, C]
        gate = self.squeeze(z.mean(dim=1))  # [B, C]: squeeze over time, excite features
        return z * gate[:, None]


class Block(nn.Module):
    """GPT-2 block: pre-LN causal self-attention and a GELU MLP, both residual. [B, N, d] -> [B, N, d]."""

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"), nn.Linear(4 * d, d))
        self.drop = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        # (B, N, d) -> (B, nh, N, hs)
        q, k, v = (u.view(b, n, self.heads, d // self.heads).transpose(1, 2) for u in (q, k, v))
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.drop if self.training else 0.0)
        x = x + self.proj(att.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.ln2(x))


class LLM4CP(nn.Module):
    def __init__(self, cfg: LLM4CPConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.features
        self.freq_att = CsiAttention(c, cfg.att_hidden, cfg.se_reduction)
        self.delay_att = CsiAttention(c, cfg.att_hidden, cfg.se_reduction)
        self.embed = nn.Linear(cfg.patch_len * c, cfg.d_model)
        self.wpe = nn.Embedding(cfg.n_tokens, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg.d_model, cfg.n_head, cfg.dropout) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.out_feat = nn.Linear(cfg.d_model, c)
        self.out_time = nn.Linear(cfg.n_tokens, cfg.t_out)
        self.apply(self._init_weights)
        for blk in self.blocks:  # GPT-2: residual projections scaled down with depth
            for w in (blk.proj.weight, blk.mlp[2].weight):
                nn.init.normal_(w, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        """GPT-2 initialisation: weights N(0, 0.02), biases 0 (the PyTorch default makes the output start far
        off and training from scratch crawl)."""
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    @property
    def params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _check(self, h: torch.Tensor) -> None:
        c = self.cfg
        if h.dim() != 4 or not torch.is_complex(h) or tuple(h.shape[2:]) != (c.a, c.s) or h.shape[1] < c.t_in:
            raise ShapeError(f"LLM4CP built for [B, >={c.t_in}, {c.a}, {c.s}] complex input, got "
                             f"{tuple(h.shape)} {h.dtype}")

    def forward(self, h_in: torch.Tensor) -> torch.Tensor:
        """h_in: [B, T_in, A, S] complex (unit power per sample) -> future slots [B, T_out, A, S] complex."""
        c = self.cfg
        b = h_in.shape[0]
        x_f = torch.view_as_real(h_in).reshape(b, c.t_in, -1)  # [B, T_in, 2AS] frequency domain
        h_d = torch.fft.ifft(h_in, dim=-1, norm="ortho")  # delay domain over the subcarriers
        x_d = torch.view_as_real(h_d).reshape(b, c.t_in, -1)  # [B, T_in, 2AS]
        z = self.freq_att(x_f) + self.delay_att(x_d)  # [B, T_in, 2AS]
        pad = c.n_tokens * c.patch_len - c.t_in
        if pad:  # left-pad by repeating the first slot so the last patch ends on the newest slot
            z = torch.cat([z[:, :1].expand(-1, pad, -1), z], 1)
        z = z.reshape(b, c.n_tokens, c.patch_len * c.features)  # [B, N, p * 2AS]
        u = self.embed(z) + self.wpe.weight[None]  # [B, N, d]
        for blk in self.blocks:
            u = blk(u)
        f = self.out_feat(self.ln_f(u))  # [B, N, 2AS]
        y = self.out_time(f.transpose(1, 2)).transpose(1, 2)  # [B, T_out, 2AS]
        return torch.view_as_complex(y.reshape(b, c.t_out, c.a, c.s, 2).contiguous())

    def forecast(self, y: torch.Tensor) -> torch.Tensor:
        """Denormalised forecast: y [B, >=T_in, A, S] complex -> [B, T_out, A, S] complex (scaled like y)."""
        self._check(y)
        h_in = y[:, : self.cfg.t_in]
        scale = h_in.abs().pow(2).mean(dim=(1, 2, 3)).sqrt().clamp_min(1e-30)[:, None, None, None]  # [B,1,1,1]
        return self(h_in / scale) * scale

    @torch.no_grad()
    def predict(self, y: torch.Tensor, t_in: int) -> torch.Tensor:
        """Fill slots t_in.. of y [B, T, A, S] complex from its first t_in slots; returns [B, T, A, S]."""
        if t_in != self.cfg.t_in or y.shape[1] > t_in + self.cfg.t_out:
            raise ShapeError(f"LLM4CP built for {self.cfg.t_in} -> {self.cfg.t_out} slots, asked t_in={t_in} "
                             f"with T={y.shape[1]}")
        was = self.training
        self.eval()
        out = y.clone()
        out[:, t_in:] = self.forecast(y)[:, : y.shape[1] - t_in].to(y.dtype)
        self.train(was)
        return out


def nmse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-sample NMSE (linear). pred, target: [B, T_out, A, S] complex."""
    err = (pred - target).abs().pow(2).sum(dim=(1, 2, 3))
    return (err / target.abs().pow(2).sum(dim=(1, 2, 3)).clamp_min(1e-30)).mean()


def train_llm4cp(h_train: torch.Tensor, t_in: int, *, steps: int = 300, batch_size: int = 32, lr: float = 1e-3,
                 seed: int = 0, width: str = "small", device: str = "cpu") -> LLM4CP:
    """Train an LLM4CP-architecture predictor from scratch (no text weights) on one config's channels.

    h_train: [N, T, A, S] complex training channels (any power); the first ``t_in`` slots are the input and the
    remaining T - t_in the target. AdamW with warmup + cosine decay, gradient clipping at 1, loss = per-sample
    NMSE of the future slots. Returns the model in eval mode on the CPU."""
    if h_train.dim() != 4 or not torch.is_complex(h_train):
        raise ShapeError(f"expected complex h_train [N, T, A, S], got {tuple(h_train.shape)} {h_train.dtype}")
    n, t, a, s = h_train.shape
    if not 1 <= t_in < t:
        raise ConfigError(f"t_in must be in [1, {t - 1}] for {t} slots, got {t_in!r}")
    if steps < 1 or batch_size < 1 or lr <= 0:
        raise ConfigError(f"steps/batch_size must be >= 1 and lr > 0, got {steps}/{batch_size}/{lr}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for but CUDA is not available")
    torch.manual_seed(seed)
    model = LLM4CP(llm4cp_config(t_in, t - t_in, a, s, width)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, steps // 10)

    def lr_factor(k: int) -> float:
        return (k + 1) / warm if k < warm else 0.5 * (1 + math.cos(math.pi * (k - warm) / max(1, steps - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, n, (min(batch_size, n),), generator=g)
        h = h_train[idx].to(device)
        loss = nmse_loss(model.forecast(h), h[:, t_in:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    return model.cpu().eval()


def gflops(model: LLM4CP) -> float:
    """Forward GFLOPs of one sample (batch 1), counted by ``torch.utils.flop_counter``."""
    from torch.utils.flop_counter import FlopCounterMode

    c = model.cfg
    x = torch.randn(1, c.t_in, c.a, c.s, dtype=torch.complex64, device=next(model.parameters()).device)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(x)
    return fc.get_total_flops() / 1e9
