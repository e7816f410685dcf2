"""agents.counterfactual: each action set against the same ROPs without it, replayed from the log."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from airan.agents.base import Decision, PlannedAction, Policy
from airan.agents.counterfactual import (
    counterfactual_harm,
    rollback_counterfactuals,
    rollback_verdict,
    set_counterfactuals,
    with_counterfactuals,
)
from airan.agents.policies import make_policy
from airan.agents.runner import run_policy_episode
from airan.agents.scorer import HARM_K, episode_outcome, score
from airan.agents.suite import Suite, SuiteEpisode
from airan.core.errors import ConfigError
from airan.twin.actions import Action
from airan.twin.faults import Fault

EP = SuiteEpisode("cf1", "ci-tiny", 3, 12, (Fault("sleeping_cell", (4,), onset_rop=3),))


class Acts(Policy):
    """ROP 4: a no-op (the neighbour's CIO set to the value it has); ROP 7: every neighbour switched off."""

    name = "acts"

    def reset(self, ctx):
        self.nb = int(ctx.neighbours[4][0])
        self.off = [int(c) for c in ctx.neighbours[4] if c >= 0]

    def decide(self, obs):
        d = Decision()
        if obs.rop == 4:
            d.actions = [PlannedAction(Action("cio", self.nb, 0.0))]
        if obs.rop == 7:
            d.actions = [PlannedAction(Action("cell_off", c)) for c in self.off]
        return d


@pytest.fixture(scope="module")
def log():
    return run_policy_episode(EP, Acts())


def test_a_no_op_has_no_effect_and_a_switch_off_is_harmful_against_its_own_counterfactual(log):
    n = len(log["applied"]) - 1
    assert n >= 2 and [(a["rop"], a["kind"]) for a in log["applied"]] == [(5, "cio")] + [(8, "cell_off")] * n
    assert log["applied"][0]["pre"] == log["applied"][0]["post"]  # the CIO already had that value
    sets = set_counterfactuals(EP, log)
    assert [s["rop"] for s in sets] == [5, 8] and [s["actions"] for s in sets] == [[0], list(range(1, n + 1))]
    assert all(len(s["factual"]) == len(s["counterfactual"]) == 2 for s in sets)
    assert sets[0]["effect"] == 0.0  # same random future, same knobs: exactly the same ROPs
    assert sets[0]["factual"] == log["impact"]["healed"][5:7]
    assert sets[1]["effect"] < -0.05  # the neighbours off air lose the traffic they carried
    out = counterfactual_harm(EP, log)
    assert out["actions"] == n + 1 and out["harmful"] == list(range(1, n + 1)) and out["harmful_rolled_back"] == 0
    assert sets[1]["effect"] < -HARM_K * out["sigma"]


def test_a_window_cut_by_the_episode_end_is_shorter():
    ep = SuiteEpisode("cf2", "ci-tiny", 3, 9, EP.faults)
    log = run_policy_episode(ep, Acts())  # the switch-off takes effect in the last ROP (8)
    sets = set_counterfactuals(ep, log, horizon_rops=3)
    assert [len(s["counterfactual"]) for s in sets] == [3, 1]


def test_a_log_the_replay_does_not_reproduce_is_refused_by_name(log):
    bad = copy.deepcopy(log)
    bad["impact"]["healed"][6] += 0.1
    with pytest.raises(ConfigError, match=r"cf1.*ROP 6"):
        set_counterfactuals(EP, bad)
    with pytest.raises(ConfigError, match="cf2"):
        set_counterfactuals(SuiteEpisode("cf2", "ci-tiny", 3, 12, EP.faults), log)
    with pytest.raises(ConfigError, match="horizon_rops"):
        set_counterfactuals(EP, log, horizon_rops=0)


def test_no_action_means_no_set():
    log = run_policy_episode(EP, make_policy("none"))
    assert set_counterfactuals(EP, log) == []
    out = counterfactual_harm(EP, log)
    assert out["actions"] == 0 and out["harmful"] == [] and np.isfinite(out["sigma"])


def test_the_runner_records_what_the_replay_recomputes_and_the_scorer_reads_it(log):
    rec = log["counterfactual"]
    assert rec["horizon_rops"] == 2
    replay = set_counterfactuals(EP, log)
    assert [(s["rop"], s["actions"]) for s in rec["sets"]] == [(s["rop"], s["actions"]) for s in replay]
    assert np.allclose([s["effect"] for s in rec["sets"]], [s["effect"] for s in replay], rtol=0, atol=1e-9)
    assert rec["sets"][0]["effect"] == 0.0
    assert with_counterfactuals(EP, log) is log  # agrees with the replay: kept as is
    bare = {k: v for k, v in log.items() if k != "counterfactual"}
    added = with_counterfactuals(EP, bare)
    assert [s["actions"] for s in added["counterfactual"]["sets"]] == [s["actions"] for s in rec["sets"]]
    out = episode_outcome(EP, log)
    assert out["harmful_cf"] == counterfactual_harm(EP, log)["harmful"] == list(range(1, len(log["applied"])))
    assert episode_outcome(EP, bare)["harmful_cf"] is None
    forged = copy.deepcopy(log)
    forged["counterfactual"]["sets"][1]["effect"] = 0.0
    with pytest.raises(ConfigError, match="cf1.*disagree"):
        with_counterfactuals(EP, forged)


def test_recording_the_counterfactuals_leaves_the_run_unchanged(log):
    plain = run_policy_episode(EP, Acts(), counterfactual_rops=0)
    assert "counterfactual" not in plain
    assert plain["impact"] == log["impact"] and plain["applied"] == log["applied"]
    with pytest.raises(ConfigError, match="counterfactual_rops"):
        run_policy_episode(EP, Acts(), counterfactual_rops=-1)


def test_the_scorer_reports_the_counterfactual_rate_only_when_every_log_has_the_records(log):
    suite = Suite("cf", "dev", 0, (EP,), rops=12)
    m = score(suite, [log])["metrics"]
    n = len(log["applied"])
    assert m["harmful_action_rate_counterfactual"]["k"] == n - 1 and m["harmful_action_rate_counterfactual"]["n"] == n
    assert m["rollback_within_2_rops_counterfactual"]["k"] == 0
    bare = {k: v for k, v in log.items() if k != "counterfactual"}
    m = score(suite, [bare])["metrics"]
    assert m["harmful_action_rate_counterfactual"] is None and m["harmful_action_rate"]["n"] == n


class UndoesTwo(Policy):
    """ROP 4: a no-op set (the neighbour's CIO at its value), undone at ROP 5; ROP 7: the neighbours' power cut by
    6 dB, undone at ROP 8 (rollbacks as the executor writes them: ``rollback_of`` the set's ROP)."""

    name = "undoes"

    def reset(self, ctx):
        self.nb = int(ctx.neighbours[4][0])
        self.cut = [int(c) for c in ctx.neighbours[4] if c >= 0]

    def decide(self, obs):
        d = Decision()
        if obs.rop == 4:
            d.actions = [PlannedAction(Action("cio", self.nb, 0.0))]
        if obs.rop == 5:
            d.actions = [PlannedAction(Action("cio", self.nb, 0.0), rollback_of=5)]
        if obs.rop == 7:
            d.actions = [PlannedAction(Action("power", c, -6.0)) for c in self.cut]
        if obs.rop == 8:
            d.actions = [PlannedAction(Action("power", c, 6.0), rollback_of=8) for c in self.cut]
        return d


def test_each_rollback_is_judged_against_keeping_the_set_it_undid():
    log = run_policy_episode(EP, UndoesTwo())
    recs = rollback_counterfactuals(EP, log, horizon_rops=3)
    assert [(r["set_rop"], r["rop"]) for r in recs] == [(5, 6), (8, 9)]
    noop, cut = recs
    assert noop["set"] == [0] and noop["rollback"] == [1]
    assert noop["keep"] == noop["undo"] and noop["keep_minus_undo"] == 0.0  # nothing to undo
    assert noop["first_effect"] == 0.0 and len(noop["never"]) == 1 + 3
    assert noop["undo"][:2] == log["impact"]["healed"][6:8]  # as logged until the power cut took effect at ROP 8
    assert cut["undo"] == log["impact"]["healed"][9:12]  # nothing acted after that rollback
    n = len(cut["set"])
    assert n >= 2 and cut["rollback"] == list(range(2 + n, 2 + 2 * n))
    assert cut["first_effect"] < 0 and cut["keep_minus_undo"] < 0  # the cut lost traffic, and would have kept on
    sigma = 0.001
    assert rollback_verdict(cut, sigma) == "protected" and rollback_verdict(noop, sigma) == "neutral"
    assert rollback_verdict({"keep_minus_undo": 0.01}, sigma) == "cost"
    assert rollback_counterfactuals(EP, run_policy_episode(EP, Acts())) == []  # nothing was rolled back
    with pytest.raises(ConfigError, match="horizon_rops"):
        rollback_counterfactuals(EP, log, horizon_rops=0)
    with pytest.raises(ConfigError, match="replayed against"):
        rollback_counterfactuals(SuiteEpisode("other", "ci-tiny", 3, 12), log)


def test_the_rollback_replay_bench_reports_each_rollback_with_its_verdict():
    from ._helpers import load_bench

    mod = load_bench("heal_rollback_replay")
    log = run_policy_episode(EP, UndoesTwo())
    rows = mod._job((EP, log, 3))
    assert [(r["set_rop"], r["rop"]) for r in rows] == [(5, 6), (8, 9)]
    assert rows[0]["verdict"] == "neutral" and rows[0]["keep_minus_undo_sigma"] == 0.0
    assert rows[1]["keep_minus_undo_sigma"] < 0 and rows[1]["set"][0].startswith("power@")
    s = mod.summary(rows + [dict(rows[1], cause="cell_outage", verdict="cost")])
    assert (s["rolled_back_sets"], s["protected"] + s["neutral"], s["cost"]) == (3, 2, 1)
    assert s["per_class"]["cell_outage"] == {"rolled_back_sets": 1, "protected": 0, "neutral": 0, "cost": 1}
    assert mod.summary([]) == {"rolled_back_sets": 0, "protected": 0, "neutral": 0, "cost": 0, "per_class": {}}
