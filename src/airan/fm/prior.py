"""The classical prior of a prior-conditioned foundation model: the best estimate of the hidden REs that a
model-free method gives from the observed ones, which the network then refines (its output is the prior plus a
learned residual, so an untrained model returns the prior and training can only start from there).

``classical_prior`` fills, in this order,
1. along subcarriers: linear interpolation between the observed REs of the same slot and antenna (edge hold);
2. along antennas: linear interpolation between the filled antennas of the same slot (edge hold);
3. along time: linear interpolation between filled slots, the earliest filled slot held backwards, and the slots
   after the last filled one predicted by PAD (Prony linear prediction in the angular-delay domain,
   ``fm.pad.pad_predict``) when the filled slots are a leading run, else the last filled slot held.

It needs no training data, no covariance and no noise level, so it applies to any array size zero-shot.
``prior_kwargs`` does the same in patch-token space for the model's callers.

A ``prior_denoise`` model (``FMConfig.prior_denoise``, the default of ``airan pretrain --prior``) first denoises
the observed REs with the sample's own covariance along slots, antennas and subcarriers (``subspace_denoise``,
below) and takes its noise level from the same eigenvalues; ``prior_inputs`` is the one entry point. With
``FMConfig.prior_interp="adaptive"`` pilot and band masks are filled by ``fm.wiener.adaptive_interp`` instead of
straight lines (Wiener interpolation with the sample's own delay profile where that predicts better).

How much a refinement should change the prior depends on the noise (at 5 dB SNR smoothing pays, at 30 dB it
costs), so the model also reads ``noise_db``: a per-sample estimate of the noise-to-signal ratio from the
observed REs alone (second differences along subcarriers and along slots, whose curvature is small for a smooth
channel; the smaller of the two, so it is an upper bound on the noise).
"""

from __future__ import annotations

import torch

from airan.fm.pad import pad_predict
from airan.fm.tokenizer import Tokens, detokenize, tokenize


