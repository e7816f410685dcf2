import numpy as np
import pytest
import torch

from airan.fm.baselines import adaptive_interp, denoised_interp, linear_interp
from airan.fm.bench import known_mask, nmse_db
from airan.fm.wiener import fit_delay_profile, wiener_interp


def multipath(delays: list[float], b: int = 2, t: int = 8, a: int = 4, s: int = 64, seed: int = 0) -> torch.Tensor:
    """[b, t, a, s] complex64: paths at ``delays`` [cycles per subcarrier] with independent Rayleigh gains per
    (sample, slot, antenna) and equal power; unit mean power."""
    g = np.random.default_rng(seed)
    amp = (g.standard_normal((b, t, a, len(delays))) + 1j * g.standard_normal((b, t, a, len(delays)))) / np.sqrt(
        2 * len(delays))
    steer = np.exp(-2j * np.pi * np.outer(np.arange(s), delays))  # [s, paths]
    return torch.from_numpy(amp @ steer.T).to(torch.complex64)


def noisy(h: torch.Tensor, snr_db: float, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    n = torch.randn(h.shape, generator=g, dtype=torch.complex64) * 10 ** (-snr_db / 20)
    return h + n


def test_fit_delay_profile_finds_a_single_path():
    lags = np.arange(16) * 4  # comb pilots every 4th subcarrier
    tau0 = 0.1  # inside the unambiguous window of 1 / 4 cycles per subcarrier
    tau, p = fit_delay_profile(np.exp(-2j * np.pi * lags * tau0), lags, period=4, num_subcarriers=64)
    assert np.all(np.diff(tau) > 0) and tau[-1] - tau[0] < 0.25 and tau[0] <= 0 <= tau[-1]  # window holds 0
    assert np.all(p >= 0) and abs(tau[np.argmax(p)] - tau0) <= 1 / 128 + 1e-12  # nearest grid point (oversample 2)
    # on a grid point the fit is exact: all the power in that one delay
    tau, p = fit_delay_profile(np.exp(-2j * np.pi * lags * 13 / 128), lags, period=4, num_subcarriers=64)
    assert p.max() == pytest.approx(1.0, rel=1e-6) and p.sum() == pytest.approx(1.0, rel=1e-6)
    assert tau[np.argmax(p)] == pytest.approx(13 / 128)


def test_wiener_interpolates_a_dispersive_channel_that_linear_interpolation_cannot():
    h = multipath([0.0, 0.04, 0.09, 0.15])  # delay spread ~0.6 of the comb's window
    known = known_mask("estimation", 8, 64)
    y = noisy(h, 30.0)
    hidden = torch.ones_like(known)
    wiener = nmse_db(wiener_interp(y, known), h, hidden)
    assert wiener < -20.0
    assert wiener < nmse_db(linear_interp(y, known), h, hidden) - 10.0
    assert wiener < nmse_db(denoised_interp(y, known), h, hidden) - 10.0


def test_wiener_places_negative_delays_before_the_main_path():
    # a timing offset: one path slightly before delay 0 (it wraps to the end of [0, 1/4) if the window is not cut)
    h = multipath([-0.03, 0.0, 0.05], seed=3)
    known = known_mask("estimation", 8, 64)
    est = wiener_interp(noisy(h, 30.0), known)
    assert nmse_db(est, h, torch.ones_like(known)) < -20.0


def test_wiener_on_the_frequency_mask_and_unobserved_slots():
    h = multipath([0.0, 0.02, 0.05], s=32, seed=4)
    known = known_mask("freq", 8, 32)  # every other patch of 4 subcarriers hidden
    y = noisy(h, 30.0)
    est = wiener_interp(y, known)
    assert est.shape == h.shape and est.dtype == h.dtype
    # 4-subcarrier gaps (one of them extrapolated at the band edge) on a channel that turns 1.3 rad over 4
    # subcarriers: the fitted profile interpolates where straight lines cannot
    assert nmse_db(est, h, ~known) < nmse_db(linear_interp(y, known), h, ~known) - 3.0
    known2 = known.clone()
    known2[6:] = False  # the last two slots unobserved: filled by the classical prior, not left at zero
    est2 = wiener_interp(noisy(h, 30.0), known2)
    assert bool((est2[:, 6:].abs() > 0).all())


def test_wiener_rejects_bad_input():
    y = multipath([0.0])
    with pytest.raises(ValueError, match="complex"):
        wiener_interp(y.real, known_mask("estimation", 8, 64))
    with pytest.raises(ValueError, match=r"\(8, 64\)"):
        wiener_interp(y, torch.ones(8, 32, dtype=torch.bool))
    ragged = known_mask("estimation", 8, 64)
    ragged[0, 1] = True  # one slot with an extra subcarrier: not the same subcarriers in every slot
    with pytest.raises(ValueError, match="same observed subcarriers"):
        wiener_interp(y, ragged)
    one = torch.zeros(8, 64, dtype=torch.bool)
    one[:, 5] = True
    with pytest.raises(ValueError, match=">= 2 observed subcarriers, got 1"):
        wiener_interp(y, one)


def test_adaptive_takes_wiener_where_it_predicts_held_out_pilots_better():
    dispersive = multipath([0.0, 0.04, 0.09, 0.15], b=1, seed=5)
    flat = multipath([0.0, 0.002], b=1, seed=6)
    y = noisy(torch.cat([dispersive, flat]), 25.0)
    known = known_mask("estimation", 8, 64)
    out = adaptive_interp(y, known)
    assert torch.equal(out[0], wiener_interp(y, known)[0])  # the dispersive sample: Wiener
    both = (wiener_interp(y, known)[1], denoised_interp(y, known)[1])
    assert any(torch.equal(out[1], e) for e in both)  # each sample gets one of the two, whole
    # one run of observed subcarriers: nothing to hold out, the denoised interpolation
    block = torch.zeros(8, 64, dtype=torch.bool)
    block[:, :16] = True
    assert torch.equal(adaptive_interp(y, block), denoised_interp(y, block))
