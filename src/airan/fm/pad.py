"""Model-based channel predictors in the angular-delay domain: PAD (Prony-based angular-delay prediction) and a
per-coefficient Kalman filter. Both are pure functions with the harness's baseline signature
``fn(y [B, T, A, S] complex, known [T, S] bool) -> estimate [B, T, A, S] complex``: the leading fully known
slots are the observations, every later slot is predicted, the observed slots are returned as they are.

The angular-delay transform of a slot H [A, S] is G = F_A H F_S^H (a unitary DFT over the antennas and a
unitary inverse DFT over the subcarriers): a channel of a few paths concentrates in a few (angle, delay) bins,
each of which evolves in time as a sum of few complex exponentials (Doppler), so each bin can be extrapolated
by linear prediction. The transform is unitary, so white noise stays white with the same variance per bin.
"""

from __future__ import annotations

import torch


def to_angular_delay(h: torch.Tensor) -> torch.Tensor:
    """[..., A, S] complex space-frequency CSI -> [..., A, S] complex angular-delay coefficients (unitary)."""
    return torch.fft.ifft(torch.fft.fft(h, dim=-2, norm="ortho"), dim=-1, norm="ortho")


def from_angular_delay(g: torch.Tensor) -> torch.Tensor:
    """Inverse of ``to_angular_delay``: [..., A, S] complex -> [..., A, S] complex."""
    return torch.fft.ifft(torch.fft.fft(g, dim=-1, norm="ortho"), dim=-2, norm="ortho")


def observed_slots(known: torch.Tensor, t: int) -> int:
    """Number of leading slots of ``known`` [T, S] bool that are fully observed (the prediction context)."""
    if known.dim() != 2 or known.shape[0] != t:
        raise ValueError(f"known must be [T={t}, S] bool, got shape {tuple(known.shape)}")
    full = known.all(dim=1)
    n = int(full.long().cumprod(0).sum())
    if n == 0:
        raise ValueError("known has no fully observed leading slot: nothing to predict from")
    return n


def _strongest(g_obs: torch.Tensor, energy: float) -> torch.Tensor:
    """[B, A, S] bool: per sample, the fewest bins holding ``energy`` of the observed power.
    g_obs: [B, T_obs, A, S] complex angular-delay coefficients."""
    p = g_obs.abs().pow(2).sum(1).flatten(1)  # [B, A*S]
    val, order = p.sort(dim=1, descending=True)
    cum = val.cumsum(1) / val.sum(1, keepdim=True).clamp_min(1e-30)
    n_keep = (cum < energy).sum(1) + 1  # [B]
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(order.shape[1]).expand_as(order))
    return (rank < n_keep[:, None]).reshape(g_obs.shape[0], *g_obs.shape[2:])


def lp_coefficients(x: torch.Tensor, order: int, ridge: float = 1e-9) -> torch.Tensor:
    """Least-squares forward linear prediction (Prony's annihilating filter) per sequence.

    x: [M, L] complex sequences -> c: [M, order] complex with x[l] ~ sum_k c[k] x[l - 1 - k], fitted on
    l = order..L-1 with a ridge of ``ridge`` times the mean diagonal of the normal matrix."""
    m, n = x.shape
    if n - order < 1:
        raise ValueError(f"order {order} needs more than {order} observed slots, got {n}")
    # rows l = order..n-1; column k holds x[l - 1 - k]: [M, n - order, order]
    cols = torch.stack([x[:, order - 1 - k : n - 1 - k] for k in range(order)], dim=-1)
    tgt = x[:, order:]  # [M, n - order]
    gram = cols.conj().transpose(1, 2) @ cols  # [M, order, order]
    lam = ridge * gram.diagonal(dim1=1, dim2=2).real.mean(1).clamp_min(1e-30)  # [M]
    gram = gram + lam[:, None, None] * torch.eye(order, dtype=x.dtype)
    rhs = cols.conj().transpose(1, 2) @ tgt[..., None]  # [M, order, 1]
    return torch.linalg.solve(gram, rhs)[..., 0]


