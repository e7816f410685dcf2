import pytest

from airan.twin.checks import ConformanceError, check_twin
from airan.twin.env import NetworkTwin
from airan.twin.scenarios import scenario_names


@pytest.mark.slow
@pytest.mark.parametrize("name", scenario_names())
def test_every_scenario_conforms(name):
    report = check_twin(NetworkTwin(name), seed=0, rops=2)
    assert "determinism" in report.checks and report.scenario == name


def test_checker_catches_a_broken_twin():
    class Broken(NetworkTwin):
        def step(self, actions=None):
            obs, r, te, tr, info = super().step(actions)
            info["kpis"]["RRU.PrbUsedDl"] = info["kpis"]["RRU.PrbUsedDl"] + 500.0
            return obs, r, te, tr, info

    with pytest.raises(ConformanceError, match="RRU.PrbUsedDl"):
        check_twin(Broken("ci-tiny"), seed=0, rops=1)
