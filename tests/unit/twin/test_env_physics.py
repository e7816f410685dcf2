"""Physical sanity of the twin's large-scale tier (the checks the twin issue asks for), on ci-tiny."""

import numpy as np
import pytest

from airan.core.errors import ConfigError
from airan.twin.actions import Action
from airan.twin.env import NetworkTwin
from airan.twin.faults import Fault


def _run(env, rops):
    infos = [env.step()[4] for _ in range(rops)]
    return {k: np.stack([i["kpis"][k] for i in infos]) for k in infos[0]["kpis"]}, infos


def _busiest_cell(env):
    return int(np.bincount(env.serving[env.serving >= 0], minlength=env.cfg.num_cells).argmax())


def test_same_seed_same_kpis():
    a, b = NetworkTwin("ci-tiny"), NetworkTwin("ci-tiny")
    a.reset(seed=11)
    b.reset(seed=11)
    ka, _ = _run(a, 4)
    kb, _ = _run(b, 4)
    for name in ka:
        assert np.array_equal(ka[name], kb[name], equal_nan=True), name
    c = NetworkTwin("ci-tiny")
    c.reset(seed=12)
    kc, _ = _run(c, 4)
    assert not np.array_equal(ka["L1M.RSRP"], kc["L1M.RSRP"], equal_nan=True)


def test_a_reseeded_clone_keeps_the_present_and_draws_another_future(tiny_twin):
    """A clone shares its parent's future; ``reseed`` keeps the present state but draws the future (mobility,
    sessions, measurement noise) from the new seed, the same future for the same seed."""
    _run(tiny_twin, 3)
    same, other, other2 = tiny_twin.clone(), tiny_twin.clone(), tiny_twin.clone()
    other.reseed(99)
    other2.reseed(99)
    assert np.array_equal(other.ue_xy, tiny_twin.ue_xy) and other.rop == tiny_twin.rop  # the present is kept
    k0, _ = _run(tiny_twin, 3)
    ks, _ = _run(same, 3)
    ko, _ = _run(other, 3)
    ko2, _ = _run(other2, 3)
    assert np.array_equal(k0["DRB.CellThpDl"], ks["DRB.CellThpDl"], equal_nan=True)  # a clone: foresight
    assert not np.array_equal(k0["DRB.CellThpDl"], ko["DRB.CellThpDl"], equal_nan=True)
    assert np.array_equal(ko["DRB.CellThpDl"], ko2["DRB.CellThpDl"], equal_nan=True)  # common random numbers


def test_outage_removes_traffic_and_loads_neighbours(tiny_twin):
    cell = _busiest_cell(tiny_twin)
    base, fault = tiny_twin.clone(), tiny_twin.clone()
    fault.inject(Fault("cell_outage", (cell,), onset_rop=fault.rop))
    kb, _ = _run(base, 4)
    kf, infos = _run(fault, 4)
    assert np.all(kf["DRB.CellThpDl"][:, cell] == 0) and np.all(kf["Cell.Available"][:, cell] == 0)
    others = np.arange(tiny_twin.cfg.num_cells) != cell
    assert kf["RRC.ConnMean"][-1, others].sum() > kb["RRC.ConnMean"][-1, others].sum()
    assert np.nansum(kf["RRU.PrbUsedDl"][-1, others]) > np.nansum(kb["RRU.PrbUsedDl"][-1, others])
    alarms = [e for i in infos for e in i["events"] if e.kind == "alarm" and e.cell == cell]
    assert any(e.name == "CELL_DOWN" for e in alarms)


def test_more_downtilt_shrinks_served_area(tiny_twin):
    cell = _busiest_cell(tiny_twin)
    base, tilted = tiny_twin.clone(), tiny_twin.clone()
    tilted.apply(Action("tilt", cell, 10.0))
    _run(base, 3)
    _run(tilted, 3)

    def served_area(env):
        mine = env.serving == cell
        d = np.hypot(*(env.ue_xy[mine] - env.cell_xy[cell]).T)
        return mine.sum(), d.max() if d.size else 0.0

    (n_b, d_b), (n_t, d_t) = served_area(base), served_area(tilted)
    assert n_t < n_b and d_t < d_b