def _interp_last(v: torch.Tensor, have: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Linear interpolation with edge hold along the last axis. v: [..., L] complex; have: [..., L] bool (the
    observed entries). Returns (filled v, rows filled [..., L] bool): rows with no observed entry stay as they
    are and are not marked filled."""
    n = v.shape[-1]
    idx = torch.arange(n, device=v.device).expand_as(have)
    prev = torch.where(have, idx, -1).cummax(dim=-1).values  # latest observed index <= i, -1 if none
    rev = torch.where(have.flip(-1), idx, -1).cummax(dim=-1).values.flip(-1)  # in flipped coordinates
    nxt = torch.where(rev >= 0, n - 1 - rev, n)  # earliest observed index >= i, n if none
    v_prev = torch.gather(v, -1, prev.clamp_min(0))
    v_next = torch.gather(v, -1, nxt.clamp_max(n - 1))
    both = (prev >= 0) & (nxt < n)
    w = torch.where(both, (idx - prev).to(v.real.dtype) / (nxt - prev).clamp_min(1).to(v.real.dtype), 0.0)
    out = torch.where(both, v_prev + w * (v_next - v_prev), torch.where(prev >= 0, v_prev, v_next))
    row = have.any(dim=-1, keepdim=True).expand_as(have)
    return torch.where(row, torch.where(have, v, out), v), row


def classical_prior(y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """y: [B, T, A, S] complex observations (values outside ``known`` are ignored); known: bool broadcastable
    to [B, T, A, S] (True = observed). Returns [B, T, A, S] complex: the observed values where known, the
    classical estimate elsewhere (zero where nothing at all was observed)."""
    if y.dim() != 4 or not torch.is_complex(y):
        raise ValueError(f"expected complex y of shape [B, T, A, S], got {tuple(y.shape)} {y.dtype}")
    have = known.to(torch.bool).expand_as(y)
    v = torch.where(have, y, torch.zeros((), dtype=y.dtype))
    v, have = _interp_last(v, have)  # subcarriers
    v, have = (t.transpose(2, 3) for t in _interp_last(v.transpose(2, 3), have.transpose(2, 3)))  # antennas
    slots = have.any(dim=3).any(dim=2)  # [B, T] filled slots
    vt, ht = _interp_last(v.permute(0, 2, 3, 1), have.permute(0, 2, 3, 1))  # time: interior + edge hold
    v = vt.permute(0, 3, 1, 2)
    n_lead = slots.long().cumprod(dim=1).sum(dim=1)  # [B] leading filled slots
    n_fill = slots.sum(dim=1)
    t = y.shape[1]
    for lead in sorted(set(n_lead.tolist())):
        rows = ((n_lead == lead) & (n_fill == lead)).nonzero().squeeze(1)
        if lead < 1 or lead >= t or len(rows) == 0:
            continue
        k = torch.zeros(t, y.shape[3], dtype=torch.bool)
        k[:lead] = True
        v[rows] = pad_predict(v[rows].cpu(), k).to(v.device, v.dtype)
    return v


# --- subspace denoising of the observed REs -------------------------------------------------------------------
# The observed REs of one sample form a block (slots x antennas x subcarriers) for every mask a task uses (future
# slots, other subcarriers, a pilot comb). A channel with few paths has few significant eigenvalues along each of
# those axes while white noise spreads evenly over all of them, so the sample's own covariance along an axis
# (D x D, from the N = block size / D vectors along it) separates the two: the lower eigenvalues give the noise
# level, and shrinking every eigen-direction by max(0, lambda - noise) / lambda (a Wiener filter with the sample's
# own covariance) removes most of the noise and little of the channel. Needs no training data.

_MP_CACHE: dict[tuple[int, int], float] = {}
_MIN_AXIS = 4  # an axis needs this many entries to estimate the noise from its eigenvalues


def _noise_eig_mean(d: int, n: int) -> float:
    """Mean of the lower half of the eigenvalues of the sample covariance (d x d, from n vectors) of unit-variance
    complex white noise, by a fixed-seed simulation (finite-size Marchenko-Pastur; cached)."""
    key = (d, n)
    if key not in _MP_CACHE:
        draws = int(min(64, max(2, 2**22 // (n * d))))
        g = torch.Generator().manual_seed(0)
        x = torch.complex(torch.randn(draws, n, d, generator=g, dtype=torch.float64),
                          torch.randn(draws, n, d, generator=g, dtype=torch.float64)) / 2**0.5
        ev = torch.linalg.eigvalsh(x.transpose(1, 2) @ x.conj() / n)
        _MP_CACHE[key] = float(ev[:, : max(1, d // 2)].mean())
    return _MP_CACHE[key]


def _axis_cov(x: torch.Tensor, dim: int) -> torch.Tensor:
    """x [b, ...] complex128 -> sample covariance [b, D, D] along ``dim`` (the other axes' entries as vectors)."""
    v = x.movedim(dim, -1)
    v = v.reshape(v.shape[0], -1, v.shape[-1])
    return v.transpose(1, 2) @ v.conj() / v.shape[1]


def subspace_noise_var(x: torch.Tensor) -> torch.Tensor:
    """Per-sample noise variance [b] float64 (absolute, per complex RE) of a fully observed block x [b, T, A, S]
    complex: along each axis with >= 4 entries and at least twice as many vectors, the mean of the lower half
    of the sample covariance's eigenvalues over what white noise alone gives there; the smallest over the axes
    (a channel can fill every eigenvalue of one axis, rarely of all). inf where no axis qualifies."""
    x = x.to(torch.complex128)
    best = torch.full((x.shape[0],), float("inf"), dtype=torch.float64)
    for dim in (1, 2, 3):
        d = x.shape[dim]
        n = x[0].numel() // d
        if d < _MIN_AXIS or n < 2 * d:
            continue
        ev = torch.linalg.eigvalsh(_axis_cov(x, dim))
        best = torch.minimum(best, ev[:, : d // 2].mean(dim=1) / _noise_eig_mean(d, n))
    return best


def _shrink(x: torch.Tensor, dim: int, noise_var: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Wiener-shrink x [b, ...] complex128 along ``dim`` with its own covariance; white noise of variance
    noise_var [b]. Returns (x filtered, the residual noise variance [b] per RE, still white along the other axes)."""
    ev, u = torch.linalg.eigh(_axis_cov(x, dim))
    gain = (ev - noise_var[:, None]).clamp_min(0) / ev.clamp_min(1e-30)  # [b, D]
    w = (u * gain[:, None, :]) @ u.conj().transpose(1, 2)  # [b, D, D]
    v = x.movedim(dim, -1)
    out = (v.reshape(v.shape[0], -1, v.shape[-1]) @ w.transpose(1, 2)).reshape(v.shape).movedim(-1, dim)
    return out, noise_var * (gain**2).sum(dim=1) / gain.shape[1]


def _block(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """(slots, antennas, subcarriers) bool indices when the observed REs mask [T, A, S] are exactly their
    product (a block), else None."""
    t, a, s = mask.any(dim=(1, 2)), mask.any(dim=(0, 2)), mask.any(dim=(0, 1))
    if not mask.any() or not torch.equal(mask, t[:, None, None] & a[None, :, None] & s[None, None, :]):
        return None
    return t, a, s


def subspace_denoise(y: torch.Tensor, known: torch.Tensor,
                     axes: tuple[int, ...] = (1, 2, 3)) -> tuple[torch.Tensor, torch.Tensor]:
    """y [B, T, A, S] complex, known bool broadcastable to it. Returns (y with its observed block denoised along
    slots, antennas and subcarriers in turn (axes of >= 2 entries with at least twice as many vectors), noise
    variance [B] float64 per complex RE estimated by ``subspace_noise_var``): samples whose observed REs are not
    a block, or whose noise cannot be estimated, are returned as they are with noise variance NaN. ``axes``: the
    axes (1 slots, 2 antennas, 3 subcarriers) to shrink, in that order; the noise is estimated from all three."""
    if y.dim() != 4 or not torch.is_complex(y):
        raise ValueError(f"expected complex y of shape [B, T, A, S], got {tuple(y.shape)} {y.dtype}")
    k = known.to(torch.bool).expand_as(y)
    out = y.clone()
    nv_all = torch.full((y.shape[0],), float("nan"), dtype=torch.float64)
    flat = k.reshape(k.shape[0], -1)
    groups: dict[bytes, list[int]] = {}
    for i in range(k.shape[0]):
        groups.setdefault(flat[i].cpu().numpy().tobytes(), []).append(i)
    for members in groups.values():
        blk = _block(k[members[0]].cpu())
        if blk is None:
            continue
        t, a, s = (b.nonzero().squeeze(1) for b in blk)
        rows = torch.tensor(members)
        x = y[rows][:, t][:, :, a][:, :, :, s].to(torch.complex128).cpu()
        nv = subspace_noise_var(x)
        ok = torch.isfinite(nv)
        if not ok.any():
            continue
        x, nv, rows = x[ok], nv[ok], rows[ok]
        nv_all[rows] = nv
        res = nv.clone()
        for dim in axes:
            d = x.shape[dim]
            if d >= 2 and x[0].numel() // d >= 2 * d:
                x, res = _shrink(x, dim, res)
        sub = out[rows]
        sub[:, t[:, None, None], a[None, :, None], s[None, None, :]] = x.to(y.dtype).to(y.device)
        out[rows] = sub
    return out, nv_all


def denoised_interp(y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """The subspace-denoised linear interpolation: y [B, T, A, S] complex, known [T, S] bool -> [B, T, A, S]
    (``classical_prior`` of ``subspace_denoise``; a baseline in ``fm.baselines`` and half of ``fm.wiener``'s
    adaptive interpolation)."""
    k = known[None, :, None, :]
    return classical_prior(subspace_denoise(y, k)[0], k)


NOISE_DB_RANGE = (-40.0, 10.0)  # clamp of the noise estimate [dB relative to the signal power]


def noise_db(y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Per-sample noise-to-signal estimate [B] float32 in dB, i.e. about -SNR (signal = observed power minus the
    noise estimate; clamped to ``NOISE_DB_RANGE``; the upper end when no three consecutive REs are observed on
    either axis). y: [B, T, A, S] complex; known: bool broadcastable to
    y. A second difference d = y[k] - (y[k-1] + y[k+1]) / 2 of white noise of variance v has variance 1.5 v."""
    k = known.to(torch.bool).expand_as(y)
    power = ((y.abs() ** 2) * k).sum(dim=(1, 2, 3)) / k.sum(dim=(1, 2, 3)).clamp_min(1)  # [B]
    best = torch.full((y.shape[0],), float("inf"), dtype=power.dtype, device=y.device)
    for dim in (3, 1):  # subcarriers, slots
        v, m = y.movedim(dim, -1), k.movedim(dim, -1)
        if v.shape[-1] < 3:
            continue
        trip = m[..., :-2] & m[..., 1:-1] & m[..., 2:]
        d2 = (v[..., 1:-1] - (v[..., :-2] + v[..., 2:]) / 2).abs() ** 2
        cnt = trip.sum(dim=(1, 2, 3))
        est = (d2 * trip).sum(dim=(1, 2, 3)) / 1.5 / cnt.clamp_min(1)
        best = torch.where(cnt > 0, torch.minimum(best, est), best)
    lo, hi = NOISE_DB_RANGE
    ratio = best / (power - best).clamp_min(1e-30)  # noise over signal (observed power minus noise)
    out = torch.where(torch.isfinite(ratio), 10 * torch.log10(ratio.clamp_min(1e-30)), torch.full_like(ratio, hi))
    return out.clamp(lo, hi).float()


PRIOR_INTERPS = ("linear", "adaptive")


def _adaptive_groups(k: torch.Tensor) -> list[tuple[list[int], torch.Tensor]]:
    """Samples of k [B, T, A, S] bool that ``fm.wiener.adaptive_interp`` can fill, grouped by mask: the same
    REs observed on every antenna, the same subcarriers (>= 2) in every observed slot, the last slot observed.
    Returns [(sample indices, known [T, S] bool)]."""
    groups: dict[bytes, list[int]] = {}
    for i in range(k.shape[0]):
        groups.setdefault(k[i].cpu().numpy().tobytes(), []).append(i)
    out = []
    for members in groups.values():
        m = k[members[0]].cpu()
        ts = m[:, 0, :]  # [T, S]
        rows, cols = ts.any(dim=1), ts.any(dim=0)
        if (torch.equal(m, ts[:, None, :].expand_as(m)) and bool(rows[-1]) and int(cols.sum()) >= 2
                and torch.equal(ts, rows[:, None] & cols[None, :])):
            out.append((members, ts))
    return out


def prior_inputs(y: torch.Tensor, known: torch.Tensor, denoise: bool = False,
                 interp: str = "linear") -> tuple[torch.Tensor, torch.Tensor]:
    """The classical estimate and the noise level a prior-conditioned model reads. y [B, T, A, S] complex, known
    bool broadcastable to y. Returns (prior [B, T, A, S] complex (``classical_prior``), noise_db [B] float32).

    With ``denoise`` (``FMConfig.prior_denoise``) the noise is estimated from the eigenvalues of the observed
    block (``subspace_noise_var``; the second-difference ``noise_db`` where the observed REs are no block) and
    the block is denoised (``subspace_denoise``) before the interpolation, except for samples whose last slot is
    unobserved: PAD extrapolates the raw slots (on the time task it predicts 1-1.5 dB worse from denoised ones).
    With ``interp="adaptive"`` (``FMConfig.prior_interp``) samples whose observed REs are the same subcarriers in
    every observed slot and on every antenna (pilots, another band) and whose last slot is observed are filled by
    ``fm.wiener.adaptive_interp`` (Wiener with the sample's own delay profile, or the denoised interpolation,
    whichever predicts held-out observed subcarriers better); the others as above."""
    if interp not in PRIOR_INTERPS:
        raise ValueError(f"unknown prior interpolation {interp!r}; choose one of {PRIOR_INTERPS}")
    k = known.to(torch.bool).expand_as(y)
    if not denoise:
        prior, nd = classical_prior(y, known), noise_db(y, known)
    else:
        prior, nd = _denoised_prior(y, k)
    if interp == "adaptive":
        from airan.fm.wiener import adaptive_interp  # fm.wiener builds on this module

        for members, ts in _adaptive_groups(k):
            rows = torch.tensor(members, device=y.device)
            prior[rows] = adaptive_interp(y[rows], ts.to(y.device)).to(prior.dtype)
    return prior, nd


def _denoised_prior(y: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``prior_inputs`` with ``denoise`` and linear interpolation. k: [B, T, A, S] bool."""
    yd, nv = subspace_denoise(y, k)
    extrapolate = ~k[:, -1].any(dim=(1, 2))  # [B] the last slot is to be predicted
    prior = classical_prior(torch.where(extrapolate[:, None, None, None], y, yd), k)
    power = ((y.abs() ** 2) * k).sum(dim=(1, 2, 3)).double() / k.sum(dim=(1, 2, 3)).clamp_min(1)
    ratio = nv / (power - nv).clamp_min(1e-30)
    lo, hi = NOISE_DB_RANGE
    eig_db = (10 * torch.log10(ratio.clamp_min(1e-30))).clamp(lo, hi).float()
    have = torch.isfinite(nv)
    return prior, eig_db if have.all() else torch.where(have, eig_db, noise_db(y, k))


def prior_kwargs(model: torch.nn.Module, x: torch.Tensor, known: torch.Tensor, tok: Tokens) -> dict[str, torch.Tensor]:
    """The keyword arguments a backbone's forward takes for these tokens: ``{"prior": prior tokens [B, N, D]
    float32 in the units of ``x``, "noise_db": [B]}`` (on the model's device; ``prior_inputs``) for a
    prior-conditioned model (``model.cfg.prior``), ``{}`` for any other. x: [B, N, D] float tokens (values
    outside ``known`` are ignored); known: [B, N, D] or [N, D] bool, True where an entry was observed; ``tok``
    gives the grid and the shape."""
    if not getattr(model.cfg, "prior", False):
        return {}
    spec, dev = model.cfg.patch, next(model.parameters()).device
    known = known.expand_as(x)
    y = detokenize(x.float().cpu() * known.cpu(), tok, spec, rescale=False)  # [B, T, A, S] complex
    k = detokenize(known.float().cpu(), tok, spec, rescale=False).real > 0.5  # [B, T, A, S] observed
    prior, nd = prior_inputs(y, k, denoise=bool(getattr(model.cfg, "prior_denoise", False)),
                             interp=getattr(model.cfg, "prior_interp", "linear"))
    return {"prior": tokenize(prior, spec, normalize=False).x.to(dev), "noise_db": nd.to(dev)}
