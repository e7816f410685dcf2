import pytest

from airan.agents.base import CAUSES, is_high_risk
from airan.agents.planner import KnobView, Planner, facing_neighbours, nearest_neighbours
from airan.agents.policies.airan import AiranConfig
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


def test_coverage_candidates_use_the_nearest_other_site_cells(ctx):
    planner, knobs = Planner(ctx), KnobView(ctx)
    near = nearest_neighbours(ctx, (4,))
    assert near and all(ctx.cell_site[n] != ctx.cell_site[4] for n in near)
    cands = planner.propose("cell_outage", (4,), knobs)
    kinds = [frozenset(a.kind for a in c.actions) for c in cands]
    # power only, tilt only and both, each on the same nearest neighbours
    assert {frozenset({"power"}), frozenset({"tilt"}), frozenset({"power", "tilt"})} <= set(kinds)
    assert all({a.cell for a in c.actions} <= set(near) for c in cands)
    assert all(a.value < 0 for c in cands for a in c.actions if a.kind == "tilt")  # uptilt widens coverage
    pa = planner.propose("pa_degradation", (4,), knobs)
    own = [c for c in pa if {a.cell for a in c.actions} == {4}]
    assert sorted(a.value for c in own for a in c.actions if a.kind == "power" and len(c.actions) == 1) == [1, 2, 3]


def test_site_fault_neighbours_are_off_the_site(ctx):
    site = [int(c) for c in range(ctx.num_cells) if ctx.cell_site[c] == ctx.cell_site[4]]
    cands = Planner(ctx).propose("backhaul_failure", (4,), KnobView(ctx))
    off = [c for c in cands if all(a.kind == "cell_off" for a in c.actions)]
    assert off and {a.cell for a in off[0].actions} == set(site)
    cover = [a.cell for c in cands if c not in off for a in c.actions]
    assert cover and not set(cover) & set(site)


def test_compensation_uptilt_has_a_budget_over_rounds(ctx):
    planner, knobs = Planner(ctx), KnobView(ctx)
    first = [c for c in planner.propose("cell_outage", (4,), knobs) if c.name == "neighbour uptilt 1 deg"][0]
    for a in first.actions:
        knobs.apply(a)  # round 1 spent 1 deg of the 2 deg budget
    names = [c.name for c in planner.propose("cell_outage", (4,), knobs)]
    assert "neighbour uptilt 1 deg" in names and "neighbour uptilt 2 deg" not in names
    for a in first.actions:
        knobs.apply(a)  # budget spent
    assert not any(a.kind == "tilt" for c in planner.propose("cell_outage", (4,), knobs) for a in c.actions)
    names = [c.name for c in planner.propose("cell_outage", (4,), knobs)]
    assert len(names) == len(set(names)) and not any("uptilt" in n for n in names)


def test_an_interfered_cell_does_not_shrink_itself_unless_asked(ctx):
    cands = Planner(ctx, interference_tilt=False).propose("external_interference", (4,), KnobView(ctx))
    assert cands and not any(a.cell == 4 and a.kind == "tilt" for c in cands for a in c.actions)
    assert all(a.value > 0 for c in cands for a in c.actions if a.cell == 4 and a.kind == "power")


def test_a_hot_cell_can_shrink_itself(ctx):
    planner, knobs = Planner(ctx), KnobView(ctx)
    cause = "overload_hotspot"
    cands = planner.propose(cause, (4,), knobs)
    own = sorted(c.actions[0].value for c in cands if len(c.actions) == 1 and c.actions[0].kind == "tilt")
    assert own == [1.0, 2.0, 4.0]  # downtilts of the cell itself
    assert all(c.actions[0].cell == 4 for c in cands if len(c.actions) == 1 and c.actions[0].kind == "tilt")
    combo = [c for c in cands if c.name == "downtilt 2 deg + neighbour uptilt 1 deg"][0]
    assert combo.actions[0] == Action("tilt", 4, 2.0)
    assert all(a.value == -1.0 and a.cell in nearest_neighbours(ctx, (4,)) for a in combo.actions[1:])
    # at the antenna's tilt limit, no downtilt is offered
    knobs.apply(Action("tilt", 4, float(knobs.tilt_bounds_deg[1] - knobs.tilt_deg[4])))
    assert not any(a.kind == "tilt" and a.cell == 4 and a.value > 0
                   for c in planner.propose(cause, (4,), knobs) for a in c.actions)


