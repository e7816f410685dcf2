import numpy as np
import pytest

from airan.twin.antenna import (
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
