"""The episode runner: log schema, operator approvals, rejected actions, audit, determinism, the registry."""

from __future__ import annotations

import numpy as np
import pytest

from airan.agents.base import ApprovalRequest, Decision, Detection, PlannedAction, Policy
from airan.agents.policies import POLICIES, make_policy
from airan.agents.runner import run_policy_episode, run_suite
from airan.agents.suite import Suite, SuiteEpisode
from airan.core.errors import ConfigError
from airan.twin.actions import Action
from airan.twin.faults import Fault

EP = SuiteEpisode("r1", "ci-tiny", 3, 10, (Fault("sleeping_cell", (4,), onset_rop=3),))
KEYS = {"episode_id", "policy", "scenario", "seed", "rops", "decisions", "applied", "impact", "report", "wall_s"}


class Scripted(Policy):
    """ROP 3: asks approval for a restart; applies it once granted; ROP 4: an unapproved restart and an
    out-of-bounds tilt; sees what the runner applied."""

    name = "scripted"

    def reset(self, ctx):
        self.ctx, self.seen_ctx, self.applied_seen = ctx, ctx, []

    def decide(self, obs):
        d = Decision()
        self.applied_seen = list(obs.applied)
        if obs.rop == 3:
            d.detections = [Detection(4, 1.0)]
            d.approval_requests = [ApprovalRequest("q1", (Action("restart", 4),), "test")]
        if obs.rop == 4:
            d.actions = [PlannedAction(Action("restart", 10)), PlannedAction(Action("tilt", 2, 80.0))]
        if "q1" in obs.approvals and not any(a.kind == "restart" and a.cell == 4 for _, a, _, _ in obs.applied):
            d.actions.append(PlannedAction(Action("restart", 4), approval="q1"))
        return d


class Recorder:
    def __init__(self):
        self.rows = []

    def record(self, run_id, rop, stage, payload):
        self.rows.append((run_id, rop, stage, payload))


def test_none_policy_log_schema_and_references():
    log = run_policy_episode(EP, make_policy("none"))
    assert KEYS <= set(log)
    assert len(log["decisions"]) == EP.rops and [d["rop"] for d in log["decisions"]] == list(range(EP.rops))
    assert log["applied"] == [] and log["approvals"] == []
    imp = log["impact"]
    assert imp["kpi"] == "dl_served_ratio" and 4 in imp["cells"] and imp["fault_cells"] == [4]
    assert len(imp["healed"]) == len(imp["unhealed"]) == len(imp["nofault"]) == EP.rops
    assert imp["healed"] == imp["unhealed"]  # doing nothing is the unhealed run, exactly
    assert imp["nofault"][:3] == imp["unhealed"][:3]  # before onset the fault changes nothing
    assert np.mean(imp["nofault"][4:]) > np.mean(imp["unhealed"][4:])  # a sleeping cell costs traffic


def test_operator_grants_after_the_delay_and_flags_unapproved_actions():
    rec = Recorder()
    log = run_policy_episode(EP, Scripted(), approval_delay_rops=2, audit=rec)
    (q,) = log["approvals"]
    assert q["id"] == "q1" and q["requested_rop"] == 3 and q["granted_rop"] == 5
    by = {(a["kind"], a["cell"]): a for a in log["applied"]}
    approved, rogue = by[("restart", 4)], by[("restart", 10)]
    assert approved["rop"] == 6 and approved["decided_rop"] == 5  # decided when granted, applied next ROP
    assert approved["high_risk"] and approved["approval_valid"]
    assert rogue["high_risk"] and not rogue["approval_valid"] and not rogue["preauth_valid"]
    assert [r["kind"] for r in log["rejected"]] == ["tilt"] and "tilt" in log["rejected"][0]["error"]
    stages = [s for _, _, s, _ in rec.rows]
    assert stages.count("decision") == EP.rops and "approval_request" in stages and "approval" in stages
    assert stages.count("action") == 2 and stages[-1] == "report"
    assert {r for r, _, _, _ in rec.rows} == {"r1-scripted"}


def test_preauthorised_kind_is_valid_without_approval():
    class Pre(Scripted):
        def decide(self, obs):
            d = Decision()
            if obs.rop == 4:
                d.actions = [PlannedAction(Action("restart", 4), preauthorized="restart")]
            return d

    log = run_policy_episode(EP, Pre(), preauthorized=frozenset({"restart"}))
    (a,) = log["applied"]
    assert a["high_risk"] and a["preauth_valid"]
    log = run_policy_episode(EP, Pre())  # the operator never pre-authorised restarts
    assert not log["applied"][0]["preauth_valid"]


def test_context_gives_truth_only_to_policies_that_use_it():
    p = Scripted()
    run_policy_episode(EP, p)
    assert p.seen_ctx.truth is None and p.seen_ctx.true_twin is None
    assert p.seen_ctx.neighbours.shape[0] == p.seen_ctx.num_cells == 21
    t = p.seen_ctx.make_twin(0)
    assert t.rop == 0 and type(t).__name__ == "ImperfectTwin"
    np.testing.assert_array_equal(t.power_err_db, p.seen_ctx.make_twin(1).power_err_db)


def test_runs_are_deterministic():
    a = run_policy_episode(EP, Scripted())
    b = run_policy_episode(EP, Scripted())
    for k in ("decisions", "applied", "approvals", "impact", "rejected"):
        assert a[k] == b[k]


def test_run_suite_keeps_suite_order_and_rejects_unknown_policies():
    eps = (EP, SuiteEpisode("r2", "ci-tiny", 6, 8, (), control=True))
    suite = Suite("t", "custom", 0, eps)
    logs = run_suite(suite, "none", show_progress=False)
    assert [lg["episode_id"] for lg in logs] == ["r1", "r2"]
    with pytest.raises(ConfigError, match="wizard"):
        run_suite(suite, "wizard", show_progress=False)


def test_registry_names_a_missing_module(monkeypatch):
    monkeypatch.setitem(POLICIES, "ghost", "airan.agents.policies.ghost:GhostPolicy")
    with pytest.raises(ConfigError, match="ghost"):
        make_policy("ghost")
    assert make_policy("none").name == "none"
    assert set(POLICIES) >= {"airan", "none", "rules", "son", "oracle"}


def test_bad_approval_delay_is_named():
    with pytest.raises(ConfigError, match="approval_delay_rops"):
        run_policy_episode(EP, make_policy("none"), approval_delay_rops=-1)


class ThreadSpy(Policy):
    """Records the torch thread count the runner gives it at every ROP; does nothing."""

    name = "thread_spy"

    def reset(self, ctx):
        self.threads = []

    def decide(self, obs):
        import torch

        self.threads.append(torch.get_num_threads())
        return Decision()


def test_an_episode_runs_with_the_worker_thread_count_and_restores_the_callers():
    # inline runs used the caller's torch threads and pool workers one, so --workers changed decisions
    import torch

    from airan.data.datagen import WORKER_TORCH_THREADS

    before = torch.get_num_threads()
    torch.set_num_threads(WORKER_TORCH_THREADS + 1)
    try:
        spy = ThreadSpy()
        run_policy_episode(SuiteEpisode("t1", "ci-tiny", 3, 3, ()), spy, counterfactual_rops=0)
        assert spy.threads == [WORKER_TORCH_THREADS] * 3
        assert torch.get_num_threads() == WORKER_TORCH_THREADS + 1
    finally:
        torch.set_num_threads(before)
