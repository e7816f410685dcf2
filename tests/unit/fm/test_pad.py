"""PAD (Prony angular-delay) and Kalman channel predictors: shapes, exact recovery of a few complex
exponentials, Kalman vs no-prediction on an AR(1) process, bad input."""

import math

import pytest
import torch

from airan.fm.baselines import BASELINES, last_slot
from airan.fm.pad import from_angular_delay, kalman_predict, lp_coefficients, pad_predict, to_angular_delay


def _nmse_db(est, ref, t0):
    err = (est[:, t0:] - ref[:, t0:]).abs().pow(2).sum()
    return 10 * math.log10(float(err / ref[:, t0:].abs().pow(2).sum()))


def _known(t, s, t_obs):
    known = torch.zeros(t, s, dtype=torch.bool)
    known[:t_obs] = True
    return known


def _paths(b=3, t=16, a=4, s=8, n_paths=3, seed=0):
    """Sum of ``n_paths`` off-grid paths: complex gain x Doppler x array phase x delay phase. [B, T, A, S]."""
    g = torch.Generator().manual_seed(seed)
    tt, aa, ss = (torch.arange(n, dtype=torch.float64) for n in (t, a, s))
    h = torch.zeros(b, t, a, s, dtype=torch.complex128)
    for _ in range(n_paths):
        gain = torch.randn(b, dtype=torch.complex128, generator=g)
        dop, sin_aoa, tau = (torch.rand(b, generator=g, dtype=torch.float64) for _ in range(3))
        dop = 0.3 * (dop - 0.5)  # cycles per slot
        ph = (2 * math.pi * dop[:, None, None, None] * tt[None, :, None, None]
              + math.pi * (2 * sin_aoa - 1)[:, None, None, None] * aa[None, None, :, None]
              - 2 * math.pi * 0.37 * tau[:, None, None, None] * ss[None, None, None, :])
        h = h + gain[:, None, None, None] * torch.exp(1j * ph)
    return h.to(torch.complex64)


def test_angular_delay_transform_is_unitary():
    h = torch.randn(2, 3, 4, 8, dtype=torch.complex64)
    g = to_angular_delay(h)
    assert torch.allclose(from_angular_delay(g), h, atol=1e-5)
    assert float(g.abs().pow(2).sum()) == pytest.approx(float(h.abs().pow(2).sum()), rel=1e-5)


def test_shapes_and_observed_slots_copied():
    y = torch.randn(2, 8, 4, 8, dtype=torch.complex64)
    known = _known(8, 8, 6)
    for fn in (pad_predict, kalman_predict):
        est = fn(y, known)
        assert est.shape == y.shape and est.dtype == y.dtype
        assert torch.equal(est[:, :6], y[:, :6])
        assert not torch.allclose(est[:, 6:], y[:, 6:])


def test_pad_recovers_a_sum_of_complex_exponentials():
    h = _paths()
    known = _known(16, 8, 12)
    est = pad_predict(h, known, order=3, energy=1.0)
    assert _nmse_db(est, h, 12) < -40
    # the no-prediction baseline is far off on the same channel, so the test measures prediction
    assert _nmse_db(last_slot(h, known), h, 12) > -15


def test_lp_coefficients_annihilate_an_exponential():
    z = torch.exp(torch.tensor(0.3j, dtype=torch.complex128)) * 0.98
    x = (z ** torch.arange(10))[None]  # [1, 10]
    c = lp_coefficients(x, 1)
    assert abs(complex(c[0, 0]) - complex(z)) < 1e-5


def _ar1(b=64, t=12, a=4, s=8, rho=0.95 * complex(math.cos(0.4), math.sin(0.4)), snr_db=10.0, seed=1):
    g = torch.Generator().manual_seed(seed)

    def cn(*shape):
        return torch.complex(torch.randn(*shape, generator=g), torch.randn(*shape, generator=g)) / math.sqrt(2)

    x = torch.zeros(b, t, a, s, dtype=torch.complex64)
    x[:, 0] = cn(b, a, s)
    for k in range(1, t):
        x[:, k] = rho * x[:, k - 1] + math.sqrt(1 - abs(rho) ** 2) * cn(b, a, s)
    y = x + math.sqrt(10 ** (-snr_db / 10)) * cn(b, t, a, s)
    return x, y


def test_kalman_beats_last_slot_on_an_ar1_process():
    clean, y = _ar1()
    known = _known(12, 8, 8)
    last = _nmse_db(last_slot(y, known), clean, 8)
    kal = _nmse_db(kalman_predict(y, known), clean, 8)
    kal_snr = _nmse_db(kalman_predict(y, known, snr_db=10.0), clean, 8)
    assert kal < last - 1.0, (kal, last)
    assert kal_snr < last - 1.0, (kal_snr, last)


def test_registered_as_time_baselines():
    assert BASELINES["time"]["PAD (Prony, angular-delay)"] is pad_predict
    assert BASELINES["time"]["Kalman (AR(1), angular-delay)"] is kalman_predict


def test_bad_input_is_named():
    y = torch.randn(2, 8, 4, 8, dtype=torch.complex64)
    with pytest.raises(ValueError, match="complex"):
        pad_predict(y.real, _known(8, 8, 6))
    with pytest.raises(ValueError, match="no fully observed"):
        kalman_predict(y, torch.zeros(8, 8, dtype=torch.bool))
    with pytest.raises(ValueError, match="known must be"):
        pad_predict(y, _known(6, 8, 4))
    with pytest.raises(ValueError, match="order"):
        pad_predict(y, _known(8, 8, 6), order=0)
