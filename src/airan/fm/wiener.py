"""Wiener interpolation over subcarriers with the sample's own power delay profile (a robust-Wiener estimator).

Linear interpolation between observed subcarriers is exact only for a channel that is flat between them; with
pilots every D subcarriers it fails once the delay spread is a sizeable fraction of 1 / (D * subcarrier spacing)
(hetero h04, UMa NLoS at 60 kHz: 3 dB worse than LMMSE). LMMSE fixes that with a frequency covariance from
training channels; this estimator gets one from the sample itself:

1. the observed block (slots x antennas x observed subcarriers) is denoised along slots and antennas with its own
   covariance (``fm.prior.subspace_denoise``'s shrinkage; noise level from ``subspace_noise_var``);
2. the frequency correlation r(l) = E[h(k + l) h(k)^*] is averaged over the observed slots, antennas and every
   pair of observed subcarriers l apart, and the residual noise is taken off r(0);
3. a non-negative delay profile on a circular grid of delays is fitted to r by NNLS (``scipy.optimize.nnls``):
   r(l) = sum_g p_g exp(-j 2 pi l tau_g), tau in cycles per subcarrier over one period 1 / gcd(pilot spacings);
4. the circle is cut in the middle of the profile's widest gap, which places negative delays (timing offsets)
   before the main paths instead of aliasing them to the end of the window;
5. every subcarrier is estimated from the observed ones with the model covariance:
   h = R[:, p] (R[p, p] + sigma^2 I)^-1 y_p per slot and antenna.

Needs no training data, no covariance and no noise level. Where the delay spread exceeds the window the pilots
allow (hetero h06, 60 GHz at 360 kHz spacing), no model-free interpolation can resolve it and a covariance from
training channels (LMMSE) does better.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import nnls

from airan.fm.prior import _axis_cov, _shrink, classical_prior, denoised_interp, subspace_noise_var

OVERSAMPLE = 2  # delay grid points per resolvable delay bin (1 / number of subcarriers in the period)
GAP_SCALE = 1 / 16  # decay length of the kernel that smooths the profile before cutting, as a fraction of G


def _lag_table(pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """pos [P] int subcarrier indices -> (lags [L] int, averaging matrix [L, P*P] float64) with
    r[l] = avg[l] @ vec(C) the mean of C[i, j] over the pairs with pos[i] - pos[j] == lags[l] >= 0."""
    d = np.subtract.outer(pos, pos).ravel()  # [P*P] pos_i - pos_j
    lags = np.unique(d[d >= 0])
    avg = (d[None, :] == lags[:, None]).astype(np.float64)
    return lags, avg / avg.sum(axis=1, keepdims=True)


def fit_delay_profile(r: np.ndarray, lags: np.ndarray, period: int, num_subcarriers: int,
                      oversample: int = OVERSAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative power delay profile that fits the frequency correlation.

    r: [L] complex, r[l] = E[h(k + lags[l]) h(k)^*] (noise removed from lag 0); lags: [L] int >= 0; period: the
    gcd of the observed subcarriers' spacings (delays are ambiguous modulo 1 / period). Returns (tau [G] float64,
    delays in cycles per subcarrier, i.e. delay [s] times the subcarrier spacing [Hz], cut in the profile's widest
    gap so the window is [tau[0], tau[0] + 1 / period) and holds delay 0; p [G] float64 >= 0, the power of each
    delay)."""
    g = max(1, math.ceil(num_subcarriers / period)) * oversample
    tau0 = np.arange(g) / (g * period)  # [G] circular grid over [0, 1 / period)
    ph = np.exp(-2j * np.pi * np.outer(lags, tau0))  # [L, G]
    p, _ = nnls(np.vstack([ph.real, ph.imag]), np.concatenate([r.real, r.imag]))
    # cut in the middle of the widest gap: where the profile smoothed by a circular exponential kernel (scale
    # GAP_SCALE of the circle) is smallest; the fit leaks a little power into every gap, so no hard threshold
    d = np.abs(np.subtract.outer(np.arange(g), np.arange(g)))
    kernel = np.exp(-np.minimum(d, g - d) / max(1.0, GAP_SCALE * g))  # [G, G]
    cut = int(np.argmin(kernel @ p))
    # the window always holds delay 0: [tau0[cut] - 1 / period, tau0[cut]), or [0, 1 / period) for cut 0
    tau = np.roll(np.where((np.arange(g) >= cut) & (cut > 0), tau0 - 1 / period, tau0), -cut)
    return tau, np.roll(p, -cut)


