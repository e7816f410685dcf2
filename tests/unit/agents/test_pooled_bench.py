"""bench/heal_pooled.py: several suites' logs scored as one sample."""

import json

import pytest

from airan.agents.suite import Suite, SuiteEpisode, save_suite
from airan.twin.faults import Fault

from ._helpers import load_bench

R = 12


@pytest.fixture(scope="module")
def mod():
    return load_bench("heal_pooled")


def _log(ep, policy, detected):
    dec = [{"rop": r, "detections": [{"cell": 0, "score": 1.0, "kpis": []}] if detected and r == 5 else [],
            "diagnosis": None, "actions": [], "approval_requests": [], "notes": []} for r in range(R)]
    flat = [1.0] * R
    return {"episode_id": ep.id, "policy": policy, "scenario": ep.scenario, "seed": ep.seed, "rops": R,
            "decisions": dec, "applied": [], "approvals": [], "report": "", "wall_s": 0.0,
            "impact": {"cells": [0, 1], "fault_cells": [0], "kpi": "dl_served_ratio", "healed": flat,
                       "unhealed": flat, "nofault": flat}}


def _run(tmp_path, name, detected):
    eps = (SuiteEpisode("a", "ci-tiny", 3, R, (Fault("cell_outage", (0,), onset_rop=4),)),
           SuiteEpisode("b", "ci-tiny", 6, R, (), control=True))
    suite = Suite(name, "test", 0, eps)
    path = save_suite(suite, tmp_path / f"{name}.json")
    logs = tmp_path / name
    logs.mkdir()
    for p in ("airan", "son"):
        (logs / f"logs_{p}.jsonl").write_text("".join(json.dumps(_log(e, p, detected and p == "airan")) + "\n"
                                                      for e in eps))
    return path, logs


def test_every_policy_is_scored_on_the_union_of_the_runs(mod, tmp_path):
    runs = [_run(tmp_path, "s1", True), _run(tmp_path, "s2", False)]
    scores, summary = mod.pooled_scores(runs, ["airan", "son"])
    assert summary["pooled"] == ["s1", "s2"] and summary["episodes"] == 4 and summary["controls"] == 2
    rec = scores["airan"]["metrics"]["detection_recall"]
    assert (rec["k"], rec["n"]) == (1, 2)  # detected in s1, missed in s2
    assert scores["son"]["metrics"]["detection_recall"]["k"] == 0


def test_a_policy_without_logs_in_some_run_is_refused_by_path(mod, tmp_path):
    runs = [_run(tmp_path, "s1", True), _run(tmp_path, "s2", True)]
    (runs[1][1] / "logs_son.jsonl").unlink()
    with pytest.raises(SystemExit, match="logs_son.jsonl"):
        mod.pooled_scores(runs, ["airan", "son"])
