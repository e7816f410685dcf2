"""bench/heal_counterfactual_harm.py: the side-by-side counts of the two harm tests."""

from ._helpers import load_bench


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
