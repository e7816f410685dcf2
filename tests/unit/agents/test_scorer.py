"""The scorer on hand-built logs whose right answers are known."""

from __future__ import annotations

import math

import pytest

from airan.agents.scorer import compare, median_ci, plot_confusion, recovery_vs_reference, score, wilson
from airan.agents.suite import Suite, SuiteEpisode
from airan.core.errors import ConfigError
from airan.twin.faults import Fault

R = 12
OUT = SuiteEpisode("out", "ci-tiny", 3, R, (Fault("cell_outage", (0,), onset_rop=4),))
PA = SuiteEpisode("pa", "ci-tiny", 6, R, (Fault("pa_degradation", (5,), 0.8, onset_rop=4),))
CTRL = SuiteEpisode("ctl", "ci-tiny", 9, R, (), control=True)
UND = SuiteEpisode("und", "ci-tiny", 12, R, (Fault("pa_degradation", (7,), 0.4, onset_rop=4),), undetectable=True)
SUITE = Suite("hand", "custom", 0, (OUT, PA, CTRL, UND))
# impact series: 1.0 without the fault, 0.5 from onset without healing (noise-free, so sigma = 0)
NOFAULT = [1.0] * R
UNHEALED = [1.0] * 4 + [0.5] * 8


def _dec(rop, dets=(), diag=None):
    return {"rop": rop, "detections": [{"cell": c, "score": 1.0, "kpis": []} for c in dets],
            "diagnosis": diag, "actions": [], "approval_requests": [], "notes": []}


def _act(rop, kind="power", cell=1, value=1.0, high=False, approval="", valid=False, rollback=-1, pre=0.0, post=1.0):
    return {"rop": rop, "decided_rop": rop - 1, "kind": kind, "cell": cell, "value": value, "mode": "", "pre": pre,
            "post": post, "high_risk": high, "approval": approval, "approval_valid": valid, "preauthorized": "",
            "preauth_valid": False, "rollback_of": rollback, "reason": ""}


def _log(ep, policy, decisions=None, applied=(), healed=None, approvals=()):
    decisions = decisions or {}
    return {"episode_id": ep.id, "policy": policy, "scenario": ep.scenario, "seed": ep.seed, "rops": R,
            "decisions": [decisions.get(r, _dec(r)) for r in range(R)], "applied": list(applied),
            "approvals": list(approvals),
            "impact": {"cells": [0, 1, 2, 5, 6, 7], "fault_cells": [c for f in ep.faults for c in f.cells],
                       "kpi": "dl_served_ratio", "healed": healed or list(UNHEALED if ep.faults else NOFAULT),
                       "unhealed": list(UNHEALED if ep.faults else NOFAULT), "nofault": list(NOFAULT)},
            "report": "", "wall_s": 0.0}


def _good_logs():
    diag = {"causes": {"cell_outage": 0.8, "pa_degradation": 0.2}, "cells": [0, 1], "evidence": {}}
    # outage: detected at ROP 5 (ttd 1), right cause and cell; healed fully from ROP 7
    out_healed = [1.0] * 4 + [0.5, 0.5, 0.5] + [1.0] * 5
    out = _log(OUT, "p", {5: _dec(5, [0], diag)}, [_act(7, "restart", 0, high=True, approval="a1", valid=True)],
               out_healed, [{"id": "a1", "requested_rop": 5, "granted_rop": 6, "actions": []}])
    pa = _log(PA, "p")  # missed
    # control: one false alarm and one unapproved high-risk action, which also hurts the KPI (harmful)
    ctl_healed = [1.0] * 8 + [0.2, 0.2, 1.0, 1.0]
    ctl = _log(CTRL, "p", {2: _dec(2, [3], diag)}, [_act(8, "cell_off", 3, high=True, pre=1.0, post=0.0)], ctl_healed)
    und = _log(UND, "p")
    return [out, pa, ctl, und]


