"""Typed intents: the small grammar, YAML/JSON loading, and the twin check (reject with a reason)."""

from __future__ import annotations

import json

import pytest

from airan.agents.intents import (
    Intent,
    check_intent,
    load_intents,
    parse_intent,
    scope_cells,
    statistic_of,
)
from airan.core.errors import ConfigError
from airan.twin.env import NetworkTwin


@pytest.fixture(scope="module")
def twin() -> NetworkTwin:
    t = NetworkTwin("ci-tiny")
    t.reset(seed=1)
    return t


def test_parse_the_three_examples():
    a = parse_intent("keep stadium cells above 50 Mbps median")
    assert (a.scope, a.kpi, a.statistic, a.op, a.target, a.unit) == ("stadium", "DRB.UEThpDl", "median", ">=",
                                                                      50.0, "Mbit/s")
    b = parse_intent("keep all cells' PRB utilisation below 80 %")
    assert (b.scope, b.kpi, b.statistic, b.op, b.target, b.unit) == ("all", "RRU.PrbUsedDl", "mean", "<=", 80.0, "%")
    c = parse_intent("keep cell 3 RLF below 2")
    assert (c.scope, c.kpi, c.op, c.target, c.unit) == ((3,), "RLF.Count", "<=", 2.0, "count")


def test_parse_units_lists_and_priority():
    i = parse_intent("Keep cells 1, 2 and 5 throughput at least 1.5 Gbps p5 with priority 2.")
    assert i.scope == (1, 2, 5) and i.target == pytest.approx(1500.0) and i.statistic == "p5" and i.priority == 2
    assert parse_intent("keep all cells L1M.SINR >= 3 dB").kpi == "L1M.SINR"


@pytest.mark.parametrize("text, token", [
    ("keep stadium cells above fifty Mbps", "fifty"),
    ("keep all cells' PRB utilisation below 80 furlongs", "furlongs"),
    ("maintain cell 3 RLF below 2", "maintain"),
    ("keep cell 3 banana below 2", "banana"),
    ("keep cell 3 RLF below 2 priority high", "high"),
    ("keep cell 3 RLF roughly 2", "comparison"),
])
def test_parse_errors_name_the_bad_token(text, token):
    with pytest.raises(ConfigError, match=token):
        parse_intent(text)


def test_intent_validates_its_fields():
    with pytest.raises(ConfigError, match="p99"):
        Intent("all", "RLF.Count", "p99", "<=", 1.0, "count")
    with pytest.raises(ConfigError, match="priority"):
        Intent("all", "RLF.Count", "mean", "<=", 1.0, "count", priority=0)


def test_load_json_and_yaml(tmp_path):
    entries = ["keep cell 3 RLF below 2",
               {"scope": [1, 2], "kpi": "RRU.PrbUsedDl", "statistic": "p95", "op": "<=", "target": 90,
                "unit": "%", "priority": 2}]
    pj = tmp_path / "i.json"
    pj.write_text(json.dumps({"intents": entries}))
    got = load_intents(pj)
    assert got[0].kpi == "RLF.Count" and got[1].scope == (1, 2) and got[1].priority == 2
    py = tmp_path / "i.yaml"
    py.write_text("- text: keep all cells' PRB utilisation below 80 %\n  priority: 3\n"
                  "- {scope: all, kpi: L1M.SINR, op: '>=', target: 0, unit: dB}\n")
    y = load_intents(py)
    assert y[0].priority == 3 and y[0].kpi == "RRU.PrbUsedDl" and y[1].op == ">="
    bad = tmp_path / "i.txt"
    bad.write_text("x")
    with pytest.raises(ConfigError, match=".txt"):
        load_intents(bad)
    pj.write_text(json.dumps([{"scope": "all", "kpi": "RLF.Count", "op": "<=", "target": 1, "colour": "red"}]))
    with pytest.raises(ConfigError, match="colour"):
        load_intents(pj)


@pytest.mark.parametrize("intent, reason", [
    (Intent("all", "DRB.Banana", "mean", ">=", 1.0, "Mbit/s"), "unknown KPI"),
    (Intent((99,), "RLF.Count", "mean", "<=", 1.0, "count"), "99"),
    (Intent("all", "RRU.PrbUsedDl", "mean", "<=", 80.0, "dB"), "unit 'dB'"),
    (Intent("all", "RRU.PrbUsedDl", "mean", "<=", 120.0, "%"), "physical range"),
    (Intent("all", "DRB.UEThpDl", "mean", ">=", 2000.0, "Mbit/s"), "physical range"),
    (Intent("downtown", "RLF.Count", "mean", "<=", 1.0, "count"), "unknown area 'downtown'"),
])
def test_check_rejects_invalid_intents_with_a_reason(twin, intent, reason):
    res = check_intent(intent, twin)
    assert not res.feasible and reason in res.reason


