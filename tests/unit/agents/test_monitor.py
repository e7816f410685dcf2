import dataclasses

import numpy as np
import pytest

from airan.agents.monitor import (
    FEATURE_NAMES,
    Monitor,
    MonitorConfig,
    RuleScorer,
    baseline_stats,
    derived_kpis,
    early_handovers,
    nanmedian0,
    peer_baseline_stats,
    sector_neighbours,
)
from airan.core.errors import ConfigError, ShapeError
from airan.twin.faults import Fault

from ._helpers import observations


def test_nanmedian0_matches_numpy():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(7, 5))
    a[rng.random(a.shape) < 0.3] = np.nan
    a[:, 0] = np.nan
    ref = np.array([np.nan if np.all(np.isnan(a[:, j])) else np.nanmedian(a[:, j]) for j in range(5)])
    np.testing.assert_allclose(nanmedian0(a), ref, equal_nan=True)


def test_baseline_scale_has_floor():
    h = {k: np.ones((5, 3)) for k in ("DRB.DemandDl", "DRB.CellThpDl", "DRB.UEThpDl", "DRB.UEThpDl.p5",
                                      "RRU.PrbUsedDl", "RRC.ConnMean", "L1M.RSRP", "L1M.RSRP.p5", "L1M.SINR",
                                      "L1M.SINR.p5", "DRB.UEThpUl", "HO.PingPong", "RLF.Count", "HO.AttOut",
                                      "BH.LatencyMs", "BH.LossRate", "Cell.Available")}
    base = baseline_stats(derived_kpis(h), 0, 5)
    assert np.all(base["rsrp"][1] == 1.0) and np.all(base["prb"][1] == 5.0)


def test_neighbours_exclude_self_and_are_near():
    xy = np.array([[0, 0], [0, 0], [0, 0], [200, 0], [200, 0], [200, 0]], float)
    yaw = np.array([0, 120, 240, 0, 120, 240], float)
    nb = sector_neighbours(xy, yaw, k=3)
    assert nb.shape == (6, 3)
    assert all(i not in nb[i] for i in range(6))
    assert 3 in nb[0] or 5 in nb[0] or 4 in nb[0]


def test_config_errors_name_value():
    with pytest.raises(ConfigError, match="0.0"):
        MonitorConfig(threshold=0.0)
    with pytest.raises(ConfigError, match="shape"):
        Monitor(np.zeros(3))


def test_outage_detected_and_quiet_before():
    fault = Fault("cell_outage", (4,), onset_rop=7)
    mon = None
    first = None
    for twin, obs in observations([fault], 10):
        if mon is None:
            from airan.agents.monitor import sector_neighbours as sn
            d = twin.drop
            mon = Monitor(sn(d.site_xy[d.cell_site], d.cell_yaw_deg), MonitorConfig(threshold=0.8), RuleScorer())
        dets = mon.update(obs)
        if obs.rop < 7:
            assert all(d.cell != 4 for d in dets)
        elif first is None and any(d.cell == 4 for d in dets):
            first = obs.rop
    assert first == 7  # the CELL_DOWN alarm detects at once
    assert mon.features.shape[1] == len(FEATURE_NAMES)
    assert mon.features[4, FEATURE_NAMES.index("z.avail")] < -5


def test_peer_baseline_centres_on_the_peer_cells_and_names_bad_shapes():
    rows, cells = 4, 6
    rng = np.random.default_rng(1)
    h = {k: rng.uniform(1.0, 2.0, (rows, cells)) for k in (
        "DRB.DemandDl", "DRB.CellThpDl", "DRB.UEThpDl", "DRB.UEThpDl.p5", "RRU.PrbUsedDl", "RRC.ConnMean",
        "L1M.RSRP", "L1M.RSRP.p5", "L1M.SINR", "L1M.SINR.p5", "DRB.UEThpUl", "HO.PingPong", "RLF.Count",
        "HO.AttOut", "BH.LatencyMs", "BH.LossRate", "Cell.Available")}
    h["L1M.RSRP"] = np.tile(np.array([-80.0, -82.0, -84.0, -86.0, -88.0, -140.0]), (rows, 1))
    d = derived_kpis(h)
    peers = np.array([True] * 5 + [False])
    base = peer_baseline_stats(d, 0, rows, peers)
    med, scale = base["rsrp"]
    assert med.shape == scale.shape == (cells,)
    np.testing.assert_allclose(med, -84.0)  # the median of the five peers; the odd cell out is left out
    np.testing.assert_allclose(scale, 1.4826 * 2.0)  # their MAD (2 dB), above the 1 dB floor
    # with fewer than 3 peers every cell is a peer
    assert peer_baseline_stats(d, 0, rows, np.array([True, True] + [False] * 4))["rsrp"][0][0] == -85.0
    with pytest.raises(ShapeError, match="peers"):
        peer_baseline_stats(d, 0, rows, np.ones(3, bool))
    with pytest.raises(ConfigError, match="empty"):
        peer_baseline_stats(d, 2, 2, peers)


def test_a_fault_older_than_the_history_gets_peer_features_not_none():
    # an outage from ROP 0: no cell has a clean window of its own, yet the diagnoser needs features; detection
    # is the alarm's, unchanged, and without the peer baseline there are no features at all
    fault = Fault("cell_outage", (4,), onset_rop=0)
    mons = {}
    for twin, obs in observations([fault], 3):
        if not mons:
            d = twin.drop
            nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)
            mons = {on: Monitor(nb, MonitorConfig(peer_baseline=on), RuleScorer()) for on in (True, False)}
        dets = {on: [x.cell for x in m.update(obs)] for on, m in mons.items()}
        assert dets[True] == dets[False] and 4 in dets[True]
        assert mons[False].features is None
        if obs.rop == 0:  # the incident opens now (the policy freezes the baseline); features from the next ROP
            assert mons[True].features is None
            for m in mons.values():
                m.freeze(0)
            continue
        f = mons[True].features
        assert f.shape == (twin.drop.cell_site.size, len(FEATURE_NAMES))
        assert f[4, FEATURE_NAMES.index("z.avail")] < -5 and abs(f[0, FEATURE_NAMES.index("z.avail")]) < 1
        assert np.all(mons[True].scores == 0)


def test_an_incident_opened_after_the_own_baseline_never_reads_peer_features():
    # detected at ROP 6 with its own baseline in place; the policy freezes 3 ROPs back, which leaves the frozen
    # window short, and that incident keeps the behaviour it had before the peer baseline existed: no features
    fault = Fault("cell_outage", (4,), onset_rop=6)
    mon = None
    for twin, obs in observations([fault], 8):
        if mon is None:
            d = twin.drop
            mon = Monitor(sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg),
                          MonitorConfig(min_baseline_rops=4), RuleScorer())
        mon.update(obs)
        if obs.rop == 6:
            assert mon.features is not None and not mon.cold
            mon.freeze(6 - 4 + 1)
        elif obs.rop == 7:
            assert mon.features is None and not mon.cold


