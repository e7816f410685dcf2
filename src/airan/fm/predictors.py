"""Learned channel-prediction baselines trained in the harness on the same training split: GRU, LSTM,
Transformer (causal, one token per slot) and MLP. Inputs are unit-power CSI [B, T, A, S] complex; a slot is
flattened to 2*A*S reals. The recurrent and Transformer predictors learn one-step prediction with teacher
forcing and roll out autoregressively; the MLP maps the observed slots to the predicted ones directly."""

from __future__ import annotations

import torch
from torch import nn

KINDS = ("GRU", "LSTM", "Transformer", "MLP")


def _flat(h: torch.Tensor) -> torch.Tensor:
    b, t = h.shape[:2]
    return torch.view_as_real(h).reshape(b, t, -1)  # [B, T, 2AS]


def _unflat(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    b, t = x.shape[:2]
    return torch.view_as_complex(x.reshape(b, t, *shape[2:], 2).contiguous())


class SeqPredictor(nn.Module):
    def __init__(self, kind: str, dim: int, hidden: int = 128, t_in: int = 0, t_out: int = 0) -> None:
        super().__init__()
        self.kind, self.t_in, self.t_out = kind, t_in, t_out
        if kind in ("GRU", "LSTM"):
            self.rnn = getattr(nn, kind)(dim, hidden, batch_first=True)
            self.out = nn.Linear(hidden, dim)
        elif kind == "Transformer":
            self.inp = nn.Linear(dim, hidden)
            self.pos = nn.Parameter(torch.zeros(256, hidden))
            layer = nn.TransformerEncoderLayer(hidden, 4, 2 * hidden, 0.0, batch_first=True, norm_first=True)
            self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.out = nn.Linear(hidden, dim)
        elif kind == "MLP":
            self.mlp = nn.Sequential(nn.Linear(t_in * dim, 4 * hidden), nn.GELU(), nn.Linear(4 * hidden, t_out * dim))
        else:
            raise ValueError(f"unknown predictor {kind!r}; choose one of {KINDS}")

    def step(self, x: torch.Tensor) -> torch.Tensor:
        """One-step predictions for every prefix: x [B, L, D] -> [B, L, D] (output l predicts slot l+1)."""
        if self.kind in ("GRU", "LSTM"):
            return x + self.out(self.rnn(x)[0])
        n = x.shape[1]
        causal = torch.triu(torch.full((n, n), float("-inf")), diagonal=1)
        z = self.enc(self.inp(x) + self.pos[:n], mask=causal)
        return x + self.out(z)

    def loss(self, h: torch.Tensor) -> torch.Tensor:
        x = _flat(h)
        if self.kind == "MLP":
            pred = self.mlp(x[:, : self.t_in].flatten(1))
            tgt = x[:, self.t_in : self.t_in + self.t_out].flatten(1)
            return ((pred - tgt) ** 2).mean() / (tgt**2).mean().clamp_min(1e-12)
        pred = self.step(x[:, :-1])
        return ((pred - x[:, 1:]) ** 2).mean() / (x[:, 1:] ** 2).mean().clamp_min(1e-12)

    @torch.no_grad()
    def predict(self, y: torch.Tensor, t_in: int) -> torch.Tensor:
        """Fill slots t_in.. of y [B, T, A, S] from its first t_in slots."""
        x = _flat(y)[:, :t_in]
        t = y.shape[1]
        if self.kind == "MLP":
            out = self.mlp(x.flatten(1)).reshape(x.shape[0], self.t_out, -1)
            full = torch.cat([x, out], 1)[:, :t]
        else:
            full = x
            while full.shape[1] < t:
                full = torch.cat([full, self.step(full)[:, -1:]], 1)
        return _unflat(full, tuple(y.shape))


def train_predictor(kind: str, h: torch.Tensor, t_in: int, steps: int = 150, lr: float = 2e-3,
                    batch: int = 32, seed: int = 0) -> SeqPredictor:
    """Train on unit-power training channels h [N, T, A, S] complex."""
    torch.manual_seed(seed)
    t = h.shape[1]
    model = SeqPredictor(kind, 2 * h.shape[2] * h.shape[3], t_in=t_in, t_out=t - t_in)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, h.shape[0], (min(batch, h.shape[0]),), generator=g)
        loss = model.loss(h[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()
