"""Link abstraction: physics properties of the table-driven SINR -> MCS/BLER/goodput map, and agreement with
Sionna's own PHYAbstraction at sampled points."""

import subprocess
import sys

import numpy as np
import pytest

from airan.twin.adapter.phy import build_link_table
from airan.twin.link import (
    LinkTable,
    bler_of,
    default_link_table,
    effective_se,
    resource_elements_per_s,
    select_mcs,
    ue_throughput_mbps,
)

SINR_DB = np.concatenate([np.arange(-20.0, 40.0, 0.013), [-15.0, 35.0, 0.05, 12.34]])  # off-grid on purpose


@pytest.fixture(scope="module")
def table1() -> LinkTable:
    return default_link_table()  # TS 38.214 table 1, 64QAM


@pytest.fixture(scope="module")
def table2() -> LinkTable:
    return build_link_table(mcs_table_index=2)  # 256QAM


@pytest.fixture(scope="module", params=[1, 2])
def table(request, table1, table2) -> LinkTable:
    return table1 if request.param == 1 else table2


@pytest.fixture(scope="module")
def sionna_phy():
    from sionna.sys import PHYAbstraction

    return PHYAbstraction(device="cpu")


def _sionna_bler(phy, mcs: int, table_index: int, sinr_db: np.ndarray) -> np.ndarray:
    import torch

    snr = torch.tensor(10.0 ** (np.asarray(sinr_db, dtype=np.float64) / 10.0), dtype=torch.float32)
    return phy.get_bler(mcs, table_index, 1, 8448, snr).double().numpy()


def test_goodput_never_falls_as_sinr_rises(table):
    se = effective_se(np.sort(SINR_DB), table)
    assert np.all(np.diff(se) >= -1e-12)


@pytest.mark.parametrize("policy", ["max_goodput", "highest"])
def test_goodput_is_below_shannon_capacity(table, policy):
    se = effective_se(SINR_DB, table, policy=policy)
    capacity = np.log2(1.0 + 10.0 ** (SINR_DB / 10.0))  # [bit/RE]
    assert np.all(se < capacity)
    assert np.max(se / capacity) < 0.9  # LDPC at 10 % BLER sits >= ~0.5 dB from capacity


@pytest.mark.parametrize("policy", ["max_goodput", "highest"])
def test_chosen_mcs_meets_the_bler_target(table, policy):
    mcs = select_mcs(SINR_DB, table, policy=policy)
    ok = mcs >= 0
    assert np.all(bler_of(SINR_DB[ok], mcs[ok], table) <= table.bler_target + 1e-12)
    # a stricter target picks no higher MCS
    assert np.all(select_mcs(SINR_DB, table, bler_target=0.01, policy="highest")
                  <= select_mcs(SINR_DB, table, policy="highest"))


def test_chosen_mcs_meets_the_target_in_sionna_itself(table1, sionna_phy):
    s = np.round(np.arange(-5.0, 20.0, 0.1), 1)
    mcs = select_mcs(s, table1)
    for m in np.unique(mcs[mcs >= 3]):  # rows with a Sionna table
        assert np.all(_sionna_bler(sionna_phy, int(m), 1, s[mcs == m]) <= 0.1)


@pytest.mark.parametrize("table_index, top_se", [(1, 6 * 948 / 1024), (2, 8 * 948 / 1024)])
def test_high_sinr_reaches_the_top_mcs(table1, table2, table_index, top_se):
    table = table1 if table_index == 1 else table2
    assert select_mcs(np.array([30.0]), table)[0] == table.num_mcs - 1
    assert effective_se(np.array([30.0]), table)[0] == pytest.approx(top_se, abs=0.03)  # 5.55 / 7.41 bit/RE


def test_low_sinr_carries_nothing(table):
    assert effective_se(np.array([-10.0, -40.0]), table).tolist() == [0.0, 0.0]
    assert ue_throughput_mbps(np.array([-10.0]), np.array([1.0]), 273, 30e3, table)[0] == 0.0
    assert select_mcs(np.array([-10.0]), table)[0] == -1