def test_a_hot_cell_may_spend_its_power_headroom_when_asked(ctx):
    """``overload_power`` adds the hot cell's own +1.5 / +3 dB (and +3 dB with CIO +3 dB) to an overload's
    candidates; without it, or for another cause, the hot cell's power is never offered."""
    knobs = KnobView(ctx)
    plain = Planner(ctx).propose("overload_hotspot", (4,), knobs)
    assert not any(a.kind == "power" and a.cell == 4 for c in plain for a in c.actions)
    powered = Planner(ctx, overload_power=True).propose("overload_hotspot", (4,), knobs)
    extra = {c.name for c in powered} - {c.name for c in plain}
    assert extra == {"cell +1.5 dB", "cell +3 dB", "cell +3 dB + CIO +3 dB"}
    by_name = {c.name: c.actions for c in powered}
    assert by_name["cell +3 dB"] == (Action("power", 4, 3.0),)
    assert by_name["cell +3 dB + CIO +3 dB"] == (Action("power", 4, 3.0), Action("cio", 4, knobs.cio_db[4] + 3.0))
    interf = Planner(ctx, overload_power=True, interference_power=False).propose("external_interference", (4,), knobs)
    assert not any(a.kind == "power" and a.cell == 4 for c in interf for a in c.actions)
    knobs.apply(Action("power", 4, float(knobs.power_step(4, 10.0))))  # no headroom left: nothing offered
    spent = Planner(ctx, overload_power=True).propose("overload_hotspot", (4,), knobs)
    assert not any(a.kind == "power" and a.cell == 4 for c in spent for a in c.actions)
    assert AiranConfig().overload_power is False


def test_an_interfered_cell_may_spend_its_power_headroom_when_asked(ctx):
    """``interference_power`` adds the interfered cell's own +1.5 / +3 dB to an external interference's
    candidates, and nothing else; an overload's candidates do not change with it."""
    knobs = KnobView(ctx)
    plain = {c.name: c.actions for c in Planner(ctx, interference_power=False, interference_tilt=False).propose(
        "external_interference", (4,), knobs)}
    assert not any(a.kind == "power" and a.cell == 4 for acts in plain.values() for a in acts)
    powered = {c.name: c.actions for c in Planner(ctx, interference_tilt=False).propose("external_interference",
                                                                                          (4,), knobs)}
    assert set(powered) - set(plain) == {"cell +1.5 dB", "cell +3 dB"} and set(plain) <= set(powered)
    assert powered["cell +3 dB"] == (Action("power", 4, 3.0),)
    ov = [Planner(ctx, interference_power=on).propose("overload_hotspot", (4,), knobs) for on in (False, True)]
    assert ov[0] == ov[1]
    assert AiranConfig().interference_power is True  # the default since session 44 (HEAL_PREREG_S49.md)


def test_an_interfered_cell_may_downtilt_when_asked(ctx):
    """``interference_tilt`` adds the interfered cell's own downtilts (1, 2, 4 deg), and with
    ``interference_tilt_pair`` "downtilt 2 deg + neighbour uptilt 1 deg", to an external interference's
    candidates, and nothing else; by default the own downtilts without the pair."""
    knobs = KnobView(ctx)

    def names(**kw):
        return {c.name: c.actions for c in Planner(ctx, **kw).propose("external_interference", (4,), knobs)}

    plain = names(interference_tilt=False)
    tilted = names(interference_tilt=True, interference_tilt_pair=True)
    pair = "downtilt 2 deg + neighbour uptilt 1 deg"
    assert set(tilted) - set(plain) == {"downtilt 1 deg", "downtilt 2 deg", "downtilt 4 deg", pair}
    assert set(plain) <= set(tilted) and tilted["downtilt 4 deg"] == (Action("tilt", 4, 4.0),)
    assert tilted[pair][0] == Action("tilt", 4, 2.0) and all(a.kind == "tilt" and a.value < 0 for a in tilted[pair][1:])
    ov = [Planner(ctx, interference_tilt=on).propose("overload_hotspot", (4,), knobs) for on in (False, True)]
    assert ov[0] == ov[1]
    assert set(names()) == set(tilted) - {pair}  # the default: the own downtilts without the 4-knob pair
    # on with the pair in sessions 44-47 (HEAL_PREREG_S50.md), off after S59f, without the pair since S60
    cfg = AiranConfig()
    assert cfg.interference_tilt is True and cfg.interference_tilt_pair is False


def test_the_overload_tilt_pair_can_be_left_out(ctx):
    """``overload_tilt_pair=False`` drops exactly "downtilt 2 deg + neighbour uptilt 1 deg" from an overload's
    candidates; the hot cell's own downtilts stay, and the default offers the pair."""
    knobs = KnobView(ctx)
    pair = "downtilt 2 deg + neighbour uptilt 1 deg"
    plain = {c.name: c.actions for c in Planner(ctx).propose("overload_hotspot", (4,), knobs)}
    assert plain[pair][0] == Action("tilt", 4, 2.0) and all(a.value < 0 for a in plain[pair][1:])
    without = {c.name for c in Planner(ctx, overload_tilt_pair=False).propose("overload_hotspot", (4,), knobs)}
    assert set(plain) - without == {pair} and "downtilt 2 deg" in without
    assert AiranConfig().overload_tilt_pair is True


