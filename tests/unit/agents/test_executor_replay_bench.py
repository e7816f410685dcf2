"""bench/heal_executor_replay.py: the executor's rollback test replayed on logged sets."""

import json

import pytest

from airan.agents.suite import Suite, SuiteEpisode, save_suite
from airan.twin.faults import Fault

from ._helpers import load_bench


@pytest.fixture(scope="module")
def mod():
    return load_bench("heal_executor_replay")


def _log(healed, sets, rollback_rop=None):
    """A minimal heal_dev log: one applied action per set, an optional rollback of the set applied at
    ``rollback_rop``, and flat no-fault noise."""
    applied = [{"rop": rop, "kind": "power", "cell": 1, "rollback_of": -1, "reason": "cell +3 dB for pa_degradation"}
               for rop, _ in sets]
    if rollback_rop is not None:
        applied.append({"rop": rollback_rop + 1, "kind": "power", "cell": 1, "rollback_of": rollback_rop,
                        "reason": "rollback"})
    nofault = [0.9 + 0.01 * (i % 2) for i in range(len(healed))]
    return {"episode_id": "rp-0", "applied": applied,
            "impact": {"healed": healed, "unhealed": healed, "nofault": nofault},
            "counterfactual": {"sets": [{"rop": rop, "actions": [i], "effect": eff}
                                        for i, (rop, eff) in enumerate(sets)]}}


def test_replay_finds_the_drop_and_grades_the_tolerance(mod, tmp_path):
    suite = tmp_path / "s.json"
    ep = SuiteEpisode("rp-0", "ci-tiny", 3, 12, (Fault("pa_degradation", (1,), severity=0.5, onset_rop=2),))
    save_suite(Suite("rp", "custom", 0, (ep,)), suite)
    # a quiet ratio (ROP-to-ROP noise about 0.004) that falls by 0.03 when the set at ROP 6 acts: a regression at
    # the default (4 sigma < 0.028), rolled back in the log; the set at ROP 9 moved nothing
    healed = [0.90, 0.904, 0.90, 0.904, 0.90, 0.904, 0.874, 0.90, 0.904, 0.90, 0.904, 0.90]
    logs = tmp_path / "logs.jsonl"
    logs.write_text(json.dumps(_log(healed, [(6, -0.03), (9, 0.0)], rollback_rop=6)) + "\n")
    rows = mod.logged_sets(suite, logs)
    assert [r["rop"] for r in rows] == [6, 9]
    assert rows[0]["harmful"] and not rows[1]["harmful"] and rows[0]["rolled_back"] and not rows[1]["rolled_back"]
    # the pre-action level is the lower of the last ROP (0.904) and the last two ROPs' mean (0.902)
    assert rows[0]["drops"][0] == pytest.approx(0.902 - 0.874)
    strict = mod.replay(rows, 4.0, 0.015)
    assert (strict["harmful_sets"], strict["harmful_rolled_back"], strict["other_sets_rolled_back"]) == (1, 1, 0)
    # a tolerance above the drop keeps the harmful set
    assert mod.replay(rows, 20.0, 0.015)["harmful_rolled_back"] == 0
    assert mod.replay(rows, 4.0, 0.05)["harmful_rolled_back"] == 0


def test_a_log_without_counterfactual_records_is_refused(mod, tmp_path):
    suite = tmp_path / "s.json"
    save_suite(Suite("rp", "custom", 0, (SuiteEpisode("rp-0", "ci-tiny", 3, 12, (), control=True),)), suite)
    log = _log([0.9] * 12, [])
    del log["counterfactual"]
    logs = tmp_path / "logs.jsonl"
    logs.write_text(json.dumps(log) + "\n")
    with pytest.raises(SystemExit, match="no counterfactual records"):
        mod.logged_sets(suite, logs)
