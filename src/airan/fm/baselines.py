"""Classical baselines in the same harness as the foundation model. All take noisy observations and return a
full [B, T, A, S] complex estimate; ``known`` [T, S] bool marks the (slot, subcarrier) REs that were observed.

- ``last_slot``: channel prediction without prediction: repeat the last observed slot.
- ``ar1``: per (antenna, subcarrier) AR(1) predictor h[t+1] = rho h[t], rho fitted by least squares on the
  observed slots (a one-tap Kalman-style predictor).
- ``linear_interp``: linear interpolation (and edge hold) over subcarriers from the observed ones, per slot.
- ``denoised_interp``: the observed block denoised with the sample's own covariance along slots, antennas and
  subcarriers (``fm.prior.subspace_denoise``; noise level from its eigenvalues), then linearly interpolated
  (``fm.prior.classical_prior``). Needs no training data and no noise level: the classical half of a
  ``prior_denoise`` foundation model.
- ``wiener_interp``: Wiener interpolation over subcarriers with the sample's own fitted power delay profile
  (``fm.wiener``); beats linear interpolation where the delay spread is large for the pilot spacing.
- ``adaptive_interp``: per sample, whichever of ``wiener_interp`` and ``denoised_interp`` better predicts every
  4th run of observed subcarriers from the rest (cross-validation on the sample's own observations).
- ``lmmse``: frequency-domain LMMSE from pilot subcarriers with the sample covariance R [S, S] of training
  channels: h = R[:, p] (R[p, p] + sigma^2 I)^-1 y_p per slot and antenna.
"""

from __future__ import annotations

import numpy as np
import torch

from airan.fm.pad import kalman_predict, pad_predict
from airan.fm.prior import denoised_interp
from airan.fm.wiener import adaptive_interp, wiener_interp


def last_slot(y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    t_obs = int(known.any(dim=1).nonzero().max()) + 1
    out = y.clone()
    out[:, t_obs:] = y[:, t_obs - 1 : t_obs]
    return out


def ar1(y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    t_obs = int(known.any(dim=1).nonzero().max()) + 1
    out = y.clone()
    if t_obs < 2:
        return last_slot(y, known)
    prev, nxt = y[:, : t_obs - 1], y[:, 1:t_obs]
    rho = (nxt * prev.conj()).sum(1) / (prev.abs() ** 2).sum(1).clamp_min(1e-30)  # [B, A, S]
    cur = y[:, t_obs - 1]
    for t in range(t_obs, y.shape[1]):
        cur = rho * cur
        out[:, t] = cur
    return out


def linear_interp(y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    cols = known.any(dim=0).nonzero().squeeze(1).numpy()
    s = y.shape[-1]
    yn = y.numpy()
    out = np.empty_like(yn)
    grid = np.arange(s)
    flat = yn[..., cols].reshape(-1, len(cols))
    res = np.empty((flat.shape[0], s), dtype=yn.dtype)
    for i in range(flat.shape[0]):
        res[i] = np.interp(grid, cols, flat[i].real) + 1j * np.interp(grid, cols, flat[i].imag)
    out[:] = res.reshape(*yn.shape[:-1], s)
    return torch.from_numpy(out)


def sample_covariance(h: torch.Tensor) -> torch.Tensor:
    """Frequency covariance [S, S] complex of unit-power channels h [B, T, A, S] (averaged over B, T, A)."""
    v = h.reshape(-1, h.shape[-1])
    return (v.T @ v.conj()) / v.shape[0]


def lmmse(y: torch.Tensor, known: torch.Tensor, cov: torch.Tensor, noise_var: float) -> torch.Tensor:
    p = known.any(dim=0).nonzero().squeeze(1)
    r_pp = cov[p][:, p] + noise_var * torch.eye(len(p), dtype=cov.dtype)
    w = cov[:, p] @ torch.linalg.inv(r_pp)  # [S, P]
    return torch.einsum("sp,btap->btas", w, y[..., p])


DENOISED = "subspace-denoised interpolation"
WIENER = "Wiener (fitted delay profile)"
ADAPTIVE = "adaptive: Wiener or denoised (cross-validated)"
BASELINES = {"time": {"no-prediction (last slot)": last_slot, "AR(1) least squares": ar1,
                      "PAD (Prony, angular-delay)": pad_predict, "Kalman (AR(1), angular-delay)": kalman_predict},
             "freq": {"linear interpolation": linear_interp, DENOISED: denoised_interp, WIENER: wiener_interp,
                      ADAPTIVE: adaptive_interp}}