def test_external_interferer_lowers_sinr_in_its_sector(tiny_twin):
    cell = _busiest_cell(tiny_twin)
    base, jam = tiny_twin.clone(), tiny_twin.clone()
    jam.inject(Fault("external_interference", (cell,), severity=0.8, onset_rop=jam.rop))
    kb, _ = _run(base, 2)
    kj, infos = _run(jam, 2)
    assert kj["L1M.SINR"][-1, cell] < kb["L1M.SINR"][-1, cell] - 3.0
    assert kj["DRB.UEThpUl"][-1, cell] < kb["DRB.UEThpUl"][-1, cell]
    assert any(e.name == "UL_INTERFERENCE" for i in infos for e in i["events"])


def test_backhaul_failure_zeroes_throughput_not_rsrp(tiny_twin):
    cell = _busiest_cell(tiny_twin)
    site_cells = np.nonzero(tiny_twin.drop.cell_site == tiny_twin.drop.cell_site[cell])[0]
    base, bh = tiny_twin.clone(), tiny_twin.clone()
    bh.inject(Fault("backhaul_failure", (cell,), onset_rop=bh.rop))
    kb, _ = _run(base, 2)
    kf, _ = _run(bh, 2)
    assert np.all(kf["DRB.CellThpDl"][:, site_cells] == 0)
    assert np.all(kf["BH.LossRate"][:, site_cells] == 1.0)
    assert np.all(kf["Cell.Available"][:, site_cells] == 1.0)
    assert np.nanmax(np.abs(kf["L1M.RSRP"][0, site_cells] - kb["L1M.RSRP"][0, site_cells])) < 1.0
    assert np.nansum(kb["DRB.CellThpDl"][:, site_cells]) > 0


def test_sleeping_cell_is_silent_and_restart_cures_it(tiny_twin):
    cell = _busiest_cell(tiny_twin)
    env = tiny_twin.clone()
    env.inject(Fault("sleeping_cell", (cell,), onset_rop=env.rop))
    k, infos = _run(env, 2)
    assert np.all(k["DRB.CellThpDl"][:, cell] == 0) and np.all(k["Cell.Available"][:, cell] == 1)
    assert k["RRC.ConnMean"][-1, cell] > 0 or np.any(env.serving == cell)
    assert not any(e.kind == "alarm" and e.cell == cell for i in infos for e in i["events"])
    env.apply(Action("restart", cell))
    k2, _ = _run(env, 3)
    assert k2["Cell.Available"][0, cell] == 0  # down while restarting
    assert k2["DRB.CellThpDl"][-1, cell] > 0


def test_pingpong_misconfiguration_raises_pingpongs(tiny_twin):
    cells = tuple(range(tiny_twin.cfg.num_cells))
    base, bad = tiny_twin.clone(), tiny_twin.clone()
    bad.inject(Fault("ho_misconfig", cells, mode="pingpong", onset_rop=bad.rop))
    kb, _ = _run(base, 8)
    kf, _ = _run(bad, 8)
    assert kf["HO.PingPong"].sum() > kb["HO.PingPong"].sum() + 5
    assert kf["HO.AttOut"].sum() > kb["HO.AttOut"].sum()


def test_rewriting_handover_parameters_cures_the_misconfiguration(tiny_twin):
    cells = tuple(range(tiny_twin.cfg.num_cells))
    bad = tiny_twin.clone()
    bad.inject(Fault("ho_misconfig", cells, mode="pingpong", onset_rop=bad.rop))
    ho = bad.cfg.handover
    for c in cells[:-1]:
        bad.apply(Action("hysteresis", c, ho.hysteresis_db))
    assert bad._s.cured == set()  # one faulty cell still carries the bad set
    cured, still = bad.clone(), bad.clone()
    cured.apply(Action("ttt", cells[-1], ho.ttt_ms))
    assert cured._s.cured == {0}
    kc, _ = _run(cured, 8)
    ks, _ = _run(still, 8)
    assert kc["HO.PingPong"].sum() < ks["HO.PingPong"].sum()