def test_an_audit_finding_detects_on_its_own_until_the_policy_changes_the_cell():
    from airan.agents.base import Observation
    from airan.twin.actions import Action

    mon = None
    for twin, obs in observations([], 3):
        if mon is None:
            d = twin.drop
            mon = Monitor(sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg), MonitorConfig(), RuleScorer())
            with pytest.raises(ConfigError, match="cell 99"):
                mon.flag_audit(99, 5.0)
            with pytest.raises(ConfigError, match="nan"):
                mon.flag_audit(3, float("nan"))
        dets = [x.cell for x in mon.update(obs)]
        if obs.rop == 0:
            assert 3 not in dets
            mon.flag_audit(3, 7.5)
        elif obs.rop == 1:
            assert dets == [3] and mon.sure[3] > 0 and mon.audit_db[3] == 7.5
        else:  # the policy downtilted the cell: its audit finding is stale
            changed = Observation(obs.rop, obs.kpis, obs.history, obs.events, frozenset(),
                                  [(obs.rop, Action("tilt", 3, 2.0), 10.0, 12.0)], mr_rsrp_dbm=obs.mr_rsrp_dbm,
                                  ue_serving=obs.ue_serving, ue_dl_demand_mbps=obs.ue_dl_demand_mbps)
            assert 3 not in [x.cell for x in mon.update(changed)] and mon.audit_db[3] == 0


class _Quiet:
    def score(self, features):
        return np.zeros(features.shape[0])


def test_dead_air_signature_detects_a_silent_cell_with_ues():
    from airan.agents.base import Observation

    obs_list = list(observations([], 9))
    twin = obs_list[0][0]
    hist = {k: np.array(v, float) for k, v in obs_list[-1][1].history.items()}
    hist["DRB.CellThpDl"][5:, 2] = 0.0  # cell 2 carries nothing from ROP 5 ...
    hist["DRB.DemandDl"][:, 2] = 8.0  # ... of a steady demand ...
    hist["RRC.ConnMean"][:, 2] = 3.0  # ... with three UEs attached
    hist["RRC.ConnMean"][:, 3] = 1.0  # cell 3: the same, but a single UE (that UE's problem, not the cell's)
    hist["DRB.DemandDl"][:, 3] = 8.0
    hist["DRB.CellThpDl"][5:, 3] = 0.0
    hist["L1M.SINR"][:, 3] = -8.0  # ... at a SINR it cannot decode
    hist["RRC.ConnMean"][:, 5] = 1.0  # cell 5: a single UE at a good SINR that gets nothing: the cell is dead
    hist["DRB.DemandDl"][:, 5] = 8.0
    hist["DRB.CellThpDl"][6:, 5] = 0.0
    hist["L1M.SINR"][:, 5] = 12.0
    d = twin.drop
    mon = Monitor(sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg), MonitorConfig(threshold=0.9), _Quiet())
    def obs(r):
        return Observation(rop=r, kpis={k: v[r] for k, v in hist.items()},
                           history={k: v[: r + 1] for k, v in hist.items()}, events=[])

    first = {}
    for r in range(9):
        for det in mon.update(obs(r)):
            first.setdefault(det.cell, r)
    assert first == {2: 7, 5: 8}  # 3 dead ROPs detect; never the single UE that cannot decode (cell 3)
    off = Monitor(mon.neighbours, MonitorConfig(threshold=0.9, dead_air_rops=0), _Quiet())
    assert all(off.update(obs(r)) == [] for r in range(9))
    # with the UEs' reports: cell 5's lone UE hears it at -124 dBm, under the -120 dBm noise floor + 0 dB, so
    # the good cell SINR was the idle UEs'; the UE cannot decode and cell 5 is not dead (cell 2 has 3 UEs)
    n, u = len(d.cell_site), 4
    mr = np.full((u, n), np.nan)
    mr[0, [2, 0]] = [-95.0, -101.0]
    mr[1, 5] = -124.0
    srv, dem = np.array([2, 5, -1, -1]), np.array([8.0, 8.0, np.nan, np.nan])
    def with_reports(r, rsrp5=-124.0):
        m = mr.copy()
        m[1, 5] = rsrp5
        o = obs(r)
        return Observation(o.rop, o.kpis, o.history, o.events, mr_rsrp_dbm=m, ue_serving=srv, ue_dl_demand_mbps=dem)
    for rsrp5, want in ((-124.0, {2: 7}), (-110.0, {2: 7, 5: 8})):
        mon = Monitor(off.neighbours, MonitorConfig(threshold=0.9), _Quiet(), noise_re_dbm=-120.0)
        first = {}
        for r in range(9):
            for det in mon.update(with_reports(r, rsrp5)):
                first.setdefault(det.cell, r)
        assert first == want, rsrp5
    with pytest.raises(ConfigError, match="-1.0"):
        MonitorConfig(dead_air_margin_db=-1.0)
    with pytest.raises(ConfigError, match="nan"):
        MonitorConfig(dead_air_min_snr_db=float("nan"))


