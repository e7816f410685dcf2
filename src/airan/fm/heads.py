"""Task heads on top of the foundation-model encoder, behind one interface so new tasks slot in.

A ``TaskHead`` is an ``nn.Module`` with a ``task`` name and a ``kind``:

- ``"dense"`` heads map the encoder latents of the visible tokens back to *every* patch token (the hidden ones
  are the prediction): channel prediction in time, frequency interpolation, channel estimation from pilots.
  ``DecoderHead`` is a small transformer decoder with a learned mask token; it is built either fresh from the
  backbone's config or as a copy of the pretrained MAE decoder (``from_backbone``), and the zero-shot path
  shares the MAE decoder itself (``from_backbone(..., share=True)``).
- ``"pooled"`` heads mean-pool the latents and map them through an MLP to a per-sample output (beam index,
  LoS/NLoS, position, KPIs; subclasses of ``PooledHead`` set ``task`` and the output size).

Dense heads also say how their input is built: ``hides_tokens`` (time/freq: a patch with no known RE is hidden
from the encoder, as in pretraining) or not (estimation: the pilot comb leaves every patch partly known, so
every token is visible; unknown REs are pre-filled by linear interpolation over subcarriers from the pilots of
the same slot and antenna, plus a learned per-RE offset ``fill`` where the RE was not observed), and
``residual`` (the output is added to the filled input, so with the zero-initialised output layer an untrained
estimation head returns exactly the interpolated channel).
A prior-conditioned backbone (``FMConfig.prior``) gives its heads ``prefill="classical"`` (``fm.prior.prior_inputs``:
interpolation, PAD for later slots, of the denoised observations for a ``prior_denoise`` backbone),
``residual=True``, an embedding ``prior_embed`` of the prefilled tokens
that every decoder position receives and the noise conditioning (``noise_cond``: noise-level embedding and a gate
on the correction), all copied from the backbone as in pretraining; its pretrained output layer is kept.

Registry: ``HEADS[task]`` is the dense head class for the task; ``register_head`` adds one.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from airan.core.errors import ConfigError
from airan.fm.model import NoiseConditioning


class TaskHead(nn.Module):
    """Base of every head. ``forward(lat, vis_idx, pos)``:

    lat     : [B, Nv, d_model] float32 encoder latents of the visible tokens (token order)
    vis_idx : [B, Nv] int64 index of each visible token among the N tokens
    pos     : [N, 3] int64 (time, antenna, subcarrier) patch index of every token
    returns : dense -> [B, N, D] float32 patch tokens (D = 2 * pt * pa * ps); pooled -> [B, out_dim] float32"""

    task: ClassVar[str] = ""
    kind: ClassVar[str] = "dense"


HEADS: dict[str, type[TaskHead]] = {}
PREFILLS = ("none", "hold", "interp", "classical")


def register_head(cls: type[TaskHead]) -> type[TaskHead]:
    """Class decorator: make ``cls`` the head for ``cls.task``."""
    if not cls.task:
        raise ConfigError(f"head class {cls.__name__} declares no task")
    if cls.kind not in ("dense", "pooled"):
        raise ConfigError(f"head class {cls.__name__} has kind {cls.kind!r}; choose dense or pooled")
    HEADS[cls.task] = cls
    return cls


def head_class(task: str) -> type[TaskHead]:
    if task not in HEADS:
        raise ConfigError(f"no head for task {task!r}; known tasks: {sorted(HEADS)}")
    return HEADS[task]


def _decoder_blocks(d: int, heads: int, layers: int, mlp_ratio: int) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(d, heads, d * mlp_ratio, 0.0, activation="gelu", batch_first=True,
                                       norm_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


class _Positions(nn.Module):
    """Factorised (time, antenna, subcarrier) position embeddings: pos [N, 3] -> [N, d] float32."""

    def __init__(self, d: int, max_t: int, max_a: int, max_s: int) -> None:
        super().__init__()
        self.t, self.a, self.s = nn.Embedding(max_t, d), nn.Embedding(max_a, d), nn.Embedding(max_s, d)

    def forward(self, pos: torch.Tensor) -> torch.Tensor:
        limits = (self.t.num_embeddings, self.a.num_embeddings, self.s.num_embeddings)
        for k, lim in enumerate(limits):
            if int(pos[:, k].max()) >= lim:
                raise ConfigError(f"{int(pos[:, k].max()) + 1} patches on axis {k} exceed the head's {lim}")
        return self.t(pos[:, 0]) + self.a(pos[:, 1]) + self.s(pos[:, 2])


class _SinCos(nn.Module):
    """The WiFo-style replica's fixed 3D sin/cos code: pos [N, 3] -> [N, d] float32 (no parameters)."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.d = d

    def forward(self, pos: torch.Tensor) -> torch.Tensor:
        from airan.fm.wifo import sincos_3d

        return sincos_3d(pos.cpu(), self.d).to(pos.device)