def test_evaluate_reflects_knobs_without_advancing(tiny_twin):
    cell = _busiest_cell(tiny_twin)
    env = tiny_twin.clone()
    rop = env.rop
    before = env.evaluate()
    rec = env.apply(Action("power", cell, -8.0))
    after = env.evaluate()
    assert env.rop == rop
    assert after["L1M.RSRP"][cell] < before["L1M.RSRP"][cell] - 7.0
    env._s.knobs.power_offset_db[cell] = rec.pre
    assert np.allclose(env.evaluate()["L1M.RSRP"], before["L1M.RSRP"], equal_nan=True)


def test_energy_falls_in_deep_sleep(tiny_twin):
    cell = _busiest_cell(tiny_twin)
    env = tiny_twin.clone()
    e0 = env.evaluate()["PEE.Energy"][cell]
    env.apply(Action("sleep", cell, mode="deep"))
    k, _ = _run(env, 1)
    assert k["PEE.Energy"][0, cell] < e0
    assert k["Cell.Available"][0, cell] == 0


@pytest.mark.parametrize("case", ["cell-out-of-range", "not-a-fault"])
def test_inject_rejects_bad_faults(tiny_twin, case):
    from airan.core.errors import FaultError

    with pytest.raises(FaultError, match="999" if case == "cell-out-of-range" else "str"):
        tiny_twin.inject(Fault("cell_outage", (999,)) if case == "cell-out-of-range" else "meteor")


def test_adopt_sessions_takes_the_trace_and_rejects_bad_cells():
    t = NetworkTwin("ci-tiny")
    t.reset(seed=3)
    u, n = t._s.ue_xyz.shape[0], t.cfg.num_cells
    serving = np.full(u, -1, np.int64)
    serving[:5] = np.arange(5) % n
    t.adopt_sessions(serving)
    assert t._s.active.sum() == 5 and np.array_equal(t._s.ho.serving[:5], serving[:5])
    _, _, _, _, info = t.step()
    assert np.nansum(info["kpis"]["DRB.DemandDl"]) > 0  # the adopted sessions offer traffic
    bad = serving.copy()
    bad[7] = n
    with pytest.raises(ConfigError, match=str(n)):
        t.adopt_sessions(bad)
    with pytest.raises(ConfigError, match="shape"):
        t.adopt_sessions(serving[:-1])


def test_adopt_sessions_sets_rates_from_the_traced_demand():
    from airan.twin.traffic import diurnal_factor

    t = NetworkTwin("ci-tiny")
    t.reset(seed=3)
    u = t._s.ue_xyz.shape[0]
    own = t._rate_dl.copy()
    serving = np.full(u, -1, np.int64)
    serving[:3] = 0
    demand = np.full(u, np.nan)
    demand[:2] = 2.0  # UE 2 is traced without a volume: it keeps its own rate
    t.adopt_sessions(serving, demand)
    day = diurnal_factor(t.rop, t.cfg.traffic)
    assert np.allclose(t._rate_dl[:2] * day, 2.0) and t._rate_dl[2] == own[2]
    assert np.array_equal(t._rate_dl[3:], own[3:])
    demand[0] = -1.0
    with pytest.raises(ConfigError, match="demand_dl_mbps"):
        t.adopt_sessions(serving, demand)