def test_metrics_on_known_answers():
    s = score(SUITE, _good_logs())
    m = s["metrics"]
    assert s["policy"] == "p" and s["episodes"] == 4
    assert m["fault_episodes"] == 2 and m["control_episodes"] == 1  # the undetectable one is scored apart
    assert m["detection_recall"]["value"] == 0.5 and m["hard_fault_recall"]["value"] == 1.0
    assert m["detection_precision"]["value"] == 0.5  # 1 detected fault / (1 + 1 alarmed control)
    assert m["control_alarm_rate"]["value"] == 1.0 and m["control_action_rate"]["value"] == 1.0
    assert m["ttd_rops_median"]["value"] == 1.0
    assert m["rca_top1"]["value"] == 1.0 and m["rca_top3"]["value"] == 1.0 and m["localization_top1"]["value"] == 1.0
    # outage window ROPs 6..11: gain 0,0.5*5 over loss 0.5*6 -> 5/6; pa undetected: 0
    fkrs = sorted([5 / 6, 0.0])
    assert m["fkr_median"]["value"] == pytest.approx(sum(fkrs) / 2)
    assert m["full_recovery_rate"]["value"] == 0.5
    assert m["mttr_rops_median"]["n"] == 2
    assert m["unapproved_high_risk_actions"] == 1
    assert m["harmful_action_rate"]["k"] == 1 and m["harmful_action_rate"]["n"] == 2
    assert m["rollback_within_2_rops"]["value"] == 0.0 and m["rollbacks"] == 0
    assert m["approvals_held"] == 1 and m["approval_hold_rops_mean"] == 1.0
    assert s["undetectable"]["episodes"] == 1
    conf = s["confusion"]
    row = conf["rows"].index("cell_outage")
    assert conf["matrix"][row][conf["cols"].index("cell_outage")] == 1
    assert conf["matrix"][conf["rows"].index("pa_degradation")][conf["cols"].index("none")] == 1
    assert s["per_class"]["cell_outage"]["detection_recall"]["value"] == 1.0


def test_a_policy_that_does_nothing_scores_zero():
    logs = [_log(e, "none") for e in SUITE.episodes]
    m = score(SUITE, logs)["metrics"]
    assert m["detection_recall"]["value"] == 0.0 and m["detection_recall"]["n"] == 2
    assert m["fkr_median"]["value"] == 0.0 and m["full_recovery_rate"]["value"] == 0.0
    assert m["control_alarm_rate"]["value"] == 0.0 and m["unapproved_high_risk_actions"] == 0
    assert m["detection_precision"]["value"] is None  # no alarm at all: precision undefined


def test_alarms_before_onset_or_off_scope_are_not_detections():
    early = _log(OUT, "q", {2: _dec(2, [0]), 6: _dec(6, [15])})
    m = score(SUITE, [early])["metrics"]
    assert m["detection_recall"]["value"] == 0.0 and m["false_alarm_episodes"] == 1
    assert m["alarm_precision"]["value"] == 0.0


def test_rollback_within_two_rops_is_counted():
    harmful = _act(6, "tilt", 1, value=-2.0, pre=10.0, post=8.0)
    undo = _act(8, "tilt", 1, value=2.0, pre=8.0, post=10.0, rollback=6)
    healed = [1.0] * 4 + [0.5, 0.5, 0.1, 0.1, 0.5, 0.5, 0.5, 0.5]
    m = score(SUITE, [_log(OUT, "q", applied=[harmful, undo], healed=healed)])["metrics"]
    assert m["harmful_action_rate"]["k"] == 1 and m["harmful_action_rate"]["n"] == 1  # rollbacks are not counted
    assert m["rollbacks"] == 1 and m["rollback_within_2_rops"]["value"] == 1.0


def test_compare_lists_what_changed_per_episode_and_every_harmful_action():
    a = _good_logs()
    same = compare(SUITE, a, a)
    assert same["changed"] == [] and same["episodes"] == 4 and same["summary"]["changed"] == 0
    assert same["harmful"]["a"] == same["harmful"]["b"]
    (h,) = same["harmful"]["a"]  # the control's cell_off: healed 0.2 vs 1.0 over its ROP and the next
    assert (h["episode"], h["rop"], h["kind"], h["cell"], h["rolled_back"]) == ("ctl", 8, "cell_off", 3, False)
    assert h["impact"] == pytest.approx(-0.8)
    # B: detects and heals the PA fault, leaves the control alone, and has no log of the undetectable episode
    diag = {"causes": {"pa_degradation": 0.9}, "cells": [5], "evidence": {}}
    pa = _log(PA, "p", {5: _dec(5, [5], diag)}, [_act(6, "power", 5, value=3.0)], [1.0] * 4 + [0.5, 0.5] + [1.0] * 6)
    b = [a[0], pa, _log(CTRL, "p")]
    out = compare(SUITE, a, b)
    assert out["episodes"] == 3 and out["only_a"] == ["und"] and out["only_b"] == []
    diffs = {c["id"]: c["diff"] for c in out["changed"]}
    assert set(diffs) == {"pa", "ctl"}
    assert diffs["pa"]["detected"] == [False, True] and diffs["pa"]["predicted"] == ["none", "pa_degradation"]
    assert diffs["pa"]["fkr"] == [0.0, 1.0] and diffs["pa"]["full"] == [False, True]
    assert diffs["ctl"]["alarmed"] == [True, False] and diffs["ctl"]["harmful_count"] == [1, 0]
    sm = out["summary"]
    assert (sm["detections_gained"], sm["detections_lost"], sm["full_gained"], sm["fkr_up"], sm["fkr_down"]) == (
        1, 0, 1, 1, 0)
    assert (sm["harmful_a"], sm["harmful_b"]) == (1, 0) and out["harmful"]["b"] == []
    with pytest.raises(ConfigError, match="both sides"):
        compare(SUITE, [], a)


