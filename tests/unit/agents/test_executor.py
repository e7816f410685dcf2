import numpy as np
import pytest

from airan.agents.executor import Executor, ExecutorConfig
from airan.agents.planner import Candidate, KnobView
from airan.core.errors import ConfigError
from airan.twin.actions import Action
from airan.twin.env import NetworkTwin

from ._helpers import SEED, tiny_ctx


def _hist(served):
    """History where cells 0-1 carry ``served`` x demand in each ROP."""
    n = len(served)
    dem = np.full((n, 2), 10.0)
    return {"DRB.DemandDl": dem, "DRB.CellThpDl": dem * np.asarray(served)[:, None],
            "HO.PingPong": np.zeros((n, 2)), "RLF.Count": np.zeros((n, 2))}


def _watch(ex, h, rop, approvals=frozenset()):
    """Step ``ex`` at ``rop`` with that ROP's KPIs taken from the history ``h``."""
    return ex.on_rop(rop, {k: v[rop] for k, v in h.items()}, h, approvals)


@pytest.fixture(scope="module")
def knobs():
    t = NetworkTwin("ci-tiny")
    t.reset(seed=SEED)
    return tiny_ctx(t)


def test_high_risk_waits_for_approval(knobs):
    ex = Executor(KnobView(knobs), episode_id="e")
    cand = Candidate("restart", (Action("restart", 0),), "sleeping_cell")
    acts, reqs = ex.submit(cand, np.array([0, 1]), 4, _hist([0.5] * 5), "why")
    assert acts == [] and len(reqs) == 1
    assert ex.on_rop(5, {}, _hist([0.5] * 6), frozenset())[0] == []
    acts, outcome = ex.on_rop(6, {}, _hist([0.5] * 7), frozenset({reqs[0].id}))
    assert outcome == "approved" and acts[0].approval == reqs[0].id


def test_preauthorized_policy_covers(knobs):
    ex = Executor(KnobView(knobs), ExecutorConfig(preauthorized=frozenset({"restart"})))
    acts, reqs = ex.submit(Candidate("r", (Action("restart", 0),), "sleeping_cell"), np.array([0]), 4,
                           _hist([0.5] * 5), "")
    assert reqs == [] and acts[0].preauthorized == "restart"


def test_regression_rolls_back_within_window(knobs):
    ex = Executor(KnobView(knobs))
    cand = Candidate("cio", (Action("cio", 1, 6.0),), "overload_hotspot")
    acts, _ = ex.submit(cand, np.array([0, 1]), 4, _hist([0.8] * 5), "")
    assert len(acts) == 1
    h = _hist([0.8] * 5 + [0.5])
    back, outcome = _watch(ex, h, 5)
    assert outcome == "rollback"
    assert back[0].action == Action("cio", 1, 0.0) and back[0].rollback_of == 5
    assert not ex.busy


def test_kept_when_no_regression(knobs):
    ex = Executor(KnobView(knobs))
    ex.submit(Candidate("cio", (Action("cio", 1, 6.0),), "overload_hotspot"), np.array([0, 1]), 4,
              _hist([0.8] * 5), "")
    h = _hist([0.8] * 5 + [0.9, 0.9])
    assert _watch(ex, h, 5)[1] == ""
    assert _watch(ex, h, 6)[1] == "kept"


def test_tolerance_scales_with_the_objective_noise(knobs):
    ex = Executor(KnobView(knobs))
    calm = ex.tolerance(np.array([0.80, 0.80, 0.801, 0.80, 0.80]), "overload_hotspot")
    noisy = ex.tolerance(np.array([0.80, 0.74, 0.82, 0.75, 0.80]), "overload_hotspot")
    assert calm == ex.cfg.margin  # the floor: a flat history does not make every wobble a regression
    assert 0.25 < noisy < 0.3  # 4 x the robust ROP-to-ROP noise (1.4826 x 0.065 / sqrt 2)
    # a dip inside the noise of a noisy neighbourhood is not a regression ...
    served = [0.80, 0.74, 0.82, 0.75, 0.80]
    ex.submit(Candidate("cio", (Action("cio", 1, 6.0),), "overload_hotspot"), np.array([0, 1]), 4,
              _hist(served), "")
    h = _hist(served + [0.65])
    assert _watch(ex, h, 5)[1] == ""
    # ... a fall far beyond it is
    h = _hist(served + [0.65, 0.3])
    assert _watch(ex, h, 6)[1] == "rollback"


