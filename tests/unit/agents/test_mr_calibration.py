"""Calibrating the operator's twin from measurement reports: the fit, the selection, the twin's corrections."""

import dataclasses

import numpy as np
import pytest

from airan.agents.mr_calibration import (
    TILT_GRID_DEG,
    CalibrationConfig,
    PatternTestConfig,
    cell_posterior,
    fit_corrections,
    fit_with_links,
    joint_posterior,
    marginal_log_lr,
    pattern_log_lr,
    report_residuals,
)
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
    assert notes and "of 4 ROP(s)" in notes[0] and "posterior" not in notes[0]
    assert all(c["rops"] == 4 for c in pol.verifier.calibration.values())
    drawn = AiranPolicy(AiranConfig(verifier=VerifierConfig(calibration_draws=True, draw_scale=1.5)))
    log = run_policy_episode(ep, drawn)
    notes = [n for d in log["decisions"] for n in d.get("notes", []) if "calibrated from" in n]
    assert notes and all("a draw from the fit's posterior" in n and "x1.5" in n for n in notes)


def _joint_problem(seed: int, num_ues: int = 40):
    rng = np.random.default_rng(seed)
    site = np.array([0, 0, 0, 1, 1, 1])
    ue, cell = np.meshgrid(np.arange(num_ues), np.arange(6), indexing="ij")
    keep = (rng.random(ue.size) < 0.6).ravel()
    ue, cell = ue.ravel()[keep], cell.ravel()[keep]
    g = rng.uniform(-3.0, 3.0, ue.size)
    return rng, site, ue, cell, g, ue * 2 + site[cell]


