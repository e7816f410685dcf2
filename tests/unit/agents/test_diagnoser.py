import numpy as np
import pytest

from airan.agents.base import CAUSES
from airan.agents.diagnoser import CLASSES, MODEL_PATH, Diagnoser, SoftmaxModel, fit_temperature, softmax, train_softmax
from airan.agents.monitor import FEATURE_NAMES
from airan.core.errors import ConfigError, ShapeError, StoreError


def _synthetic(n=600, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(CLASSES), n)
    x = rng.normal(size=(n, len(FEATURE_NAMES)))
    x[np.arange(n), y] += 4.0  # class k shifts feature k
    return x, y


def test_train_learns_separable_classes_and_calibrates():
    x, y = _synthetic()
    m = train_softmax(x, y, steps=300)
    xt, yt = _synthetic(seed=1)
    assert np.mean(m.proba(xt).argmax(1) == yt) > 0.9
    t = fit_temperature(m, xt, yt)
    assert 0.25 <= t <= 8
    np.testing.assert_allclose(m.proba(xt).sum(1), 1.0)


def test_save_load_roundtrip(tmp_path):
    x, y = _synthetic(200)
    m = train_softmax(x, y, steps=50)
    m.meta = {"note": "test"}
    m.save(tmp_path / "m.npz")
    m2 = SoftmaxModel.load(tmp_path / "m.npz")
    np.testing.assert_allclose(m.proba(x), m2.proba(x))
    with pytest.raises(StoreError, match="nope"):
        SoftmaxModel.load(tmp_path / "nope.npz")
    with pytest.raises(ShapeError):
        m.proba(np.zeros((2, 3)))


def test_diagnoser_ranks_cell_and_cause():
    x, y = _synthetic()
    m = train_softmax(x, y, steps=300)
    d = Diagnoser(m, num_cells=4)
    k = CLASSES.index("pa_degradation")
    rng = np.random.default_rng(3)
    for _ in range(3):
        f = rng.normal(size=(4, len(FEATURE_NAMES)))
        f[:, 0] += 4.0  # cells look healthy ("none")
        f[2, 0] -= 4.0
        f[2, k] += 4.0
        d.observe(f)
    diag = d.diagnose()
    assert diag.cells[0] == 2
    assert diag.top(1) == ["pa_degradation"]
    assert set(diag.causes) == set(CAUSES)
    assert abs(sum(diag.causes.values()) - 1) < 1e-9
    assert softmax(np.zeros((1, 3))).shape == (1, 3)


@pytest.mark.skipif(not MODEL_PATH.exists(), reason="trained artefact not generated")
def test_shipped_model_loads_with_meta():
    m = SoftmaxModel.load()
    assert m.classes == CLASSES
    assert m.meta and m.meta["episodes"] > 0
    assert 0 < m.meta["detection_threshold"] < 1 and m.meta["persistence"] >= 1 and m.meta["calibration_episodes"] > 0


def test_hidden_layer_model_roundtrip_and_relu(tmp_path):
    rng = np.random.default_rng(0)
    f, h, k = len(FEATURE_NAMES), 5, len(CLASSES)
    m = SoftmaxModel(rng.normal(size=(h, k)), rng.normal(size=k), np.zeros(f), np.ones(f),
                     hidden_weight=rng.normal(size=(f, h)), hidden_bias=rng.normal(size=h))
    x = rng.normal(size=(7, f))
    expected = np.maximum(x @ m.hidden_weight + m.hidden_bias, 0) @ m.weight + m.bias
    np.testing.assert_allclose(m.logits(x), expected)
    m.save(tmp_path / "mlp.npz")
    np.testing.assert_allclose(SoftmaxModel.load(tmp_path / "mlp.npz").proba(x), m.proba(x))
    with pytest.raises(ShapeError, match=str(f)):
        m.proba(np.zeros((2, f + 1)))


