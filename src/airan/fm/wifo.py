"""A WiFo-style masked autoencoder, re-implemented as a baseline (no weights exist to download).

WiFo (a wireless foundation model for channel prediction) is a masked autoencoder over CSI as a
time x antenna x subcarrier volume cut into 3D patches. Its design choices, which this replica keeps and which
differ from our backbone (``airan.fm.model.CsiMAE``):

- a *fixed* 3D sinusoidal space-time-frequency position encoding (the model width is split into a time, an
  antenna and a subcarrier part, each a sin/cos code of the patch index), so there are no learned position
  tables, and any grid size is accepted;
- a standard MAE: a pre-norm transformer encoder over the visible patches, a narrower decoder over all
  positions with one learned mask token, a linear head back to patch values;
- pretraining with a fixed mix of three masking families only: random (high ratio), temporal (hide the last
  slots: time prediction) and frequency (hide the upper band: frequency prediction), used zero-shot for time
  and frequency prediction.

The module has the same forward contract as ``CsiMAE`` (``forward(x, pos, masked) -> [B, N, D]``, ``encode``,
``.cfg`` an ``FMConfig`` with ``patch``/``pt``/``pa``/``ps``), so the pretraining loop, the checkpoint code and the
benchmark harness use it unchanged. ``wifo_config(size)`` gives a width/depth whose parameter count is within
10 % of ``SIZES[size]`` (a fair comparison at equal parameters, pretrained on the same data with the same loop).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from airan.core.errors import ConfigError
from airan.fm.model import SIZES, FMConfig, _blocks

# WiFo's masking mix: family -> ratio of hidden tokens (random) or hidden share of the axis (time/frequency).
WIFO_MASKINGS: dict[str, float] = {"random": 0.85, "temporal": 0.5, "frequency": 0.5}

# Width/depth per size chosen so the parameter count matches SIZES[size] within 10 % (see tests/unit/fm).
WIFO_SIZES: dict[str, FMConfig] = {
    "tiny": FMConfig("wifo-tiny", 80, 2, 4, 56, 1),
    "small": FMConfig("wifo-small", 256, 6, 8, 160, 2),
    "base": FMConfig("wifo-base", 512, 12, 8, 288, 4),
}


def wifo_config(size: str) -> FMConfig:
    """The WiFo-style replica's config whose parameter count matches our ``SIZES[size]`` (+-10 %)."""
    if size not in WIFO_SIZES:
        raise ConfigError(f"unknown model size {size!r}; choose one of {sorted(WIFO_SIZES)}")
    return WIFO_SIZES[size]