def test_bad_inputs_are_named():
    with pytest.raises(ConfigError, match="ghost"):
        score(SUITE, [{**_log(OUT, "p"), "episode_id": "ghost"}])
    with pytest.raises(ConfigError, match="policies"):
        score(SUITE, [_log(OUT, "a"), _log(PA, "b")])
    with pytest.raises(ConfigError):
        score(SUITE, [])


def test_intervals():
    w = wilson(0, 10)
    assert w["value"] == 0.0 and w["ci95"][0] == 0.0 and w["ci95"][1] == pytest.approx(0.2775, abs=1e-3)
    w = wilson(5, 10)
    assert w["ci95"][0] == pytest.approx(1 - w["ci95"][1])
    assert wilson(0, 0)["value"] is None
    m = median_ci([1.0, 2.0, 3.0, 4.0, 100.0])
    assert m["value"] == 3.0 and m["ci95"][0] <= 3.0 <= m["ci95"][1]
    assert median_ci([1.0, 2.0]) == median_ci([1.0, 2.0])  # fixed seed
    assert median_ci([])["value"] is None and not math.isnan(median_ci([float("nan"), 2.0])["value"])


def test_confusion_png(tmp_path):
    s = score(SUITE, _good_logs())
    p = plot_confusion(s["confusion"], tmp_path / "c.png")
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_recovery_split_by_what_the_reference_recovered():
    good = score(SUITE, _good_logs())  # the outage fully recovered, the PA episode not
    assert [(r["id"], r["full"]) for r in good["recovery"]] == [("out", True), ("pa", False)]
    nothing = score(SUITE, [_log(e, "none") for e in SUITE.episodes])
    split = recovery_vs_reference(nothing, good)
    assert split["reference"] == "p" and split["episodes"] == 2
    assert split["recoverable"]["episodes"] == 1 and split["recoverable"]["full_recovery_rate"]["value"] == 0.0
    assert split["recoverable"]["reference_fkr_median"]["value"] == pytest.approx(5 / 6)
    assert split["not_recoverable"]["episodes"] == 1 and split["not_recoverable"]["fkr_median"]["value"] == 0.0
    assert recovery_vs_reference(good, good)["recoverable"]["full_recovery_rate"]["value"] == 1.0
    old = {k: v for k, v in good.items() if k != "recovery"}  # a score written before the table existed
    assert recovery_vs_reference(nothing, old) is None


def test_a_compensation_left_in_place_after_the_fault_ends_is_counted():
    # a hotspot from ROP 4 that ends at ROP 8: the network is back to 1.0 without healing after it
    hot = SuiteEpisode("hot", "ci-tiny", 3, R, (Fault("overload_hotspot", (0,), 0.8, onset_rop=4, duration_rops=4),))
    suite = Suite("post", "custom", 0, (hot,))
    unhealed = [1.0] * 4 + [0.5] * 4 + [1.0] * 4
    healed_left = [1.0] * 4 + [0.5, 0.5, 0.9, 0.9] + [0.9] * 4  # the offload still costs 0.1 after the end
    healed_back = [1.0] * 4 + [0.5, 0.5, 0.9, 0.9] + [1.0] * 4
    scored = {}
    for name, healed in (("left", healed_left), ("back", healed_back)):
        lg = _log(hot, name, {5: _dec(5, [0])}, [_act(6, "cio", 0, 6.0, pre=0.0, post=6.0)], healed)
        lg["impact"]["unhealed"] = unhealed
        scored[name] = score(suite, [lg])["metrics"]
    assert scored["left"]["post_fault_lingering_rate"]["k"] == 1
    assert scored["left"]["post_fault_gain_median"]["value"] == pytest.approx(-0.1)
    assert scored["back"]["post_fault_lingering_rate"]["k"] == 0
    assert scored["back"]["post_fault_lingering_rate"]["n"] == 1
    # no action, no post-fault episode
    lg = _log(hot, "none", healed=unhealed)
    lg["impact"]["unhealed"] = unhealed
    assert score(suite, [lg])["metrics"]["post_fault_lingering_rate"]["n"] == 0


