import pytest

from airan.cli.specs import parse_action, parse_fault
from airan.core.errors import SpecError


def test_fault_spec():
    f = parse_fault("cell_outage:cell=4,start=3")
    assert (f.kind, f.cells, f.onset_rop, f.severity) == ("cell_outage", (4,), 3, 1.0)
    f = parse_fault("pa_degradation:cells=1+2,start=5,ramp=2,severity=0.5,duration=10")
    assert f.cells == (1, 2) and f.ramp_rops == 2 and f.duration_rops == 10


def test_action_spec():
    at, a = parse_action("tilt:cell=5,delta_deg=2,at=6")
    assert at == 6 and (a.kind, a.cell, a.value) == ("tilt", 5, 2.0)
    at, a = parse_action("sleep:cell=1,mode=deep")
    assert at == 0 and a.mode == "deep"


@pytest.mark.parametrize("spec,needle", [
    ("meteor:cell=1", "'meteor'"), ("cell_outage:cell=x", "'x'"), ("cell_outage:start=2", "cell=N"),
    ("cell_outage:cell=1,colour=red", "colour"), ("cell_outage:cell=1,cell=2", "twice"),
    ("cell_outage:cell", "'cell' is not key=value"), ("cell_outage:cell=1,severity=3", "3")])
def test_bad_fault_specs_name_the_value(spec, needle):
    with pytest.raises(SpecError, match=needle):
        parse_fault(spec)


@pytest.mark.parametrize("spec,needle", [("warp:cell=1", "'warp'"), ("tilt:cell=1", "delta_deg"),
                                         ("tilt:cell=1,delta_deg=abc", "'abc'"), ("ttt:cell=1,ms=333", "333"),
                                         ("tilt:cell=1,delta_deg=1,at=-2", "-2")])
def test_bad_action_specs_name_the_value(spec, needle):
    with pytest.raises(SpecError, match=needle):
        parse_action(spec)
