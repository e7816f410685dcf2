import pytest

from airan.core.errors import ConfigError, UnknownScenarioError
from airan.twin.scenarios import get_scenario, scenario_names


def test_registry_has_required_scenarios():
    assert {"uma-19", "umi-19", "rma-7", "stadium", "ci-tiny"} <= set(scenario_names())
    uma = get_scenario("uma-19")
    assert (uma.num_sites, uma.num_cells, uma.num_ues, uma.isd_m) == (19, 57, 570, 500.0)
    assert uma.carrier_frequency_hz == 3.5e9
    assert get_scenario("umi-19").isd_m == 200.0
    assert get_scenario("stadium").crowd_ues > 0


def test_num_prbs_matches_nr_tables():
    # TS 38.101-1 Table 5.3.2-1: 100 MHz at 30 kHz -> 273 PRBs; 20 MHz at 15 kHz -> 106 PRBs
    assert get_scenario("uma-19").num_prbs == pytest.approx(273, abs=0)
    assert get_scenario("rma-7").num_prbs == pytest.approx(106, abs=0)


def test_unknown_scenario_names_the_value():
    with pytest.raises(UnknownScenarioError, match="'nope'"):
        get_scenario("nope")


@pytest.mark.parametrize("field,value", [("isd_m", -1.0), ("carrier_frequency_hz", 3.5), ("bandwidth_hz", 100.0),
                                         ("subcarrier_spacing_hz", 20e3), ("ues_per_cell", 0)])
def test_bad_config_names_the_value(field, value):
    with pytest.raises(ConfigError, match=str(value)):
        get_scenario("ci-tiny").with_(**{field: value})
