import numpy as np
import pytest

from airan.twin.antenna import (
    _ANGLES,
    _AngleInterp,
    array_gain_db,
    bs_gain_dbi,
    effective_gain_dbi,
    element_gain_dbi,
    horizontal_factor,
    horizontal_factor_fast,
    vertical_factor,
    vertical_factor_fast,
)


def test_element_pattern_tr38901_table_7_3_1():
    assert element_gain_dbi(90.0, 0.0) == pytest.approx(8.0)
    assert element_gain_dbi(90.0, 32.5) == pytest.approx(8.0 - 3.0)  # 65 deg HPBW
    assert element_gain_dbi(90.0, 180.0) == pytest.approx(8.0 - 30.0)  # front-to-back floor
    assert element_gain_dbi(90.0 + 32.5, 0.0) == pytest.approx(8.0 - 3.0)


def test_array_gain_peaks_at_electrical_tilt():
    theta = np.linspace(60, 150, 9001)
    for tilt in (0.0, 6.0, 12.0):
        g = array_gain_db(theta, 10, 0.8, tilt)
        assert g.max() == pytest.approx(10.0, abs=1e-6)  # 10 log10(M)
        assert theta[np.argmax(g)] == pytest.approx(90.0 + tilt, abs=0.05)


def test_more_downtilt_lowers_gain_at_the_horizon():
    g = [bs_gain_dbi(91.0, 0.0, 10, 0.8, t) for t in (2.0, 6.0, 10.0)]
    assert g[0] > g[1] > g[2]


def test_spread_average_reduces_peak_and_fills_nulls():
    z = np.array([[90.0 + 12.0, 90.0 + 12 + 8.0]])  # peak, near first null
    k = np.zeros_like(z)
    narrow = vertical_factor(z, np.zeros_like(z), k, k, np.array([[12.0]]), 10, 0.8)
    wide = vertical_factor(z, np.full_like(z, 6.0), k, k, np.array([[12.0]]), 10, 0.8)
    assert wide[0, 0] < narrow[0, 0]
    assert wide[0, 1] > narrow[0, 1]


def test_tables_match_reference_integration():
    rng = np.random.default_rng(0)
    n = (60, 5)
    az = rng.uniform(-180, 180, n)
    asd = rng.uniform(0, 60, n)
    k = np.where(rng.random(n) < 0.3, rng.uniform(1, 20, n), 0.0)
    z = rng.uniform(80, 140, n)
    zsd = rng.uniform(0, 20, n)
    off = rng.uniform(-5, 0, n)
    tilt = np.array([0.0, 5.0, 12.0, 12.3, -3.0])
    h_ref, h_fast = horizontal_factor(az, asd, k), horizontal_factor_fast(az, asd, k)
    v_ref = vertical_factor(z, zsd, off, k, tilt[None], 10, 0.8)
    v_fast, af = vertical_factor_fast(z, zsd, off, k, tilt, 10, 0.8)
    err = np.abs(effective_gain_dbi(h_ref, v_ref, af) - effective_gain_dbi(h_fast, v_fast, af))
    assert np.median(err) < 0.05
    assert np.percentile(err, 99) < 0.6


def test_a_column_does_not_depend_on_the_others():
    """The twin redoes only the columns whose tilt changed and shares the rest between clones: that is exact only
    if each column's factors are the same bits whichever columns are computed with it."""
    rng = np.random.default_rng(4)
    n = (40, 7)
    z, zsd, off = rng.uniform(60, 150, n), rng.uniform(0, 40, n), rng.uniform(-5, 0, n)
    k = np.where(rng.random(n) < 0.3, rng.uniform(1, 20, n), 0.0)
    tilt = np.array([0.0, 5.25, 12.0, 12.3, -3.0, 7.777, 12.3])  # on and off the 0.5 deg grid, one repeated
    z[0, 0], z[1, 1], z[2, 2] = 0.0, 180.0, 97.25  # the ends and a grid angle
    v_all, af_all = vertical_factor_fast(z, zsd, off, k, tilt, 10, 0.8)
    for c in range(n[1]):
        v_c, af_c = vertical_factor_fast(z[:, [c]], zsd[:, [c]], off[:, [c]], k[:, [c]], tilt[[c]], 10, 0.8)
        assert np.array_equal(v_c[:, 0], v_all[:, c]) and np.array_equal(af_c[:, 0], af_all[:, c])


def test_the_array_factor_is_read_with_np_interp_arithmetic():
    rng = np.random.default_rng(5)
    rows = rng.uniform(0.01, 10.0, (3, len(_ANGLES)))
    x = rng.uniform(-1, 181, (50, 4))
    x[:10] = np.round(x[:10] * 4) / 4  # exact grid points
    x[10, :] = [0.0, 180.0, -0.5, 180.5]
    row = np.array([2, 0, 1, 2])
    got = _AngleInterp(x).read(rows, row)
    for c in range(4):
        assert np.array_equal(got[:, c], np.interp(x[:, c], _ANGLES, rows[row[c]]))
