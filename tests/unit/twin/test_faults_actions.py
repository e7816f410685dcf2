import numpy as np
import pytest

from airan.core.errors import ActionError, FaultError
from airan.twin.actions import Action, CellKnobs, apply_action, rollback
from airan.twin.faults import FAULT_KINDS, Fault, cell_modifiers, ue_demand_factor


def _knobs(n=3):
    return CellKnobs(np.full(n, 10.0), np.zeros(n), np.ones(n), np.zeros(n), np.zeros(n), np.full(n, 320.0),
                     np.full(n, 2.0), np.zeros(n))


def test_catalogue_has_ten_fault_classes_plus_benign():
    assert len([k for k in FAULT_KINDS if k != "benign_surge"]) == 10


def test_fault_ramp_and_window():
    f = Fault("pa_degradation", (1,), severity=0.5, onset_rop=4, ramp_rops=3, duration_rops=10)
    assert f.level(3) == 0 and f.level(4) == pytest.approx(0.25) and f.level(7) == 1.0 and f.level(14) == 0
    m = cell_modifiers([f], 7, 3, np.array([0, 0, 0]), 1)
    assert m.power_delta_db[1] == pytest.approx(-6.0) and m.power_delta_db[0] == 0
    assert f.truth()["cells"] == [1] and f.truth()["end_rop"] == 14


@pytest.mark.parametrize("kwargs,bad", [({"kind": "meteor", "cells": (1,)}, "meteor"),
                                        ({"kind": "cell_outage", "cells": (1,), "severity": 2.0}, "2.0"),
                                        ({"kind": "ho_misconfig", "cells": (1,), "mode": "x"}, "'x'")])
def test_bad_faults_name_the_value(kwargs, bad):
    with pytest.raises(FaultError, match=bad):
        Fault(**kwargs)


def test_actions_are_bounded_and_reversible():
    k = _knobs()
    rec = apply_action(k, Action("tilt", 1, 3.0), (-5.0, 20.0))
    assert k.tilt_deg[1] == 13.0 and rec.pre == 10.0
    rollback(k, rec)
    assert k.tilt_deg[1] == 10.0
    with pytest.raises(ActionError, match="25.0"):
        apply_action(k, Action("tilt", 1, 15.0), (-5.0, 20.0))
    assert k.tilt_deg[1] == 10.0  # a refused action changes nothing
    with pytest.raises(ActionError, match="7"):
        apply_action(k, Action("power", 7, 1.0), (-5.0, 20.0))
    with pytest.raises(ActionError, match="333"):
        Action("ttt", 0, 333)
    rec = apply_action(k, Action("sleep", 2, mode="deep"), (-5.0, 20.0))
    assert k.sleep_mode[2] == 2
    rollback(k, rec)
    assert k.sleep_mode[2] == 0


def test_ue_demand_factor_takes_the_surge_of_the_area_each_ue_is_in():
    factor = np.array([1.0, 4.0, 1.6])  # [C]: cell 1 overloaded, cell 2 in a benign surge
    np.testing.assert_array_equal(ue_demand_factor(np.array([0, 1, 2, 1]), factor), [1.0, 4.0, 1.6, 4.0])
    with pytest.raises(FaultError, match="area cell 3"):
        ue_demand_factor(np.array([0, 3]), factor)
    with pytest.raises(FaultError, match="1-D int"):
        ue_demand_factor(np.array([0.0, 1.0]), factor)