def test_hold_activity_keeps_every_session_and_the_rest_evolves():
    """A held twin's sessions neither start nor end over many steps (a free one's do), its UEs still move, the
    hold survives ``clone``, and the free twin is not affected by its held clone."""
    t = NetworkTwin("ci-tiny")
    t.reset(seed=3)
    held = t.clone()
    held.hold_activity()
    before, xy = held._s.active.copy(), held.ue_xy.copy()
    for _ in range(25):
        held.step()
        t.step()
    assert np.array_equal(held._s.active, before)
    assert not np.array_equal(t._s.active, before)  # ~5 % end per ROP and as many start: 25 ROPs change some
    assert not np.array_equal(held.ue_xy, xy)  # mobility goes on
    again = held.clone()
    again.step()
    assert np.array_equal(again._s.active, before) and again._s.activity_held


def test_adopt_positions_moves_the_ues_and_their_path_loss_follows():
    t = NetworkTwin("ci-tiny")
    t.reset(seed=3)
    u = t._s.ue_xyz.shape[0]
    site = t.drop.site_xy[t.drop.cell_site[0]]
    before_xy, before_pl = t.ue_xy, t._s.pathloss_db.copy()
    far = int(np.argmax(np.hypot(*(before_xy - site).T)))  # the UE farthest from cell 0's site
    xy = np.full((u, 2), np.nan)
    xy[far] = site + np.array([30.0, 0.0])  # reported next to that site
    t.adopt_positions(xy)
    assert np.allclose(t.ue_xy[far], xy[far])
    others = np.arange(u) != far
    assert np.array_equal(t.ue_xy[others], before_xy[others])  # NaN rows keep their own positions
    assert t._s.pathloss_db[far, 0] < before_pl[far, 0] - 10.0  # much closer: much less path loss
    np.testing.assert_allclose(t._s.pathloss_db[others], before_pl[others], atol=1e-3)
    t.step()  # and the twin runs on from there
    with pytest.raises(ConfigError, match="shape"):
        t.adopt_positions(xy[:-1])
    half = xy.copy()
    half[0] = [1.0, np.nan]
    with pytest.raises(ConfigError, match="UE 0"):
        t.adopt_positions(half)


def test_an_overloaded_cells_own_downtilt_hands_its_ues_to_the_neighbours_and_they_keep_their_demand():
    """The hot cell's own downtilt (a planner candidate for an overload hotspot) hands UEs to the neighbours, and
    a UE asks as much wherever it is served: the surge belongs to the crowd's area, not to the serving cell, so
    an offload cannot recover traffic by making demand vanish (before session 35 it did)."""
    moved = 0
    for seed in range(3):
        twin = NetworkTwin("ci-tiny")
        twin.reset(seed=seed)
        _run(twin, 2)
        cell = _busiest_cell(twin)
        twin.inject(Fault("overload_hotspot", (cell,), severity=0.9, onset_rop=twin.rop))
        _run(twin, 2)
        base, tilted = twin.clone(), twin.clone()
        tilted.apply(Action("tilt", cell, 4.0))
        kb, ib = _run(base, 4)
        kt, it = _run(tilted, 4)
        assert kt["RRC.ConnMean"][:, cell].sum() < kb["RRC.ConnMean"][:, cell].sum()
        for a, b in zip(ib, it, strict=True):
            both = (a["ue_serving"] >= 0) & (b["ue_serving"] >= 0)
            np.testing.assert_allclose(b["ue_dl_demand_mbps"][both], a["ue_dl_demand_mbps"][both], rtol=1e-12)
            moved += int(np.sum(both & (a["ue_serving"] == cell) & (b["ue_serving"] != cell)))
    assert moved > 0


