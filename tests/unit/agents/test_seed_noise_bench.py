"""bench/heal_seed_noise.py: its LABEL=LOGS arguments and the spread over draws."""

import re
from pathlib import Path

import pytest

from ._helpers import load_bench


@pytest.fixture(scope="module")
def mod():
    return load_bench("heal_seed_noise")


def test_labelled_runs_keep_their_order_and_a_bad_item_is_named(mod):
    assert mod.labelled(["0,1=a/logs.jsonl", "2,3=b/logs.jsonl"], "--draws") == [
        ("0,1", Path("a/logs.jsonl")), ("2,3", Path("b/logs.jsonl"))]
    for bad in (["logs.jsonl"], ["=logs.jsonl"], ["x="]):
        with pytest.raises(SystemExit, match=repr(bad[0]).replace("[", r"\[")):
            mod.labelled(bad, "--draws")
    with pytest.raises(SystemExit, match="'x' given twice"):
        mod.labelled(["x=a", "x=b"], "--compare")


def test_the_spread_over_draws_skips_unmeasured_values(mod):
    rows = {"a": {"m": {"k": 17}}, "b": {"m": {"k": 8}}, "c": {"m": {"k": None}}, "d": {"m": {"k": 12}}}
    assert mod.spread(rows, "m", "k") == {"min": 8.0, "max": 17.0, "range": 9.0}
    assert mod.spread({"a": {"m": {"k": None}}}, "m", "k") == {}


def test_a_variant_is_summed_over_its_own_draws_against_the_same_draws_defaults(mod):
    def row(k):  # every count metric with k of 100, the FKR median unmeasured
        return {c: {"value": None, "k": k if c != "fkr_median" else None, "n": 100} for c in mod.COUNTS}

    rows = {"0,1": row(10), "2,3": row(20), "4,5": row(99), "v@0,1": row(11), "v@2,3": row(25)}
    compared = {"v@0,1 - 0,1": {"mean_diff": 0.02, "mean_diff_raw": 0.03},
                "v@2,3 - 2,3": {"mean_diff": -0.01, "mean_diff_raw": -0.05}}
    out = mod.summarise(rows, compared, {"v@0,1": ("v", "0,1"), "v@2,3": ("v", "2,3")})["v"]
    assert out["draws"] == ["0,1", "2,3"] and out["paired_fkr_mean"] == pytest.approx(0.005)
    assert out["paired_fkr_raw_mean"] == pytest.approx(-0.01)  # the unclipped FKR can tell a different story
    assert set(out["counts"]) == set(mod.COUNTS[1:])  # every count a pre-registered rule reads
    assert out["counts"]["full_recovery_rate"] == {"default": 30, "variant": 36, "n_default": 200, "n_variant": 200}
    assert out["harmful_action_rate"] == {"default": 30, "variant": 36, "actions_default": 200,
                                          "actions_variant": 200}  # the draw 4,5 it did not run is left out


def _summary(mod, fkr, default, variant):
    """A ``summarise`` entry with every count ``default`` / ``variant`` (dicts override per count)."""
    counts = {k: {"default": default.get(k, 100), "variant": variant.get(k, 100)} for k in mod.COUNTS[1:]}
    return {"paired_fkr_mean": fkr, "counts": counts}


def test_the_four_draw_rule_keeps_a_default_only_when_every_rule_holds(mod):
    ok = mod.judge(_summary(mod, -0.01, {"full_recovery_rate": 50}, {"full_recovery_rate": 53}), "keep")
    assert ok["candidate"] == "default" and ok["candidate_wins"]  # the variant is 0.01 worse; full within 4
    assert ok["rules"][0] == {"rule": "paired FKR > 0", "candidate": 0.01, "other": 0.0, "holds": True}
    tie = mod.judge(_summary(mod, 0.0, {}, {}), "keep")
    assert not tie["candidate_wins"] and not tie["rules"][0]["holds"]  # a tie loses rule 1
    harm = mod.judge(_summary(mod, -0.01, {"harmful_action_rate": 109}, {}), "keep")
    assert not harm["candidate_wins"]  # 9 more harmful actions than the other setting
    assert [r["holds"] for r in harm["rules"]].count(False) == 1
    full = mod.judge(_summary(mod, 0.02, {"full_recovery_rate": 60}, {"full_recovery_rate": 55}), "adopt")
    assert full["candidate"] == "variant" and not full["candidate_wins"]  # 5 fewer full recoveries


