"""The ``rules`` baseline: static thresholds + playbook on ci-tiny episodes, and its approval discipline."""

from __future__ import annotations

import numpy as np
import pytest

from airan.agents.base import CAUSES, Decision, Observation, Policy, is_high_risk
from airan.agents.policies.rules import ApprovalGate, RulesConfig, RulesPolicy, one_hot_ish
from airan.core.errors import ConfigError
from airan.twin.actions import Action
from airan.twin.env import NetworkTwin
from airan.twin.faults import Fault

from ._helpers import SEED, tiny_ctx


def drive(policy: Policy, faults: list[Fault], rops: int, *, seed: int = SEED, grant_after: int | None = 1
          ) -> tuple[list[Decision], NetworkTwin]:
    """A minimal episode loop (what the runner does): a decision at ROP r is applied at the start of ROP r+1;
    approval requests are granted ``grant_after`` ROPs later (never when None)."""
    twin = NetworkTwin("ci-tiny")
    twin.reset(seed=seed, options={"faults": faults})
    policy.reset(tiny_ctx(twin))
    hist: dict[str, list[np.ndarray]] = {}
    granted: set[str] = set()
    pending: list[tuple[str, int]] = []
    applied: list[tuple[int, Action, float, float]] = []
    decisions: list[Decision] = []
    todo: list[Action] = []
    for r in range(rops):
        for a in todo:
            rec = twin.apply(a)
            applied.append((r, a, rec.pre, rec.post))
        _, _, _, _, info = twin.step()
        for k, v in info["kpis"].items():
            hist.setdefault(k, []).append(v)
        granted |= {i for i, due in pending if due <= r}
        obs = Observation(r, info["kpis"], {k: np.stack(v) for k, v in hist.items()}, info["events"],
                          frozenset(granted), list(applied))
        dec = policy.decide(obs)
        decisions.append(dec)
        if grant_after is not None:
            pending += [(q.id, r + grant_after) for q in dec.approval_requests]
        todo = [p.action for p in dec.actions]
    return decisions, twin


def test_rules_leaves_a_no_fault_episode_alone():
    decs, _ = drive(RulesPolicy(), [], 10)
    assert all(not d.detections and not d.actions and not d.approval_requests for d in decs)


def test_rules_detects_an_outage_and_boosts_neighbours():
    decs, twin = drive(RulesPolicy(), [Fault("cell_outage", (4,), onset_rop=3)], 8)
    assert not any(d.detections for d in decs[:3])
    first = next(i for i, d in enumerate(decs) if d.detections)
    assert first == 3  # CELL_DOWN alarm: no persistence needed
    d = decs[first]
    assert d.detections[0].cell == 4
    assert d.diagnosis is not None and d.diagnosis.top(1) == ["cell_outage"] and d.diagnosis.cells[0] == 4
    assert abs(sum(d.diagnosis.causes.values()) - 1.0) < 1e-9
    acts = [p.action for p in d.actions]
    assert acts and all(a.kind == "power" and a.cell != 4 and 0 < a.value <= 3.0 for a in acts)
    assert not is_high_risk(acts)
    assert all(twin.knobs.power_offset_db[a.cell] == pytest.approx(a.value) for a in acts)
    # the playbook runs once: no repeated boosts while the outage lasts
    assert sum(len(x.actions) for x in decs) == len(acts)


def test_rules_restart_waits_for_approval():
    decs, _ = drive(RulesPolicy(), [Fault("sleeping_cell", (4,), onset_rop=3)], 8)
    req_rop = next(i for i, d in enumerate(decs) if d.approval_requests)
    req = decs[req_rop].approval_requests[0]
    assert [a.kind for a in req.actions] == ["restart"] and req.actions[0].cell == 4
    assert decs[req_rop].diagnosis.top(1) == ["sleeping_cell"]
    assert not decs[req_rop].actions  # nothing applied before the grant
    restart_rop = next(i for i, d in enumerate(decs) if any(p.action.kind == "restart" for p in d.actions))
    assert restart_rop == req_rop + 1
    assert decs[restart_rop].actions[0].approval == req.id


def test_rules_never_acts_on_a_high_risk_set_without_a_grant():
    decs, twin = drive(RulesPolicy(), [Fault("sleeping_cell", (4,), onset_rop=3)], 8, grant_after=None)
    assert any(d.approval_requests for d in decs)
    assert not any(p.action.kind == "restart" for d in decs for p in d.actions)
    assert twin.knobs.restart_rops[4] == 0


def test_preauthorized_restart_applies_at_once():
    decs, _ = drive(RulesPolicy(RulesConfig(preauthorized=frozenset({"restart"}))),
                    [Fault("sleeping_cell", (4,), onset_rop=3)], 6, grant_after=None)
    restarts = [p for d in decs for p in d.actions if p.action.kind == "restart"]
    assert restarts and restarts[0].preauthorized == "restart" and not any(d.approval_requests for d in decs)


def test_rules_overload_offloads_with_cio():
    decs, _ = drive(RulesPolicy(), [Fault("overload_hotspot", (4,), onset_rop=3)], 7)
    acts = [(i, p.action) for i, d in enumerate(decs) for p in d.actions]
    assert acts and acts[0][1].kind == "cio" and acts[0][1].cell == 4 and acts[0][1].value > 0
    assert decs[acts[0][0]].diagnosis.top(1) == ["overload_hotspot"]


def test_gate_and_one_hot_ish():
    gate = ApprovalGate("e")
    planned, reqs = gate.submit((Action("power", 1, 2.0),), "low risk")
    assert len(planned) == 1 and not reqs and not gate.busy
    planned, reqs = gate.submit((Action("power", 1, 4.0),), "big power step")
    assert not planned and reqs[0].id == "e-req1" and gate.busy
    assert gate.poll(frozenset({"other"})) == []
    out = gate.poll(frozenset({"e-req1"}))
    assert out[0].approval == "e-req1" and not gate.busy
    p = one_hot_ish(["cell_outage"])
    assert set(p) == set(CAUSES) and abs(sum(p.values()) - 1) < 1e-9 and max(p, key=p.get) == "cell_outage"


def test_config_validation_names_the_value():
    with pytest.raises(ConfigError, match="power_step_db"):
        RulesConfig(power_step_db=5.0)
    with pytest.raises(ConfigError, match="persist_rops"):
        RulesConfig(persist_rops=0)
