"""The command-line contract other checks rely on."""

import json

import pytest
from typer.testing import CliRunner

from airan.cli.main import app

runner = CliRunner()


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_scenarios_json():
    rows = _json(runner.invoke(app, ["scenarios", "--format", "json"]))
    names = {r["name"] for r in rows}
    assert {"uma-19", "umi-19", "rma-7", "stadium", "ci-tiny"} <= names
    uma = next(r for r in rows if r["name"] == "uma-19")
    assert uma["num_cells"] == 57 and uma["num_ues"] == 570 and uma["isd_m"] == 500.0
    assert uma["carrier_frequency_hz"] == 3.5e9


def test_simulate_json_contract(tmp_path):
    db = tmp_path / "t.duckdb"
    args = ["simulate", "--scenario", "ci-tiny", "--rops", "6", "--seed", "2", "--fault",
            "cell_outage:cell=4,start=3", "--action", "tilt:cell=5,delta_deg=2,at=4", "--db", str(db),
            "--format", "json"]
    out = _json(runner.invoke(app, args))
    assert {"run_id", "scenario", "seed", "rops", "kpi_summary", "per_cell"} <= set(out)
    assert out["scenario"] == "ci-tiny" and out["seed"] == 2 and out["rops"] == 6
    assert set(out["kpi_summary"]["DRB.UEThpDl"]) >= {"mean", "p5", "p50", "p95"}
    assert len(out["per_cell"]) == 21 and len(out["per_cell"]["4"]["Cell.Available"]) == 6
    assert out["per_cell"]["4"]["Cell.Available"][:3] == [1.0, 1.0, 1.0]
    assert out["per_cell"]["4"]["Cell.Available"][3:] == [0.0, 0.0, 0.0]
    assert out["faults"][0]["kind"] == "cell_outage" and out["faults"][0]["onset_rop"] == 3
    assert any(e["kind"] == "action" and e["rop"] == 4 for e in out["events"])
    # the telemetry file has the run, and re-running the same run does not duplicate rows
    from airan.data.telemetry import TelemetryStore

    again = _json(runner.invoke(app, args))
    assert again["run_id"] == out["run_id"]
    with TelemetryStore(db, read_only=True) as store:
        assert [r["run_id"] for r in store.runs()] == [out["run_id"]]
        k = store.kpis(out["run_id"])
        assert k["DRB.UEThpDl"].shape == (6, 21)


@pytest.mark.parametrize("args,needle", [
    (["--scenario", "atlantis"], "atlantis"),
    (["--scenario", "ci-tiny", "--fault", "meteor:cell=1"], "meteor"),
    (["--scenario", "ci-tiny", "--fault", "cell_outage:cell=99"], "99"),
    (["--scenario", "ci-tiny", "--action", "tilt:cell=1,delta_deg=oops"], "oops"),
])
def test_simulate_errors_name_the_bad_value(args, needle):
    result = runner.invoke(app, ["simulate", *args, "--rops", "2", "--format", "json"])
    assert result.exit_code != 0
    assert needle in result.output


