"""CSI tokenizer: complex H[B, T, A, S] -> real patch tokens with 3D patch positions, and back.

Each sample is normalised to unit mean power, split into real/imag, zero-padded up to a multiple of the patch
size on each axis (the padding is masked out of every loss), and cut into (pt, pa, ps) patches. A token is
[2 * pt * pa * ps] float32; its position is the (time, antenna, subcarrier) patch index, so any array size
within the position tables is accepted (that is how unseen shapes are handled zero-shot).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PatchSpec:
    pt: int = 2
    pa: int = 2
    ps: int = 4

    @property
    def token_dim(self) -> int:
        return 2 * self.pt * self.pa * self.ps


@dataclass
class Tokens:
    """x      : [B, N, D] float32 patch tokens (D = 2 * pt * pa * ps)
    pos      : [N, 3] int64 patch index along (time, antenna, subcarrier)
    valid    : [B, N, D] bool, False where a value is padding
    grid     : (nt, na, ns) patches per axis; shape: the original (T, A, S); scale: [B] per-sample RMS"""

    x: torch.Tensor
    pos: torch.Tensor
    valid: torch.Tensor
    grid: tuple[int, int, int]
    shape: tuple[int, int, int]
    scale: torch.Tensor


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def tokenize(h: torch.Tensor, spec: PatchSpec, normalize: bool = True) -> Tokens:
    """h: [B, T, A, S] complex64 -> Tokens."""
    if h.dim() != 4 or not torch.is_complex(h):
        raise ValueError(f"expected complex h of shape [B, T, A, S], got {tuple(h.shape)} {h.dtype}")
    b, t, a, s = h.shape
    scale = h.abs().pow(2).mean(dim=(1, 2, 3)).sqrt().clamp_min(1e-30) if normalize else torch.ones(b)
    h = h / scale[:, None, None, None]
    nt, na, ns = _ceil(t, spec.pt), _ceil(a, spec.pa), _ceil(s, spec.ps)
    x = torch.zeros(b, 2, nt * spec.pt, na * spec.pa, ns * spec.ps)
    valid = torch.zeros_like(x, dtype=torch.bool)
    x[:, 0, :t, :a, :s], x[:, 1, :t, :a, :s] = h.real, h.imag
    valid[:, :, :t, :a, :s] = True

    def patches(v: torch.Tensor) -> torch.Tensor:
        # [B, 2, nt*pt, na*pa, ns*ps] -> [B, nt, na, ns, 2, pt, pa, ps] -> [B, N, D]
        v = v.reshape(b, 2, nt, spec.pt, na, spec.pa, ns, spec.ps).permute(0, 2, 4, 6, 1, 3, 5, 7)
        return v.reshape(b, nt * na * ns, spec.token_dim)

    pos = torch.stack(torch.meshgrid(torch.arange(nt), torch.arange(na), torch.arange(ns), indexing="ij"), -1)
    return Tokens(patches(x), pos.reshape(-1, 3), patches(valid), (nt, na, ns), (t, a, s), scale)


def detokenize(x: torch.Tensor, tok: Tokens, spec: PatchSpec, rescale: bool = True) -> torch.Tensor:
    """Tokens [B, N, D] (e.g. a reconstruction) -> complex H [B, T, A, S] on the original grid."""
    b = x.shape[0]
    nt, na, ns = tok.grid
    t, a, s = tok.shape
    v = x.reshape(b, nt, na, ns, 2, spec.pt, spec.pa, spec.ps).permute(0, 4, 1, 5, 2, 6, 3, 7)
    v = v.reshape(b, 2, nt * spec.pt, na * spec.pa, ns * spec.ps)[:, :, :t, :a, :s]
    h = torch.complex(v[:, 0].float(), v[:, 1].float())
    return h * tok.scale[:, None, None, None] if rescale else h


def known_tokens(known: torch.Tensor, shape: tuple[int, int, int], spec: PatchSpec) -> torch.Tensor:
    """A [T, S] bool mask of observed (slot, subcarrier) REs as patch-token entries: [N, D] bool for an array of
    ``shape`` (T, A, S), True where the entry (real or imaginary part) is observed; padding is False."""
    kf = known[None, :, None, :].expand(1, *shape).float()
    return tokenize(torch.complex(kf, kf), spec, normalize=False).x[0] > 0.5
