"""LoRA (low-rank adaptation) for the backbone's linear maps, as a weight parametrization.

Each adapted weight W [out, in] is read as W + (alpha / rank) * B @ A with A [rank, in] (small random) and
B [out, rank] (zeros), so an adapted model starts exactly where the pretrained one was and only A and B train.
Adapted weights: every ``nn.Linear.weight`` (MLP layers, attention output projections, embeddings) and every
``nn.MultiheadAttention.in_proj_weight`` (the packed q/k/v projection, which PyTorch reads as a raw parameter
rather than through a Linear, so wrapping modules would miss it). Because ``torch.nn.utils.parametrize``
recomputes the weight on every read, the functional attention path and the fused inference path of
``nn.TransformerEncoderLayer`` both see the adapted weight. ``merge_lora`` folds B @ A into W and removes the
parametrization, leaving a plain model with the same outputs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

from airan.core.errors import ConfigError


@dataclass(frozen=True)
class LoraConfig:
    rank: int = 8
    alpha: float = 16.0

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ConfigError(f"LoRA rank must be >= 1, got {self.rank!r}")
        if not self.alpha > 0:
            raise ConfigError(f"LoRA alpha must be > 0, got {self.alpha!r}")

    @property
    def scale(self) -> float:
        return self.alpha / self.rank


class LoraDelta(nn.Module):
    """The parametrization W -> W + scale * B @ A for one weight W [out, in] float32."""

    def __init__(self, out_features: int, in_features: int, cfg: LoraConfig) -> None:
        super().__init__()
        r = min(cfg.rank, out_features, in_features)
        self.lora_a = nn.Parameter(torch.empty(r, in_features))
        self.lora_b = nn.Parameter(torch.zeros(out_features, r))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.scale = cfg.alpha / r

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w + self.scale * (self.lora_b @ self.lora_a).to(w.dtype)


def _targets(model: nn.Module) -> list[tuple[nn.Module, str]]:
    out = []
    for m in model.modules():
        if isinstance(m, nn.MultiheadAttention) and m.in_proj_weight is not None:
            out.append((m, "in_proj_weight"))
        elif isinstance(m, nn.Linear):
            out.append((m, "weight"))
    return out


def apply_lora(model: nn.Module, rank: int = 8, alpha: float = 16.0) -> int:
    """Freeze every parameter of ``model`` and add trainable LoRA factors to its linear weights (in place).
    Returns the number of trainable LoRA parameters added. Raises ConfigError when ``model`` has no linear
    weights or is already adapted."""
    cfg = LoraConfig(rank, alpha)
    targets = _targets(model)
    if not targets:
        raise ConfigError(f"{type(model).__name__} has no nn.Linear or nn.MultiheadAttention weights to adapt")
    if any(parametrize.is_parametrized(m, name) for m, name in targets):
        raise ConfigError(f"{type(model).__name__} already carries LoRA parametrizations; merge_lora first")
    for p in model.parameters():
        p.requires_grad_(False)
    added = 0
    for m, name in targets:
        w = getattr(m, name)
        delta = LoraDelta(w.shape[0], w.shape[1], cfg).to(w.device)
        parametrize.register_parametrization(m, name, delta)
        getattr(m.parametrizations, name).original.requires_grad_(False)
        added += sum(p.numel() for p in delta.parameters())
    return added


def lora_parameters(model: nn.Module) -> Iterator[nn.Parameter]:
    """The LoRA factors (A, B) of every adapted weight in ``model``."""
    for m in model.modules():
        if isinstance(m, LoraDelta):
            yield m.lora_a
            yield m.lora_b


def merge_lora(model: nn.Module) -> int:
    """Fold every LoRA delta into its base weight and remove the parametrizations (in place); the merged weights
    keep the base weight's ``requires_grad``. Returns how many weights were merged."""
    merged = 0
    for m in list(model.modules()):
        if not parametrize.is_parametrized(m):
            continue
        for name in list(m.parametrizations.keys()):
            if any(isinstance(p, LoraDelta) for p in m.parametrizations[name]):
                parametrize.remove_parametrizations(m, name, leave_parametrized=True)
                merged += 1
    return merged


def count_params(model: nn.Module) -> tuple[int, int]:
    """(all parameters, trainable parameters) of ``model``; shared parameters are counted once."""
    params = list(model.parameters())
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)