def test_coverage_lead_ranks_first_and_the_twin_predicted_shift_picks_the_cause():
    from airan.agents.diagnoser import reweight, shift_likelihood

    x, y = _synthetic(400)
    m = train_softmax(x, y, steps=200)
    d = Diagnoser(m, num_cells=5)
    feats = np.zeros((5, len(FEATURE_NAMES)))
    feats[1, CLASSES.index("ho_misconfig")] = 6.0  # the classifier's favourite: cell 1, handover
    d.observe(feats)
    free = d.diagnose()
    assert free.cells[0] == 1 and free.top(1) == ["ho_misconfig"]
    predicted = {"uptilt_overshoot": np.array([2.0, 5.0, 8.0]), "excessive_downtilt": np.array([-3.0, -6.0, -9.0]),
                 "pa_degradation": np.array([-4.8, -8.4, -12.0])}
    up = d.diagnose(lead=3, lead_likelihood=shift_likelihood(+6.0, predicted))
    assert up.cells[0] == 3 and up.top(1) == ["uptilt_overshoot"] and up.causes["uptilt_overshoot"] > 0.8
    assert sum(up.causes.values()) == pytest.approx(1.0)
    # a layout where an uptilt lowers what most UEs hear: the prediction, not the sign, decides
    odd = {"uptilt_overshoot": np.array([-1.5, -3.5, -5.0]), "excessive_downtilt": np.array([-8.0, -14.0, -20.0])}
    assert d.diagnose(lead=3, lead_likelihood=shift_likelihood(-3.9, odd)).top(1) == ["uptilt_overshoot"]
    lik = shift_likelihood(-6.0, predicted)
    assert lik[CAUSES.index("ho_misconfig")] < 0.02  # nothing but tilt and power moves the reported RSRP
    g = reweight(np.zeros(len(CAUSES)), lik)  # the model gave the explaining causes nothing: the likelihood decides
    assert g.argmax() == CAUSES.index("excessive_downtilt") and g.sum() == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="nan"):
        shift_likelihood(float("nan"), predicted)
    # two components (median shift, edge drop): a mild downtilt moves the far UEs, not the median one
    two = {"none": np.array([[0.0, 3.0]]), "excessive_downtilt": np.array([[-1.5, 6.0], [-4.0, 10.0]]),
           "pa_degradation": np.array([[-4.8, 6.0], [-12.0, 14.0]])}
    lik2 = shift_likelihood(np.array([-2.0, 7.0]), two, np.array([2.0, 2.5]))
    assert lik2.argmax() == CAUSES.index("excessive_downtilt")
    assert lik2[CAUSES.index("ho_misconfig")] < 0.5 * lik2.max()  # "none" predicts a 3 dB drop, not 7


def test_a_demand_surge_lead_points_to_overload_and_is_cited():
    from airan.agents.diagnoser import surge_likelihood

    x, y = _synthetic(400)
    d = Diagnoser(train_softmax(x, y, steps=200), num_cells=5)
    feats = np.zeros((5, len(FEATURE_NAMES)))
    feats[2, CLASSES.index("external_interference")] = 6.0  # the classifier's favourite: interference
    d.observe(feats)
    lik = surge_likelihood(1.2)  # the cell's UEs ask 2.3x what they asked before
    assert lik.argmax() == CAUSES.index("overload_hotspot") and np.delete(lik, lik.argmax()).max() < 1e-4
    diag = d.diagnose(lead=2, lead_likelihood=lik, lead_evidence={"ue.dl_demand_surge_log2": 1.2})
    assert diag.top(1) == ["overload_hotspot"] and diag.cells[0] == 2
    assert diag.evidence["ue.dl_demand_surge_log2"] == 1.2
    assert surge_likelihood(0.1).argmax() != CAUSES.index("overload_hotspot")  # no surge: nothing for overload


def test_a_spread_lead_turns_a_shift_that_fits_no_fault_into_a_tilt():
    from airan.agents.diagnoser import SPREAD_OTHER_LIKELIHOOD, shift_likelihood, spread_likelihood

    x, y = _synthetic(400)
    d = Diagnoser(train_softmax(x, y, steps=200), num_cells=5)
    feats = np.zeros((5, len(FEATURE_NAMES)))
    feats[3, CLASSES.index("ho_misconfig")] = 1.0  # the classifier leans to a handover fault on cell 3 (p 0.5)
    d.observe(feats)
    # a mild downtilt: the median UE did not move and the edge dropped less than the twin predicted, so the shift
    # alone fits "no fault" (and so every cause that leaves the RSRP alone) better than the downtilt
    pred = {"none": np.array([[0.0, 1.7]]), "excessive_downtilt": np.array([[0.2, 4.5], [-4.5, 7.2]]),
            "uptilt_overshoot": np.array([[11.0, -8.0]]), "pa_degradation": np.array([[-4.0, 5.5]])}
    lik = shift_likelihood(np.array([0.0, 2.8]), pred, np.array([2.0, 2.5]))
    assert d.diagnose(lead=3, lead_likelihood=lik).top(1) == ["ho_misconfig"]
    spread = spread_likelihood()
    assert set(np.asarray(CAUSES)[spread == 1.0]) == {"excessive_downtilt", "uptilt_overshoot"}
    assert np.all(spread[spread < 1.0] == SPREAD_OTHER_LIKELIHOOD)
    diag = d.diagnose(lead=3, lead_likelihood=lik * spread)
    assert diag.cells[0] == 3 and diag.top(1) == ["excessive_downtilt"]  # the shift still says which tilt


