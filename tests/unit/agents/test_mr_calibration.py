"""Calibrating the operator's twin from measurement reports: the fit, the selection, the twin's corrections."""

import numpy as np
import pytest

from airan.agents.mr_calibration import CalibrationConfig, fit_corrections, fit_with_links, report_residuals
from airan.agents.runner import imperfect_factory
from airan.agents.suite import SuiteEpisode
from airan.agents.verifier import Verifier, VerifierConfig
from airan.core.errors import ConfigError, ShapeError
from airan.twin.env import NetworkTwin
from airan.twin.imperfect import imperfect_twin


def test_fit_recovers_power_and_tilt_offsets_from_noisy_residuals():
    rng = np.random.default_rng(0)
    a_true = np.array([1.5, -1.0, 0.0, 0.7])  # dB
    b_true = np.array([-0.8, 0.5, 0.0, 0.2])  # deg
    cell = np.repeat(np.arange(4), 400)
    g = rng.uniform(-3.0, 3.0, cell.size)  # dB/deg
    d = a_true[cell] + b_true[cell] * g + rng.normal(0.0, 2.0, cell.size)
    d[::97] += 40.0  # a few gross outliers (a UE in a car behind a building) must not drag the fit
    p, t, n = fit_corrections(d, cell, g, 5)
    np.testing.assert_allclose(p[:4], a_true, atol=0.3)
    np.testing.assert_allclose(t[:4], b_true, atol=0.15)
    assert p[4] == 0.0 and t[4] == 0.0 and n[4] == 0 and n[0] == 400


def test_joint_fit_separates_cell_offsets_from_the_shadowing_a_ues_co_sited_links_share():
    rng = np.random.default_rng(1)
    num_ues, site = 60, np.array([0, 0, 0, 1, 1, 1])  # two sites of three sectors
    a_true = np.array([1.5, -1.5, 0.5, -0.5, 1.0, -1.0])
    u = rng.normal(0.0, 3.0, (num_ues, 2))  # [UE, site] shadowing error
    ue, cell = np.meshgrid(np.arange(num_ues), np.arange(6), indexing="ij")
    keep = rng.random(ue.size) < 0.5  # each UE reports a different half of the cells
    ue, cell = ue.ravel()[keep.ravel()], cell.ravel()[keep.ravel()]
    d = a_true[cell] + u[ue, site[cell]] + rng.normal(0.0, 1.0, ue.size)
    g = np.zeros(ue.size)
    link = ue * 2 + site[cell]
    pj, tj, n, lk = fit_with_links(d, cell, g, link, 6, num_ues * 2, CalibrationConfig(link_noise_db=1.0))
    pc, _, _ = fit_corrections(d, cell, g, 6)
    # the sector differences within a site carry no shadowing in the joint fit: they come out sharper
    diff_err = {name: np.sqrt(np.mean(((p - p[site * 3]) - (a_true - a_true[site * 3])) ** 2))
                for name, p in (("joint", pj), ("cells", pc))}
    assert diff_err["joint"] < 0.6 * diff_err["cells"]
    assert np.sqrt(np.mean((pj - a_true) ** 2)) < np.sqrt(np.mean((pc - a_true) ** 2))
    seen = np.unique(link)
    assert np.corrcoef(lk[seen], u.ravel()[seen])[0, 1] > 0.9 and np.all(n > 20) and np.all(tj == 0.0)
    with pytest.raises(ConfigError, match="link"):
        fit_with_links(d, cell, g, link, 6, 3)
    with pytest.raises(ShapeError):
        fit_with_links(d, cell, g, link[:-1], 6, num_ues * 2)


def test_few_reports_leave_a_cell_alone_and_priors_shrink_toward_zero():
    cell = np.zeros(3, np.int64)
    p, t, n = fit_corrections(np.full(3, 5.0), cell, np.ones(3), 2)
    assert p[0] == 0.0 and t[0] == 0.0 and n[0] == 3  # below min_reports
    p, _, _ = fit_corrections(np.full(6, 5.0), np.zeros(6, np.int64), np.zeros(6), 1)
    assert 0.0 < p[0] < 5.0  # six reports cannot overrule a 1.15 dB prior entirely