def test_dead_air_of_a_lone_ue_can_be_read_from_its_reports_alone():
    from airan.agents.base import Observation

    obs_list = list(observations([], 9))
    twin = obs_list[0][0]
    hist = {k: np.array(v, float) for k, v in obs_list[-1][1].history.items()}
    # cell 3: one UE asking 8 Mbit/s gets nothing from ROP 5, and the cell's SINR KPI reads -3 dB (below the
    # 0 dB test); cell 4: the same silence for a UE asking only 0.3 Mbit/s
    for c, dem_mbps in ((3, 8.0), (4, 0.3)):
        hist["RRC.ConnMean"][:, c] = 1.0
        hist["DRB.DemandDl"][:, c] = dem_mbps
        hist["DRB.CellThpDl"][5:, c] = 0.0
        hist["L1M.SINR"][:, c] = -3.0
    n, u = len(twin.drop.cell_site), 3
    mr = np.full((u, n), np.nan)
    mr[0, [3, 1]] = [-77.0, -77.0]  # the lone UE of cell 3 hears it as strong as the strongest other cell
    mr[1, [4, 1]] = [-90.0, -95.0]
    srv, dem = np.array([3, 4, -1]), np.array([8.0, 0.3, np.nan])
    d = twin.drop
    nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)

    def run(ue_sinr=None, **kw):  # against the evidence before session 32 unless told otherwise
        kw = {"dead_air_evidence": "sinr_and_reports", "dead_air_min_demand_mbps": 0.5} | kw
        mon = Monitor(nb, MonitorConfig(threshold=0.9, **kw), _Quiet(), noise_re_dbm=-120.0)
        first = {}
        for r in range(9):
            o = Observation(rop=r, kpis={k: v[r] for k, v in hist.items()},
                            history={k: v[: r + 1] for k, v in hist.items()}, events=[], mr_rsrp_dbm=mr,
                            ue_serving=srv, ue_dl_demand_mbps=dem, mr_sinr_db=ue_sinr)
            for det in mon.update(o):
                first.setdefault(det.cell, r)
        return first

    assert run() == {}  # the old default asks the SINR KPI too, and 0.5 Mbit/s of demand
    assert run(dead_air_evidence="reports") == {3: 7}  # the UE's reports decide: 3 silent ROPs from ROP 5
    assert run(dead_air_evidence="reports", dead_air_min_demand_mbps=0.1) == {3: 7, 4: 7}
    # the UEs' own SINR reports: -1 dB decodes (above the -3.5 dB test); -20 dB is a UE drowned by interference
    assert run(np.array([-1.0, -1.0, np.nan]), dead_air_evidence="ue_sinr") == {3: 7}
    assert run(np.array([-20.0, -1.0, np.nan]), dead_air_evidence="ue_sinr") == {}
    assert run(np.array([-20.0, -1.0, np.nan]), dead_air_evidence="reports") == {3: 7}  # RSRP cannot tell
    assert run(np.array([-1.0, -1.0, np.nan]), dead_air_evidence="ue_sinr", dead_air_min_demand_mbps=0.1) == {
        3: 7, 4: 7}
    assert run(np.array([-1.0, -1.0, np.nan])) == {}  # the old default ignores SINR reports
    # the default since session 32: the SINR KPI's evidence or the UE's own report, over a 0.1 Mbit/s floor
    default = MonitorConfig()
    assert (default.dead_air_evidence, default.dead_air_min_demand_mbps) == ("sinr_or_ue_sinr", 0.1)
    assert run(np.array([-1.0, -1.0, np.nan]), **{k: getattr(default, k) for k in (
        "dead_air_evidence", "dead_air_min_demand_mbps")}) == {3: 7, 4: 7}
    assert run(np.array([-1.0, -1.0, np.nan]), dead_air_evidence="sinr_or_ue_sinr") == {3: 7}
    assert run(np.array([-20.0, -1.0, np.nan]), dead_air_evidence="sinr_or_ue_sinr") == {}
    assert run(dead_air_evidence="ue_sinr") == {}  # no SINR reports: the default test
    with pytest.raises(ShapeError, match=r"\(2,\)"):
        run(np.array([-1.0, -1.0]), dead_air_evidence="ue_sinr")
    hist["L1M.SINR"][:, 3] = 1.0  # the cell's SINR KPI passes: the default's evidence holds, so E's does too
    assert run(np.array([-20.0, -1.0, np.nan])) == {3: 7}
    assert run(np.array([-20.0, -1.0, np.nan]), dead_air_evidence="sinr_or_ue_sinr") == {3: 7}
    assert run(np.array([-20.0, -1.0, np.nan]), dead_air_evidence="ue_sinr") == {}
    hist["L1M.SINR"][:, 3] = -3.0
    mr[0, [3, 1]] = [-124.0, -125.0]  # the lone UE hears its cell under the noise floor: its own link's silence
    assert run(dead_air_evidence="reports") == {}
    assert run(np.array([-1.0, -1.0, np.nan]), dead_air_evidence="ue_sinr") == {}  # RSRP test still applies
    with pytest.raises(ConfigError, match="'sinr'"):
        MonitorConfig(dead_air_evidence="sinr")
    with pytest.raises(ConfigError, match="nan"):
        MonitorConfig(dead_air_ue_min_sinr_db=float("nan"))
    with pytest.raises(ConfigError, match="-1.0"):
        MonitorConfig(dead_air_min_demand_mbps=-1.0)


def test_decodable_ues_need_a_serving_link_above_the_noise_and_near_the_strongest():
    from airan.agents.monitor import decodable_ues

    nan = np.nan
    mr = np.array([[-90.0, -92.0, nan],    # served by 0, the strongest: decodable
                   [-90.0, -88.0, nan],    # a neighbour 2 dB stronger: within the 3 dB margin
                   [-90.0, -85.0, nan],    # 5 dB stronger: drowned
                   [-124.0, nan, nan],     # alone, but under the -120 dBm floor
                   [nan, -80.0, nan]])     # its serving cell is not in its report
    srv = np.array([0, 0, 0, 0, 0])
    assert decodable_ues(mr, srv, 3.0, -120.0).tolist() == [True, True, False, False, False]
    assert decodable_ues(mr, srv, 3.0).tolist() == [True, True, False, True, False]  # no floor
    with pytest.raises(ShapeError, match=r"\(4,\)"):
        decodable_ues(mr, srv[:4], 3.0)


def _first_detections(nb, cfg: MonitorConfig, hist: dict[str, np.ndarray]) -> dict[int, int]:
    """The ROP each cell is first detected by a fresh ``Monitor(nb, cfg)`` fed the flat KPI history ``hist``."""
    from airan.agents.base import Observation

    mon, out = Monitor(nb, cfg, _Quiet()), {}
    for r in range(len(hist["HO.PingPong"])):
        o = Observation(rop=r, kpis={k: v[r] for k, v in hist.items()},
                        history={k: v[: r + 1] for k, v in hist.items()}, events=[])
        for det in mon.update(o):
            out.setdefault(det.cell, r)
    return out


def test_pingpong_storm_detects_and_isolated_pingpongs_do_not():
    obs_list = list(observations([], 8))
    twin = obs_list[0][0]
    hist = {k: np.array(v, float) for k, v in obs_list[-1][1].history.items()}
    hist["HO.PingPong"][:] = 0.0
    hist["HO.PingPong"][:, 5] = [0, 1, 0, 2, 1, 0, 2, 0]  # background: a ping-pong now and then
    hist["HO.PingPong"][4:, 1] = [2, 2, 3, 4]  # cell 1: a storm from ROP 4
    hist["HO.PingPong"][5:, 3] = [1, 2, 2]  # cell 3: 5 over 3 ROPs at ROP 7
    d = twin.drop
    nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)
    # at 5: 2 + 2 + 3 >= 5 at ROP 6 on cell 1, and 1 + 2 + 2 at ROP 7 on cell 3; at 6: cell 1 only (7 at ROP 6)
    assert _first_detections(nb, MonitorConfig(threshold=0.9, pingpong_min=5.0), hist) == {1: 6, 3: 7}
    assert MonitorConfig().pingpong_min == 6.0  # the default again since session 48 (S59c; 5 in sessions 40-47)
    assert _first_detections(nb, MonitorConfig(threshold=0.9), hist) == {1: 6}
    with pytest.raises(ConfigError, match="-1"):
        MonitorConfig(pingpong_min=-1)


