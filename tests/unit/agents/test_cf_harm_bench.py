"""bench/heal_counterfactual_harm.py: the side-by-side counts of the two harm tests; the selection and
rejection replays."""

from pathlib import Path

import numpy as np
import pytest

from ._helpers import load_bench

ROOT = Path(__file__).resolve().parents[3]


def test_counts_split_the_harmful_actions_into_both_and_each_alone():
    mod = load_bench("heal_counterfactual_harm")
    rows = [{"actions": 4, "scored": {0, 1}, "cf": {1, 2}, "scored_rolled": 2, "cf_rolled": 1,
             "discordant": [{"episode": "a"}]},
            {"actions": 2, "scored": set(), "cf": set(), "scored_rolled": 0, "cf_rolled": 0, "discordant": []}]
    p = mod.policy_counts(rows)
    assert p["actions"] == 6 and p["harmful_scorer"]["k"] == 2 and p["harmful_counterfactual"]["k"] == 2
    assert (p["both"], p["scorer_only"], p["counterfactual_only"]) == (1, 1, 1)
    assert p["rolled_back_within_2_rops_scorer"]["value"] == 1.0
    assert p["rolled_back_within_2_rops_counterfactual"]["value"] == 0.5
    assert p["discordant_sets"] == [{"episode": "a"}]
    empty = mod.policy_counts([])
    assert empty["actions"] == 0 and empty["harmful_scorer"]["value"] is None


def test_a_job_adds_the_records_to_an_old_log_and_counts_from_them():
    from airan.agents.runner import run_policy_episode

    from .test_counterfactual import EP, Acts

    mod = load_bench("heal_counterfactual_harm")
    log = run_policy_episode(EP, Acts())
    old = {k: v for k, v in log.items() if k != "counterfactual"}  # as written before the runner kept them
    row = mod._job((EP, old))
    n = len(log["applied"])
    assert row["log"]["counterfactual"]["sets"] == log["counterfactual"]["sets"]
    assert row["actions"] == n and row["cf"] == set(range(1, n)) and row["scored_population"]
    assert all(s["cf_harmful"] != s["scorer_harmful"] for s in row["discordant"])


def test_selection_replay_rebuilds_the_accepted_candidates_and_scores_the_rules():
    from airan.agents.policies.airan import AiranPolicy
    from airan.agents.runner import run_policy_episode
    from airan.agents.suite import load_suite

    mod = load_bench("heal_selection_replay")
    # a dev cell outage whose compensation the verifier had several accepted candidates for (ci-tiny, 24 ROPs)
    ep = next(e for e in load_suite(ROOT / "bench/results/heal_dev_suite.json").episodes if e.id == "dev-0055")
    log = run_policy_episode(ep, AiranPolicy())
    recs = mod.replay_sets(ep, log)
    assert len(recs) == len(log["counterfactual"]["sets"]) >= 1
    first = recs[0]
    assert first["cause"] == "cell_outage" and first["alternatives"]
    chosen = [a for a in first["alternatives"] if a["name"] == first["chosen"]]
    # the chosen candidate, rebuilt and rolled with no follow-up, is the logged set: same effect when nothing
    # else acted inside the window
    assert len(chosen) == 1
    if not any(a["rollback_of"] >= 0 and a["rop"] < first["rop"] + 2 for a in log["applied"]):
        assert abs(chosen[0]["effect"] - first["effect_logged"]) < 1e-9
    summary = mod.rule_summary(recs)
    assert set(summary) == set(mod.RULES)
    base = summary["mean (the default ranking)"]
    assert base["changed"] == 0 and base["sets"] >= 1
    best = summary["best true effect (a ceiling: needs the truth)"]["sum_effect"]
    assert set(best) == {"dl_served_ratio"} and best["dl_served_ratio"] >= base["sum_effect"]["dl_served_ratio"] - 1e-12


