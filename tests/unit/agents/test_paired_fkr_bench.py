"""bench/heal_paired_fkr.py: the paired FKR difference and its interval."""

import numpy as np
import pytest

from ._helpers import load_bench


@pytest.fixture(scope="module")
def mod():
    return load_bench("heal_paired_fkr")


def test_the_paired_difference_counts_each_episode_once_and_brackets_the_mean(mod):
    a = np.array([0.0, 0.5, 1.0, 0.2, 0.9])
    b = np.array([0.3, 0.5, 0.9, 0.8, 0.92])
    r = mod.paired(a, b)
    assert r["n"] == 5 and r["mean_diff"] == pytest.approx(np.mean(b - a))
    assert r["mean_a"] == pytest.approx(0.52) and r["mean_b"] == pytest.approx(0.684)
    assert r["ci95"][0] <= r["mean_diff"] <= r["ci95"][1]
    assert (r["better"], r["worse"]) == (2, 1)  # +0.3 and +0.6 up, -0.1 down; 0 and +0.02 did not move
    same = mod.paired(a, a)
    assert same["mean_diff"] == 0.0 and same["ci95"] == [0.0, 0.0] and same["better"] == same["worse"] == 0