def test_rlf_burst_fires_on_failures_without_handovers_and_not_when_off():
    obs_list = list(observations([], 8))
    twin = obs_list[0][0]
    hist = {k: np.array(v, float) for k, v in obs_list[-1][1].history.items()}
    hist["HO.PingPong"][:] = 0.0
    hist["RLF.Count"][:] = 0.0
    hist["HO.AttOut"][:] = 1.0  # every cell hands a UE over each ROP ...
    hist["RLF.Count"][5:7, 2] = 1.0  # cell 2: two failures at ROPs 5-6 ...
    hist["HO.AttOut"][4:, 2] = 0.0  # ... and no handover out from ROP 4: the too-late case
    hist["RLF.Count"][5:7, 6] = 1.0  # cell 6: the same failures, but it keeps handing over
    hist["RLF.Count"][[1, 5], 4] = 1.0  # cell 4: two failures 4 ROPs apart
    hist["HO.AttOut"][:, 4] = 0.0
    hist["RLF.Count"][0:2, 7] = 1.0  # cell 7: two failures in the first ROPs (first attachments), no handover
    hist["HO.AttOut"][:, 7] = 0.0
    d = twin.drop
    nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)
    assert MonitorConfig().rlf_rops == 3  # the default since session 41 (off before)
    assert _first_detections(nb, MonitorConfig(threshold=0.9, rlf_rops=0), hist) == {}
    assert _first_detections(nb, MonitorConfig(threshold=0.9), hist) == {2: 6}
    assert _first_detections(nb, MonitorConfig(threshold=0.9, rlf_rops=3, rlf_min=3.0), hist) == {}
    with pytest.raises(ConfigError, match="0.5"):
        MonitorConfig(rlf_min=0.5)


def test_mr_shift_sees_a_cell_wide_step_through_ue_movement():
    from airan.agents.monitor import mr_shift

    rng = np.random.default_rng(4)
    u, c = 30, 4
    level = rng.uniform(-120, -80, (u, c))
    reports = []
    for r in range(12):
        level = level + rng.normal(0, 1.0, (u, c))  # every UE drifts its own way
        mr = level + (-6.0 if r >= 9 else 0.0) * (np.arange(c) == 2)  # cell 2 loses 6 dB from ROP 9
        mr = np.where(rng.random((u, c)) < 0.2, np.nan, mr)  # not every cell in every report
        reports.append(mr)
    shift = mr_shift(reports, 0, 8, 11)
    assert shift.shape == (c,)
    assert -8.0 < shift[2] < -4.0 and np.all(np.abs(np.delete(shift, 2)) < 2.0)
    few = [np.where(np.arange(u)[:, None] < 2, m, np.nan) for m in reports]  # 2 UEs: too few to speak
    assert np.all(mr_shift(few, 0, 8, 11) == 0.0)
    assert np.all(mr_shift([None] * 12, 0, 8, 11) == 0.0)


def test_monitor_mr_feature_ignores_the_policys_own_changes():
    from airan.agents.base import Observation
    from airan.twin.actions import Action

    fault = Fault("pa_degradation", (4,), severity=0.6, onset_rop=9)
    obs_list = [o for _, o in observations([fault], 13)]
    nb = None
    for twin, _ in observations([], 1):
        d = twin.drop
        nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)
    j = FEATURE_NAMES.index("mr.shift")
    mon = Monitor(nb, MonitorConfig(threshold=0.9))
    own = Monitor(nb, MonitorConfig(threshold=0.9))
    for o in obs_list:
        mon.update(o)
        own.update(Observation(o.rop, o.kpis, o.history, o.events, applied=[(9, Action("power", 4, -3.0), 0, -3)],
                               mr_rsrp_dbm=o.mr_rsrp_dbm))
    assert mon.features[4, j] < -4.0  # the PA lost 7 dB: every UE that hears cell 4 sees it
    assert np.abs(np.delete(mon.features[:, j], 4)).max() < 3.0
    assert own.features[4, j] == 0.0  # a change the policy made itself is not an anomaly
    last = obs_list[-1].rop
    assert mon.ue_changes(4, last) is not None and own.ue_changes(4, last) is None  # two settings, not a fault
    assert own.ue_changes(3, last) is not None
    blind = Monitor(nb, MonitorConfig(threshold=0.9))
    for o in obs_list:
        blind.update(Observation(o.rop, o.kpis, o.history, o.events))
    assert np.all(blind.features[:, j] == 0.0)  # no reports: the feature is neutral


def test_coverage_shift_signature_detects_an_uptilt_the_kpis_hide():
    fault = Fault("uptilt_overshoot", (4,), severity=1.0, onset_rop=9)
    obs_list = [o for _, o in observations([fault], 14)]
    for twin, _ in observations([], 1):
        d = twin.drop
        nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)
    cfg = MonitorConfig(threshold=0.9, dead_air_rops=0, pingpong_rops=0)
    mon = Monitor(nb, cfg, _Quiet())
    first = {}
    for o in obs_list:
        for det in mon.update(o):
            first.setdefault(det.cell, o.rop)
    assert first.get(4) is not None and 10 <= first[4] <= 12  # 12 deg up: the far UEs hear cell 4 much louder
    assert set(first) == {4}
    off = Monitor(nb, MonitorConfig(threshold=0.9, dead_air_rops=0, pingpong_rops=0, coverage_shift_rops=0), _Quiet())
    assert all(off.update(o) == [] for o in obs_list)
    with pytest.raises(ConfigError, match="-1.0"):
        MonitorConfig(coverage_shift_db=-1.0)
    # the per-UE view behind the quantiles: its median is the monitor's shift of the cell
    per_ue = mon.ue_changes(4, obs_list[-1].rop)
    assert per_ue.shape == (obs_list[-1].mr_rsrp_dbm.shape[0],) and np.isfinite(per_ue).sum() >= 3
    assert np.nanmedian(per_ue) == pytest.approx(mon.shift_db[4])
    assert mon.ue_changes(99, obs_list[-1].rop) is None
    assert Monitor(nb, cfg, _Quiet()).ue_changes(4, 0) is None  # no reports yet


def _trace(rops: int, ues: int = 12, cells: int = 3, seed: int = 2):
    """A synthetic UE trace: fixed per-UE session rates, on/off sessions, a few handovers; cell 1's UEs ask
    3x from ROP 9 and every UE 1.3x from ROP 10 (the time of day)."""
    rng = np.random.default_rng(seed)
    rate = rng.lognormal(1.0, 0.8, ues)
    cell = np.arange(ues) % cells
    serving, demand = [], []
    for r in range(rops):
        cell = np.where(rng.random(ues) < 0.05, rng.integers(0, cells, ues), cell)
        on = rng.random(ues) < 0.7
        d = rate * np.where(cell == 1, 3.0 if r >= 9 else 1.0, 1.0) * (1.3 if r >= 10 else 1.0)
        serving.append(np.where(on, cell, -1))
        demand.append(np.where(on, d, np.nan))
    return serving, demand


