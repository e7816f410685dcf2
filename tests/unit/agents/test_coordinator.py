import pytest

from airan.agents.coordinator import Coordinator, Proposal
from airan.core.errors import ConfigError
from airan.twin.actions import Action


def test_safety_first_and_one_change_per_cell():
    c = Coordinator(window_rops=2)
    opt = Proposal((Action("cio", 1, 3.0),), "optimization")
    safe = Proposal((Action("tilt", 1, 2.0),), "safety")
    other = Proposal((Action("cio", 2, 3.0),), "intent")
    out = c.arbitrate([opt, safe, other], rop=5)
    assert out == [safe, other]
    assert c.arbitrate([Proposal((Action("cio", 2, 6.0),), "optimization")], rop=6) == []
    assert len(c.arbitrate([Proposal((Action("cio", 2, 6.0),), "optimization")], rop=7)) == 1


def test_no_flapping_after_rollback():
    c = Coordinator()
    a = (Action("power", 3, 3.0),)
    c.ban(a)
    assert c.is_banned(a)
    assert c.arbitrate([Proposal(a, "optimization")], rop=10) == []


def test_bad_config():
    with pytest.raises(ConfigError, match="0"):
        Coordinator(window_rops=0)
    with pytest.raises(ConfigError, match="urgent"):
        Proposal((), "urgent")