def test_joint_posterior_matches_the_dense_gaussian_and_its_links_follow_the_cells():
    rng, site, ue, cell, g, link = _joint_problem(2)
    cfg = CalibrationConfig(link_noise_db=1.5)
    d = rng.normal(0.0, 2.0, ue.size)
    post = joint_posterior(d, cell, g, link, 6, 80, cfg)
    # the dense precision of the same linear-Gaussian model (all residuals kept: none is beyond 3 sigma here)
    x = np.zeros((ue.size, 12 + 80))
    x[np.arange(ue.size), cell] = 1.0
    x[np.arange(ue.size), 6 + cell] = g
    x[np.arange(ue.size), 12 + link] = 1.0
    prior = np.concatenate([np.full(6, cfg.prior_power_db ** -2), np.full(6, cfg.prior_tilt_deg ** -2),
                            np.full(80, cfg.link_std_db ** -2)])
    a = x.T @ x / cfg.link_noise_db ** 2 + np.diag(prior)
    full = np.linalg.inv(a)
    theta = full @ (x.T @ d) / cfg.link_noise_db ** 2
    np.testing.assert_allclose(post.cov, full[:12, :12], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(np.concatenate([post.power_db, post.tilt_deg, post.link_db]), theta, atol=1e-8)
    # the links' conditional mean given moved cells: -A_ll^-1 A_lc
    gain = -np.linalg.solve(a[12:, 12:], a[12:, :12])
    np.testing.assert_allclose(post.link_gain.toarray(), gain, atol=1e-12)
    assert np.all(post.sd_power_db < cfg.prior_power_db) and np.all(post.sd_tilt_deg < cfg.prior_tilt_deg)
    p0, t0, l0 = post.draw(np.random.default_rng(0), scale=0.0)
    np.testing.assert_array_equal(p0, post.power_db)
    np.testing.assert_array_equal(l0, post.link_db)
    with pytest.raises(ConfigError, match="scale"):
        post.draw(np.random.default_rng(0), scale=-1.0)


def test_posterior_draws_cover_the_truth_as_often_as_they_claim():
    """Simulate the model with corrections drawn from its own prior: the fitted posterior's z-scores are N(0, 1)
    (the per-cell fit and the joint fit), and draws spread as the covariance says."""
    cfg = CalibrationConfig(link_noise_db=1.5, noise_db=1.5)
    zs = {"cells": [], "joint": []}
    for s in range(60):
        rng, site, ue, cell, g, link = _joint_problem(100 + s, num_ues=30)
        a_true = rng.normal(0.0, cfg.prior_power_db, 6)
        b_true = rng.normal(0.0, cfg.prior_tilt_deg, 6)
        u = rng.normal(0.0, cfg.link_std_db, 60)
        d_joint = a_true[cell] + b_true[cell] * g + u[link] + rng.normal(0.0, cfg.link_noise_db, ue.size)
        d_cells = a_true[cell] + b_true[cell] * g + rng.normal(0.0, cfg.noise_db, ue.size)
        for name, post in (("joint", joint_posterior(d_joint, cell, g, link, 6, 60, cfg)),
                           ("cells", cell_posterior(d_cells, cell, g, 6, cfg))):
            zs[name].append(np.concatenate([(post.power_db - a_true) / post.sd_power_db,
                                            (post.tilt_deg - b_true) / post.sd_tilt_deg]))
    for name, z in zs.items():
        z = np.concatenate(z)
        assert 0.85 < np.sqrt(np.mean(z ** 2)) < 1.15, name
        assert 0.90 < np.mean(np.abs(z) <= 1.96) <= 1.0, name
    draws = np.stack([post.draw(np.random.default_rng(i))[0] for i in range(2000)])  # the last cells' fit
    np.testing.assert_allclose(draws.std(axis=0), post.sd_power_db, rtol=0.1)
    np.testing.assert_allclose(draws.mean(axis=0), post.power_db, atol=0.1)


def test_verifier_seeds_draw_their_own_corrections_and_replays_draw_the_same():
    ep = _episode()
    net = NetworkTwin(ep.scenario)
    net.reset(seed=ep.seed)
    reports = [net.step()[4]["mr_rsrp_dbm"] for _ in range(4)]

    def calibrated(cfg):
        v = Verifier(imperfect_factory(ep), cfg)
        for r, mr in enumerate(reports):
            v.observe_reports(r, mr)
        v._twin(0), v._twin(1)
        return v.calibration

    shared = calibrated(VerifierConfig())
    assert not shared[0]["drawn"] and np.all(shared[0]["sd_power_db"] > 0)
    drawn = calibrated(VerifierConfig(calibration_draws=True))
    again = calibrated(VerifierConfig(calibration_draws=True))
    assert drawn[0]["drawn"]
    assert not np.allclose(drawn[0]["power_db"], drawn[1]["power_db"])
    assert not np.allclose(drawn[0]["power_db"], shared[0]["power_db"])
    for seed in (0, 1):
        np.testing.assert_array_equal(drawn[seed]["power_db"], again[seed]["power_db"])
        np.testing.assert_array_equal(drawn[seed]["tilt_deg"], again[seed]["tilt_deg"])
    # a draw moves each cell by about its posterior std around the seed's MAP
    z = (drawn[0]["power_db"] - shared[0]["power_db"]) / shared[0]["sd_power_db"]
    assert 0.2 < np.sqrt(np.mean(z ** 2)) < 3.0
    with pytest.raises(ConfigError, match="draw_scale"):
        VerifierConfig(draw_scale=0.0)


def test_calibration_of_builds_the_same_twin_and_excluded_cells_keep_their_planning_values():
    ep = _episode()
    net = NetworkTwin(ep.scenario)
    net.reset(seed=ep.seed)
    reports = [net.step()[4]["mr_rsrp_dbm"] for _ in range(4)]
    early, late = (Verifier(imperfect_factory(ep), VerifierConfig()) for _ in range(2))
    for r, mr in enumerate(reports):
        early.observe_reports(r, mr)
        late.observe_reports(r, mr)
    cal = early.calibration_of(0)  # what an audit reads, at the last calibration ROP
    np.testing.assert_array_equal(early._twin(0).power_corr_db, late._twin(0).power_corr_db)
    assert cal["excluded"] == [] and np.any(cal["power_db"] != 0)
    early.exclude_from_calibration([2, 5])
    assert early.calibration == {}  # built again at the next use, without the cells' corrections
    twin = early._twin(0)
    assert early.calibration[0]["excluded"] == [2, 5]
    assert twin.power_corr_db[2] == twin.power_corr_db[5] == 0.0 and twin.tilt_corr_deg[5] == 0.0
    keep = [c for c in range(twin.power_corr_db.size) if c not in (2, 5)]
    np.testing.assert_array_equal(twin.power_corr_db[keep], late._twin(0).power_corr_db[keep])
    assert Verifier(imperfect_factory(ep), VerifierConfig(calibrate=False)).calibration_of(0) == {}


def _pattern_problem(seed: int, fault_row: int | None, num_ues: int = 60, rops: int = 4):
    """Two sites of 3 cells; cell 1's reports carry ``fault_row`` of hypothesis "tilt" (None: no fault) on top of
    each cell's hidden power/tilt error, a per-(UE, site) shadowing error the co-sited cells share, and 1-dB
    quantised measurement noise."""
    rng = np.random.default_rng(seed)
    site = np.array([0, 0, 0, 1, 1, 1])
    model = rng.uniform(-110, -70, (num_ues, 6))
    slope = rng.normal(0.0, 2.0, (num_ues, 6))
    ramp = np.linspace(-1.0, 1.0, num_ues)
    patterns = {"tilt": np.stack([k * 3.0 * ramp for k in (1, 2, 3)]),  # far UEs gain, near ones lose
                "power": np.stack([np.full(num_ues, -k * 3.0) for k in (1, 2, 3)])}
    truth = model + rng.uniform(-2, 2, 6) + slope * rng.uniform(-1, 1, 6) + rng.normal(0, 3, (num_ues, 2))[:, site]
    if fault_row is not None:
        truth[:, 1] += patterns["tilt"][fault_row]
    reports = [np.round(truth + rng.normal(0, 2, truth.shape)) for _ in range(rops)]
    return reports, model, slope, patterns


def test_the_pattern_test_names_the_fault_and_its_severity_and_stays_quiet_without_one():
    reports, model, slope, patterns = _pattern_problem(1, fault_row=1)
    llr = pattern_log_lr(reports, model, slope, 1, [0, 2], patterns, top_k=6)
    assert set(llr) == {"tilt", "power"} and llr["tilt"].shape == (3,)
    assert marginal_log_lr(llr["tilt"]) > 10 and marginal_log_lr(llr["tilt"]) > marginal_log_lr(llr["power"])
    assert int(np.argmax(llr["tilt"])) == 1  # the severity that was injected
    quiet = pattern_log_lr(*_pattern_problem(1, fault_row=None)[:3], 1, [0, 2], patterns, top_k=6)
    assert max(marginal_log_lr(v) for v in quiet.values()) < marginal_log_lr(llr["tilt"]) / 3
    # a random effect per UE for the pattern's curvature weakens both answers, never flips them
    wide = pattern_log_lr(reports, model, slope, 1, [0, 2], patterns, top_k=6, cfg=PatternTestConfig(
        slope_noise_deg=1.0))
    assert 0 < marginal_log_lr(wide["tilt"]) < marginal_log_lr(llr["tilt"])


def test_the_pattern_test_needs_mates_and_ues_and_rejects_bad_shapes():
    reports, model, slope, patterns = _pattern_problem(2, fault_row=0)
    assert pattern_log_lr(reports, model, slope, 1, [], patterns, top_k=6) == {}  # no co-sited cell to difference
    assert pattern_log_lr(reports, model, slope, 1, [0, 2], patterns, top_k=6,
                          cfg=PatternTestConfig(min_ues=1000)) == {}
    assert pattern_log_lr([], model, slope, 1, [0, 2], patterns, top_k=6) == {}
    with pytest.raises(ShapeError, match="pattern 'tilt'"):
        pattern_log_lr(reports, model, slope, 1, [0, 2], {"tilt": np.zeros((3, 5))}, top_k=6)
    with pytest.raises(ShapeError):
        pattern_log_lr([r[:, :5] for r in reports], model, slope, 1, [0, 2], patterns, top_k=6)
    with pytest.raises(ConfigError, match="cell 9"):
        pattern_log_lr(reports, model, slope, 9, [0, 2], patterns, top_k=6)
    with pytest.raises(ConfigError, match="slope_noise_deg"):
        PatternTestConfig(slope_noise_deg=-1.0)
    with pytest.raises(ConfigError, match="noise_db"):
        PatternTestConfig(noise_db=0.0)
    assert marginal_log_lr(np.array([0.0, np.log(3.0)])) == pytest.approx(np.log(2.0))
    with pytest.raises(ConfigError, match="finite"):
        marginal_log_lr(np.array([np.nan]))


def test_the_verifier_finds_an_uptilt_from_rop_0_in_the_reports_and_its_severity():
    from airan.twin.faults import Fault

    ep = SuiteEpisode(id="cal-up", scenario="ci-tiny", seed=3, rops=12,
                      faults=(Fault("uptilt_overshoot", (4,), severity=0.7, onset_rop=0),))
    net = NetworkTwin(ep.scenario)
    net.reset(seed=ep.seed, options={"faults": list(ep.faults)})
    v = Verifier(imperfect_factory(ep), VerifierConfig())
    assert v.audit_patterns(4) == {}  # no report yet
    for r in range(4):
        v.observe_reports(r, net.step()[4]["mr_rsrp_dbm"])
    llr = v.audit_patterns(4)
    marg = {k: marginal_log_lr(x) for k, x in llr.items()}
    assert set(llr) == {"excessive_downtilt", "uptilt_overshoot", "pa_degradation"}
    assert max(marg, key=marg.get) == "uptilt_overshoot" and marg["uptilt_overshoot"] > 10
    from airan.agents.verifier import AUDIT_SEVERITIES, audit_severities

    lo, hi = audit_severities(llr["uptilt_overshoot"], AUDIT_SEVERITIES)
    assert lo <= 0.7 <= hi
    with pytest.raises(ConfigError, match="one per severity"):
        audit_severities(llr["uptilt_overshoot"][:2], AUDIT_SEVERITIES)
    with pytest.raises(ConfigError, match="cell must be"):
        v.audit_patterns(99)
    # what a healthy network simulated from the twin reads on the uptilted cell: far below the real reports
    null = v.audit_null(4, 3)
    assert null.shape == (3,) and np.all(np.isfinite(null)) and np.max(null) < marg["uptilt_overshoot"] - 10
    assert np.array_equal(null, v.audit_null(4, 3))  # deterministic
    assert np.array_equal(null[:2], v.audit_null(4, 2))  # draw k is the same whatever the number of draws
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="draws"):
            v.audit_null(4, bad)
    assert Verifier(imperfect_factory(ep), VerifierConfig()).audit_null(4, 2).size == 0  # no report yet


