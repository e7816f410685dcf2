"""bench/heal_dev.py: target checks and the markdown summary, with and without counterfactual harm records."""

from ._helpers import load_bench


def _rate(k, n):
    return {"value": k / n if n else None, "ci95": [0.0, 1.0] if n else [None, None], "k": k, "n": n}


def test_targets_of_the_counterfactual_harm_metrics():
    mod = load_bench("heal_dev")
    assert mod.check("harmful_action_rate_counterfactual", _rate(13, 667), None) == "FAIL"
    assert mod.check("harmful_action_rate_counterfactual", _rate(6, 667), None) == "pass"
    assert mod.check("harmful_action_rate_counterfactual", None, None) == "n/a"  # logs without the records
    assert mod.check("rollback_within_2_rops_counterfactual", _rate(0, 0), None) == "pass"  # nothing to roll back
    assert mod.check("rollback_within_2_rops_counterfactual", _rate(7, 13), None) == "FAIL"
    assert mod.check("rollback_within_2_rops_counterfactual", None, None) == "n/a"


def test_the_summary_reads_results_scored_before_the_metric_existed():
    mod = load_bench("heal_dev")
    new = {m: _rate(1, 10) for m in mod.TABLE}
    old = {m: v for m, v in new.items() if not m.endswith("_counterfactual")}
    result = {"machine": {"cpu": "test cpu", "cores": 2}, "command": "heal_dev.py", "wall_s": 1.0,
              "suite": {"split": "dev", "episodes": 2, "per_cause": {}, "controls": 0, "undetectable": 0,
                        "lookalike_episodes": 0},
              "skipped": {}, "policy_wall_s": {"airan": 1.0, "son": 1.0},
              "policies": {"airan": {"metrics": new}, "son": {"metrics": old}}}
    md = mod.markdown(result)
    assert "## harmful_action_rate_counterfactual (target <= 0.01)" in md
    row = next(line for line in md.splitlines() if line.startswith("| son | ") and "[" not in line)
    assert row.count("| - ") >= 2  # the two counterfactual columns, not measured for son


def test_the_summary_says_when_a_policy_wall_time_was_not_recorded():
    mod = load_bench("heal_dev")
    result = {"machine": {"cpu": "test cpu", "cores": 2}, "command": "heal_dev.py", "wall_s": 1.0,
              "suite": {"split": "dev", "episodes": 2, "per_cause": {}, "controls": 0, "undetectable": 0,
                        "lookalike_episodes": 0},
              "skipped": {}, "policy_wall_s": {"airan": None, "son": float("nan"), "rules": 12.4},
              "policies": {p: {"metrics": {m: _rate(1, 10) for m in mod.TABLE}} for p in ("airan", "son", "rules")}}
    line = next(x for x in mod.markdown(result).splitlines() if x.startswith("Per policy: "))
    assert line.count("wall time not recorded") == 2 and "(12 s, test cpu, 2 cores)" in line


def test_rescoring_keeps_the_run_and_the_latest_rescore_only():
    mod = load_bench("heal_dev")
    once = mod.rescored("heal_dev.py --policies airan --logs L", "heal_dev.py --from-logs L --merge")
    assert once == "heal_dev.py --policies airan --logs L (rescored: heal_dev.py --from-logs L --merge)"
    twice = mod.rescored(once, "heal_dev.py --from-logs M --merge")
    assert twice == "heal_dev.py --policies airan --logs L (rescored: heal_dev.py --from-logs M --merge)"
    assert twice.count("rescored") == 1


def test_a_run_with_settings_records_them_per_policy(tmp_path, monkeypatch):
    import json
    import sys

    from airan.agents.suite import make_suite, save_suite

    mod = load_bench("heal_dev")
    monkeypatch.setattr(mod, "RESULTS", tmp_path)
    suite = tmp_path / "suite.json"
    save_suite(make_suite("dev", 5, 11, scenarios=("ci-tiny",), rops=10), suite)
    monkeypatch.setattr(sys, "argv", ["heal_dev.py", "--suite", str(suite), "--policies", "rules", "--workers", "1",
                                      "--set", "persist_rops=1", "--tag", "t"])
    mod.main()
    out = json.loads((tmp_path / "heal_dev_t.json").read_text())
    assert out["policies"]["rules"]["policy_overrides"] == {"persist_rops": "1"}
    assert "--set persist_rops=1" in out["policy_commands"]["rules"]