def sincos_1d(index: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal code of integer positions. index: [N] int64 -> [N, dim] float32 (dim even)."""
    if dim % 2:
        raise ConfigError(f"a sin/cos code needs an even width, got {dim}")
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float32) / dim)  # [dim/2]
    ang = index.float()[:, None] * freq[None]  # [N, dim/2]
    return torch.cat([ang.sin(), ang.cos()], dim=1)


def sincos_3d(pos: torch.Tensor, dim: int) -> torch.Tensor:
    """Fixed space-time-frequency position code. pos: [N, 3] int64 patch index (time, antenna, subcarrier)
    -> [N, dim] float32. The antenna and subcarrier parts get 2 * (dim // 6) channels each, time the rest."""
    if dim % 2 or dim < 6:
        raise ConfigError(f"3D sin/cos position code needs an even width >= 6, got {dim}")
    part = 2 * (dim // 6)
    widths = (dim - 2 * part, part, part)
    return torch.cat([sincos_1d(pos[:, k], w) for k, w in enumerate(widths)], dim=1)


def wifo_mask(kind: str, b: int, pos: torch.Tensor, g: torch.Generator, ratio: float | None = None) -> torch.Tensor:
    """WiFo's masks over patch positions ``pos`` [N, 3] -> ``masked`` [B, N] bool (True = hidden).

    ``random``: a ``ratio`` of tokens per sample; ``temporal``: the last ``ratio`` of time patches (prediction of
    future slots); ``frequency``: the upper ``ratio`` of subcarrier patches (prediction of another band).
    ``ratio`` defaults to WiFo's fixed ratio in ``WIFO_MASKINGS``."""
    from airan.fm.masking import axis_mask, random_mask

    if kind not in WIFO_MASKINGS:
        raise ValueError(f"unknown WiFo masking {kind!r}; choose one of {sorted(WIFO_MASKINGS)}")
    r = WIFO_MASKINGS[kind] if ratio is None else ratio
    if kind == "random":
        return random_mask(b, pos, r, g)
    return axis_mask(b, pos, 0 if kind == "temporal" else 2, r, future=True)


class WifoMAE(nn.Module):
    """WiFo-style MAE. ``cfg`` is an ``FMConfig`` (``max_*`` are unused: sin/cos positions have no table)."""

    def __init__(self, cfg: FMConfig) -> None:
        super().__init__()
        if cfg.d_model % 2 or cfg.dec_dim % 2:
            raise ConfigError(f"WifoMAE needs even widths, got d_model {cfg.d_model}, dec_dim {cfg.dec_dim}")
        self.cfg = cfg
        dim = cfg.patch.token_dim
        self.embed = nn.Linear(dim, cfg.d_model)
        self.encoder = _blocks(cfg.d_model, cfg.n_heads, cfg.n_layers, cfg.mlp_ratio, cfg.dropout)
        self.enc_norm = nn.LayerNorm(cfg.d_model)
        self.to_dec = nn.Linear(cfg.d_model, cfg.dec_dim)
        self.mask_token = nn.Parameter(torch.zeros(cfg.dec_dim))
        self.decoder = _blocks(cfg.dec_dim, max(1, cfg.n_heads // 2), cfg.dec_layers, cfg.mlp_ratio, cfg.dropout)
        self.dec_norm = nn.LayerNorm(cfg.dec_dim)
        self.head = nn.Linear(cfg.dec_dim, dim)
        nn.init.normal_(self.mask_token, std=0.02)

    def encode(self, x: torch.Tensor, pos: torch.Tensor, masked: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Visible tokens -> latents. x: [B, N, D] float32 patch tokens; pos: [N, 3] int64; masked: [B, N] bool
        with the same hidden count per row. Returns (latents [B, N_visible, d_model], their indices [B, Nv])."""
        keep = (~masked).sum(dim=1)
        if not torch.all(keep == keep[0]):
            raise ValueError("every sample in a batch must hide the same number of tokens")
        vis_idx = (~masked).float().argsort(dim=1, descending=True, stable=True)[:, : int(keep[0])]
        vis_idx = vis_idx.sort(dim=1).values  # [B, Nv]
        pe = sincos_3d(pos.cpu(), self.cfg.d_model).to(x.device, x.dtype)  # [N, d]
        z = self.embed(x) + pe[None]  # [B, N, d]
        z = torch.gather(z, 1, vis_idx[..., None].expand(-1, -1, z.shape[-1]))  # [B, Nv, d]
        return self.enc_norm(self.encoder(z)), vis_idx

    def forward(self, x: torch.Tensor, pos: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
        """Reconstruct every token: x [B, N, D] float32, pos [N, 3], masked [B, N] bool -> [B, N, D]."""
        b, n, _ = x.shape
        lat, vis_idx = self.encode(x, pos, masked)
        d = self.to_dec(lat)  # [B, Nv, dec]
        full = self.mask_token.to(d.dtype).expand(b, n, -1).clone()  # [B, N, dec]
        full.scatter_(1, vis_idx[..., None].expand(-1, -1, d.shape[-1]), d)
        full = full + sincos_3d(pos.cpu(), self.cfg.dec_dim).to(full.device, full.dtype)[None]
        return self.head(self.dec_norm(self.decoder(full)))


def param_counts(size: str) -> dict[str, int]:
    """Parameter counts of our backbone and of the WiFo-style replica at ``size``."""
    from airan.fm.model import CsiMAE

    return {"airan": sum(p.numel() for p in CsiMAE(SIZES[size]).parameters()),
            "wifo": sum(p.numel() for p in WifoMAE(wifo_config(size)).parameters())}