def test_knob_view_restores_a_knob_to_an_earlier_value(ctx):
    """``restore`` sets a knob back to the value ``value`` read before a change, whatever happened in between:
    a delta for tilt and power, the value itself for CIO/TTT/hysteresis, cell_on for a switched-off cell."""
    kv = KnobView(ctx)
    before = {k: kv.value(k, 2) for k in ("tilt", "power", "cio", "ttt", "hysteresis", "cell_off")}
    assert kv.restore("tilt", 2, before["tilt"]) is None  # nothing moved: nothing to restore
    for a in (Action("tilt", 2, -2.0), Action("tilt", 2, -1.0), Action("power", 2, 3.0), Action("cio", 2, 6.0),
              Action("ttt", 2, 640.0), Action("hysteresis", 2, 4.0), Action("cell_off", 2)):
        kv.apply(a)
    back = {k: kv.restore(k, 2, v) for k, v in before.items()}
    assert back["tilt"] == Action("tilt", 2, 3.0) and back["power"] == Action("power", 2, -3.0)
    assert back["cio"] == Action("cio", 2, before["cio"]) and back["ttt"] == Action("ttt", 2, before["ttt"])
    assert back["hysteresis"] == Action("hysteresis", 2, before["hysteresis"])
    assert back["cell_off"] == Action("cell_on", 2)
    for a in back.values():
        kv.apply(a)
    assert {k: kv.value(k, 2) for k in before} == before
    with pytest.raises(ConfigError, match="'restart'"):
        kv.value("restart", 2)


@pytest.mark.parametrize("cause", ["cell_outage", "backhaul_failure"])
def test_stepwise_compensation_moves_one_knob_per_neighbour_until_a_compensation_is_in_place(ctx, cause):
    knobs = KnobView(ctx)
    both = [c.name for c in Planner(ctx).propose(cause, (4,), knobs) if "dB + uptilt" in c.name]
    assert len(both) == 3
    first = Planner(ctx, compensation="stepwise").propose(cause, (4,), knobs)
    assert first and not any("dB + uptilt" in c.name for c in first)
    assert all(len({a.kind for a in c.actions if a.cell == n}) == 1 for c in first for n in {a.cell for a in c.actions})
    power = next(c for c in first if c.name == "neighbour +1.5 dB")
    for a in power.actions:  # the first step is kept: now the combined sets may follow
        knobs.apply(a)
    later = Planner(ctx, compensation="stepwise").propose(cause, (4,), knobs)
    assert any("dB + uptilt" in c.name for c in later)


@pytest.mark.parametrize("cause", ["cell_outage", "backhaul_failure"])
def test_single_knob_compensation_never_moves_power_and_tilt_of_a_neighbour_together(ctx, cause):
    knobs = KnobView(ctx)
    for step in range(2):
        cands = Planner(ctx, compensation="single_knob").propose(cause, (4,), knobs)
        assert cands and not any("dB + uptilt" in c.name for c in cands)
        for c in cands:
            for n in {a.cell for a in c.actions}:
                assert len({a.kind for a in c.actions if a.cell == n}) == 1, c.name
        names = {c.name for c in cands}
        assert {"neighbour +1.5 dB", "neighbour uptilt 1 deg"} <= names or step == 1
        for a in next(c for c in cands if c.name == "neighbour +1.5 dB").actions:  # a compensation in place
            knobs.apply(a)


def test_compensation_mode_is_validated(ctx):
    with pytest.raises(ConfigError, match="'both'"):
        Planner(ctx, compensation="both")
    with pytest.raises(ConfigError, match="'both'"):
        AiranConfig(compensation="both")


def test_an_outage_without_neighbour_power_gets_the_neighbours_uptilts_only(ctx):
    """``outage_power=False`` drops every set that raises a neighbour's power for a cell outage (alone or with an
    uptilt) and keeps the uptilts; a backhaul failure keeps every set."""
    knobs = KnobView(ctx)
    full = {c.name: c.actions for c in Planner(ctx).propose("cell_outage", (4,), knobs)}
    tilt = {c.name: c.actions for c in Planner(ctx, outage_power=False).propose("cell_outage", (4,), knobs)}
    assert any(a.kind == "power" for acts in full.values() for a in acts)
    assert tilt and set(tilt) < set(full) and all(a.kind == "tilt" for acts in tilt.values() for a in acts)
    assert set(tilt) == {n for n, acts in full.items() if all(a.kind == "tilt" for a in acts)}
    bh = [Planner(ctx, outage_power=on).propose("backhaul_failure", (4,), knobs) for on in (False, True)]
    assert bh[0] == bh[1]
    assert AiranConfig().outage_power is True