def wiener_interp(y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """y [B, T, A, S] complex noisy observations; known [T, S] bool, the observed (slot, subcarrier) REs, the same
    subcarriers in every observed slot. Returns [B, T, A, S] complex (y's dtype): every subcarrier of the observed
    slots Wiener-interpolated from the observed ones (observed REs are smoothed too); unobserved slots, if any,
    filled by ``fm.prior.classical_prior``."""
    if y.dim() != 4 or not torch.is_complex(y):
        raise ValueError(f"expected complex y of shape [B, T, A, S], got {tuple(y.shape)} {y.dtype}")
    if tuple(known.shape) != (y.shape[1], y.shape[3]):
        raise ValueError(f"known must be [T, S] = {(y.shape[1], y.shape[3])}, got {tuple(known.shape)}")
    rows, cols = known.any(dim=1), known.any(dim=0)
    if not torch.equal(known, rows[:, None] & cols[None, :]):
        raise ValueError("wiener_interp needs the same observed subcarriers in every observed slot")
    t_idx, pos = rows.nonzero().squeeze(1), cols.nonzero().squeeze(1).numpy()
    if len(pos) < 2:
        raise ValueError(f"wiener_interp needs >= 2 observed subcarriers, got {len(pos)}")
    s = y.shape[3]
    x = y[:, t_idx][..., torch.from_numpy(pos)].to(torch.complex128)  # [B, Tk, A, P]
    nv = subspace_noise_var(x)
    nv = torch.where(torch.isfinite(nv), nv, torch.zeros_like(nv))  # too small to estimate: the NNLS floor only
    res = nv.clone()
    for dim in (1, 2):  # slots, antennas
        d = x.shape[dim]
        if d >= 2 and x[0].numel() // d >= 2 * d:
            x, res = _shrink(x, dim, res)
    lags, avg = _lag_table(pos)
    r = (_axis_cov(x, 3).reshape(x.shape[0], -1) @ torch.from_numpy(avg.T).to(torch.complex128)).numpy()  # [B, L]
    period = int(np.gcd.reduce(np.diff(pos)))
    diff = np.subtract.outer(np.arange(s), pos)  # [S, P] subcarrier offsets k - p
    out = torch.empty(x.shape[:3] + (s,), dtype=torch.complex128)  # [B, Tk, A, S]
    for b in range(x.shape[0]):
        rb = r[b].copy()
        rb[lags == 0] -= float(res[b])
        tau, p = fit_delay_profile(rb, lags, period, s)
        # model correlation at every offset -(S-1)..S-1, then the [S, P] covariance of all with the observed
        r_d = np.exp(-2j * np.pi * np.outer(np.arange(1 - s, s), tau)) @ p  # [2S - 1]
        r_sp = r_d[diff + s - 1]
        r_pp = r_sp[pos] + max(float(res[b]), 1e-6 * max(float(p.sum()), 1e-12)) * np.eye(len(pos))
        w = np.linalg.solve(r_pp.T, r_sp.T)  # [P, S]: estimate = x_p @ w
        out[b] = x[b] @ torch.from_numpy(w)
    full = torch.zeros_like(y)
    full[:, t_idx] = out.to(y.dtype)
    if bool(rows.all()):
        return full
    return classical_prior(full, rows[None, :, None, None].expand_as(y))


def adaptive_interp(y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """y [B, T, A, S] complex, known [T, S] bool (the same subcarriers in every observed slot). Per sample,
    ``wiener_interp`` or the subspace-denoised linear interpolation (``fm.prior.denoised_interp``): both
    re-estimate every 4th run of consecutive observed subcarriers (runs 2, 6, 10, ...) from the remaining ones,
    and the one closer to those observations (squared error summed over them) is applied to the whole sample.
    With fewer than three runs, the denoised interpolation."""
    cols = known.any(dim=0).nonzero().squeeze(1).tolist()
    runs: list[list[int]] = []
    for c in cols:
        if runs and c == runs[-1][-1] + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    # every 4th run, not every other: the rest keep the pilot spacing (gcd), so the Wiener filter's delay window
    # under test is the one it will use (at twice the spacing a dispersive channel aliases and the test misleads)
    held = [c for i, r in enumerate(runs) if i % 4 == 2 for c in r]
    dn = denoised_interp(y, known)
    if not held or len(cols) - len(held) < 2:
        return dn
    rest = known.clone()
    rest[:, held] = False
    probe = torch.zeros(known.shape, dtype=torch.bool)
    probe[:, held] = known[:, held]  # [T, S] the held-out observed REs
    w = probe[None, :, None, :]

    def err(est: torch.Tensor) -> torch.Tensor:  # [B] squared error summed over the held-out REs
        return ((est - y).abs() ** 2 * w).sum(dim=(1, 2, 3))

    pick = err(wiener_interp(y, rest)) < err(denoised_interp(y, rest))  # [B]
    return torch.where(pick[:, None, None, None], wiener_interp(y, known), dn)