def test_demand_surge_follows_each_ues_own_rate_not_the_cells_total():
    from airan.agents.monitor import demand_surge

    serving, demand = _trace(12)
    surge = demand_surge(serving, demand, 3, 0, 8, 11)
    assert surge.shape == (3,)
    assert abs(surge[1] - np.log2(3.0)) < 0.2 and np.all(np.abs(surge[[0, 2]]) < 0.2)  # 1.3x everywhere cancels
    assert np.all(np.abs(demand_surge(serving, demand, 3, 0, 8, 8)) < 0.2)  # before the surge
    # a cell whose total demand triples because two more UEs start sessions: no surge
    rate = np.array([2.0, 3.0, 4.0, 5.0])
    srv = [np.array([0, 0, -1, -1])] * 8 + [np.array([0, 0, 0, 0])] * 4
    dem = [np.where(s >= 0, rate, np.nan) for s in srv]
    assert demand_surge(srv, dem, 1, 0, 8, 11)[0] == 0.0
    assert np.all(demand_surge([None] * 12, [None] * 12, 3, 0, 8, 11) == 0.0)  # no trace: neutral


def test_demand_surge_signature_detects_an_overload_and_not_a_benign_surge():
    for twin, _ in observations([], 1):
        d = twin.drop
        nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)
    cfg = MonitorConfig(threshold=0.9, dead_air_rops=0, pingpong_rops=0, coverage_shift_rops=0)
    first: dict[int, int] = {}
    mon = Monitor(nb, cfg, _Quiet())
    for o in (o for _, o in observations([Fault("overload_hotspot", (4,), severity=0.5, onset_rop=9)], 14)):
        for det in mon.update(o):
            first.setdefault(det.cell, o.rop)
        if o.rop == 10:
            assert abs(mon.surge_log2[4] - np.log2(2.5)) < 0.2  # every UE of cell 4 asks 2.5x from ROP 9
    assert first == {4: 10}  # two ROPs of it
    benign = Monitor(nb, cfg, _Quiet())
    for o in (o for _, o in observations([Fault("benign_surge", (4, 5), severity=1.0, onset_rop=9)], 14)):
        assert benign.update(o) == []  # 1.6x stays under the default 0.8 doublings
    with pytest.raises(ConfigError, match="-0.5"):
        MonitorConfig(demand_surge_log2=-0.5)


def test_edge_drop_sees_a_mild_downtilt_the_median_shift_misses():
    from airan.agents.monitor import mr_shift

    near, far = np.full((8, 1), -80.0), np.full((4, 1), -110.0)
    reports = [np.concatenate([near, far - (8.0 if r >= 9 else 0.0)]) for r in range(12)]  # the far third: -8 dB
    assert mr_shift(reports, 0, 8, 11)[0] == 0.0  # the median UE saw nothing
    assert mr_shift(reports, 0, 8, 11, quantile=0.25)[0] == pytest.approx(-8.0)  # a quarter lost 8 dB
    with pytest.raises(ConfigError, match="1.5"):
        mr_shift(reports, 0, 8, 11, quantile=1.5)
    for twin, _ in observations([], 1):
        d = twin.drop
        nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)
    obs_list = [o for _, o in observations([Fault("excessive_downtilt", (4,), severity=0.5, onset_rop=9)], 13)]
    runs = {}
    for drop_db in (5.0, None):
        mon = Monitor(nb, MonitorConfig(threshold=0.9, dead_air_rops=0, pingpong_rops=0, coverage_drop_db=drop_db),
                      _Quiet())
        runs[drop_db] = [(o.rop, det.cell) for o in obs_list for det in mon.update(o)]
    assert runs[5.0] and runs[5.0][0] == (11, 4)  # 5 deg down: the far UEs lose 6-8 dB, the median UE 1-3
    assert runs[None] == []  # the median shift alone stays under 3 dB (the default: the drop does not detect)
    with pytest.raises(ConfigError, match="-2.0"):
        MonitorConfig(coverage_drop_db=-2.0)


def test_overdue_ues_are_the_ones_a_neighbour_outshines_by_the_margin():
    from airan.agents.monitor import overdue_ues
    from airan.core.errors import ShapeError

    nan = np.nan
    mr = np.array([[-90.0, -83.0, nan],    # served by 0, cell 1 is 7 dB stronger: overdue
                   [-90.0, -85.0, -95.0],  # 5 dB: not at a 6 dB margin
                   [nan, -80.0, -70.0],    # served by 0, which it does not report: not judged
                   [-70.0, -90.0, nan],    # its serving cell is the strongest (served by 0)
                   [-99.0, -60.0, nan]])   # not connected
    srv = np.array([0, 0, 0, 0, -1])
    assert overdue_ues(mr, srv, 6.0).tolist() == [True, False, False, False, False]
    assert overdue_ues(mr, srv, 5.0).tolist() == [True, True, False, False, False]
    assert overdue_ues(None, srv, 6.0).tolist() == [False] * 5  # no reports: nothing is overdue
    with pytest.raises(ShapeError, match=r"\(4,\)"):
        overdue_ues(mr, srv[:4], 6.0)


def test_summed_late_handover_rule_needs_ues_held_by_the_same_cell_rop_after_rop():
    """The first late-handover rule (UE-ROPs held overdue >= 6 dB summed over 3 ROPs), still selectable with
    ``late_ho_streak_rops=0``."""
    import dataclasses

    obs_list = [o for _, o in observations([], 10)]
    for twin, _ in observations([], 1):
        d = twin.drop
        nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)
    num_cells = nb.shape[0]
    cfg = MonitorConfig(threshold=0.9, dead_air_rops=0, pingpong_rops=0, pingpong_steady_rops=0,
                        coverage_shift_rops=0, demand_surge_rops=0, late_ho_margin_db=6.0, late_ho_streak_rops=0)

    def run(overdue_from: int, same_cell: bool) -> dict[int, int]:
        """4 UEs of cell 1; UEs 0 and 1 report cell 2 8 dB above cell 1 from ``overdue_from``; UE 3 once, at
        ROP 2 (a measurement glitch)."""
        mon, first = Monitor(nb, cfg, _Quiet()), {}
        for o in obs_list:
            mr = np.full((4, num_cells), np.nan)
            mr[:, 1], mr[:, 2] = -90.0, -95.0
            late = o.rop >= overdue_from
            mr[[0, 1], 2] = -82.0 if late else -95.0
            if o.rop == 2:
                mr[3, 2] = -80.0
            srv = np.array([1, 1, 1, 1])
            if late and not same_cell and o.rop % 2:
                srv[[0, 1]] = 3  # handed over and back every ROP: never held
                mr[[0, 1], 3] = -84.0
            for det in mon.update(dataclasses.replace(o, mr_rsrp_dbm=mr, ue_serving=srv,
                                                      ue_dl_demand_mbps=np.ones(4))):
                first.setdefault(det.cell, o.rop)
        return first

    assert run(5, True) == {1: 6}  # held at ROP 6 (2 UEs) -> 2 >= late_ho_min at once
    assert run(99, True) == {}  # the single glitch never holds a UE two ROPs
    assert run(5, False) == {}  # overdue, but not held by the same cell
    with pytest.raises(ConfigError, match="-2"):
        MonitorConfig(late_ho_margin_db=-2.0)


