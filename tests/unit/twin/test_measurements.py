"""UE measurement reports: who reports what, with which error, and no effect on the twin's other streams."""

from __future__ import annotations

import numpy as np
import pytest

from airan.core.errors import ConfigError, ShapeError
from airan.twin.env import NetworkTwin
from airan.twin.faults import Fault
from airan.twin.measurements import MeasurementConfig, location_report, measurement_report, sinr_report


def _inputs(u=6, c=10, seed=0):
    rng = np.random.default_rng(seed)
    rsrp = rng.uniform(-130.0, -70.0, (u, c))
    serving = np.argmax(rsrp, axis=1)
    serving[2] = 4  # a UE served by a cell that is not its strongest (handover hysteresis)
    serving[5] = -1
    connected = np.array([True, True, True, False, True, True])
    on_air = np.ones(c, bool)
    on_air[7] = False
    return rsrp, serving, connected, on_air


def test_report_keeps_serving_and_strongest_others_of_connected_ues():
    rsrp, serving, connected, on_air = _inputs()
    cfg = MeasurementConfig(max_cells=4, noise_db=0.0)
    mr = measurement_report(rsrp, serving, connected, on_air, cfg, np.random.default_rng(1))
    assert mr.shape == rsrp.shape and mr.dtype == np.float64
    assert np.all(np.isnan(mr[3]))  # idle UE: no report
    assert np.all(np.isnan(mr[:, 7]))  # off-air cell: nobody hears it
    for u in (0, 1, 2, 4):
        kept = np.nonzero(np.isfinite(mr[u]))[0]
        assert len(kept) == 4 and serving[u] in kept
        others = [c for c in range(10) if c not in (serving[u], 7)]
        strongest = sorted(others, key=lambda c: -rsrp[u, c])[:3]
        assert set(kept) == {serving[u], *strongest}
        np.testing.assert_array_equal(mr[u, kept], np.round(rsrp[u, kept]))  # 1 dB resolution, no error
    assert np.sum(np.isfinite(mr[5])) == 3  # connected without serving cell: the 3 strongest, no serving slot


def test_report_error_floor_and_validation():
    rsrp, serving, connected, on_air = _inputs(u=6, c=10)
    rsrp[0, :] = -170.0  # below the reporting floor everywhere
    mr = measurement_report(rsrp, serving, connected, on_air, MeasurementConfig(noise_db=1.5),
                            np.random.default_rng(2))
    assert np.all(np.isnan(mr[0]))
    ok = np.isfinite(mr)
    err = mr[ok] - rsrp[ok]
    assert np.all(mr[ok] == np.round(mr[ok])) and 0.5 < np.std(err) < 3.0
    with pytest.raises(ConfigError, match="-1.0"):
        MeasurementConfig(noise_db=-1.0)
    with pytest.raises(ConfigError, match="0"):
        MeasurementConfig(max_cells=0)
    with pytest.raises(ShapeError, match=r"\(5,\)"):
        measurement_report(rsrp, serving[:5], connected, on_air, MeasurementConfig(), np.random.default_rng(0))


def test_twin_reports_do_not_change_kpis_and_follow_a_power_fault():
    fault = Fault("pa_degradation", (3,), severity=0.5, onset_rop=3)
    runs = {}
    for noise in (0.0, 2.0):
        twin = NetworkTwin("ci-tiny", measurement=MeasurementConfig(noise_db=noise))
        twin.reset(seed=5, options={"faults": [fault]})
        runs[noise] = [twin.step()[4] for _ in range(5)]
    for a, b in zip(runs[0.0], runs[2.0], strict=True):
        for k in a["kpis"]:
            np.testing.assert_array_equal(a["kpis"][k], b["kpis"][k])
    before, after = runs[0.0][1]["mr_rsrp_dbm"][:, 3], runs[0.0][4]["mr_rsrp_dbm"][:, 3]
    both = np.isfinite(before) & np.isfinite(after)
    assert both.sum() >= 3
    assert np.median(after[both] - before[both]) < -4.0  # 12 dB x 0.5 severity, minus UE movement


def test_ue_trace_adds_up_to_the_cell_demand_and_follows_a_hotspot():
    from airan.twin.faults import demand_gain

    assert demand_gain("overload_hotspot", 1.0) == 4.0 and demand_gain("benign_surge", 0.5) == pytest.approx(1.3)
    assert demand_gain("pa_degradation", 1.0) == 1.0
    twin = NetworkTwin("ci-tiny")
    twin.reset(seed=5, options={"faults": [Fault("overload_hotspot", (3,), severity=1.0, onset_rop=3)]})
    infos = [twin.step()[4] for _ in range(5)]
    for info in infos:
        srv, dem = info["ue_serving"], info["ue_dl_demand_mbps"]
        assert srv.dtype == np.int64 and srv.shape == dem.shape
        assert np.all(np.isnan(dem[srv < 0])) and np.all(np.isfinite(dem[srv >= 0]))
        per_cell = np.bincount(srv[srv >= 0], weights=dem[srv >= 0], minlength=len(info["kpis"]["DRB.DemandDl"]))
        np.testing.assert_allclose(per_cell, info["kpis"]["DRB.DemandDl"], rtol=1e-12, atol=1e-9)
    a, b = infos[1], infos[4]  # before / after onset: cell 3's UEs ask 4x, apart from the time of day
    both = (a["ue_serving"] == 3) & (b["ue_serving"] == 3) & (a["ue_dl_demand_mbps"] > 0) & (b["ue_dl_demand_mbps"] > 0)
    assert both.any()
    np.testing.assert_allclose(b["ue_dl_demand_mbps"][both] / a["ue_dl_demand_mbps"][both], 4.0, rtol=0.01)