def test_throughput_formula_and_share_proportionality(table1):
    sinr = np.full(4, 15.0)
    share = np.array([1.0, 0.5, 0.25, 0.0])
    thp = ue_throughput_mbps(sinr, share, 273, 30e3, table1)
    np.testing.assert_allclose(thp, thp[0] * share)
    re_per_s = 273 * 12 * 14 * 2000 * (1 - 0.14)  # 30 kHz: 2000 slots/s
    assert resource_elements_per_s(273, 30e3) == pytest.approx(re_per_s)
    assert thp[0] == pytest.approx(effective_se(sinr[:1], table1)[0] * re_per_s / 1e6)
    full = ue_throughput_mbps(np.array([30.0]), 1.0, 273, 30e3, table1)[0]
    assert full == pytest.approx(6 * 948 / 1024 * re_per_s / 1e6, rel=1e-3)  # ~438 Mbit/s on 100 MHz


def test_nan_and_inf_sinr_give_zero_not_an_error(table1):
    sinr = np.array([np.nan, -np.inf, np.inf, 20.0])
    thp = ue_throughput_mbps(sinr, np.ones(4), 273, 30e3, table1)
    assert thp[0] == 0.0 and thp[1] == 0.0 and thp[2] > 0.0 and np.all(np.isfinite(thp))
    assert select_mcs(sinr, table1)[:2].tolist() == [-1, -1]


def test_bad_arguments_are_rejected_naming_the_value(table1):
    sinr = np.array([10.0, 10.0])
    with pytest.raises(ValueError, match="-0.5"):
        ue_throughput_mbps(sinr, np.array([1.0, -0.5]), 273, 30e3, table1)
    with pytest.raises(ValueError, match="1.5"):
        ue_throughput_mbps(sinr, np.array([1.5, 0.5]), 273, 30e3, table1)
    with pytest.raises(ValueError, match="20000"):
        ue_throughput_mbps(sinr, 1.0, 273, 20e3, table1)
    with pytest.raises(ValueError, match="1.5"):
        build_link_table(bler_target=1.5)
    with pytest.raises(ValueError, match="bogus"):
        select_mcs(sinr, table1, policy="bogus")


def test_table_is_sionnas_phy_abstraction(table1, table2, sionna_phy):
    for table, index in ((table1, 1), (table2, 2)):
        for mcs in (5, 10, 17, 24):
            s = np.round(np.arange(-5.0, 20.0, 0.1), 1)  # on Sionna's 0.1 dB grid
            col = np.round((s - table.sinr_grid_db[0]) / table.step_db).astype(int)
            assert table.from_sionna[mcs, col].all()
            np.testing.assert_allclose(table.bler[mcs, col], _sionna_bler(sionna_phy, mcs, index, s), atol=1e-6)
        # off the grid: our linear interpolation lies between Sionna's values at the neighbouring 0.1 dB points
        x = np.array([4.03, 9.27, 13.61])
        ours = bler_of(x, np.full(3, 12), table)
        lo = _sionna_bler(sionna_phy, 12, index, np.floor(x * 10) / 10)
        hi = _sionna_bler(sionna_phy, 12, index, np.ceil(x * 10) / 10)
        assert np.all((ours <= lo + 1e-6) & (ours >= hi - 1e-6))


def test_highest_policy_is_sionnas_inner_loop_rule(table2, sionna_phy):
    s = np.array([0.0, 3.0, 8.0, 12.5, 17.0, 22.0])  # where a tabulated MCS (>= 2) wins
    bler = np.stack([_sionna_bler(sionna_phy, m, 2, s) for m in range(2, 27)])  # [M, S] tabulated rows
    ok = bler <= 0.1
    expected = np.where(ok.any(axis=0), 2 + ok.shape[0] - 1 - np.argmax(ok[::-1], axis=0), -1)
    np.testing.assert_array_equal(select_mcs(s, table2, policy="highest"), expected)


def test_derived_rows_are_marked(table1, table2):
    assert not table1.from_sionna[:3].any() and table1.from_sionna[3:, table1.sinr_grid_db <= 20.0].all()
    assert not table2.from_sionna[:2].any()
    assert not table2.from_sionna[27, table2.sinr_grid_db > 25.5].any()  # unfinished waterfall extended


def test_importing_link_does_not_import_sionna():
    code = "import sys, airan.twin.link; print(any(m.split('.')[0] == 'sionna' for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
