"""bench/heal_record.py: committed results read against the issue's targets, draws pooled."""

import pytest

from ._helpers import load_bench


@pytest.fixture(scope="module")
def mod():
    return load_bench("heal_record")


def _rate(k, n):
    return {"value": k / n if n else None, "k": k, "n": n}


def _result(suite="s", recall=(9, 10), harm=(1, 100), fkr=0.5, mttr=6.0, rca_classes=None, son=True):
    metrics = {"detection_recall": _rate(*recall), "harmful_action_rate": _rate(*harm),
               "fkr_median": {"value": fkr, "n": 10}, "mttr_rops_median": {"value": mttr, "n": 10},
               "unapproved_high_risk_actions": 0, "rollback_within_2_rops": {"value": None, "k": 0, "n": 0}}
    per_class = {c: {"rca_top1_micro": _rate(*kn)} for c, kn in (rca_classes or {}).items()}
    pols = {"airan": {"metrics": metrics, "per_class": per_class}}
    if son:
        pols["son"] = {"metrics": {"detection_recall": _rate(5, 10), "harmful_action_rate": _rate(1, 100),
                                   "fkr_median": {"value": 0.6}, "mttr_rops_median": {"value": 14.0},
                                   "unapproved_high_risk_actions": 0}}
    return {"suite": {"name": suite}, "policies": pols}


def test_rates_pool_their_counts_and_medians_average_over_draws(mod):
    rec = mod.record("x", [_result(recall=(9, 10), fkr=0.4, mttr=6.0), _result(recall=(10, 10), fkr=0.6, mttr=8.0)])
    m = rec["metrics"]
    assert (m["detection_recall"]["airan"]["k"], m["detection_recall"]["airan"]["n"]) == (19, 20)
    assert m["detection_recall"]["meets"] is False  # 19/20 = 0.95 < 0.97
    assert m["fkr_median"]["airan"]["value"] == pytest.approx(0.5)
    assert (m["fkr_median"]["airan"]["min"], m["fkr_median"]["airan"]["max"]) == (0.4, 0.6)
    assert m["mttr_rops_median"]["airan"]["value"] == pytest.approx(7.0)
    assert m["mttr_rops_median"]["meets"] is True  # 7 <= son's 14 / 2


def test_targets_baselines_and_ties(mod):
    m = mod.record("x", [_result(recall=(19, 20), harm=(2, 100), mttr=8.0)])["metrics"]
    assert m["detection_recall"]["meets"] is False  # 0.95 < 0.97
    assert m["detection_recall"]["beats_son"] == "yes"  # 0.95 > 0.5
    assert m["harmful_action_rate"]["meets"] is False and m["harmful_action_rate"]["beats_son"] == "no"
    assert m["unapproved_high_risk_actions"]["meets"] is True
    assert m["unapproved_high_risk_actions"]["beats_son"] == "tie"
    assert m["mttr_rops_median"]["meets"] is False  # 8 > 14 / 2
    assert m["fkr_median"]["beats_son"] == "no"  # 0.5 < 0.6
    assert m["rollback_within_2_rops"]["meets"] is True  # no harmful action: nothing to roll back
    assert "beats_rules" not in m["detection_recall"]  # no rules run in the file


def test_the_lowest_class_is_found_over_pooled_draws(mod):
    a = _result(rca_classes={"uptilt_overshoot": (3, 4), "cell_outage": (2, 2)})
    b = _result(rca_classes={"uptilt_overshoot": (1, 4), "cell_outage": (2, 2)})
    low = mod.record("x", [a, b])["metrics"]["rca_top1_lowest_class"]
    assert low["airan"]["class"] == "uptilt_overshoot" and (low["airan"]["k"], low["airan"]["n"]) == (4, 8)
    assert low["meets"] is False  # 0.5 < 0.80
    assert "uptilt_overshoot" in mod.markdown([mod.record("x", [a, b])])


def test_bad_runs_are_refused_by_name(mod):
    with pytest.raises(ValueError, match="'x'.*same suite"):
        mod.record("x", [_result(suite="a"), _result(suite="b")])
    with pytest.raises(ValueError, match="'y' names no result file"):
        mod.record("y", [])
    bad = _result()
    del bad["policies"]["airan"]
    with pytest.raises(ValueError, match="'z'.*no 'airan'"):
        mod.record("z", [bad])