def test_location_report_has_the_configured_error_and_only_connected_ues():
    rng = np.random.default_rng(0)
    xy = rng.uniform(-500.0, 500.0, (400, 2))
    connected = np.arange(400) % 4 != 0
    loc = location_report(xy, connected, MeasurementConfig(location_noise_m=10.0), np.random.default_rng(1))
    assert loc.shape == (400, 2) and loc.dtype == np.float64
    assert np.all(np.isnan(loc[~connected])) and np.all(np.isfinite(loc[connected]))
    assert 8.5 < np.std(loc[connected] - xy[connected]) < 11.5
    exact = location_report(xy, connected, MeasurementConfig(location_noise_m=0.0), np.random.default_rng(1))
    np.testing.assert_array_equal(exact[connected], xy[connected])
    with pytest.raises(ConfigError, match="-3.0"):
        MeasurementConfig(location_noise_m=-3.0)
    with pytest.raises(ShapeError, match=r"\(400, 3\)"):
        location_report(np.zeros((400, 3)), connected, MeasurementConfig(), np.random.default_rng(0))


def test_twin_location_reports_follow_the_traced_ues_and_change_no_other_stream():
    runs = {}
    for noise in (0.0, 25.0):
        twin = NetworkTwin("ci-tiny", measurement=MeasurementConfig(location_noise_m=noise))
        twin.reset(seed=6)
        runs[noise] = [(twin.step()[4], twin.ue_xy) for _ in range(4)]
    for (a, xy), (b, _) in zip(runs[0.0], runs[25.0], strict=True):
        for k in a["kpis"]:
            np.testing.assert_array_equal(a["kpis"][k], b["kpis"][k])
        np.testing.assert_array_equal(a["mr_rsrp_dbm"], b["mr_rsrp_dbm"])
        traced = a["ue_serving"] >= 0
        assert traced.any() and np.all(np.isnan(a["ue_xy_m"][~traced]))
        np.testing.assert_allclose(a["ue_xy_m"][traced], xy[traced])  # no error: exactly where they are
        err = b["ue_xy_m"][traced] - xy[traced]
        assert np.all(np.isfinite(err)) and np.any(np.abs(err) > 1.0)


def test_sinr_report_has_the_error_step_and_range_of_ss_sinr():
    rng = np.random.default_rng(0)
    sinr = rng.uniform(-10.0, 30.0, 2000)
    sinr[:3] = [-40.0, 55.0, np.nan]  # beyond the reporting range; no serving link
    connected = np.arange(2000) % 5 != 0
    connected[:3] = True
    cfg = MeasurementConfig(sinr_noise_db=2.0)
    rep = sinr_report(sinr, connected, cfg, np.random.default_rng(1))
    assert rep.shape == (2000,) and rep.dtype == np.float64
    assert np.all(np.isnan(rep[~connected])) and np.isnan(rep[2])
    assert rep[0] == -23.0 and rep[1] == 40.0  # clipped to the TS 38.133 range
    ok = connected & np.isfinite(sinr) & (sinr > -20) & (sinr < 37)
    np.testing.assert_array_equal(rep[ok] * 2, np.round(rep[ok] * 2))  # 0.5 dB steps
    assert 1.7 < np.std(rep[ok] - sinr[ok]) < 2.3
    assert not np.any(np.signbit(rep[np.isfinite(rep)]) & (rep[np.isfinite(rep)] == 0))  # no -0.0
    exact = sinr_report(sinr, connected, MeasurementConfig(sinr_noise_db=0.0, sinr_resolution_db=0.0),
                        np.random.default_rng(1))
    np.testing.assert_array_equal(exact[ok], sinr[ok])
    with pytest.raises(ConfigError, match="-1.0"):
        MeasurementConfig(sinr_noise_db=-1.0)
    with pytest.raises(ConfigError, match="50.0"):
        MeasurementConfig(sinr_floor_db=50.0)
    with pytest.raises(ShapeError, match=r"\(5,\)"):
        sinr_report(np.zeros(5), np.ones(4, bool), cfg, np.random.default_rng(0))


def test_twin_sinr_reports_are_the_traced_ues_link_sinr_and_change_no_other_stream():
    runs = {}
    for noise in (0.0, 3.0):
        twin = NetworkTwin("ci-tiny", measurement=MeasurementConfig(sinr_noise_db=noise, sinr_resolution_db=0.0))
        twin.reset(seed=6)
        runs[noise] = [twin.step()[4] for _ in range(4)]
    for a, b in zip(runs[0.0], runs[3.0], strict=True):
        for k in a["kpis"]:
            np.testing.assert_array_equal(a["kpis"][k], b["kpis"][k])
        for k in ("mr_rsrp_dbm", "ue_xy_m", "ue_sinr_db"):
            np.testing.assert_array_equal(a[k], b[k])
        traced = a["ue_serving"] >= 0
        assert traced.any() and np.all(np.isnan(a["mr_sinr_db"][~traced]))
        inside = traced & (a["ue_sinr_db"] > -23) & (a["ue_sinr_db"] < 40)
        np.testing.assert_allclose(a["mr_sinr_db"][inside], a["ue_sinr_db"][inside])
        assert np.any(np.abs(b["mr_sinr_db"][inside] - a["ue_sinr_db"][inside]) > 0.5)