def test_pooling_two_runs_scores_their_union_and_keeps_them_apart():
    from airan.agents.suite import pool_suites

    other = Suite("hand2", "custom", 1, (OUT, PA, CTRL, UND))
    logs = _good_logs()
    missed = [_log(OUT, "p"), _log(PA, "p"), _log(CTRL, "p"), _log(UND, "p")]  # the second run heals nothing
    pooled, pooled_logs = pool_suites([(SUITE, logs), (other, missed)])
    assert [e.id for e in pooled.episodes][:2] == ["hand/out", "hand/pa"]
    assert pooled.meta["pooled"] == ["hand", "hand2"]
    assert {lg["episode_id"] for lg in pooled_logs} == {e.id for e in pooled.episodes}
    assert logs[0]["episode_id"] == "out"  # the caller's logs are not renamed in place
    one, both = score(SUITE, logs)["metrics"], score(pooled, pooled_logs)["metrics"]
    assert one["detection_recall"]["n"] == 2 and both["detection_recall"]["n"] == 4
    assert both["detection_recall"]["k"] == one["detection_recall"]["k"] == 1
    assert both["control_alarm_rate"]["k"] == 1 and both["control_alarm_rate"]["n"] == 2
    with pytest.raises(ConfigError, match="hand"):
        pool_suites([(SUITE, logs), (SUITE, logs)])
    with pytest.raises(ConfigError, match="'nope'"):
        pool_suites([(SUITE, [{**logs[0], "episode_id": "nope"}])])
    with pytest.raises(ConfigError, match="at least one"):
        pool_suites([])


def test_clustered_rate_widens_the_interval_when_events_come_in_sets():
    from airan.agents.scorer import clustered_rate

    # 100 episodes of 6 actions; in 2 of them all 6 harm: 12/600 as independent trials, but 2 events really
    k, n = [6, 6] + [0] * 98, [6] * 100
    c, w = clustered_rate(k, n), wilson(12, 600)
    assert c["value"] == w["value"] == 0.02 and (c["k"], c["n"], c["clusters"]) == (12, 600, 100)
    assert c["ci95"][0] <= w["ci95"][0] and c["ci95"][1] > w["ci95"][1] + 0.005
    # the same 12 harmful actions spread one per episode: close to Wilson
    spread = clustered_rate([1] * 12 + [0] * 88, [6] * 100)
    assert spread["ci95"][1] < c["ci95"][1]
    # no event: Wilson's upper bound survives (the bootstrap alone would give [0, 0])
    assert clustered_rate([0, 0], [3, 0])["ci95"] == wilson(0, 3)["ci95"]
    assert clustered_rate([], [])["value"] is None
    assert clustered_rate(k, n) == clustered_rate(k, n)  # fixed seed
    with pytest.raises(ConfigError, match="0 <= k <= n"):
        clustered_rate([3], [2])


def test_an_episode_made_worse_than_never_acting_is_told_apart_from_one_left_alone():
    """The clipped FKR reads 0 for both; ``worsened_rate`` counts the episode whose actions cost more than the
    fault window's noise allows, and ``fkr_raw`` keeps the sign."""
    diag = {"causes": {"cell_outage": 1.0}, "cells": [0], "evidence": {}}
    worse = [1.0] * 4 + [0.5, 0.5] + [0.3] * 6  # an action at ROP 6 took 0.2 more than the fault did
    noisy = [1.0, 1.02] * 6  # sigma = std(diff) / sqrt(2) = 0.02
    scored = {}
    for name, healed, nofault in (("alone", None, None), ("worse", worse, None), ("noise", [1.0] * 4 + [0.5] * 2 +
                                                                                     [0.49] * 6, noisy)):
        lg = _log(OUT, name, {5: _dec(5, [0], diag)}, [_act(6, "power", 1, 3.0, pre=0.0, post=3.0)] if healed else (),
                  healed)
        if nofault:
            lg["impact"]["nofault"] = nofault
        scored[name] = score(Suite("w", "custom", 0, (OUT,)), [lg])
    for name in scored:
        assert scored[name]["metrics"]["fkr_median"]["value"] == 0.0
    assert scored["alone"]["metrics"]["worsened_rate"]["k"] == 0
    assert scored["worse"]["metrics"]["worsened_rate"]["k"] == 1
    assert scored["worse"]["metrics"]["worsened_rate"]["n"] == 1
    assert scored["worse"]["recovery"][0]["fkr_raw"] == pytest.approx(-0.4)  # -0.2 / 0.5 over ROPs 6-11
    assert scored["worse"]["per_class"]["cell_outage"]["worsened_rate"]["k"] == 1
    # 0.01 below never acting, where the no-fault series moves 0.02 a ROP: within the noise
    assert scored["noise"]["metrics"]["worsened_rate"]["k"] == 0
    assert scored["noise"]["recovery"][0]["fkr_raw"] < 0