def test_residuals_only_on_reported_top_cells_and_shape_errors():
    model = np.array([[-80.0, -90.0, -100.0], [-95.0, -85.0, -70.0]])
    slope = np.ones_like(model)
    mr = np.array([[-78.0, np.nan, -101.0], [-96.0, -84.0, np.nan]])
    res, cell, g, ue = report_residuals([mr], model, slope, top_k=2)
    assert sorted(ue.tolist()) == [0, 1]
    # UE 0: cells 0, 1 are its top 2; cell 1 not reported. UE 1: cells 2, 1; cell 2 not reported.
    assert sorted(zip(cell.tolist(), res.tolist())) == [(0, 2.0), (1, 1.0)]
    # ranking by another array (e.g. the twin without shadowing) picks other pairs
    res, cell, _, _ = report_residuals([mr], model, slope, top_k=1, rank_dbm=-model)
    assert sorted(zip(cell.tolist(), res.tolist())) == [(0, -1.0), (2, -1.0)]
    with pytest.raises(ShapeError):
        report_residuals([mr[:1]], model, slope, 2)
    with pytest.raises(ShapeError):
        fit_corrections(np.zeros(3), np.zeros(2, np.int64), np.zeros(3), 2)
    with pytest.raises(ConfigError, match="cell indices"):
        fit_corrections(np.zeros(6), np.full(6, 7), np.zeros(6), 2)
    with pytest.raises(ConfigError, match="noise_db"):
        CalibrationConfig(noise_db=0.0)


def test_twin_corrections_move_its_predicted_rsrp_and_carry_into_clones():
    t = imperfect_twin("ci-tiny", 3, np.random.default_rng(0))
    before = t.predicted_rsrp_dbm()
    n = t.cfg.num_cells
    power = np.zeros(n)
    power[2] = 1.5
    t.calibrate(power, np.zeros(n))
    after = t.predicted_rsrp_dbm()
    np.testing.assert_allclose(after[:, 2] - before[:, 2], 1.5)
    np.testing.assert_allclose(np.delete(after, 2, axis=1), np.delete(before, 2, axis=1))
    np.testing.assert_allclose(t.clone().predicted_rsrp_dbm(), after)
    slope = t.predicted_rsrp_dbm(0.5) - t.predicted_rsrp_dbm(-0.5)
    assert np.all(np.isfinite(slope)) and np.abs(slope).max() > 0.5  # tilt moves what UEs hear
    geo = t.predicted_rsrp_dbm(shadowing=False)
    assert not np.allclose(geo, after)
    with pytest.raises(ConfigError):
        t.calibrate(np.zeros(n + 1), np.zeros(n))
    with pytest.raises(ConfigError):
        t.calibrate(np.full(n, np.nan), np.zeros(n))


def _episode():
    return SuiteEpisode(id="cal-0", scenario="ci-tiny", seed=3, rops=12, faults=(), control=True)


def test_verifier_calibrates_new_twins_from_the_first_reports_only_when_asked():
    ep = _episode()
    net = NetworkTwin(ep.scenario)
    net.reset(seed=ep.seed)
    reports = [net.step()[4]["mr_rsrp_dbm"] for _ in range(6)]
    on = Verifier(imperfect_factory(ep), VerifierConfig(calibrate=True))
    off = Verifier(imperfect_factory(ep), VerifierConfig(calibrate=False))
    for r, mr in enumerate(reports):
        on.observe_reports(r, mr)
        off.observe_reports(r, mr)
    t_on, t_off = on._twin(0), off._twin(0)
    assert on.calibration[0]["rops"] == 4 and off.calibration == {}
    assert np.all(t_off.power_corr_db == 0.0)
    # the fit moves the twin's hidden errors toward zero on the whole
    err_before = np.sqrt(np.mean(t_on.power_err_db ** 2)) + np.sqrt(np.mean(t_on.tilt_err_deg ** 2))
    err_after = (np.sqrt(np.mean((t_on.power_err_db + t_on.power_corr_db) ** 2))
                 + np.sqrt(np.mean((t_on.tilt_err_deg + t_on.tilt_corr_deg) ** 2)))
    assert err_after < err_before
    frozen = Verifier(imperfect_factory(ep), VerifierConfig(calibrate=True))
    frozen.observe_reports(0, reports[0])
    frozen.freeze_reports()
    frozen.observe_reports(1, reports[1])
    frozen._twin(0)
    assert frozen.calibration[0]["rops"] == 1


def test_airan_policy_calibrates_its_twins_before_the_fault_and_says_so():
    from airan.agents.policies.airan import AiranConfig, AiranPolicy
    from airan.agents.runner import run_policy_episode
    from airan.twin.faults import Fault

    ep = SuiteEpisode("cal-1", "ci-tiny", 3, 10, (Fault("sleeping_cell", (4,), onset_rop=5),))
    pol = AiranPolicy(AiranConfig())  # calibration is on by default
    log = run_policy_episode(ep, pol)
    notes = [n for d in log["decisions"] for n in d.get("notes", []) if "calibrated from" in n]
    assert notes and "of 4 ROP(s)" in notes[0]
    assert all(c["rops"] == 4 for c in pol.verifier.calibration.values())