def test_a_monitor_setting_may_not_lose_recall(mod):
    s = _summary(mod, -0.01, {"detection_recall": 98}, {"detection_recall": 100})
    assert mod.judge(s, "keep")["candidate_wins"]  # 2 fewer detections are within 4
    assert not mod.judge(s, "keep", recall_not_lower=True)["candidate_wins"]
    with pytest.raises(ValueError, match="'both'"):
        mod.judge(s, "both")


def test_the_one_sided_rule_fails_only_a_candidate_that_is_worse(mod):
    # S59c: the candidate (the default) diagnosed 12 fewer right than the variant; the symmetric rule also fails
    # a candidate that diagnosed 12 *more* right
    better = _summary(mod, -0.01, {"rca_top1_micro": 324, "control_alarm_rate": 0}, {"rca_top1_micro": 312})
    assert not mod.judge(better, "keep")["candidate_wins"]
    one = mod.judge(better, "keep", one_sided=True)
    assert one["candidate_wins"] and one["one_sided"]
    worse = _summary(mod, -0.01, {"rca_top1_micro": 312}, {"rca_top1_micro": 324})
    assert not mod.judge(worse, "keep", one_sided=True)["candidate_wins"]
    alarms = _summary(mod, -0.01, {"control_alarm_rate": 105}, {})  # 5 more control alarms: worse
    failed = [r["rule"] for r in mod.judge(alarms, "keep", one_sided=True)["rules"] if not r["holds"]]
    assert failed == ["control_alarm_rate not higher by > 4"]
    assert mod.judge(_summary(mod, -0.01, {"control_alarm_rate": 95}, {}), "keep", one_sided=True)["candidate_wins"]


def test_the_s68_rule_asks_for_no_loss_in_recovery_and_no_more_harm(mod):
    """S68/S69: paired FKR (clipped and unclipped) >= 0, so a tie passes; no more scorer-harmful actions or worsened
    episodes; counterfactual harm at most +4; full recovery at most 2 lower; the other counts within 4."""
    def s(fkr, raw, default, variant):
        return {**_summary(mod, fkr, default, variant), "paired_fkr_raw_mean": raw}

    tie = mod.judge(s(0.0, 0.0, {}, {}), "adopt", s68=True)
    assert tie["candidate_wins"] and tie["s68"] and len(tie["rules"]) == 6 + len(mod.OTHER_COUNTS)
    assert tie["rules"][0] == {"rule": "paired FKR >= 0", "candidate": 0.0, "other": 0.0, "holds": True}
    s69 = mod.judge(s(-0.0001164, -0.0001164, {}, {}), "adopt", s68=True)  # S69's recheck_approved on seed 7368
    assert [r["rule"] for r in s69["rules"] if not r["holds"]] == ["paired FKR >= 0", "paired unclipped FKR >= 0"]
    assert mod.judge(s(-0.0001, -0.0001, {}, {}), "keep", s68=True)["candidate_wins"]  # the default keeps its place
    fails = {"harmful_action_rate": 101, "worsened_rate": 101, "harmful_action_rate_counterfactual": 105,
             "full_recovery_rate": 97, "rca_top1_micro": 105}
    for k, v in fails.items():
        out = mod.judge(s(0.01, 0.01, {}, {k: v}), "adopt", s68=True)
        assert [r["rule"].split(" ")[0] for r in out["rules"] if not r["holds"]] == [
            "full" if k == "full_recovery_rate" else k], k
    ok = {"harmful_action_rate_counterfactual": 104, "full_recovery_rate": 98, "rca_top1_micro": 96}
    assert mod.judge(s(0.01, 0.01, {}, ok), "adopt", s68=True)["candidate_wins"]  # within the tolerances
    with pytest.raises(ValueError, match="s68"):
        mod.judge(s(0.0, 0.0, {}, {}), "adopt", recall_not_lower=True, s68=True)
    with pytest.raises(ValueError, match="s68"):
        mod.judge(s(0.0, 0.0, {}, {}), "adopt", rca_gain=True)