def test_simulate_table_and_report(tmp_path):
    result = runner.invoke(app, ["simulate", "--scenario", "ci-tiny", "--rops", "3", "--report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "DRB.UEThpDl" in result.stdout
    assert (tmp_path / "report.html").exists()


def test_suite_check_rewrites_stale_undetectable_flags(tmp_path):
    from airan.agents.suite import Suite, SuiteEpisode, load_suite, save_suite
    from airan.twin.faults import Fault

    stale = Suite("hand", "dev", 0, (
        SuiteEpisode("out", "ci-tiny", 3, 10, (Fault("cell_outage", (4,), onset_rop=4),), undetectable=True),
        SuiteEpisode("ctl", "ci-tiny", 3, 10, (), control=True)))
    src = save_suite(stale, tmp_path / "hand.json")
    out = _json(runner.invoke(app, ["suite", "check", str(src), "--out", str(tmp_path / "checked.json"),
                                    "--format", "json"]))
    assert out["changed"] == [{"id": "out", "undetectable": False}] and out["undetectable"] == 0
    assert not load_suite(tmp_path / "checked.json").episode("out").undetectable
    assert load_suite(src).episode("out").undetectable  # the input is left as it was
    bad = runner.invoke(app, ["suite", "check", str(tmp_path / "missing.json"), "--out", str(tmp_path / "x.json")])
    assert bad.exit_code != 0 and "missing.json" in bad.output


def test_suite_compare_reads_two_runs_and_names_bad_files(tmp_path):
    from airan.agents.suite import Suite, SuiteEpisode, save_suite

    rops = 8
    src = save_suite(Suite("hand", "dev", 0, (SuiteEpisode("ctl", "ci-tiny", 3, rops, (), control=True),)),
                     tmp_path / "hand.json")

    def log(applied, healed):
        return {"episode_id": "ctl", "policy": "p", "decisions": [
            {"rop": r, "detections": [], "diagnosis": None, "actions": [], "approval_requests": [], "notes": []}
            for r in range(rops)], "applied": applied, "approvals": [],
            "impact": {"cells": [0, 1], "healed": healed, "unhealed": [1.0] * rops, "nofault": [1.0] * rops}}

    off = {"rop": 3, "kind": "cell_off", "cell": 1, "value": 0.0, "pre": 1.0, "post": 0.0, "high_risk": True,
           "approval_valid": True, "rollback_of": -1, "reason": "test"}
    runs = {"a.jsonl": log([off], [1.0] * 3 + [0.4, 0.4] + [1.0] * 3), "b.jsonl": log([], [1.0] * rops)}
    for name, lg in runs.items():
        (tmp_path / name).write_text(json.dumps(lg) + "\n")
    out = _json(runner.invoke(app, ["suite", "compare", "--suite", str(src), str(tmp_path / "a.jsonl"),
                                    str(tmp_path / "b.jsonl"), "--format", "json"]))
    assert out["changed"] == [{"id": "ctl", "cause": "control", "undetectable": False,
                               "diff": {"actions": [1, 0], "harmful_count": [1, 0]}}]
    assert out["summary"]["harmful_a"] == 1 and out["harmful"]["a"][0]["kind"] == "cell_off"
    table = runner.invoke(app, ["suite", "compare", "--suite", str(src), str(tmp_path / "a.jsonl"),
                                str(tmp_path / "b.jsonl")])
    assert table.exit_code == 0 and "harmful in A" in table.output
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    bad = runner.invoke(app, ["suite", "compare", "--suite", str(src), str(tmp_path / "bad.jsonl"),
                              str(tmp_path / "b.jsonl")])
    assert bad.exit_code != 0 and "bad.jsonl" in bad.output and "line 1: not JSON" in bad.output


def test_heal_scores_harm_against_each_sets_own_counterfactual(tmp_path):
    from airan.agents.suite import Suite, SuiteEpisode, save_suite
    from airan.twin.faults import Fault

    ep = SuiteEpisode("out", "ci-tiny", 3, 10, (Fault("cell_outage", (4,), onset_rop=2),))
    src = save_suite(Suite("hand", "dev", 0, (ep,)), tmp_path / "hand.json")
    out = _json(runner.invoke(app, ["heal", "--suite", str(src), "--policy", "rules", "--out", str(tmp_path / "r"),
                                    "--format", "json"]))
    m = out["metrics"]
    assert m["harmful_action_rate_counterfactual"]["n"] == m["harmful_action_rate"]["n"] == m["actions_applied"] > 0
    logs = [json.loads(line) for line in (tmp_path / "r" / "logs_rules.jsonl").read_text().splitlines()]
    assert logs[0]["counterfactual"]["horizon_rops"] == 2 and logs[0]["counterfactual"]["sets"]
    table = runner.invoke(app, ["heal", "--suite", str(src), "--policy", "none"])
    assert table.exit_code == 0 and "harmful_action_rate_counterf" in table.output


def test_suite_make_focuses_on_the_named_causes(tmp_path):
    from airan.agents.suite import load_suite

    out = _json(runner.invoke(app, ["suite", "make", "--split", "dev", "--episodes", "10", "--seed", "5",
                                    "--scenarios", "ci-tiny", "--rops", "12", "--no-detectable-check",
                                    "--causes", "cell_outage, backhaul_failure", "--out", str(tmp_path / "s.json"),
                                    "--format", "json"]))
    assert set(out["per_cause"]) == {"cell_outage", "backhaul_failure", "control"}
    assert load_suite(tmp_path / "s.json").meta["causes"] == ["cell_outage", "backhaul_failure"]
    bad = runner.invoke(app, ["suite", "make", "--episodes", "4", "--no-detectable-check", "--causes", "outage",
                              "--out", str(tmp_path / "b.json")])
    assert bad.exit_code != 0 and "outage" in bad.output and not (tmp_path / "b.json").exists()