def test_a_coverage_shift_lead_weighs_against_a_handover_misconfiguration():
    from airan.agents.diagnoser import SHIFT_HANDOVER_LIKELIHOOD, coverage_shift_likelihood, shift_likelihood

    x, y = _synthetic(400)
    d = Diagnoser(train_softmax(x, y, steps=200), num_cells=5)
    feats = np.zeros((5, len(FEATURE_NAMES)))
    feats[3, CLASSES.index("ho_misconfig")] = 1.0  # the classifier leans to a handover fault on cell 3
    d.observe(feats)
    pred = {"none": np.array([[0.0, 0.0]]), "excessive_downtilt": np.array([[-1.0, 5.0], [-3.0, 8.0]])}
    lik = shift_likelihood(np.array([-1.0, 4.0]), pred, np.array([2.0, 2.5]))  # the edge dropped 4 dB
    assert d.diagnose(lead=3, lead_likelihood=lik).top(1) == ["ho_misconfig"]
    shift = coverage_shift_likelihood()
    assert shift[CAUSES.index("ho_misconfig")] == SHIFT_HANDOVER_LIKELIHOOD
    assert np.all(np.delete(shift, CAUSES.index("ho_misconfig")) == 1.0)
    assert d.diagnose(lead=3, lead_likelihood=lik * shift).top(1) == ["excessive_downtilt"]


def test_a_pattern_test_weighs_the_tested_causes_against_no_fault_for_the_rest():
    from airan.agents.diagnoser import AUDIT_LLR_SCALE, pattern_likelihood

    lik = pattern_likelihood({"uptilt_overshoot": 40.0, "excessive_downtilt": -6.0, "pa_degradation": 0.0})
    up, ho = lik[CAUSES.index("uptilt_overshoot")], lik[CAUSES.index("ho_misconfig")]
    assert up == 1.0 and ho == pytest.approx(np.exp(-40.0 / AUDIT_LLR_SCALE))
    assert lik[CAUSES.index("pa_degradation")] == ho  # a ratio of 1: as likely as a cause that was not tested
    assert lik[CAUSES.index("excessive_downtilt")] < ho
    # nothing explains the reports better than no fault: the untested causes lead
    none = pattern_likelihood({"uptilt_overshoot": -3.0})
    assert none.max() == 1.0 and none[CAUSES.index("uptilt_overshoot")] < 1.0
    for bad in ({}, {"uptilt_overshoot": float("nan")}, {"tilt": 1.0}):
        with pytest.raises(ConfigError):
            pattern_likelihood(bad)
    with pytest.raises(ConfigError, match="scale"):
        pattern_likelihood({"uptilt_overshoot": 1.0}, scale=0.0)
    # a scale above 1 tempers the ratios (S63's 4): the same evidence weighs the causes less apart
    tempered = pattern_likelihood({"uptilt_overshoot": 40.0}, scale=4.0)
    tho = tempered[CAUSES.index("ho_misconfig")]
    assert tho == pytest.approx(np.exp(-10.0)) and tho > ho


def test_an_audit_finding_points_to_an_uptilt_when_stronger_and_a_pa_or_downtilt_when_weaker():
    from airan.agents.diagnoser import SPREAD_OTHER_LIKELIHOOD, audit_likelihood

    up, down = audit_likelihood(7.0), audit_likelihood(-5.0)
    assert up[CAUSES.index("uptilt_overshoot")] == 1.0 and up[CAUSES.index("pa_degradation")] == SPREAD_OTHER_LIKELIHOOD
    assert down[CAUSES.index("pa_degradation")] == down[CAUSES.index("excessive_downtilt")] == 1.0
    assert down[CAUSES.index("uptilt_overshoot")] == SPREAD_OTHER_LIKELIHOOD
    with pytest.raises(ConfigError, match="0.0"):
        audit_likelihood(0.0)