def test_a_tilt_response_with_the_slopes_second_moment_gives_the_linear_model_and_bad_shapes_are_named():
    reports, model, slope, patterns = _pattern_problem(3, fault_row=2)
    linear = pattern_log_lr(reports, model, slope, 1, [0, 2], patterns, top_k=6)
    sd = PatternTestConfig().tilt_sd_deg  # two equally likely errors of +-sd carry the same variance as U(+-1 deg)
    resp = np.stack([slope * -sd, slope * sd])
    same = pattern_log_lr(reports, model, slope, 1, [0, 2], patterns, top_k=6, tilt_response_db=resp)
    for k in linear:
        np.testing.assert_allclose(same[k], linear[k], rtol=1e-9, atol=1e-9)
    # a response that bends (a steep pattern's curvature) is a different, wider covariance
    bent = pattern_log_lr(reports, model, slope, 1, [0, 2], patterns, top_k=6,
                          tilt_response_db=np.stack([slope * -sd + 3.0, slope * sd + 3.0]))
    assert marginal_log_lr(bent["tilt"]) != pytest.approx(marginal_log_lr(linear["tilt"]))
    with pytest.raises(ShapeError, match="tilt_response_db"):
        pattern_log_lr(reports, model, slope, 1, [0, 2], patterns, top_k=6, tilt_response_db=resp[:, :5])
    with pytest.raises(ConfigError, match="tilt_grid_deg"):
        PatternTestConfig(tilt_grid_deg=(0.0,))