def test_held_streak_rule_needs_one_ue_held_for_rops_and_a_silent_cell():
    obs_list = [o for _, o in observations([], 10)]
    for twin, _ in observations([], 1):
        d = twin.drop
        nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)
    num_cells = nb.shape[0]
    cfg = MonitorConfig(threshold=0.9, dead_air_rops=0, pingpong_rops=0, coverage_shift_rops=0, demand_surge_rops=0,
                        late_ho_margin_db=4.0, late_ho_streak_rops=4, late_ho_quiet_rops=3)

    def run(attempt_rop: int = -1, break_rop: int = -1) -> dict[int, int]:
        """3 UEs of cell 1; UE 0 reports cell 2 5 dB above cell 1 from ROP 3 (one UE only: the summed rule's
        2 UE-ROPs would need it held two ROPs, the streak rule four); cell 1 makes one handover attempt at
        ``attempt_rop``; UE 0 is not overdue at ``break_rop``."""
        mon, first = Monitor(nb, cfg, _Quiet()), {}
        for o in obs_list:
            mr = np.full((3, num_cells), np.nan)
            mr[:, 1], mr[:, 2] = -90.0, -96.0
            if o.rop >= 3 and o.rop != break_rop:
                mr[0, 2] = -85.0
            kpis = dict(o.kpis)
            hist = {k: np.array(v, float) for k, v in o.history.items()}
            hist["HO.AttOut"][:] = 0.0
            if 0 <= attempt_rop <= o.rop:
                hist["HO.AttOut"][attempt_rop, 1] = 1.0
            kpis["HO.AttOut"] = hist["HO.AttOut"][o.rop]
            for det in mon.update(dataclasses.replace(o, kpis=kpis, history=hist, mr_rsrp_dbm=mr,
                                                      ue_serving=np.array([1, 1, 1]),
                                                      ue_dl_demand_mbps=np.ones(3))):
                first.setdefault(det.cell, o.rop)
        return first

    assert run() == {1: 6}  # overdue at ROPs 3, 4, 5, 6: held four ROPs at ROP 6
    assert run(attempt_rop=6) == {1: 9}  # the cell handed a UE over at ROP 6: silent again from ROP 9
    assert run(break_rop=5) == {1: 9}  # the run restarts at ROP 6
    with pytest.raises(ConfigError, match="-1"):
        MonitorConfig(late_ho_streak_rops=-1)


def test_steady_pingpong_rule_sees_a_trickle_the_storm_misses():
    obs_list = list(observations([], 10))
    twin = obs_list[0][0]
    hist = {k: np.array(v, float) for k, v in obs_list[-1][1].history.items()}
    hist["HO.PingPong"][:] = 0.0
    hist["HO.PingPong"][:, 1] = [0, 0, 1, 1, 1, 2, 1, 1, 1, 1]  # never 5 over 3 ROPs; one or more every ROP from 2
    hist["HO.PingPong"][:, 4] = [0, 3, 1, 0, 3, 1, 0, 3, 1, 0]  # bursts, never 5 over 3 ROPs, with gaps
    d = twin.drop
    nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)

    def first(cfg: MonitorConfig) -> dict[int, int]:
        return _first_detections(nb, cfg, hist)

    assert first(MonitorConfig(threshold=0.9, pingpong_steady_rops=0)) == {}
    assert first(MonitorConfig(threshold=0.9, pingpong_steady_rops=6)) == {1: 7}  # ROPs 2-7
    # in at least M of the last 6 ROPs: the trickle earlier, and the gapped bursts (4 of every 6 ROPs) at M = 4
    assert first(MonitorConfig(threshold=0.9, pingpong_steady_rops=6, pingpong_steady_min=5)) == {1: 6}
    assert first(MonitorConfig(threshold=0.9, pingpong_steady_rops=6, pingpong_steady_min=4)) == {1: 5, 4: 5}
    with pytest.raises(ConfigError, match="-3"):
        MonitorConfig(pingpong_steady_rops=-3)
    for bad in (-1, 7):
        with pytest.raises(ConfigError, match="pingpong_steady_min"):
            MonitorConfig(pingpong_steady_rops=6, pingpong_steady_min=bad)


def test_site_relative_change_cancels_what_moves_every_cell_of_a_site():
    from airan.agents.monitor import change_quantile, report_change, site_relative_change
    from airan.core.errors import ShapeError

    rng = np.random.default_rng(5)
    u, site = 40, np.array([0, 0, 0, 1, 1, 1])
    gain = rng.uniform(-25, 0, (u, 6))  # antenna gain of each cell toward each UE [dB]
    path = rng.uniform(-120, -90, (u, 2))  # path loss + shadowing per UE and site [dB]
    reports = []
    for r in range(12):
        path = path + rng.normal(0, 4.0, (u, 2))  # fast movers: each UE's path to each site moves by several dB
        mr = path[:, site] + gain + (-3.0 if r >= 9 else 0.0) * (np.arange(6) == 1)  # cell 1's PA: -3 dB
        reports.append(mr + rng.normal(0, 0.5, mr.shape))
    diff = report_change(reports, 0, 8, 11)
    rel = site_relative_change(diff, site)
    shift = change_quantile(rel, 0.5)
    assert shift[1] == pytest.approx(-3.0, abs=0.5)  # the cell's own change
    assert shift[[0, 2]] == pytest.approx([1.5, 1.5], abs=0.5)  # its mates: the opposite over 2 mates
    assert np.all(np.abs(shift[3:]) < 0.5)  # the other site: movement cancelled
    assert np.abs(change_quantile(diff, 0.5)[3:]).max() > np.abs(shift[3:]).max()  # it does not cancel in mr_shift
    lone = site_relative_change(diff, np.array([0, 0, 0, 1, 1, 2]))
    assert np.all(np.isnan(lone[:, 5]))  # a cell alone on its site has no reference
    with pytest.raises(ShapeError, match=r"\(5,\)"):
        site_relative_change(diff, site[:5])


