"""The imperfect twin: bounded calibration errors, perturbed propagation, no shared state with the true twin."""

from __future__ import annotations

import numpy as np
import pytest

from airan.core.errors import ConfigError
from airan.twin.env import NetworkTwin
from airan.twin.imperfect import ImperfectTwin, imperfect_twin


def _kpis(twin, rops=3):
    return [twin.step()[4]["kpis"] for _ in range(rops)]


def test_calibration_errors_are_bounded_and_hidden_from_the_knobs():
    t = imperfect_twin("ci-tiny", 3, np.random.default_rng(0), power_err_db=2.0, tilt_err_deg=1.0)
    assert isinstance(t, ImperfectTwin)
    assert np.all(np.abs(t.power_err_db) <= 2.0) and np.all(np.abs(t.tilt_err_deg) <= 1.0)
    assert np.std(t.power_err_db) > 0.1 and np.std(t.tilt_err_deg) > 0.05
    assert np.all(t.knobs.power_offset_db == 0.0)
    assert np.all(t.knobs.tilt_deg == t.cfg.antenna.tilt_deg)


def test_same_rng_same_twin_and_different_from_the_truth():
    a = _kpis(imperfect_twin("ci-tiny", 3, np.random.default_rng(7)))
    b = _kpis(imperfect_twin("ci-tiny", 3, np.random.default_rng(7)))
    true = NetworkTwin("ci-tiny")
    true.reset(seed=3)
    c = _kpis(true)
    for ka, kb in zip(a, b, strict=True):
        np.testing.assert_array_equal(np.nan_to_num(ka["L1M.RSRP"]), np.nan_to_num(kb["L1M.RSRP"]))
    assert not np.allclose(np.nan_to_num(a[-1]["L1M.RSRP"]), np.nan_to_num(c[-1]["L1M.RSRP"]))


def test_calibration_rng_fixes_the_errors_while_propagation_varies():
    def make(s):
        return imperfect_twin("ci-tiny", 3, np.random.default_rng(s), calibration_rng=np.random.default_rng(99))

    a, b = make(1), make(2)
    np.testing.assert_array_equal(a.power_err_db, b.power_err_db)
    assert not np.allclose(a._s.sf_db, b._s.sf_db)


def test_it_never_shares_state_with_the_true_twin():
    true = NetworkTwin("ci-tiny")
    true.reset(seed=3)
    before, drop_before = true._s.sf_db.copy(), true.drop.sf_db.copy()
    imp = imperfect_twin("ci-tiny", 3, np.random.default_rng(0))
    assert imp._s is not true._s and imp._s.sf_db is not true._s.sf_db
    _kpis(imp, 2)
    np.testing.assert_array_equal(true._s.sf_db, before)
    assert true.rop == 0
    np.testing.assert_array_equal(true.drop.sf_db, drop_before)  # the shared drop is never written


def test_zero_error_twin_keeps_the_radio_but_not_the_randomness():
    t = imperfect_twin("ci-tiny", 3, np.random.default_rng(0), power_err_db=0.0, tilt_err_deg=0.0, sf_err_db=0.0)
    true = NetworkTwin("ci-tiny")
    true.reset(seed=3)
    np.testing.assert_array_equal(t._s.sf_db, true._s.sf_db)
    assert np.all(t.power_err_db == 0) and np.all(t.tilt_err_deg == 0)


@pytest.mark.parametrize("kw", [{"power_err_db": -1.0}, {"tilt_err_deg": float("nan")}, {"sf_err_db": -2.0}])
def test_bad_error_sizes_are_named(kw):
    with pytest.raises(ConfigError, match=next(iter(kw))):
        imperfect_twin("ci-tiny", 3, np.random.default_rng(0), **kw)


def test_bad_seed_and_rng_are_named():
    with pytest.raises(ConfigError, match="seed"):
        imperfect_twin("ci-tiny", -1, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="rng"):
        imperfect_twin("ci-tiny", 3, 42)


