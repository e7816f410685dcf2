"""The oracle: detects at onset with the true cause, respects approvals, and its actions recover KPI loss."""

from __future__ import annotations

import numpy as np
import pytest

from airan.agents.base import CAUSES, EpisodeContext
from airan.agents.policies import make_policy
from airan.agents.policies.oracle import OracleConfig, OraclePolicy, candidates
from airan.agents.runner import run_policy_episode
from airan.agents.scorer import score
from airan.agents.suite import Suite, SuiteEpisode
from airan.core.errors import ConfigError
from airan.twin.actions import Action
from airan.twin.env import NetworkTwin
from airan.twin.faults import Fault

TILT = SuiteEpisode("o1", "ci-tiny", 37, 14, (Fault("excessive_downtilt", (4,), 0.7, onset_rop=5),))
CTRL = SuiteEpisode("o2", "ci-tiny", 40, 10, (Fault("benign_surge", (4, 5), 0.8, onset_rop=4),), control=True)


@pytest.fixture(scope="module")
def tilt_log():
    return run_policy_episode(TILT, make_policy("oracle"))


def test_detects_at_onset_with_the_true_cause(tilt_log):
    first = next(d for d in tilt_log["decisions"] if d["detections"])
    assert first["rop"] == 5 and first["detections"][0]["cell"] == 4
    assert max(first["diagnosis"]["causes"], key=first["diagnosis"]["causes"].get) == "excessive_downtilt"
    assert all(not d["detections"] for d in tilt_log["decisions"][:5])


def test_counter_tilt_goes_through_approval_and_recovers_the_loss(tilt_log):
    tilts = [a for a in tilt_log["applied"] if a["kind"] == "tilt" and a["cell"] == 4]
    assert tilts and all(a["value"] < 0 for a in tilts)  # uptilt against a stuck downtilt
    for a in tilt_log["applied"]:
        assert not a["high_risk"] or a["approval_valid"]
    imp = tilt_log["impact"]
    h, u, n = (np.array(imp[k][8:]) for k in ("healed", "unhealed", "nofault"))
    assert np.mean(n - u) > 0.01  # the fault costs traffic
    assert np.mean(h - u) > 0.5 * np.mean(n - u)  # the oracle wins back more than half of it
    m = score(Suite("t", "custom", 0, (TILT,)), [tilt_log])["metrics"]
    assert m["detection_recall"]["value"] == 1.0 and m["unapproved_high_risk_actions"] == 0


def test_never_alarms_or_acts_on_a_control():
    log = run_policy_episode(CTRL, make_policy("oracle"))
    assert not any(d["detections"] for d in log["decisions"]) and log["applied"] == []


def test_needs_the_truth():
    twin = NetworkTwin("ci-tiny")
    twin.reset(seed=3)
    d = twin.drop
    ctx = EpisodeContext("x", twin.cfg, 5, d.site_xy[d.cell_site], d.cell_yaw_deg, d.cell_site,
                         np.zeros((21, 6), np.int64), lambda s: None)
    with pytest.raises(ConfigError, match="truth"):
        OraclePolicy().reset(ctx)
    with pytest.raises(ConfigError, match="horizon_rops"):
        OracleConfig(horizon_rops=0)
    with pytest.raises(ConfigError, match="futures"):
        OracleConfig(futures=-1)


def test_the_blind_oracle_scores_candidates_over_fresh_futures_not_the_true_one():
    """``oracle_blind`` scores every candidate (and doing nothing) over the same freshly drawn futures: its
    prediction of doing nothing differs from the true future's, and it still counter-tilts a stuck downtilt."""
    pol = make_policy("oracle_blind")
    assert pol.name == "oracle_blind" and pol.cfg.futures == 3
    twin = NetworkTwin("ci-tiny")
    twin.reset(seed=TILT.seed, options={"faults": list(TILT.faults)})
    from airan.agents.runner import episode_context

    pol.reset(episode_context(TILT, twin, oracle=True))
    for _ in range(6):
        twin.step()
    seeds = (11, 12)
    blind, blind2 = pol._simulate((), seeds), pol._simulate((), seeds)
    assert blind == blind2  # the same futures for every candidate: a paired comparison
    assert blind != pol._simulate(())  # not the future that will happen
    log = run_policy_episode(TILT, make_policy("oracle_blind"))
    tilts = [a for a in log["applied"] if a["kind"] == "tilt" and a["cell"] == 4]
    assert tilts and all(a["value"] < 0 for a in tilts)
    assert "(oracle_blind upper bound)" in log["report"]


def _ctx(twin):
    from airan.agents.monitor import sector_neighbours

    d = twin.drop
    xy = d.site_xy[d.cell_site]
    return EpisodeContext("x", twin.cfg, 5, xy, d.cell_yaw_deg, d.cell_site, sector_neighbours(xy, d.cell_yaw_deg),
                          lambda s: None)


@pytest.mark.parametrize("cause", CAUSES)
def test_every_cause_has_candidates(cause, tiny_twin):
    ctx = _ctx(tiny_twin)
    mode = "too_late" if cause == "ho_misconfig" else ""
    cands = candidates(Fault(cause, (4,), 0.8, mode=mode), ctx, tiny_twin.knobs)
    assert cands and all(len(c) >= 1 for c in cands)


@pytest.mark.parametrize("cause", ["overload_hotspot", "external_interference"])
def test_the_oracle_searches_the_cells_own_power_and_downtilt(cause, tiny_twin):
    cands = candidates(Fault(cause, (4,), 0.8), _ctx(tiny_twin), tiny_twin.knobs)
    singles = {(c[0].kind, c[0].value) for c in cands if len(c) == 1 and c[0].cell == 4}
    # the planner's own-cell downtilts (overload) are in the oracle's grid, and the interfered cell's power
    assert {("tilt", 1.0), ("tilt", 2.0), ("tilt", 4.0), ("power", 1.5), ("power", 3.0)} <= singles
    assert any(c[0] == Action("tilt", 4, 2.0) and all(a.kind == "tilt" and a.value < 0 for a in c[1:])
               for c in cands if len(c) > 1)