def test_the_per_ue_fit_prefers_the_pattern_the_ues_reported():
    from airan.agents.diagnoser import UE_FIT_HUBER, UE_FIT_SCALE_DB, ue_change_log_lik

    obs = np.array([-6.0, -3.0, 0.5, np.nan])  # UE 3 did not report the cell in both windows
    pred = np.array([[-6.0, -3.0, 0.5, 9.0], [0.0, 0.0, 0.0, 0.0], [-6.0, -3.0, 0.5 + 60.0, np.nan]])
    ll = ue_change_log_lik(obs, pred)
    assert ll.shape == (3,) and ll[0] == 0.0 and ll[0] > ll[1]
    # a UE 20 scales off costs linearly beyond the Huber corner, not quadratically
    a = 60.0 / UE_FIT_SCALE_DB
    assert ll[2] == pytest.approx(-(UE_FIT_HUBER * a - 0.5 * UE_FIT_HUBER**2))
    assert ue_change_log_lik(np.full(4, np.nan), pred).tolist() == [0.0, 0.0, 0.0]  # no UE: no evidence
    with pytest.raises(ShapeError, match="predicted_db"):
        ue_change_log_lik(obs, pred[0])
    with pytest.raises(ConfigError, match="scale_db"):
        ue_change_log_lik(obs, pred, scale_db=0.0)


def test_the_per_ue_fit_decides_the_direction_of_a_tilt_the_classifier_is_sure_of_the_wrong_way():
    """A strong uptilt of a rural macro cell: every UE loses, the near ones most. The classifier reads a downtilt
    at p = 1; tied, the tilt causes share its belief and the per-UE fit says which way."""
    from airan.agents.diagnoser import UE_FIT_TEMPER, tied_tilts, tilt_direction_likelihood, tilt_fits

    x, y = _synthetic(400)
    d = Diagnoser(train_softmax(x, y, steps=200), num_cells=5)
    feats = np.zeros((5, len(FEATURE_NAMES)))
    feats[3, CLASSES.index("excessive_downtilt")] = 8.0
    d.observe(feats)
    obs = np.array([-9.0, -8.0, -6.0, -4.0, -2.0])  # near UEs first
    pred = {"excessive_downtilt": np.array([[1.0, 0.0, -2.0, -5.0, -9.0]]),  # the far UEs lose most
            "uptilt_overshoot": np.array([[-4.0, -3.0, -2.0, -1.0, 0.0], [-9.0, -8.0, -6.0, -4.0, -2.0]])}
    fits = tilt_fits(obs, pred)
    assert fits["uptilt_overshoot"] == 0.0 and fits["excessive_downtilt"] < -5.0
    lik = tilt_direction_likelihood(fits)
    up, down = CAUSES.index("uptilt_overshoot"), CAUSES.index("excessive_downtilt")
    assert lik[up] == 1.0 and lik[down] == pytest.approx(np.exp(fits["excessive_downtilt"] / UE_FIT_TEMPER))
    assert np.all(np.delete(lik, [up, down]) == 1.0)  # it says nothing about the other causes
    assert d.diagnose(lead=3, lead_likelihood=lik).top(1) == ["excessive_downtilt"]  # the classifier's 1.0 wins
    diag = d.diagnose(lead=3, lead_likelihood=lik, tie_tilts=True)
    assert diag.top(1) == ["uptilt_overshoot"] and diag.cells[0] == 3
    tied = tied_tilts(np.array([0.1 if c == "excessive_downtilt" else 0.01 for c in CAUSES]))
    assert tied[up] == tied[down] == 0.1 and tied[CAUSES.index("pa_degradation")] == 0.01
    with pytest.raises(ConfigError, match="uptilt_overshoot"):
        tilt_fits(obs, {"excessive_downtilt": pred["excessive_downtilt"]})
    with pytest.raises(ConfigError, match="temper"):
        tilt_direction_likelihood(fits, temper=0.0)
    with pytest.raises(ConfigError, match="finite"):
        tilt_direction_likelihood({"excessive_downtilt": 0.0})


