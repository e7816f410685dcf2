import pytest

from airan.agents.base import CAUSES, is_high_risk
from airan.agents.planner import KnobView, Planner, facing_neighbours
from airan.core.errors import ConfigError
from airan.twin.actions import Action
from airan.twin.env import NetworkTwin

from ._helpers import SEED, tiny_ctx


@pytest.fixture(scope="module")
def ctx():
    t = NetworkTwin("ci-tiny")
    t.reset(seed=SEED)
    return tiny_ctx(t)


def test_every_cause_gets_bounded_candidates(ctx):
    planner, knobs = Planner(ctx), KnobView(ctx)
    twin = NetworkTwin("ci-tiny")
    twin.reset(seed=SEED)
    for cause in CAUSES:
        cands = planner.propose(cause, (4,), knobs)
        assert cands, cause
        for c in cands:
            t = twin.clone()
            for a in c.actions:
                t.apply(a)  # raises ActionError if out of bounds


def test_expected_catalogue_mapping(ctx):
    planner, knobs = Planner(ctx), KnobView(ctx)
    assert planner.propose("sleeping_cell", (4,), knobs)[0].actions == (Action("restart", 4),)
    assert is_high_risk(list(planner.propose("sleeping_cell", (4,), knobs)[0].actions))
    up = planner.propose("uptilt_overshoot", (4,), knobs)
    assert all(a.kind == "tilt" and a.value > 0 for c in up for a in c.actions)
    ho = planner.propose("ho_misconfig", (4,), knobs)[0]
    assert {a.kind for a in ho.actions} == {"cio", "ttt", "hysteresis"}
    with pytest.raises(ConfigError):
        planner.propose("cell_outage", (), knobs)


def test_knob_view_inverse_restores(ctx):
    knobs = KnobView(ctx)
    a = Action("cio", 2, 6.0)
    inv = knobs.inverse(a)
    knobs.apply(a)
    knobs.apply(inv)
    assert knobs.cio_db[2] == ctx.scenario.handover.cio_db
    assert knobs.inverse(Action("tilt", 1, -2.0)) == Action("tilt", 1, 2.0)
    assert knobs.power_step(0, 10.0) == 3.0


def test_facing_neighbours_other_sites(ctx):
    nb = facing_neighbours(ctx, (4,))
    assert nb and all(ctx.cell_site[n] != ctx.cell_site[4] for n in nb)