def pad_predict(y: torch.Tensor, known: torch.Tensor, order: int = 2, energy: float = 0.99) -> torch.Tensor:
    """PAD channel prediction. y: [B, T, A, S] complex (noisy observations); known: [T, S] bool.

    Each slot goes to the angular-delay domain; the strongest bins (holding ``energy`` of the observed
    power, per sample) are extrapolated with an ``order``-tap least-squares linear predictor fitted on the
    observed slots (the order is reduced when there are too few slots), the other bins are predicted as zero
    (noise); the result is transformed back. Returns [B, T, A, S] complex; slots before the first hidden one
    are copied from ``y``. The predicted magnitude of each bin is capped at twice its largest observed one, so an
    unstable fitted filter cannot blow up."""
    if y.dim() != 4 or not torch.is_complex(y):
        raise ValueError(f"expected complex y of shape [B, T, A, S], got {tuple(y.shape)} {y.dtype}")
    if order < 1 or not 0 < energy <= 1:
        raise ValueError(f"order must be >= 1 and energy in (0, 1], got order={order!r}, energy={energy!r}")
    b, t, a, s = y.shape
    t_obs = observed_slots(known, t)
    out = y.clone()
    if t_obs == t:
        return out
    g = to_angular_delay(y[:, :t_obs].to(torch.complex128))  # [B, T_obs, A, S]
    keep = _strongest(g, energy)  # [B, A, S]
    p = max(1, min(order, t_obs // 2))
    seq = g.permute(0, 2, 3, 1)[keep]  # [M, T_obs] kept bins
    fut = torch.zeros(b, a, s, t - t_obs, dtype=g.dtype)
    if t_obs <= p:  # a single observed slot: hold it
        fut[keep] = seq[:, -1:].expand(-1, t - t_obs)
    else:
        c = lp_coefficients(seq, p)  # [M, p]
        cap = 2 * seq.abs().amax(1)  # [M]
        hist = seq
        for k in range(t - t_obs):
            nxt = (c * hist[:, -p:].flip(1)).sum(1)  # x[l] = sum_k c[k] x[l-1-k]
            mag = nxt.abs()
            nxt = torch.where(mag > cap, nxt * cap / mag.clamp_min(1e-30), nxt)
            fut[keep, k] = nxt
            hist = torch.cat([hist, nxt[:, None]], 1)
    out[:, t_obs:] = from_angular_delay(fut.permute(0, 3, 1, 2)).to(y.dtype)
    return out


def kalman_predict(y: torch.Tensor, known: torch.Tensor, snr_db: float | None = None,
                   noise_quantile: float = 0.25) -> torch.Tensor:
    """Kalman prediction with a per-coefficient AR(1) state model in the angular-delay domain.

    y: [B, T, A, S] complex observations; known: [T, S] bool (leading fully known slots are observed).
    Model per coefficient: x[t] = rho x[t-1] + w, w ~ CN(0, q); y[t] = x[t] + v, v ~ CN(0, r). The measurement
    noise r is P_y / (1 + SNR) with P_y the observed power per RE when ``snr_db`` [dB] is given, else the mean
    power of the weakest ``noise_quantile`` of the bins (the noise floor of a sparse channel). Per coefficient,
    P_x = max(E|y|^2 - r, small), rho = E[y[t] y[t-1]*] / P_x (complex, |rho| <= 1), q = (1 - |rho|^2) P_x.
    The filter runs over the observed slots, then predicts x[t] = rho^k x_filtered. Returns [B, T, A, S]."""
    if y.dim() != 4 or not torch.is_complex(y):
        raise ValueError(f"expected complex y of shape [B, T, A, S], got {tuple(y.shape)} {y.dtype}")
    if not 0 < noise_quantile < 1:
        raise ValueError(f"noise_quantile must be in (0, 1), got {noise_quantile!r}")
    b, t, a, s = y.shape
    t_obs = observed_slots(known, t)
    out = y.clone()
    if t_obs == t:
        return out
    g = to_angular_delay(y[:, :t_obs].to(torch.complex128))  # [B, T_obs, A, S]
    pw = g.abs().pow(2)  # [B, T_obs, A, S]
    p_bin = pw.mean(1)  # [B, A, S]
    if snr_db is not None:
        r = pw.mean(dim=(1, 2, 3)) / (1 + 10 ** (snr_db / 10))  # [B]
    else:
        flat = p_bin.flatten(1).sort(dim=1).values
        k = max(1, int(noise_quantile * flat.shape[1]))
        r = flat[:, :k].mean(1)
    r = r[:, None, None].clamp_min(1e-30)  # [B, 1, 1]
    p_x = (p_bin - r).clamp_min(1e-3 * r)  # [B, A, S]
    if t_obs > 1:
        c1 = (g[:, 1:] * g[:, :-1].conj()).mean(1)  # [B, A, S]
        rho = c1 / p_x
        rho = torch.where(rho.abs() > 1, rho / rho.abs(), rho)
    else:
        rho = torch.ones_like(p_x, dtype=g.dtype)
    q = (1 - rho.abs() ** 2) * p_x
    x, pv = torch.zeros_like(g[:, 0]), p_x.clone()  # prior: mean 0, variance P_x
    for k in range(t_obs):
        if k > 0:
            x, pv = rho * x, rho.abs() ** 2 * pv + q
        gain = pv / (pv + r)
        x, pv = x + gain * (g[:, k] - x), (1 - gain) * pv
    fut = []
    for _ in range(t - t_obs):
        x = rho * x
        fut.append(x)
    out[:, t_obs:] = from_angular_delay(torch.stack(fut, 1)).to(y.dtype)
    return out
