import dataclasses

import pytest

from airan.core.errors import ConfigError
from airan.twin.adapter.channel import check_drop_memory, drop_memory_bytes
from airan.twin.env import NetworkTwin
from airan.twin.scenarios import get_scenario

GIB = 2**30


def test_drop_memory_estimate_matches_the_measured_peaks():
    # measured peak RSS of a reset (sionna-no-rt 2.2.0, CPU): umi-19 at 570 and 1596 UEs
    assert drop_memory_bytes(570, 57) / GIB == pytest.approx(3.2, rel=0.05)
    assert drop_memory_bytes(1596, 57) / GIB == pytest.approx(22.2, rel=0.05)
    assert drop_memory_bytes(2280, 57) > 2 * drop_memory_bytes(1596, 57)  # UEs^2: twice the UEs, 4x the term


def test_a_drop_that_cannot_fit_is_refused_with_the_numbers_before_sionna_runs():
    dense = dataclasses.replace(get_scenario("umi-19"), ues_per_cell=40)
    with pytest.raises(ConfigError, match=r"2280 UEs \(40 per cell x 57 cells\).*ues_per_cell"):
        check_drop_memory(dense, available_bytes=24 * GIB)
    check_drop_memory(get_scenario("ci-tiny"), available_bytes=24 * GIB)  # the default scenarios fit
    huge = dataclasses.replace(get_scenario("umi-19"), ues_per_cell=1000)  # ~30 TB: no machine has it
    with pytest.raises(ConfigError, match="57000 UEs"):
        NetworkTwin(huge).reset(seed=0)