def test_a_demand_surge_follows_the_cells_coverage_area_not_the_serving_cell():
    """An overload hotspot multiplies what every UE in the cell's coverage area asks (4x at severity 1), whichever
    cell serves it, and leaves the UEs outside untouched. The area is the network as planned: an operator's
    tilt or power change moves no UE in or out of it."""
    twin = NetworkTwin("ci-tiny")
    twin.reset(seed=3)
    _run(twin, 2)
    cell = _busiest_cell(twin)
    area = twin.in_cell_area([cell])
    assert area.dtype == bool and area.shape == twin.serving.shape and area.any() and (~area).any()
    np.testing.assert_array_equal(area, twin.area_cells() == cell)
    before = twin.clone()
    twin.inject(Fault("overload_hotspot", (cell,), severity=1.0, onset_rop=twin.rop))
    twin.apply(Action("tilt", cell, 6.0))  # the hot cell shrinks: its area does not
    crowd_elsewhere = 0
    for _ in range(4):  # the same ROPs without the fault or the tilt: same sessions, positions, time of day
        _, (quiet,) = _run(before, 1)
        _, (hot,) = _run(twin, 1)
        area = twin.in_cell_area([cell])
        np.testing.assert_array_equal(area, before.in_cell_area([cell]))
        both = (quiet["ue_dl_demand_mbps"] > 0) & (hot["ue_dl_demand_mbps"] > 0)
        ratio = hot["ue_dl_demand_mbps"][both] / quiet["ue_dl_demand_mbps"][both]
        inside = area[both]
        np.testing.assert_allclose(ratio[inside], 4.0, rtol=1e-9)
        np.testing.assert_allclose(ratio[~inside], 1.0, rtol=1e-9)
        crowd_elsewhere += int(np.sum(inside & (hot["ue_serving"][both] != cell)))
    assert crowd_elsewhere > 0  # some of the crowd is served by a neighbour, and still asks 4x
    with pytest.raises(ConfigError, match="cell 99"):
        twin.in_cell_area([99])


def _clone_rollouts(base, tilts, rops=3):
    """KPIs, RSRP reports and coverage areas of clones of ``base`` that each tilt cell 0 by one of ``tilts`` and
    step ``rops`` ROPs."""
    out = []
    for d in tilts:
        t = base.clone()
        rows = []
        for i in range(rops):
            info = t.step([Action("tilt", 0, d)] if i == 0 else None)[4]
            rows.append((info["kpis"], info["mr_rsrp_dbm"], t.area_cells()))
        out.append(rows)
    return out


def test_clones_sharing_positions_get_what_they_would_compute_alone(monkeypatch):
    """Clones stepped from one state walk the same UE positions, so the twin computes their geometry and antenna
    factors once (``env._shared_geometry``); a clone that tilted a cell must still get its own gains."""
    import airan.twin.env as env_mod

    computed = []
    geometry = env_mod.mobility.link_geometry
    monkeypatch.setattr(env_mod.mobility, "link_geometry", lambda *a: computed.append(1) or geometry(*a))

    def rollouts():
        base = NetworkTwin("ci-tiny")
        base.reset(seed=5)
        base.step()
        computed.clear()
        return _clone_rollouts(base, (0.0, 2.0, -2.0, 2.0)), len(computed)

    shared, n_shared = rollouts()
    monkeypatch.setattr(env_mod, "_SHARED_POSITIONS", 0)  # every entry evicted at once: nothing is shared
    env_mod._shared_by_positions.clear()
    env_mod._shared_by_geom.clear()
    alone, n_alone = rollouts()
    assert not env_mod._shared_by_positions
    assert (n_shared, n_alone) == (3, 12)  # 4 clones x 3 ROPs over the same 3 sets of positions
    for a, b in zip(shared, alone):
        for (ka, ra, aa), (kb, rb, ab) in zip(a, b):
            assert np.array_equal(ra, rb, equal_nan=True) and np.array_equal(aa, ab)
            for name in ka:
                assert np.array_equal(ka[name], kb[name], equal_nan=True), name
    assert not np.array_equal(shared[0][-1][1], shared[1][-1][1], equal_nan=True)  # the tilts did differ
    for (_, r1, _), (_, r3, _) in zip(shared[1], shared[3]):  # the same tilt twice: the same rollout
        assert np.array_equal(r1, r3, equal_nan=True)
