import numpy as np
import pytest

from airan.twin.link import build_link_table, default_link_table, effective_se, select_mcs, ue_throughput_mbps


@pytest.fixture(scope="module")
def table():
    return default_link_table()


def test_goodput_is_monotone_and_below_shannon(table):
    s = np.arange(-10, 35, 0.05)
    se = effective_se(s, table)
    assert np.all(np.diff(se) >= -1e-12)
    assert np.all(se < np.log2(1 + 10 ** (s / 10)))  # no link beats capacity
    # 64QAM top MCS of TS 38.214 table 1 (948/1024), times (1 - residual BLER ~0.4 % at 30 dB)
    assert se[-1] == pytest.approx(6 * 948 / 1024, abs=0.05)
    assert effective_se(np.array([-10.0]), table)[0] == 0.0


def test_chosen_mcs_meets_the_bler_target(table):
    s = np.linspace(-3, 28, 200)
    mcs = select_mcs(s, table)
    for x, m in zip(s, mcs):
        if m >= 0:
            row = int(np.nonzero(table.mcs_index == m)[0][0])
            gi = int(np.floor((x - table.sinr_grid_db[0]) / 0.1 + 1e-9))
            assert table.bler[row, gi] <= 0.1


def test_throughput_scales_with_share_and_handles_nan(table):
    s = np.array([15.0, 15.0, np.nan])
    t = ue_throughput_mbps(s, np.array([1.0, 0.25, 1.0]), 273, 30e3, table)
    assert t[1] == pytest.approx(t[0] / 4) and t[2] == 0.0
    assert 300 < ue_throughput_mbps(np.array([30.0]), np.array([1.0]), 273, 30e3, table)[0] < 500
    with pytest.raises(ValueError, match="-0.5"):
        ue_throughput_mbps(s, np.array([1.0, -0.5, 1.0]), 273, 30e3, table)


def test_table_is_sionna_phy_abstraction(table):
    import torch
    from sionna.sys import PHYAbstraction

    bler = PHYAbstraction(device="cpu").get_bler(10, 1, 1, 8000, torch.tensor([10 ** 0.5])).item()
    row = int(np.nonzero(table.mcs_index == 10)[0][0])
    gi = int(round((5.0 - table.sinr_grid_db[0]) / 0.1))
    assert table.bler[row, gi] == pytest.approx(bler, abs=1e-6)
    with pytest.raises(ValueError, match="1.5"):
        build_link_table(bler_target=1.5)
