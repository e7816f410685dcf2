import numpy as np

from airan.twin.mobility import evolve_shadowing, link_geometry, move_ues


def test_geometry_matches_brute_force_with_wraparound():
    rng = np.random.default_rng(0)
    site = np.array([[0.0, 0.0], [500.0, 0.0]])
    wrap = np.array([[0.0, 0.0], [1000.0, 0.0], [-1000.0, 0.0]])
    ue = np.concatenate([rng.uniform(-400, 900, (20, 2)), np.full((20, 1), 1.5)], 1)
    cell_site = np.array([0, 0, 0, 1, 1, 1])
    yaw = np.array([30.0, 150.0, 270.0] * 2)
    g = link_geometry(ue, site, cell_site, yaw, wrap, 25.0)
    for u in range(20):
        for c in range(6):
            imgs = site[cell_site[c]] + wrap
            d = np.min(np.hypot(*(ue[u, :2] - imgs).T))
            assert g.d2d_m[u, c] == np.float64(max(d, 1.0)) or abs(g.d2d_m[u, c] - d) < 1e-9
    assert np.all((g.zenith_deg > 90) & (g.zenith_deg < 180))  # BS above UEs: looking down
    assert np.all(np.abs(g.azimuth_rel_deg) <= 180)


def test_ues_stay_inside_and_move_at_their_speed():
    rng = np.random.default_rng(1)
    xy = rng.uniform(-300, 300, (200, 2))
    heading = rng.uniform(0, 2 * np.pi, 200)
    speed = np.full(200, 8.0)
    for _ in range(200):
        xy, heading, moved = move_ues(xy, heading, speed, 1.0, 500.0, rng)
        assert np.allclose(moved, 8.0)
    assert np.hypot(xy[:, 0], xy[:, 1]).max() <= 500.0 + 8.0


def test_shadowing_is_continuous_and_stationary():
    rng = np.random.default_rng(2)
    u, c = 4000, 3
    std = np.full((u, c), 6.0)
    sf = rng.normal(0, 6.0, (u, c))
    los = np.zeros((u, c), bool)
    sites = np.array([0, 0, 1])
    small = evolve_shadowing(sf, std, np.full(u, 1.0), los, (37.0, 50.0), sites, 2, rng)
    assert np.abs(small - sf).max() < 6.0  # 1 m move: rho = 0.98, no 10 dB jumps
    assert np.std(small - sf) < 1.5
    x = sf
    for _ in range(50):
        x = evolve_shadowing(x, std, np.full(u, 20.0), los, (37.0, 50.0), sites, 2, rng)
    assert np.std(x) == np.float64(np.std(x)) and abs(np.std(x) - 6.0) < 0.3  # stationary variance
    assert np.allclose(x[:, 0], x[:, 1])  # co-sited sectors keep sharing shadowing
    assert abs(np.corrcoef(x[:, 0], sf[:, 0])[0, 1]) < 0.1  # 1000 m later: decorrelated