def test_site_shift_signature_detects_an_uptilt_with_the_median_shift_off():
    from airan.agents.base import Observation
    from airan.twin.actions import Action

    for twin, _ in observations([], 1):
        d = twin.drop
        nb, site = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg), d.cell_site
    obs_list = [o for _, o in observations([Fault("uptilt_overshoot", (4,), severity=0.5, onset_rop=9)], 13)]
    cfg = MonitorConfig(threshold=0.9, dead_air_rops=0, pingpong_rops=0, coverage_shift_rops=0)
    mon, blind, own = (Monitor(nb, cfg, _Quiet(), cell_site=site), Monitor(nb, cfg, _Quiet()),
                       Monitor(nb, cfg, _Quiet(), cell_site=site))
    first: dict[int, int] = {}
    for o in obs_list:
        for det in mon.update(o):
            first.setdefault(det.cell, o.rop)
        assert blind.update(o) == []  # without the sites the signature is off
        own.update(Observation(o.rop, o.kpis, o.history, o.events, applied=[(9, Action("tilt", 3, 1.0), 0, 1)],
                               mr_rsrp_dbm=o.mr_rsrp_dbm))
    assert first.get(4) == 11  # 6 deg up: three ROPs of >= 2 dB against its site mates
    assert set(first) <= {3, 4, 5}  # the mates move the opposite way, half as much
    assert np.argmax(np.abs(mon.site_shift_db)) == 4
    assert np.all(own.site_shift_db[[3, 4, 5]] == 0.0)  # the policy changed a cell of the site itself
    with pytest.raises(ConfigError, match="-2.0"):
        MonitorConfig(site_shift_db=-2.0)
    with pytest.raises(ShapeError, match=r"\(3,\)"):
        Monitor(nb, cfg, cell_site=site[:3])


def test_a_longer_signature_gap_keeps_a_step_in_full_where_the_trailing_baseline_absorbs_it():
    for twin, _ in observations([], 1):
        d = twin.drop
        nb, site = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg), d.cell_site
    obs_list = [o for _, o in observations([Fault("uptilt_overshoot", (4,), severity=0.5, onset_rop=9)], 13)]
    base = MonitorConfig(threshold=0.9, dead_air_rops=0, pingpong_rops=0)
    mon, far = (Monitor(nb, base, _Quiet(), cell_site=site),
                Monitor(nb, dataclasses.replace(base, shift_gap_rops=4), _Quiet(), cell_site=site))
    assert mon.shift_window(12) == mon.baseline_window(12) == (3, 11)  # None: the scorer's own window
    assert far.shift_window(12) == (1, 9) and far.baseline_window(12) == (3, 11)
    for o in obs_list:
        mon.update(o)
        far.update(o)
        shift, site_shift = far.far_shifts(o.rop)
        assert np.array_equal(far.shift_db, mon.shift_db)  # what the scorer and the diagnoser read is unchanged
        assert np.array_equal(mon.far_shifts(o.rop)[0], mon.shift_db)
        assert np.all(far.shift_streak >= mon.shift_streak) and np.all(far.site_streak >= mon.site_streak)
        if o.rop == 8:
            assert abs(shift[4]) < 2.0 and abs(site_shift[4]) < 2.0  # before the onset: nothing moved
    # three ROPs after a 6 deg uptilt the trailing baseline has taken in two of its ROPs; 4 ROPs back it has none
    assert shift[4] > mon.shift_db[4] + 2.0 and site_shift[4] > 2.0
    far.freeze(10)
    assert far.shift_window(14) == far.baseline_window(14) == (1, 9)  # never past a frozen baseline
    with pytest.raises(ConfigError, match="shift_gap_rops.*0"):
        MonitorConfig(shift_gap_rops=0)


def test_site_gate_keeps_the_median_rule_off_a_shift_every_cell_of_the_site_shares():
    from airan.agents.base import Observation

    pairs = list(observations([], 13))
    d = pairs[0][0].drop
    nb, site = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg), d.cell_site
    mates = np.flatnonzero(site == site[4])  # the cells of cell 4's site
    shifted = []
    for _, o in pairs:  # from ROP 9 every UE hears every cell of that site 5 dB weaker: the UEs moved away
        mr = np.array(o.mr_rsrp_dbm, float)
        if o.rop >= 9:
            mr[:, mates] -= 5.0
        shifted.append(Observation(o.rop, o.kpis, o.history, o.events, mr_rsrp_dbm=mr))
    cfg = MonitorConfig(threshold=0.9, dead_air_rops=0, pingpong_rops=0, late_ho_rops=0, demand_surge_rops=0)
    plain = Monitor(nb, dataclasses.replace(cfg, coverage_site_gate_db=0.0), _Quiet(), cell_site=site)
    gated = Monitor(nb, cfg, _Quiet(), cell_site=site)  # the default gate, 2 dB
    assert cfg.coverage_site_gate_db == 2.0
    fired_plain, fired_gated, low, site_max = set(), set(), np.zeros(len(mates)), np.zeros(len(mates))
    for o in shifted:
        fired_plain |= {det.cell for det in plain.update(o)}
        fired_gated |= {det.cell for det in gated.update(o)}
        low, site_max = np.minimum(low, gated.shift_db[mates]), np.maximum(site_max, np.abs(gated.site_shift_db[mates]))
    assert set(mates) <= fired_plain  # the median shift alone calls it a coverage change of each cell
    assert fired_gated == set()  # relative to its site mates no cell moved
    assert np.all(low <= -3.0) and np.all(site_max < 1.0)
    with pytest.raises(ConfigError, match="-1.0"):
        MonitorConfig(coverage_site_gate_db=-1.0)


def test_site_relative_spread_widens_for_a_tilt_and_not_for_a_power_change():
    from airan.agents.monitor import change_quantile, report_change, site_relative_change, site_relative_spread

    rng = np.random.default_rng(11)
    u, site = 60, np.array([0, 0, 0, 1, 1, 1])
    gain = rng.uniform(-25, 0, (u, 6))
    near = np.arange(u) < u // 2  # cell 1's near UEs gain under a downtilt, its far ones lose as much
    path = rng.uniform(-120, -90, (u, 2))
    reports = []
    for r in range(12):
        path = path + rng.normal(0, 4.0, (u, 2))
        tilt = np.where(near, 4.0, -4.0) if r >= 9 else np.zeros(u)
        mr = path[:, site] + gain
        mr[:, 1] += tilt
        mr[:, 4] += -3.0 if r >= 9 else 0.0  # cell 4's PA: every UE loses 3 dB
        reports.append(mr + rng.normal(0, 0.5, mr.shape))
    rel = site_relative_change(report_change(reports, 0, 8, 11), site)
    spread, median = site_relative_spread(rel), change_quantile(rel, 0.5)
    assert abs(median[1]) < 2.0 and spread[1] > 6.0  # the tilt: the median stays put, the spread opens
    assert median[4] == pytest.approx(-3.0, abs=0.6) and spread[4] < 2.0  # the power change: the reverse
    assert spread[1] == np.max(spread)  # its mates see a fraction of it
    few = np.full((2, 6), 1.0)
    assert np.all(site_relative_spread(few) == 0.0)  # fewer than 3 UEs: no statistic


