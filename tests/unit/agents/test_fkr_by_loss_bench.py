"""bench/heal_fkr_by_loss.py: the loss bins and the loss of an episode."""

import pytest

from ._helpers import load_bench


@pytest.fixture(scope="module")
def mod():
    return load_bench("heal_fkr_by_loss")


def test_bins_split_by_loss_and_count_the_oracle_apart(mod):
    rows = [(0.005, 0.2, 1.0), (0.02, 1.0, None), (0.05, 0.5, 0.9), (0.07, 0.95, 0.3), (0.2, 0.6, 0.6)]
    bins = mod.by_loss(rows)
    assert [b["episodes"] for b in bins] == [1, 1, 2, 1]
    assert bins[0]["loss_from"] is None and bins[-1]["loss_to"] == 0.3
    mid = bins[2]  # [0.03, 0.1): FKR 0.5 and 0.95
    assert mid["fkr_median"] == pytest.approx(0.725) and mid["share_fkr_ge_0_9"] == 0.5
    assert mid["oracle_fkr_median"] == pytest.approx(0.6) and mid["oracle_share_fkr_ge_0_9"] == 0.5
    assert bins[1]["oracle_episodes"] == 0 and bins[1]["oracle_fkr_median"] is None


def test_episode_loss_is_the_mean_shortfall_after_onset(mod):
    log = {"impact": {"unhealed": [1.0, 1.0, 0.8, 0.6, 0.7], "nofault": [1.0, 1.0, 1.0, 1.0, 1.0]}}
    assert mod.episode_loss(log, 2) == pytest.approx((0.4 + 0.3) / 2)