def test_single_knob_rule_drops_combined_sets_only_for_outage_compensation():
    mod = load_bench("heal_selection_replay")
    alts = [{"name": "neighbour +3 dB + uptilt 1 deg", "pred": 0.05, "low": 0.0, "actions": 6, "effect": -0.1},
            {"name": "neighbour +1.5 dB", "pred": 0.02, "low": 0.01, "actions": 3, "effect": 0.01}]
    assert mod._pick_single_knob(alts, "cell_outage")["name"] == "neighbour +1.5 dB"
    assert mod._pick_single_knob(alts[:1], "backhaul_failure") is None
    assert mod._pick_single_knob(alts, "pa_degradation")["name"] == alts[0]["name"]
    assert mod._pick_fewest(0.05)(alts, "cell_outage")["name"] == "neighbour +1.5 dB"
    assert mod._pick_fewest(0.01)(alts, "cell_outage")["name"] == alts[0]["name"]


def test_rejected_rounds_are_the_verifier_rounds_that_accepted_nothing():
    mod = load_bench("heal_rejection_replay")
    notes = {3: ["verifier: 'a' predicted change +0.010 [-0.020, +0.030] rejected",
                 "verifier: 'b' predicted change -0.010 [-0.040, +0.010] rejected"],
             4: ["verifier: 'a' predicted change +0.020 [+0.010, +0.030] accepted",
                 "verifier: 'b' predicted change -0.010 [-0.040, +0.010] rejected"],
             5: ["planner: no admissible candidate for cell_outage"]}
    decisions = [{"rop": r, "notes": n} for r, n in notes.items()]
    assert mod.rejected_rounds(decisions) == {3: [("a", 0.01, -0.02, 0.03), ("b", -0.01, -0.04, 0.01)]}


def test_a_rejected_round_is_read_through_its_first_ranked_candidate():
    mod = load_bench("heal_rejection_replay")

    def rec(effects, sigma=0.01, cause="pa_degradation", rebuilt=True, scored=True):
        cands = [{"name": f"c{i}", "pred": -i, "effect": e} for i, e in enumerate(effects)]
        return {"candidates": cands, "sigma": sigma, "true_cause": cause, "rebuilt": rebuilt,
                "scored_population": scored}

    recs = [rec([0.03, -0.05]), rec([-0.03, 0.05]), rec([0.005]), rec([0.1], rebuilt=False), rec([0.1], scored=False)]
    assert [mod.verdict(r) for r in recs[:3]] == ["missed_gain", "rightly_rejected", "neutral"]
    s = mod.summary(recs)
    assert (s["rounds"], s["missed_gain"], s["rightly_rejected"], s["neutral"]) == (3, 1, 1, 1)
    assert s["any_gain"] == 2 and s["not_rebuilt"] == 1  # the unscored round is not counted at all
    assert (s["top_above_zero"], s["top_below_zero"]) == (2, 1)
    assert abs(s["top_effect_sigma_median"] - 0.5) < 1e-12  # of +3, -3 and +0.5 sigma
    assert set(s["per_class"]) == {"pa_degradation"}


def test_the_rejection_replay_rolls_every_rejected_candidate_of_a_real_round():
    from airan.agents.policies.airan import AiranPolicy
    from airan.agents.runner import run_policy_episode
    from airan.agents.suite import load_suite

    mod = load_bench("heal_rejection_replay")
    # a dev cell outage (ci-tiny, 24 ROPs) with one round in which the verifier accepted nothing
    ep = next(e for e in load_suite(ROOT / "bench/results/heal_dev_suite.json").episodes if e.id == "dev-0055")
    log = run_policy_episode(ep, AiranPolicy())
    rounds = mod.rejected_rounds(log["decisions"])
    assert rounds
    recs = mod.replay_rejections(ep, log)
    assert [r["decided_rop"] for r in recs] == sorted(rounds) and all(r["rop"] == r["decided_rop"] + 1 for r in recs)
    for r in recs:
        assert r["rebuilt"] and [c["name"] for c in r["candidates"]] == [n for n, *_ in rounds[r["decided_rop"]]]
        assert all(np.isfinite(c["effect"]) and c["actions"] >= 1 for c in r["candidates"])
    bad = dict(log, impact=dict(log["impact"], healed=[v + 0.1 for v in log["impact"]["healed"]]))
    with pytest.raises(SystemExit, match="diverged"):
        mod.replay_rejections(ep, bad)