def test_site_spread_signature_detects_a_downtilt_only_when_configured():
    for twin, _ in observations([], 1):
        d = twin.drop
        nb, site = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg), d.cell_site
    obs_list = [o for _, o in observations([Fault("excessive_downtilt", (4,), severity=1.0, onset_rop=9)], 13)]
    base = MonitorConfig(threshold=0.9, dead_air_rops=0, pingpong_rops=0, coverage_shift_rops=0, site_shift_rops=0,
                         late_ho_rops=0, demand_surge_rops=0, site_spread_db=None)
    assert (MonitorConfig().site_spread_db, MonitorConfig().site_spread_rops) == (4.0, 4)  # the default
    on = Monitor(nb, dataclasses.replace(base, site_spread_db=4.0, site_spread_rops=2), _Quiet(), cell_site=site)
    off = Monitor(nb, base, _Quiet(), cell_site=site)
    fired: dict[int, int] = {}
    for o in obs_list:
        for det in on.update(o):
            fired.setdefault(det.cell, o.rop)
        assert off.update(o) == []  # site_spread_db None: the spread never detects
        if o.rop < 9:
            assert not on.spread_fire().any()
    assert 4 in fired and fired[4] >= 10  # two ROPs of the spread after the onset
    assert set(fired) <= set(np.flatnonzero(site == site[4]))  # its site mates' spread opens by their share
    with pytest.raises(ConfigError, match="-1.0"):
        MonitorConfig(site_spread_db=-1.0)
    with pytest.raises(ConfigError, match="site_spread_rops"):
        MonitorConfig(site_spread_db=4.0, site_spread_rops=0)


def test_early_handovers_count_the_handovers_that_left_the_stronger_cell():
    nan = np.nan
    prev = np.array([0, 0, 1, 2, -1, 0])
    cur = np.array([1, 1, 2, 2, 1, 2])
    mr = np.array([[-80.0, -83.0, nan],   # UE 0: left cell 0 for cell 1, 0 still 3 dB stronger: early
                   [-85.0, -80.0, nan],   # UE 1: left 0 for a 5 dB stronger cell: a sane handover
                   [nan, -90.0, -91.0],   # UE 2: left 1 for 2, 1 dB stronger: early only at margin <= 1
                   [-70.0, -99.0, -98.0],  # UE 3: stayed on 2: no handover
                   [-70.0, -90.0, nan],   # UE 4: new session: no handover
                   [-75.0, nan, nan]])    # UE 5: left 0 for 2 but 2 is not reported: unknown, not counted
    np.testing.assert_array_equal(early_handovers(prev, cur, mr, 3, 2.0), [1, 0, 0])
    np.testing.assert_array_equal(early_handovers(prev, cur, mr, 3, 1.0), [1, 1, 0])
    np.testing.assert_array_equal(early_handovers(None, cur, mr, 3, 1.0), [0, 0, 0])
    with pytest.raises(ShapeError):
        early_handovers(prev[:-1], cur, mr, 3, 1.0)


def test_the_per_ue_fit_scan_detects_a_cell_whose_gain_holds_for_its_rops():
    """``fit_scan_nats``: the policy's ``change_fit`` scores every cell's per-UE report changes each ROP with a
    baseline; a cell at or above the threshold for ``fit_scan_rops`` ROPs detects on its own. Off (None) it is
    never asked; a cell the policy's own radio action changed is not scanned."""
    from airan.agents.base import Observation
    from airan.twin.actions import Action

    obs_list = [o for _, o in observations([], 14)]
    for twin, _ in observations([], 1):
        d = twin.drop
        nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)
    calls = []

    def fit(diff, obs):
        calls.append(obs.rop)
        assert diff.shape == obs.mr_rsrp_dbm.shape  # [num_ues, num_cells]
        gains = np.full(diff.shape[1], -5.0)
        gains[4] = 12.0 if obs.rop >= 9 else 2.0
        gains[6] = 12.0 if obs.rop == 9 else -1.0  # one ROP only: not enough
        return gains

    def run(cfg, applied=()):
        mon = Monitor(nb, cfg, _Quiet())
        mon.change_fit = fit
        first = {}
        for o in obs_list:
            o = Observation(o.rop, o.kpis, o.history, o.events, applied=list(applied), mr_rsrp_dbm=o.mr_rsrp_dbm)
            for det in mon.update(o):
                first.setdefault(det.cell, o.rop)
        return mon, first

    cfg = MonitorConfig(threshold=0.9, dead_air_rops=0, pingpong_rops=0, fit_scan_nats=8.0)
    mon, first = run(cfg)
    assert first == {4: 10}  # at or above 8 nats at ROPs 9 and 10
    assert calls and min(calls) == cfg.min_baseline_rops + cfg.gap_rops - 1  # from the first ROP with a baseline
    assert mon.fit_gain[4] == 12.0 and mon.fit_streak[4] == 5 and mon.fit_fire()[4]
    calls.clear()
    off, first = run(MonitorConfig(threshold=0.9, dead_air_rops=0, pingpong_rops=0))
    assert first == {} and calls == [] and np.isnan(off.fit_gain).all()
    _, first = run(cfg, applied=[(8, Action("tilt", 4, 2.0), 6.0, 8.0)])  # the policy tilted cell 4 itself
    assert 4 not in first
    with pytest.raises(ConfigError, match="fit_scan_nats"):
        MonitorConfig(fit_scan_nats=0.0)


@pytest.mark.parametrize("keep", [False, True])
def test_an_early_freeze_keeps_the_minimum_baseline_when_configured(keep):
    """The policy freezes the baseline ``persistence`` ROPs before a detection. At ROP 7 with persistence 4 that
    leaves ROPs 0-2, fewer than ``min_baseline_rops`` = 4: the monitor reads nothing for the whole incident.
    ``freeze_keeps_baseline`` keeps ROPs 0-3; a freeze at ROP 4, whose own window held only 3, keeps those 3."""
    obs_list = [o for _, o in observations([], 10)]
    for twin, _ in observations([], 1):
        d = twin.drop
        nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)
    cfg = MonitorConfig(threshold=0.9, persistence=4, min_baseline_rops=4, freeze_keeps_baseline=keep)
    mon = Monitor(nb, cfg, _Quiet())
    for o in obs_list[:8]:
        mon.update(o)
    mon.freeze(7 - cfg.persistence + 1)
    assert mon.baseline_window(8) == ((0, 4) if keep else (0, 3))
    mon.update(obs_list[8])
    assert (mon.features is not None) is keep  # blind with 3 ROPs of baseline
    early = Monitor(nb, cfg, _Quiet())
    for o in obs_list[:5]:
        early.update(o)
    early.freeze(4 - cfg.persistence + 1)
    assert early.frozen_stop == (3 if keep else 1)  # its window at ROP 4 held 3 ROPs