def test_bad_config():
    with pytest.raises(ConfigError, match="3"):
        ExecutorConfig(window_rops=3)


def test_an_approved_changes_rollback_is_covered_by_its_approval(knobs):
    ex = Executor(KnobView(knobs), episode_id="e")
    cand = Candidate("uptilt 10 deg", (Action("tilt", 1, -10.0),), "excessive_downtilt")
    _, reqs = ex.submit(cand, np.array([0, 1]), 4, _hist([0.8] * 5), "why")
    assert reqs[0].backout == (Action("tilt", 1, 10.0),)  # the back-out plan travels with the request
    acts, outcome = ex.on_rop(5, {}, _hist([0.8] * 6), frozenset({reqs[0].id}))
    assert outcome == "approved"
    h = _hist([0.8] * 6 + [0.4])
    back, outcome = _watch(ex, h, 6, frozenset({reqs[0].id}))
    assert outcome == "rollback" and back[0].action == Action("tilt", 1, 10.0)
    assert back[0].approval == reqs[0].id and back[0].rollback_of == 6


def test_a_small_loss_in_a_quiet_network_is_a_regression(knobs):
    # the neighbourhood carries all its traffic with no noise; a 1.8 % shortfall is the action's doing
    def boosted(served):
        ex = Executor(KnobView(knobs))
        ex.submit(Candidate("nb", (Action("power", 1, 1.5),), "cell_outage"), np.array([0, 1]), 4, _hist(served), "")
        return ex

    ex = boosted([1.0] * 4 + [0.985])
    h = _hist([1.0] * 4 + [0.985, 1.0, 0.967])
    assert _watch(ex, h, 5)[1] == ""
    back, outcome = _watch(ex, h, 6)
    assert outcome == "rollback" and back[0].action == Action("power", 1, -1.5)
    # a 1 % wobble is not
    ex = boosted([1.0] * 5)
    h = _hist([1.0] * 5 + [0.99, 0.99])
    assert _watch(ex, h, 5)[1] == ""
    assert _watch(ex, h, 6)[1] == "kept"


def test_a_mobility_regression_rolls_back_a_traffic_set_only_when_guarded(knobs):
    cand = Candidate("uptilt", (Action("tilt", 1, -2.0),), "excessive_downtilt")
    h = _hist([0.8] * 7)
    h["HO.PingPong"][5:, 0] = [1.0, 6.0]  # traffic holds; the cells' ping-pongs jump after the tilt
    for guard, want in ((False, "kept"), (True, "rollback")):
        ex = Executor(KnobView(knobs), ExecutorConfig(guard_mobility=guard))
        ex.submit(cand, np.array([0, 1]), 4, {k: v[:5] for k, v in h.items()}, "")
        assert _watch(ex, h, 5)[1] == ""  # one more ping-pong is within the 3-failure margin
        back, outcome = _watch(ex, h, 6)
        assert outcome == want
    assert back[0].action == Action("tilt", 1, 2.0) and "handover failures 6 > pre-action 0.0" in back[0].reason
    # a handover fault's own set is guarded on handover failures already, never twice
    ex = Executor(KnobView(knobs), ExecutorConfig(guard_mobility=True))
    ex.submit(Candidate("hys", (Action("hysteresis", 1, 4.0),), "ho_misconfig"), np.array([0, 1]), 4,
              {k: v[:5] for k, v in h.items()}, "")
    assert ex.trial.pre_ho is None


def test_a_pending_request_can_be_withdrawn_unapplied(knobs):
    ex = Executor(KnobView(knobs), episode_id="e")
    with pytest.raises(ConfigError, match="no pending approval request"):
        ex.withdraw()
    cand = Candidate("restart", (Action("restart", 0),), "sleeping_cell")
    _, reqs = ex.submit(cand, np.array([0, 1]), 4, _hist([0.5] * 5), "why")
    assert not ex.granted(frozenset()) and ex.granted(frozenset({reqs[0].id}))
    assert ex.withdraw() == reqs[0] and not ex.busy
    # a grant arriving after the withdrawal applies nothing
    assert ex.on_rop(5, {}, _hist([0.5] * 6), frozenset({reqs[0].id})) == ([], "")