def test_a_ues_movement_enters_as_its_own_error_and_takes_a_wild_ue_down_to_size():
    # three UEs whose reports of cell 1 sit 30 dB below their mates' (vehicles passing under the site): they make
    # a strong "fault"; with their movement's spread in the covariance they are just noisy UEs
    reports, model, slope, patterns = _pattern_problem(2, fault_row=None)
    for r in reports:
        r[:3, 1] -= 30.0
    plain = pattern_log_lr(reports, model, slope, 1, [0, 2], patterns, top_k=6)
    zero = pattern_log_lr(reports, model, slope, 1, [0, 2], patterns, top_k=6,
                          position_response_db=np.zeros((4,) + model.shape))
    assert all(np.array_equal(plain[k], zero[k]) for k in plain)  # no movement: the same test
    pos = np.zeros((4,) + model.shape)
    pos[:, :3, 1] = np.array([-30.0, 30.0, -30.0, 30.0])[:, None]  # they may have moved -30 to +30 dB on cell 1
    moved = pattern_log_lr(reports, model, slope, 1, [0, 2], patterns, top_k=6, position_response_db=pos)
    assert max(marginal_log_lr(v) for v in plain.values()) > 10 > max(marginal_log_lr(v) for v in moved.values())
    with pytest.raises(ShapeError, match="position_response_db"):
        pattern_log_lr(reports, model, slope, 1, [0, 2], patterns, top_k=6, position_response_db=pos[0])
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError, match="position_draws"):
            PatternTestConfig(position_draws=bad)


def test_the_verifier_takes_the_ues_movement_into_the_pattern_test_of_a_healthy_drop():
    # ci-tiny seed 633958961 with no fault: the reports fit a downtilt of cell 10 at about +31 nats, nearly all of
    # it from one UE on a wraparound boundary whose bearing, and sector, flips as it moves; with the movement in
    # the test the reading falls below zero
    ep = SuiteEpisode(id="moving", scenario="ci-tiny", seed=633958961, rops=12, faults=())
    net = NetworkTwin(ep.scenario)
    net.reset(seed=ep.seed)
    v = Verifier(imperfect_factory(ep), VerifierConfig())
    for r in range(4):
        v.observe_reports(r, net.step()[4]["mr_rsrp_dbm"])
    grid = PatternTestConfig(tilt_grid_deg=TILT_GRID_DEG)
    still = max(marginal_log_lr(x) for x in v.audit_patterns(10, cfg=grid).values())
    moving = max(marginal_log_lr(x) for x in v.audit_patterns(
        10, cfg=dataclasses.replace(grid, position_draws=8)).values())
    assert still > 25 > 0 > moving