class DecoderHead(TaskHead):
    """Dense head: latents -> ``to_dec`` -> scatter into a grid of mask tokens -> + positions -> transformer
    -> ``out`` linear to patch values. Attribute names follow the MAE decoder so its weights copy over."""

    kind: ClassVar[str] = "dense"
    hides_tokens: ClassVar[bool] = True
    default_prefill: ClassVar[str] = "none"
    default_residual: ClassVar[bool] = False

    def __init__(self, cfg: Any, prefill: str | None = None, residual: bool | None = None,
                 positions: str = "learned", dec_norm: bool = False) -> None:
        """``cfg``: the backbone's FMConfig-like config (d_model, dec_dim, dec_layers, n_heads, mlp_ratio,
        pt/pa/ps, max_t/max_a/max_s). ``prefill`` (none | hold | interp: how unknown REs of the input are
        filled before tokenising) and ``residual`` default to the class's choice. ``positions`` (learned |
        sincos) and ``dec_norm`` (a LayerNorm before the output layer) follow the backbone's MAE decoder
        (learned and none for ours, sincos and a norm for the WiFo-style replica)."""
        super().__init__()
        self.prefill = self.default_prefill if prefill is None else prefill
        self.residual = self.default_residual if residual is None else residual
        if self.prefill not in PREFILLS:
            raise ConfigError(f"unknown prefill {self.prefill!r}; choose one of {PREFILLS}")
        if positions not in ("learned", "sincos"):
            raise ConfigError(f"unknown decoder positions {positions!r}; choose learned or sincos")
        self.positions, self.has_dec_norm = positions, dec_norm
        dim = 2 * cfg.pt * cfg.pa * cfg.ps
        self.to_dec = nn.Linear(cfg.d_model, cfg.dec_dim)
        self.mask_token = nn.Parameter(torch.randn(cfg.dec_dim) * 0.02)
        self.dec_pos: nn.Module = (_Positions(cfg.dec_dim, cfg.max_t, cfg.max_a, cfg.max_s)
                                   if positions == "learned" else _SinCos(cfg.dec_dim))
        self.decoder = _decoder_blocks(cfg.dec_dim, max(1, cfg.n_heads // 2), cfg.dec_layers, cfg.mlp_ratio)
        self.dec_norm: nn.Module = nn.LayerNorm(cfg.dec_dim) if dec_norm else nn.Identity()
        self.head = nn.Linear(cfg.dec_dim, dim)
        # embedding of the classical estimate of each token (prior-conditioned heads only)
        self.prior_embed = nn.Linear(dim, cfg.dec_dim) if self.prefill == "classical" else None
        self.noise_cond = NoiseConditioning(cfg.dec_dim) if self.prefill == "classical" else None
        # learned value for unobserved REs of a visible token ([D] float32; only when tokens are not hidden)
        self.fill = None if self.hides_tokens else nn.Parameter(torch.zeros(dim))
        if self.residual:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    @classmethod
    def from_backbone(cls, backbone: nn.Module, share: bool = False) -> DecoderHead:
        """A head initialised from (``share=False``: a copy of; ``share=True``: the very modules of, with the
        MAE's own semantics: no prefill, no residual) the backbone's MAE decoder. Falls back to a fresh head
        when the backbone has no MAE decoder."""
        arch = {"positions": "learned" if hasattr(backbone, "dec_pos") else "sincos",
                "dec_norm": hasattr(backbone, "dec_norm")}
        prior = getattr(backbone.cfg, "prior", False)
        if prior:  # the MAE decoder already refines the classical estimate: keep its semantics and weights
            head = cls(backbone.cfg, prefill="classical", residual=True, **arch)
        elif share:
            head = cls(backbone.cfg, prefill="none", residual=False, **arch)
        else:
            head = cls(backbone.cfg, **arch)
        names = ("to_dec", "decoder", "head") + (("dec_pos",) if hasattr(backbone, "dec_pos") else ()) + (
            ("dec_norm",) if hasattr(backbone, "dec_norm") else ()) + (("prior_embed", "noise_cond") if prior else ())
        if not all(hasattr(backbone, n) for n in ("to_dec", "decoder", "head", "mask_token")):
            return head
        for n in names:
            mod = getattr(backbone, n)
            setattr(head, n, mod if share else copy.deepcopy(mod))
        head.mask_token = backbone.mask_token if share else nn.Parameter(backbone.mask_token.detach().clone())
        if head.residual and not share and not prior:
            nn.init.zeros_(head.head.weight)
            nn.init.zeros_(head.head.bias)
        return head

    def forward(self, lat: torch.Tensor, vis_idx: torch.Tensor, pos: torch.Tensor,
                prior: torch.Tensor | None = None, noise_db: torch.Tensor | None = None) -> torch.Tensor:
        """``prior`` [B, N, D] (the prefilled input tokens) and ``noise_db`` [B]: required by a
        ``classical``-prefill head, whose output (the correction) is then scaled by the noise gate."""
        b, n = lat.shape[0], pos.shape[0]
        d = self.to_dec(lat)  # [B, Nv, dec]
        full = self.mask_token.to(d.dtype).expand(b, n, -1).clone()  # [B, N, dec]
        full.scatter_(1, vis_idx[..., None].expand(-1, -1, d.shape[-1]), d)
        full = full + self.dec_pos(pos).to(full.device, full.dtype)[None]
        if self.prior_embed is not None:
            if prior is None or noise_db is None:
                raise ConfigError("a classical-prefill head needs the prefilled tokens (prior) and noise_db")
            emb, gate = self.noise_cond(noise_db)
            return gate * self.head(self.dec_norm(self.decoder(full + self.prior_embed(prior) + emb)))
        return self.head(self.dec_norm(self.decoder(full)))  # [B, N, D]


@register_head
class TimeHead(DecoderHead):
    """Channel prediction: the later time patches are hidden and predicted from the earlier ones."""

    task: ClassVar[str] = "time"


@register_head
class FreqHead(DecoderHead):
    """Frequency interpolation/extrapolation: hidden subcarrier patches predicted from the observed ones."""

    task: ClassVar[str] = "freq"


@register_head
class EstimationHead(DecoderHead):
    """Channel estimation from pilots: every token visible (interpolated + learned fill), full channel out,
    residual over the interpolated input."""

    task: ClassVar[str] = "estimation"
    hides_tokens: ClassVar[bool] = False
    default_prefill: ClassVar[str] = "interp"
    default_residual: ClassVar[bool] = True


class PooledHead(TaskHead):
    """Per-sample head: mean of the visible latents -> LayerNorm -> MLP -> [B, out_dim]. Subclasses set
    ``task`` and pass ``out_dim`` (classes, coordinates or KPI values)."""

    kind: ClassVar[str] = "pooled"

    def __init__(self, d_model: int, out_dim: int, hidden: int = 128) -> None:
        super().__init__()
        if out_dim < 1 or hidden < 1:
            raise ConfigError(f"pooled head needs out_dim >= 1 and hidden >= 1, got {out_dim!r}, {hidden!r}")
        self.mlp = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, hidden), nn.GELU(),
                                 nn.Linear(hidden, out_dim))

    def forward(self, lat: torch.Tensor, vis_idx: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        return self.mlp(lat.mean(dim=1))  # [B, Nv, d] -> [B, d] -> [B, out_dim]


def interp_fill(y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Fill unknown REs by linear interpolation (edge hold) over subcarriers from the known REs of the same
    slot and antenna. y: [B, T, A, S] complex; known: [T, S] bool -> [B, T, A, S] complex (slots with no known
    RE are returned unchanged)."""
    out = y.clone()
    grid = np.arange(y.shape[-1])
    weights: dict[tuple[int, ...], torch.Tensor] = {}
    for t in range(y.shape[1]):
        cols = known[t].nonzero().squeeze(1).cpu()
        if len(cols) == 0:
            continue
        key = tuple(cols.tolist())
        if key not in weights:
            eye = np.eye(len(cols))
            w = np.stack([np.interp(grid, cols.numpy(), eye[j]) for j in range(len(cols))], 1)  # [S, P]
            weights[key] = torch.from_numpy(w).to(device=y.device, dtype=y.dtype)
        out[:, t] = y[:, t][..., cols.to(y.device)] @ weights[key].T  # [B, A, P] @ [P, S] -> [B, A, S]
    return out


def hold_fill(y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Fill unknown REs with the latest known slot of the same subcarrier (the earliest one before any known
    slot). y: [B, T, A, S] complex; known: [T, S] bool -> [B, T, A, S] complex (subcarriers never known are
    returned unchanged)."""
    t = torch.arange(known.shape[0])[:, None].expand_as(known)
    last = torch.where(known, t, -1).cummax(dim=0).values  # [T, S] latest known slot <= t, -1 if none yet
    first = torch.where(known, t, known.shape[0]).min(dim=0).values  # [S] earliest known slot
    src = torch.where(last >= 0, last, first[None].expand_as(last))
    src = torch.where(src < known.shape[0], src, t)  # never-known subcarriers keep their own value
    idx = src.to(y.device)[None, :, None, :].expand_as(y)  # [B, T, A, S]
    return torch.gather(y, 1, idx)