def test_the_s72_rule_asks_a_diagnosis_change_to_diagnose_more_right(mod):
    """S72: the S68 rules with the last one one-sided, plus RCA top-1 strictly higher."""
    def s(default, variant):
        return {**_summary(mod, 0.0, default, variant), "paired_fkr_raw_mean": 0.0}

    better = mod.judge(s({"rca_top1_micro": 300}, {"rca_top1_micro": 312}), "adopt", one_sided=True, s68=True,
                       rca_gain=True)
    assert better["candidate_wins"] and better["rca_gain"] and better["rules"][-1]["rule"] == "rca_top1_micro higher"
    # the symmetric S68 rule fails that same candidate for diagnosing 12 more right
    assert not mod.judge(s({"rca_top1_micro": 300}, {"rca_top1_micro": 312}), "adopt", s68=True)["candidate_wins"]
    tie = mod.judge(s({}, {}), "adopt", one_sided=True, s68=True, rca_gain=True)
    assert [r["rule"] for r in tie["rules"] if not r["holds"]] == ["rca_top1_micro higher"]
    worse = mod.judge(s({"control_alarm_rate": 100}, {"control_alarm_rate": 105, "rca_top1_micro": 110}), "adopt",
                      one_sided=True, s68=True, rca_gain=True)
    assert [r["rule"] for r in worse["rules"] if not r["holds"]] == ["control_alarm_rate not higher by > 4"]


def test_the_s73_rule_asks_a_detection_change_to_detect_more(mod):
    """S73: the S68 rules with the last one one-sided, plus the summed detections strictly higher."""
    def s(default, variant):
        return {**_summary(mod, 0.0, default, variant), "paired_fkr_raw_mean": 0.0}

    more = mod.judge(s({"detection_recall": 200}, {"detection_recall": 203}), "adopt", one_sided=True, s68=True,
                     det_gain=True)
    assert more["candidate_wins"] and more["det_gain"] and more["rules"][-1]["rule"] == "detection_recall higher"
    same = mod.judge(s({}, {}), "adopt", one_sided=True, s68=True, det_gain=True)
    assert [r["rule"] for r in same["rules"] if not r["holds"]] == ["detection_recall higher"]
    both = mod.judge(s({}, {"detection_recall": 101}), "adopt", one_sided=True, s68=True, rca_gain=True, det_gain=True)
    assert [r["rule"] for r in both["rules"] if not r["holds"]] == ["rca_top1_micro higher"]
    with pytest.raises(ValueError, match="s68"):
        mod.judge(s({}, {}), "adopt", det_gain=True)


def test_judge_items_are_parsed_and_a_bad_one_is_named(mod):
    assert mod.judgements(["a=keep", "b=adopt+recall"], {"a", "b"}) == {
        "a": ("keep", False, False, False, False, False), "b": ("adopt", True, False, False, False, False)}
    assert mod.judgements(["a=keep+recall+one_sided", "b=adopt+one_sided"], {"a", "b"}) == {
        "a": ("keep", True, True, False, False, False), "b": ("adopt", False, True, False, False, False)}
    assert mod.judgements(["a=adopt+s68"], {"a"}) == {"a": ("adopt", False, False, True, False, False)}
    assert mod.judgements(["a=adopt+s68+one_sided+rca"], {"a"}) == {"a": ("adopt", False, True, True, True, False)}
    assert mod.judgements(["a=adopt+s68+one_sided+det"], {"a"}) == {"a": ("adopt", False, True, True, False, True)}
    for bad in ("c=keep", "a=drop", "a=keep+harm", "a", "a=keep+recall+recall", "a=adopt+s68+recall", "a=adopt+rca",
                "a=adopt+det"):
        with pytest.raises(SystemExit, match=re.escape(repr(bad))):
            mod.judgements([bad], {"a", "b"})


def test_episodes_whose_applied_actions_differ_are_listed(mod):
    def log(*acts):
        return {"applied": [{"rop": r, "kind": "tilt", "cell": c, "value": v} for r, c, v in acts]}

    a = {"e1": log((5, 1, 2.0)), "e2": log(), "e3": log((6, 2, 1.0)), "only_a": log()}
    b = {"e1": log((5, 1, 2.0)), "e2": log((7, 3, 1.0)), "e3": log((6, 2, -1.0)), "only_b": log()}
    assert mod.actions_differ(a, b) == ["e2", "e3"]