def test_the_change_fit_weighs_the_causes_that_leave_the_rsrp_alone_by_the_fit_of_no_change():
    """A handover parameter cannot move the RSRP a UE receives from a cell: UEs whose reports of the cell fell
    as a downtilt would make them fall speak against it; UEs whose reports stayed put speak for it."""
    from airan.agents.diagnoser import UE_FIT_TEMPER, change_fit_likelihood, ue_change_log_lik

    pred = {"excessive_downtilt": np.array([[0.0, -1.0, -4.0, -8.0], [0.0, -2.0, -8.0, -14.0]]),
            "pa_degradation": np.array([[-3.0] * 4, [-6.0] * 4])}
    ho, down, pa = (CAUSES.index(c) for c in ("ho_misconfig", "excessive_downtilt", "pa_degradation"))
    fell = np.array([0.5, -1.5, -8.0, np.nan])  # the far UE did not report the cell in both windows
    lik, gain = change_fit_likelihood(fell, pred)
    fell_gain = gain
    assert lik.shape == (len(CAUSES),) and lik[down] == 1.0
    still = ue_change_log_lik(fell, np.zeros((1, 4)))[0]
    assert gain == pytest.approx(np.max(ue_change_log_lik(fell, pred["excessive_downtilt"])) - still) and gain > 2
    assert lik[ho] == pytest.approx(np.exp(-gain / UE_FIT_TEMPER))
    # every cause without a prediction shares the fit of no change; PA fits worse than the downtilt here
    others = [i for i, c in enumerate(CAUSES) if c not in pred]
    assert np.all(lik[others] == lik[ho]) and lik[pa] < 1.0
    lik, gain = change_fit_likelihood(np.array([0.3, -0.4, 0.2, -0.1]), pred)  # nothing moved
    assert gain < 0 and lik[ho] == 1.0 and lik[down] < lik[ho]
    lik, gain = change_fit_likelihood(np.full(4, np.nan), pred)  # no UE reported it twice: no evidence
    assert gain == 0.0 and np.all(lik == 1.0)
    with pytest.raises(ConfigError, match="at least one"):
        change_fit_likelihood(fell, {})
    with pytest.raises(ConfigError, match="no_such"):
        change_fit_likelihood(fell, {"no_such": pred["pa_degradation"]})
    with pytest.raises(ConfigError, match="temper"):
        change_fit_likelihood(fell, pred, temper=-1.0)
    # as_best: a PA degradation weighed as the best tilt, whatever its own uniform drop would fit
    tilts = {"excessive_downtilt": pred["excessive_downtilt"]}
    lik, gain2 = change_fit_likelihood(fell, tilts, as_best=("pa_degradation",))
    assert lik[pa] == lik[down] == 1.0 and gain2 == pytest.approx(fell_gain) and lik[ho] < 1.0
    with pytest.raises(ConfigError, match="as_best"):
        change_fit_likelihood(fell, pred, as_best=("pa_degradation",))


def test_change_fit_gains_score_every_cell_against_no_change():
    """Cell 0's UEs lost what a 0.5-severity PA degradation predicts, cell 1's reports did not move, cell 2 has
    too few reporting UEs: the first gains, the second loses, the third is NaN; each column equals
    ``change_fit_likelihood``'s gain of that cell alone."""
    from airan.agents.diagnoser import change_fit_gains, change_fit_likelihood, fit_scan_likelihood

    rng = np.random.default_rng(0)
    u = 30
    pa = np.stack([np.full((u, 3), -6.0 * s) for s in (0.5, 1.0)])  # [S, U, C]
    tilt = rng.normal(0.0, 4.0, (2, u, 3))
    obs = rng.normal(0.0, 1.0, (u, 3))
    obs[:, 0] += -3.0
    obs[2:, 2] = np.nan
    gains = change_fit_gains(obs, {"pa_degradation": pa, "excessive_downtilt": tilt})
    assert gains.shape == (3,) and gains[0] > 10 and gains[1] < 0 and np.isnan(gains[2])
    for c in (0, 1):
        _, g = change_fit_likelihood(obs[:, c], {"pa_degradation": pa[:, :, c], "excessive_downtilt": tilt[:, :, c]})
        assert gains[c] == pytest.approx(g)
    lik = fit_scan_likelihood()
    assert lik[CAUSES.index("pa_degradation")] == 1.0 and lik[CAUSES.index("ho_misconfig")] < 0.1
    with pytest.raises(ShapeError, match=r"\[S, 30, 3\]"):
        change_fit_gains(obs, {"pa_degradation": pa[:, :, :2]})
    with pytest.raises(ShapeError, match="U, C"):
        change_fit_gains(obs[:, 0], {"pa_degradation": pa})
