"""Self-supervised masking families over CSI patch tokens. Each returns ``masked`` [B, N] bool (True = hidden,
to be reconstructed) from the patch positions ``pos`` [N, 3] (time, antenna, subcarrier patch indices)."""

from __future__ import annotations

import torch

MASKINGS = ("random", "temporal", "frequency", "antenna", "pilot")  # pilot: see pretrain.step_loss


def random_mask(b: int, pos: torch.Tensor, ratio: float, g: torch.Generator) -> torch.Tensor:
    """Hide a ``ratio`` of tokens uniformly at random per sample."""
    n = pos.shape[0]
    k = max(1, min(n - 1, int(round(ratio * n))))
    scores = torch.rand(b, n, generator=g)
    idx = scores.argsort(dim=1)[:, :k]
    m = torch.zeros(b, n, dtype=torch.bool)
    m.scatter_(1, idx, True)
    return m


def axis_mask(b: int, pos: torch.Tensor, axis: int, ratio: float, future: bool) -> torch.Tensor:
    """Hide the last ``ratio`` of patches along ``axis`` (``future``: predict later slots / the upper band)
    or every other patch (interpolation) when ``future`` is False."""
    idx = pos[:, axis]
    n_axis = int(idx.max()) + 1
    if n_axis < 2:
        raise ValueError(f"axis {axis} has a single patch: nothing to predict")
    if future:
        cut = n_axis - max(1, int(round(ratio * n_axis)))
        m = idx >= cut
    else:
        m = idx % 2 == 1
    return m[None].expand(b, -1).clone()


def make_mask(kind: str, b: int, pos: torch.Tensor, g: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    if kind == "random":
        return random_mask(b, pos, ratio, g)
    if kind == "temporal":
        return axis_mask(b, pos, 0, ratio, future=True)
    if kind == "frequency":
        return axis_mask(b, pos, 2, ratio, future=False)
    if kind == "antenna":
        return axis_mask(b, pos, 1, ratio, future=False)
    raise ValueError(f"unknown masking {kind!r}; choose one of {MASKINGS}")