def test_a_shadowing_calibration_redraws_the_coverage_areas():
    """``area_cells`` is cached per channel state: a shadowing correction (no UE moves) redraws it."""
    t = imperfect_twin("ci-tiny", 3, np.random.default_rng(0))
    before = t.area_cells()
    sites = len(t.drop.site_xy)
    boost = np.zeros((before.shape[0], sites))
    boost[:, 0] = 40.0  # every UE's links to site 0 gain 40 dB: site 0's cells take over most areas
    t.calibrate(np.zeros(t.cfg.num_cells), np.zeros(t.cfg.num_cells), shadowing_db=boost)
    after = t.area_cells()
    site0 = np.asarray(t.drop.cell_site)[after] == 0
    assert site0.mean() > (np.asarray(t.drop.cell_site)[before] == 0).mean()
    assert not np.array_equal(before, after)


def test_holding_the_networks_serving_cells_lifts_only_the_links_that_contradict_them():
    """``hold_serving``: a UE served from a cell that another site's cell beats under A3 gets its link to the
    serving site raised until that cell misses A3 by the margin; a UE already consistent is left alone; the
    raise keeps the UE on its cell through a quiet step; bad input is named."""
    t = imperfect_twin("ci-tiny", 3, np.random.default_rng(0))
    t.step()
    site = np.asarray(t.drop.cell_site)
    rsrp = t.predicted_rsrp_dbm()
    ues = np.nonzero(t.serving >= 0)[0][:4]
    best = np.argmax(rsrp[ues], axis=1)
    far = np.array([int(np.argmax(np.where(site != site[b], rsrp[u], -np.inf))) for u, b in zip(ues, best)])
    serving = t.serving
    serving[ues[:2]] = far[:2]  # the network says: two UEs are served by another site's cell than their best
    serving[ues[2:]] = best[2:]
    t.adopt_sessions(serving)
    raised = t.hold_serving(ues, margin_db=1.0)
    assert (raised[:2] > 0).all() and (raised[2:] == 0).all()
    after = t.predicted_rsrp_dbm()
    hys = t.knobs.hysteresis_db
    for u, s in zip(ues, serving[ues]):
        rival = np.max(np.where(site != site[s], after[u], -np.inf))
        assert rival <= after[u, s] + hys[s] - 1.0 + 1e-9
    np.testing.assert_allclose(after[ues[2:]], rsrp[ues[2:]])  # consistent UEs: their links are untouched
    assert t.hold_serving(ues, margin_db=1.0).max() == pytest.approx(0.0, abs=1e-9)  # once held, nothing to do
    with pytest.raises(ConfigError, match="margin_db"):
        t.hold_serving(ues, margin_db=-1.0)
    with pytest.raises(ConfigError, match="UE indices"):
        t.hold_serving(np.array([10**6]), margin_db=1.0)
    idle = np.nonzero(t.serving < 0)[0]
    if idle.size:
        with pytest.raises(ConfigError, match="not connected"):
            t.hold_serving(idle[:1], margin_db=1.0)


def test_a_displaced_prediction_moves_the_ues_as_the_antennas_see_them_and_names_a_bad_shape():
    twin = imperfect_twin("ci-tiny", 3, np.random.default_rng(0))
    u = twin.ue_xy.shape[0]
    base = twin.predicted_rsrp_dbm()
    assert np.array_equal(base, twin.predicted_rsrp_dbm(displacement_m=np.zeros((u, 2))))
    moved = twin.predicted_rsrp_dbm(displacement_m=np.full((u, 2), 30.0))
    assert moved.shape == base.shape and np.max(np.abs(moved - base)) > 3.0  # bearings and zeniths changed
    assert np.array_equal(base, twin.predicted_rsrp_dbm())  # the twin itself did not move
    with pytest.raises(ConfigError, match="displacement_m"):
        twin.predicted_rsrp_dbm(displacement_m=np.zeros((u, 3)))
    speed = twin.ue_speed_mps
    cfg = twin.cfg
    assert speed.shape == (u,) and set(np.unique(speed)) <= {cfg.vehicle_speed, cfg.pedestrian_speed, 0.3, 0.2}
