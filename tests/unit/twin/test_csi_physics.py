"""Statistical sanity of the CSI tier against TR 38.901 physics."""

import numpy as np
import pytest

from airan.core.rng import make_rng
from airan.twin.adapter.csi import generate_csi
from airan.twin.csi import add_noise, angular_delay, best_beam, dft_codebook, pilot_mask


def _gen(model="umi", n=64, speed=(3, 3), dist=(20, 200), los="random", slots=16, slot_s=0.5e-3, seed=0,
         fc=3.5e9, rows=2, cols=2):
    return generate_csi(model, fc, rows, cols, False, slots, slot_s, 16, 30e3, n, speed, dist, los, 0.0,
                        make_rng(seed))


def _time_corr(h, lag):
    a, b = h[:, :-lag].reshape(len(h), -1), h[:, lag:].reshape(len(h), -1)
    return np.mean(np.abs(np.sum(a * b.conj(), 1)) / np.sqrt(np.sum(np.abs(a) ** 2, 1) * np.sum(np.abs(b) ** 2, 1)))


def test_faster_ues_decorrelate_sooner():
    slow = _gen(speed=(3, 3), los="nlos").h
    fast = _gen(speed=(120, 120), los="nlos").h
    # 120 km/h at 3.5 GHz: f_D = 389 Hz, coherence ~1 ms; 3 km/h: f_D = 9.7 Hz, coherence ~40 ms
    assert _time_corr(slow, 4) > 0.95
    assert _time_corr(fast, 4) < _time_corr(slow, 4) - 0.3
    assert _time_corr(fast, 1) > _time_corr(fast, 4)  # correlation falls with lag


def test_delay_spread_and_los_ratio_follow_tr38901_by_scenario():
    uma = _gen("uma", n=128, dist=(35, 400), fc=3.5e9, slots=2)
    inh = _gen("inh", n=128, dist=(3, 40), fc=3.5e9, slots=2)
    # TR 38.901 Table 7.5-6: median DS UMa NLoS ~ 360 ns, InH ~ 40 ns; LoS probability InH >> UMa
    assert np.median(uma.delay_spread_s) > 2 * np.median(inh.delay_spread_s)
    assert inh.los.mean() > uma.los.mean()


def test_path_gain_falls_with_distance():
    b = _gen("uma", n=256, dist=(35, 1000), slots=1, los="nlos")
    d = np.hypot(b.ue_xyz[:, 0], b.ue_xyz[:, 1])
    slope = np.polyfit(np.log10(d), b.path_gain_db, 1)[0]
    assert -50 < slope < -25  # TR 38.901 UMa NLoS: about -39 dB/decade (+ shadowing noise)


def test_velocity_is_honoured_and_shapes_are_right():
    b = _gen(speed=(50, 50), n=8, slots=5, rows=2, cols=4)
    assert b.h.shape == (8, 5, 8, 16) and b.h.dtype == np.complex64
    assert np.allclose(np.linalg.norm(b.velocity, axis=1), 50 / 3.6, rtol=1e-5)


def test_dft_codebook_and_beam_labels():
    cb = dft_codebook(2, 4, 32)
    assert cb.shape == (32, 8)
    assert np.allclose(np.linalg.norm(cb, axis=1), 1.0, atol=1e-6)
    # a channel equal to one codeword is labelled with that beam
    h = np.tile(cb[13][None, None, :, None], (1, 2, 1, 3))
    assert best_beam(h, 2, 4, 32)[0] == 13
    with pytest.raises(ValueError, match="12"):
        dft_codebook(2, 4, 12)


def test_angular_delay_concentrates_a_single_path():
    a, s = 8, 32
    steer = np.exp(1j * np.pi * np.arange(a) * 0.5)
    delay = np.exp(-2j * np.pi * np.arange(s) * 3 / s)
    h = (steer[:, None] * delay[None, :])[None].astype(np.complex64)
    ad = angular_delay(h, 8)
    assert ad.shape == (1, 8, 8)
    p = np.abs(ad) ** 2
    assert p.max() / p.sum() > 0.5 and np.unravel_index(p.argmax(), p.shape)[2] == 3


def test_noise_is_added_at_the_requested_snr():
    rng = np.random.default_rng(0)
    h = (rng.standard_normal((50, 4, 8, 16)) + 1j * rng.standard_normal((50, 4, 8, 16))).astype(np.complex64)
    noisy = add_noise(h, 10.0, rng)
    snr = 10 * np.log10(np.mean(np.abs(h) ** 2) / np.mean(np.abs(noisy - h) ** 2))
    assert snr == pytest.approx(10.0, abs=0.2)
    m = pilot_mask(4, 12, slot_every=2, sc_every=4)
    assert m.sum() == 2 * 3 and m[0, 0] and not m[1, 0]


def test_long_tracks_are_stitched_with_consistent_large_scale():
    b = generate_csi("umi", 3.5e9, 2, 2, False, 40, 0.5e-3, 16, 30e3, 48, (30, 30), (20, 200), "nlos", 0.0,
                     make_rng(4), window_slots=8)
    assert b.h.shape == (48, 40, 4, 16)
    per_window = 10 * np.log10((np.abs(b.h) ** 2).mean(axis=(2, 3)).reshape(48, 5, 8).mean(-1))
    jumps = np.abs(np.diff(per_window, axis=1))
    # a redrawn drop jumps by the shadowing std (~8 dB); a stitched track moves ~0.1 m per window
    independent = np.abs(np.diff(b.path_gain_db))
    assert np.median(jumps) < 2.0 < np.median(independent)


def test_neighbour_links_and_fdd_uplink():
    b = generate_csi("uma", 3.5e9, 2, 2, False, 4, 0.5e-3, 16, 30e3, 64, (3, 30), (35, 250), "random", 0.0,
                     make_rng(5), num_neighbors=3, fdd_gap_hz=190e6)
    assert b.h_nb.shape == (64, 3, 4, 4, 16) and b.nb_id.shape == (64, 3)
    assert np.all(np.diff(b.nb_gain_db, axis=1) <= 1e-4)  # sorted strongest first
    assert np.all((b.nb_id >= 1) & (b.nb_id <= 6))
    # UEs dropped in the serving sector hear it best more often than not; the weakest kept neighbour is weaker
    assert np.mean(b.path_gain_db > b.nb_gain_db[:, 0]) > 0.5
    assert np.median(b.path_gain_db - b.nb_gain_db[:, -1]) > 3.0
    # the uplink band shares the large-scale channel (same rays) but its phases rotate with delay x gap
    p_dl = 10 * np.log10(np.mean(np.abs(b.h) ** 2, axis=(1, 2, 3)))
    p_ul = 10 * np.log10(np.mean(np.abs(b.h_ul) ** 2, axis=(1, 2, 3)))
    assert np.median(np.abs(p_dl - p_ul)) < 3.0

    def corr(gap):
        c = generate_csi("uma", 3.5e9, 2, 2, False, 2, 0.5e-3, 16, 30e3, 64, (3, 30), (35, 250), "nlos", 0.0,
                         make_rng(6), fdd_gap_hz=gap)
        num = np.abs(np.sum(c.h * c.h_ul.conj(), axis=(1, 2, 3)))
        den = np.sqrt(np.sum(np.abs(c.h) ** 2, axis=(1, 2, 3)) * np.sum(np.abs(c.h_ul) ** 2, axis=(1, 2, 3)))
        return np.median(num / den)

    assert corr(30e3) > 0.97  # one subcarrier apart: nearly the same channel
    assert corr(190e6) < corr(30e3) - 0.1  # a wide duplex gap decorrelates the NLoS multipath
