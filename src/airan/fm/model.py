"""The foundation-model backbone: a masked autoencoder over CSI patch tokens (one readable file).

Encoder: linear patch embedding + factorised (time, antenna, subcarrier) position embeddings + pre-norm
transformer blocks over the *visible* tokens. Decoder: a narrower transformer over all positions, with a
learned mask token where tokens were hidden, and a linear head back to patch values. Factorised positions
let one model read any array size up to the position tables (heterogeneous shapes, zero-shot).

With ``FMConfig.prior`` the model is prior-conditioned: every decoder position also receives an embedding of the
classical estimate of its patch (``fm.prior.classical_prior``: interpolation over subcarriers/antennas/slots,
PAD for future slots; with ``FMConfig.prior_denoise`` of the observed REs denoised first) and of the sample's
estimated noise level (``fm.prior.prior_inputs`` gives both), and the output is that estimate plus the
decoder's correction scaled by a gate of the noise level (``NoiseConditioning``; output layer zero-initialised,
so an untrained model returns the classical estimate exactly).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from airan.core.errors import ConfigError
from airan.fm.tokenizer import PatchSpec


@dataclass(frozen=True)
class FMConfig:
    size: str = "tiny"
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    dec_dim: int = 48
    dec_layers: int = 1
    mlp_ratio: int = 4
    dropout: float = 0.0
    pt: int = 2
    pa: int = 2
    ps: int = 4
    max_t: int = 64
    max_a: int = 64
    max_s: int = 512
    prior: bool = False
    prior_denoise: bool = False  # the prior denoises the observed block first (fm.prior.prior_inputs)
    prior_interp: str = "linear"  # linear | adaptive: how the prior fills subcarriers (fm.prior.PRIOR_INTERPS)

    def __post_init__(self) -> None:
        if self.prior_interp not in ("linear", "adaptive"):
            raise ConfigError(f"unknown prior_interp {self.prior_interp!r}; choose linear or adaptive")
        if self.d_model % self.n_heads or self.dec_dim % max(1, self.n_heads // 2):
            raise ConfigError(f"d_model {self.d_model} / dec_dim {self.dec_dim} not divisible by the heads")

    @property
    def patch(self) -> PatchSpec:
        return PatchSpec(self.pt, self.pa, self.ps)

    def to_dict(self) -> dict:
        return asdict(self)


SIZES = {
    "tiny": FMConfig("tiny", 64, 2, 4, 48, 1),
    "small": FMConfig("small", 256, 6, 8, 128, 2),
    "base": FMConfig("base", 512, 12, 8, 256, 4),
}


def fm_config(size: str) -> FMConfig:
    if size not in SIZES:
        raise ConfigError(f"unknown model size {size!r}; choose one of {sorted(SIZES)}")
    return SIZES[size]


class FactorisedPosition(nn.Module):
    """Sum of learned embeddings of the time, antenna and subcarrier patch indices. pos: [N, 3] -> [N, d]."""

    def __init__(self, d: int, max_t: int, max_a: int, max_s: int) -> None:
        super().__init__()
        self.t, self.a, self.s = nn.Embedding(max_t, d), nn.Embedding(max_a, d), nn.Embedding(max_s, d)
        self.limits = (max_t, max_a, max_s)

    def forward(self, pos: torch.Tensor) -> torch.Tensor:
        for k, lim in enumerate(self.limits):
            if int(pos[:, k].max()) >= lim:
                raise ConfigError(f"{int(pos[:, k].max()) + 1} patches on axis {k} exceed the model's {lim}")
        return self.t(pos[:, 0]) + self.a(pos[:, 1]) + self.s(pos[:, 2])


class NoiseConditioning(nn.Module):
    """The per-sample noise level [B] (dB, ``fm.prior.prior_inputs``) as a decoder input embedding [B, 1, dec] and
    a gate in (0, 1) [B, 1, 1] on the correction: how far to move from the classical estimate depends on how
    noisy the observations are, which a small model cannot infer reliably from the tokens themselves."""

    def __init__(self, dec_dim: int) -> None:
        super().__init__()
        self.embed = nn.Linear(1, dec_dim)
        self.gate = nn.Linear(1, 1)

    def forward(self, noise_db: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = (noise_db.float() / 10.0)[:, None, None]  # [B, 1, 1], about -4..1
        return self.embed(z), torch.sigmoid(self.gate(z))


def _blocks(d: int, heads: int, layers: int, mlp_ratio: int, dropout: float) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(d, heads, d * mlp_ratio, dropout, activation="gelu", batch_first=True,
                                       norm_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


class CsiMAE(nn.Module):
    def __init__(self, cfg: FMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        dim = cfg.patch.token_dim
        self.embed = nn.Linear(dim, cfg.d_model)
        self.pos = FactorisedPosition(cfg.d_model, cfg.max_t, cfg.max_a, cfg.max_s)
        self.encoder = _blocks(cfg.d_model, cfg.n_heads, cfg.n_layers, cfg.mlp_ratio, cfg.dropout)
        self.enc_norm = nn.LayerNorm(cfg.d_model)
        self.to_dec = nn.Linear(cfg.d_model, cfg.dec_dim)
        self.mask_token = nn.Parameter(torch.zeros(cfg.dec_dim))
        self.dec_pos = FactorisedPosition(cfg.dec_dim, cfg.max_t, cfg.max_a, cfg.max_s)
        self.decoder = _blocks(cfg.dec_dim, max(1, cfg.n_heads // 2), cfg.dec_layers, cfg.mlp_ratio, cfg.dropout)
        self.head = nn.Linear(cfg.dec_dim, dim)
        nn.init.normal_(self.mask_token, std=0.02)
        if cfg.prior:
            self.prior_embed = nn.Linear(dim, cfg.dec_dim)
            self.noise_cond = NoiseConditioning(cfg.dec_dim)
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def encode(self, x: torch.Tensor, pos: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
        """Visible tokens -> latents. x: [B, N, D]; masked: [B, N] bool with the same count per row.
        Returns [B, N_visible, d_model] (in token order)."""
        b, n, _ = x.shape
        keep = (~masked).sum(dim=1)
        if not torch.all(keep == keep[0]):
            raise ValueError("every sample in a batch must hide the same number of tokens")
        vis_idx = (~masked).float().argsort(dim=1, descending=True, stable=True)[:, : int(keep[0])]  # [B, Nv]
        vis_idx = vis_idx.sort(dim=1).values
        z = self.embed(x) + self.pos(pos)[None]  # [B, N, d]
        z = torch.gather(z, 1, vis_idx[..., None].expand(-1, -1, z.shape[-1]))  # [B, Nv, d]
        return self.enc_norm(self.encoder(z)), vis_idx

    def forward(self, x: torch.Tensor, pos: torch.Tensor, masked: torch.Tensor,
                prior: torch.Tensor | None = None, noise_db: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstruct every token: [B, N, D] -> [B, N, D]. ``prior`` [B, N, D] (the classical estimate of
        every token) and ``noise_db`` [B] (``fm.prior.prior_kwargs`` gives both) are required by a
        prior-conditioned model and refused otherwise."""
        b, n, _ = x.shape
        if self.cfg.prior != (prior is not None) or (prior is None) != (noise_db is None):
            raise ConfigError("this model is prior-conditioned: pass prior and noise_db (fm.prior.prior_kwargs)"
                              if self.cfg.prior else "this model takes no prior or noise_db (FMConfig.prior is False)")
        lat, vis_idx = self.encode(x, pos, masked)
        d = self.to_dec(lat)  # [B, Nv, dec]
        full = self.mask_token.to(d.dtype).expand(b, n, -1).clone()
        full.scatter_(1, vis_idx[..., None].expand(-1, -1, d.shape[-1]), d)
        full = full + self.dec_pos(pos)[None]
        if prior is None:
            return self.head(self.decoder(full))
        emb, gate = self.noise_cond(noise_db)
        return prior + gate * self.head(self.decoder(full + self.prior_embed(prior) + emb))


def masked_nmse(pred: torch.Tensor, target: torch.Tensor, masked: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """NMSE (linear) over hidden, non-padding entries: sum |pred - target|^2 / sum |target|^2, per batch."""
    w = (masked[..., None] & valid).float()
    err = ((pred - target) ** 2 * w).sum()
    return err / ((target**2) * w).sum().clamp_min(1e-12)


def masked_nmse_db(pred: torch.Tensor, target: torch.Tensor, masked: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean over the samples of each one's NMSE [dB] over its hidden, non-padding entries (samples with none are
    left out). Unlike the pooled linear NMSE, a task or SNR whose error is 30 dB below another's still pulls
    its weight: the gradient of a sample's dB error does not shrink with that error."""
    w = (masked[..., None] & valid).float()
    dims = tuple(range(1, pred.dim()))
    err = ((pred - target) ** 2 * w).sum(dim=dims)
    power = ((target**2) * w).sum(dim=dims)
    has = power > 1e-12
    if not has.any():
        return (pred * 0).sum()
    return 10 * torch.log10((err[has] / power[has]).clamp_min(1e-10)).mean()
