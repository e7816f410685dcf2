import numpy as np
import pytest

from airan.twin.scheduler import pf_time_shares


def test_underloaded_cell_serves_every_demand():
    need = np.array([0.1, 0.2, 0.3])
    share, used = pf_time_shares(need, np.array([0, 0, 0]), 1)
    assert np.allclose(share, need)
    assert used[0] == pytest.approx(0.6)


def test_overloaded_cell_is_max_min_fair():
    need = np.array([0.1, 0.8, 0.9, np.inf])
    share, used = pf_time_shares(need, np.array([0, 0, 0, 0]), 1)
    assert share[0] == pytest.approx(0.1)  # small demand fully served
    assert np.allclose(share[1:], 0.3)  # the rest split equally
    assert used[0] == pytest.approx(1.0)


def test_cells_are_independent_and_unserved_get_nothing():
    need = np.array([0.5, 0.5, 2.0, 0.5])
    share, used = pf_time_shares(need, np.array([0, 1, 1, -1]), 2)
    assert share[0] == pytest.approx(0.5) and share[3] == 0.0
    assert share[1] == pytest.approx(0.5) and share[2] == pytest.approx(0.5)
    assert used.tolist() == pytest.approx([0.5, 1.0])
