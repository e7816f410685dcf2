"""The ``son`` baseline: COD/COC, MLB and MRO as stepwise closed loops on ci-tiny episodes."""

from __future__ import annotations

import numpy as np
import pytest

from airan.agents.base import is_high_risk
from airan.agents.policies.son import SonConfig, SonPolicy
from airan.core.errors import ConfigError
from airan.twin.faults import Fault

from .test_rules import drive


def test_son_leaves_a_no_fault_episode_alone():
    decs, _ = drive(SonPolicy(), [], 10)
    assert all(not d.detections and not d.actions and not d.approval_requests for d in decs)


def test_son_outage_compensation_is_stepwise():
    decs, twin = drive(SonPolicy(), [Fault("cell_outage", (4,), onset_rop=3)], 10)
    assert not any(d.detections for d in decs[:3])
    d3 = decs[3]
    assert d3.detections[0].cell == 4 and d3.diagnosis.top(1) == ["cell_outage"]
    steps = [[p.action for p in d.actions if p.rollback_of < 0] for d in decs]
    first = steps[3]
    assert first and {a.kind for a in first} == {"power", "tilt"}
    # one small step per ROP on the facing neighbours: +1 dB and 1 deg uptilt, never a planned jump
    for acts in steps:
        for a in acts:
            assert (a.kind, a.value) in {("power", 1.0), ("tilt", -1.0)} and a.cell != 4
        assert not is_high_risk(acts)
    stepping = [i for i, s in enumerate(steps) if s]
    assert len(stepping) >= 2 and stepping == list(range(3, 3 + len(stepping)))
    # the knobs the twin holds are the sum of the steps and any undo
    nb = first[0].cell
    total = sum(p.action.value for d in decs for p in d.actions if p.action.kind == "power" and p.action.cell == nb)
    assert twin.knobs.power_offset_db[nb] == pytest.approx(total)


def test_son_undoes_a_step_that_made_things_worse():
    decs, _ = drive(SonPolicy(), [Fault("cell_outage", (4,), onset_rop=3)], 10)
    rolled = [p for d in decs for p in d.actions if p.rollback_of >= 0]
    notes = [n for d in decs for n in d.notes]
    assert any("undo the last step" in n for n in notes)  # on this drop the 4th step hurts the neighbourhood
    # an undo reverses exactly the last step, on the cells it touched, and nothing is stepped afterwards
    assert {(p.action.kind, p.action.value) for p in rolled} == {("power", -1.0), ("tilt", 1.0)}
    undo_rop = next(i for i, d in enumerate(decs) if any(p.rollback_of >= 0 for p in d.actions))
    assert rolled[0].rollback_of == undo_rop  # the step decided at undo_rop - 1 acted at ROP undo_rop
    assert not any(d.actions for d in decs[undo_rop + 1:])


def test_son_silent_cell_restart_needs_approval():
    decs, _ = drive(SonPolicy(), [Fault("sleeping_cell", (4,), onset_rop=3)], 10)
    req_rop = next(i for i, d in enumerate(decs) if d.approval_requests)
    assert decs[req_rop].diagnosis.top(1) == ["sleeping_cell"]
    assert decs[req_rop].approval_requests[0].actions[0].kind == "restart"
    restart = [(i, p) for i, d in enumerate(decs) for p in d.actions if p.action.kind == "restart"]
    assert restart[0][0] == req_rop + 1 and restart[0][1].approval
    # after the restart the cell is not mistaken for an outage or a mobility problem
    assert not any(d.actions for d in decs[req_rop + 2:])


def test_son_mlb_climbs_cio_one_db_at_a_time():
    decs, _ = drive(SonPolicy(), [Fault("overload_hotspot", (4,), onset_rop=3)], 8)
    cio = [p.action.value for d in decs for p in d.actions if p.action.kind == "cio" and p.rollback_of < 0]
    assert cio and cio[0] == 1.0
    assert np.all(np.diff(cio) == 1.0)
    assert any(d.diagnosis is not None and d.diagnosis.top(1) == ["overload_hotspot"] for d in decs)


def test_son_config_validation():
    with pytest.raises(ConfigError, match="power_step_db"):
        SonConfig(power_step_db=3.0)
    with pytest.raises(ConfigError, match="cod_rops"):
        SonConfig(cod_rops=0)
