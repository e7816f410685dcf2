import numpy as np
import pytest

from airan.twin.calibration import calibrate, geometry_sinr_db
from airan.twin.scenarios import get_scenario


def test_geometry_sinr_two_cells():
    cl = np.array([[100.0, 110.0]])  # serving 10 dB stronger; noise negligible at 46 dBm
    assert geometry_sinr_db(cl, 46.0, 1e6, 0.0)[0] == pytest.approx(10.0, abs=0.01)


@pytest.mark.slow
def test_twin_matches_sionna_full_channel_on_a_small_uma_drop():
    # 19 sites x 3 sectors x 5 UEs: tail percentiles are noisier than the full 570-UE run (bench/results)
    res = calibrate(get_scenario("uma-19").with_(ues_per_cell=5), seed=1)
    for metric in ("coupling_loss_db", "geometry_sinr_db"):
        for p, d in res[metric]["diff"].items():
            assert abs(d) < (1.0 if p == "p50" else 2.0), (metric, p, d)
    assert res["samples"]["cl_twin"].shape == res["samples"]["cl_sionna"].shape == (285,)
