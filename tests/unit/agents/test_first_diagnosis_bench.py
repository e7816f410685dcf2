"""bench/heal_first_diagnosis.py: which episodes it replays and how it reads their first diagnosis."""

import json

import pytest

from airan.agents.base import CAUSES
from airan.agents.suite import Suite, SuiteEpisode, save_suite
from airan.core.errors import ConfigError
from airan.twin.faults import Fault

from ._helpers import load_bench

R = 12


@pytest.fixture(scope="module")
def mod():
    return load_bench("heal_first_diagnosis")


def _log(ep, top, det_rop=5):
    causes = {c: (0.9 if c == top else 0.1 / (len(CAUSES) - 1)) for c in CAUSES}
    dec = []
    for r in range(R):
        hit = det_rop is not None and r >= det_rop
        dec.append({"rop": r, "detections": [{"cell": 0, "score": 1.0, "kpis": []}] if hit else [],
                    "diagnosis": {"causes": causes, "cells": [0], "evidence": {}} if hit and r >= det_rop + 1 else None,
                    "actions": [], "approval_requests": [], "notes": []})
    flat = [1.0] * R
    return {"episode_id": ep.id, "policy": "airan", "scenario": ep.scenario, "seed": ep.seed, "rops": R,
            "decisions": dec, "applied": [], "approvals": [], "report": "", "wall_s": 0.0,
            "impact": {"cells": [0, 1], "fault_cells": [0], "kpi": "dl_served_ratio", "healed": flat,
                       "unhealed": flat, "nofault": flat}}


def _run(tmp_path, tops, drop=None):
    eps = (SuiteEpisode("dt", "ci-tiny", 3, R, (Fault("excessive_downtilt", (0,), severity=0.6, onset_rop=4),)),
           SuiteEpisode("pa", "ci-tiny", 4, R, (Fault("pa_degradation", (0,), severity=0.6, onset_rop=4),)),
           SuiteEpisode("ol", "ci-tiny", 5, R, (Fault("overload_hotspot", (0,), severity=0.6, onset_rop=4),)),
           SuiteEpisode("ctl", "ci-tiny", 6, R, (), control=True))
    path = save_suite(Suite("s", "test", 0, eps), tmp_path / "s.json")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "logs_airan.jsonl").write_text("".join(json.dumps(_log(e, tops.get(e.id, "overload_hotspot"))) + "\n"
                                                   for e in eps if e.id != drop))
    return path, logs


def test_selects_by_true_cause_or_predicted_cause_and_reads_the_scorers_diagnosis(mod, tmp_path):
    path, logs = _run(tmp_path, {"dt": "ho_misconfig", "pa": "ho_misconfig", "ol": "overload_hotspot"})
    rows = mod.select(path, logs, {"excessive_downtilt"}, {"ho_misconfig"})
    assert [r["key"] for r in rows] == ["s/dt", "s/pa"]  # the downtilt by cause, the PA read as handover
    d = rows[0]["default_full"]
    assert d["predicted"] == "ho_misconfig" and not d["rca_top1"] and d["det_rop"] == 5
    t = mod.tally(rows, "default_full")
    assert t["rca_top1"] == 0 and t["episodes"] == 2 and t["per_cause_top1"]["excessive_downtilt"] == [0, 1]
    rows[0]["variant"] = dict(d, predicted="excessive_downtilt", rca_top1=True)
    rows[1]["variant"] = dict(rows[1]["default_full"])
    assert mod.tally(rows, "variant")["rca_top1"] == 1


def test_a_missing_log_is_named(mod, tmp_path):
    path, logs = _run(tmp_path, {}, drop="pa")
    with pytest.raises(ConfigError, match="'pa'"):
        mod.select(path, logs, {"pa_degradation"}, set())