def test_check_already_met_feasible_and_infeasible(twin):
    met = check_intent(parse_intent("keep cell 3 RLF below 2"), twin)
    assert met.feasible and met.reason.startswith("already met") and met.current_value <= 2
    far = check_intent(parse_intent("keep cell 4 throughput above 100 Mbps"), twin)
    assert not far.feasible and far.reason.startswith("infeasible")
    assert far.best_value >= far.current_value and far.best_value < 100
    # a target just below the best reachable value but above today's: reachable by a bounded action
    cur, best = far.current_value, far.best_value
    assert best > cur + 0.05, "some bounded action should help cell 4 on this drop"
    mid = Intent((4,), "DRB.UEThpDl", "mean", ">=", (cur + best) / 2, "Mbit/s")
    ok = check_intent(mid, twin)
    assert ok.feasible and ok.reason.startswith("reachable") and ok.action and ok.best_value >= mid.target


def test_check_rejects_an_intent_that_breaks_a_higher_priority_one(twin):
    far = check_intent(parse_intent("keep cell 4 throughput above 100 Mbps"), twin)
    cur, best = far.current_value, far.best_value
    goal = Intent((4,), "DRB.UEThpDl", "mean", ">=", (cur + best) / 2, "Mbit/s", priority=2, text="goal")
    # a more important intent, met today, that any way of meeting the goal must break
    guard = Intent((4,), "DRB.UEThpDl", "mean", "<=", cur + 1e-9, "Mbit/s", priority=1, text="cap cell 4")
    res = check_intent(goal, twin, (guard,))
    assert not res.feasible and res.reason.startswith("harmful") and "cap cell 4" in res.reason
    # the same constraint with a lower priority does not block it
    weaker = Intent((4,), "DRB.UEThpDl", "mean", "<=", cur + 1e-9, "Mbit/s", priority=3)
    assert check_intent(goal, twin, (weaker,)).feasible


def test_statistic_of_ignores_nan():
    assert statistic_of([[1.0, float("nan")], [3.0, 5.0]], "median") == 3.0
    assert statistic_of([float("nan")], "mean") != statistic_of([float("nan")], "mean")  # NaN


def test_scope_cells_of_areas(twin):
    assert list(scope_cells(parse_intent("keep ci-tiny cells RLF below 1"), twin)) == list(range(21))
    stadium = NetworkTwin("stadium")
    stadium.reset(seed=0)
    crowd = scope_cells(parse_intent("keep stadium cells above 50 Mbps median"), stadium)
    assert 0 < crowd.size < stadium.cfg.num_cells  # the cells serving the event crowd, not the whole network
    assert set(stadium.serving[-stadium.cfg.crowd_ues:]) - {-1} == set(crowd.tolist())


def test_cli_intent_check_json_and_exit_codes(tmp_path):
    import json as _json

    from typer.testing import CliRunner

    from airan.cli.main import app

    runner = CliRunner()
    ok = runner.invoke(app, ["intent", "check", "--scenario", "ci-tiny", "--seed", "1", "keep cell 3 RLF below 2",
                             "--format", "json"])
    assert ok.exit_code == 0, ok.output
    out = _json.loads(ok.stdout)
    assert out["intents"][0]["feasible"] and out["intents"][0]["intent"]["kpi"] == "RLF.Count"
    bad = runner.invoke(app, ["intent", "check", "--seed", "1", "keep all cells above 2 Gbps", "--format", "json"])
    assert bad.exit_code == 1 and "physical range" in _json.loads(bad.stdout)["intents"][0]["reason"]
    parse_err = runner.invoke(app, ["intent", "check", "keep cell 3 banana below 2"])
    assert parse_err.exit_code == 2 and "banana" in parse_err.output
    f = tmp_path / "i.json"
    f.write_text(_json.dumps(["keep all cells' PRB utilisation below 100 %"]))
    from_file = runner.invoke(app, ["intent", "check", "--seed", "1", "--file", str(f), "--format", "json"])
    assert from_file.exit_code == 0 and _json.loads(from_file.stdout)["intents"][0]["intent"]["unit"] == "%"
