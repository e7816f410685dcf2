"""Suites: the recipe (controls, causes, look-alike pairs, splits), JSON round trip and validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from airan.agents.base import CAUSES
from airan.agents.suite import (
    LOOKALIKE_PAIRS,
    SPLITS,
    Suite,
    SuiteEpisode,
    is_undetectable,
    load_suite,
    make_suite,
    moved_kpis,
    save_suite,
)
from airan.core.errors import ConfigError, FaultError
from airan.twin.faults import Fault


@pytest.fixture(scope="module")
def suite() -> Suite:
    return make_suite("dev", 48, 7, scenarios=("ci-tiny",), rops=16, detectable_check=False)


def test_controls_are_at_least_20_percent(suite):
    ctrl = [e for e in suite.episodes if e.control]
    assert len(ctrl) / len(suite.episodes) >= 0.2
    assert all(all(f.kind == "benign_surge" for f in e.faults) for e in ctrl)
    assert any(e.faults for e in ctrl) and any(not e.faults for e in ctrl)  # surges and quiet controls


def test_every_cause_and_both_handover_modes_appear(suite):
    causes = {e.cause for e in suite.episodes if not e.control}
    assert causes == set(CAUSES)
    modes = {f.mode for e in suite.episodes for f in e.faults if f.kind == "ho_misconfig"}
    assert modes == {"pingpong", "too_late"}


def test_lookalike_pairs_share_network_and_cell(suite):
    for name, (a, b) in LOOKALIKE_PAIRS.items():
        eps = [e for e in suite.episodes if e.lookalike == name]
        assert len(eps) == 2, name
        x, y = eps
        assert (x.scenario, x.seed) == (y.scenario, y.seed)
        assert x.cause == a
        if b == "low_demand":
            assert y.control and y.focus_cells == x.faults[0].cells
        else:
            assert y.cause == b and y.faults[0].cells == x.faults[0].cells


def test_a_focused_suite_holds_only_its_causes_and_keeps_controls_and_eligible_pairs():
    s = make_suite("dev", 36, 7, scenarios=("ci-tiny",), rops=16, detectable_check=False,
                   causes=("cell_outage", "sleeping_cell", "ho_misconfig"))
    faulted = [e for e in s.episodes if not e.control]
    assert {e.cause for e in faulted} == {"cell_outage", "sleeping_cell", "ho_misconfig"}
    assert {f.mode for e in faulted for f in e.faults if f.kind == "ho_misconfig"} == {"pingpong", "too_late"}
    assert sum(e.control for e in s.episodes) / len(s.episodes) >= 0.2
    # only sleeping cell vs low demand has both members among the causes (low demand is a control)
    assert {e.lookalike for e in s.episodes if e.lookalike} == {"sleeping_vs_low_demand"}
    assert s.meta["causes"] == ["cell_outage", "sleeping_cell", "ho_misconfig"]
    one = make_suite("dev", 12, 7, scenarios=("ci-tiny",), rops=16, detectable_check=False, causes=("pa_degradation",))
    assert {e.cause for e in one.episodes if not e.control} == {"pa_degradation"}
    assert not any(e.lookalike for e in one.episodes) and one.meta["lookalike_pairs"] == 0


def test_no_focus_is_the_default_recipe_and_naming_every_cause_draws_the_same_episodes():
    base = make_suite("test", 14, 3, scenarios=("ci-tiny",), rops=12, detectable_check=False)
    assert make_suite("test", 14, 3, scenarios=("ci-tiny",), rops=12, detectable_check=False, causes=None) == base
    assert "causes" not in base.meta
    every = make_suite("test", 14, 3, scenarios=("ci-tiny",), rops=12, detectable_check=False, causes=CAUSES)
    assert every.episodes == base.episodes and every.meta["causes"] == list(CAUSES)


def test_a_cold_start_suite_pairs_with_the_warm_one_and_has_every_fault_from_rop_0():
    warm = make_suite("test", 26, 3, scenarios=("ci-tiny",), rops=12, detectable_check=False)
    cold = make_suite("test", 26, 3, scenarios=("ci-tiny",), rops=12, detectable_check=False, cold_start=True)
    assert cold.meta["cold_start"] is True and "cold_start" not in warm.meta and cold.name.endswith("-cold")
    assert len(cold.episodes) == len(warm.episodes)
    assert any(e.lookalike for e in cold.episodes)
    for w, c in zip(warm.episodes, cold.episodes, strict=True):
        assert (c.id, c.scenario, c.seed, c.control, c.lookalike) == (w.id, w.scenario, w.seed, w.control, w.lookalike)
        for fw, fc in zip(w.faults, c.faults, strict=True):
            assert (fc.kind, fc.cells, fc.severity, fc.mode, fc.duration_rops) == \
                (fw.kind, fw.cells, fw.severity, fw.mode, fw.duration_rops)
            if fc.kind == "benign_surge":  # a control's surge is not a fault: it keeps its onset
                assert fc == fw
            else:
                assert fc.onset_rop == 0 and fc.ramp_rops == 0 and fw.onset_rop >= 4


@pytest.mark.parametrize("causes", [("cell_outage", "gremlins"), ()])
def test_a_bad_focus_names_the_bad_cause(causes):
    with pytest.raises(ConfigError, match="gremlins" if causes else "at least one"):
        make_suite("dev", 12, 0, scenarios=("ci-tiny",), detectable_check=False, causes=causes)


def test_faults_start_after_a_clean_baseline_and_stay_inside(suite):
    for e in suite.episodes:
        for f in e.faults:
            assert 5 <= f.onset_rop < e.rops - 2
            assert f.end_rop is None or f.end_rop <= e.rops
        if e.cause in ("cell_outage", "backhaul_failure", "sleeping_cell"):
            assert e.faults[0].severity == 1.0


def test_splits_use_disjoint_networks():
    seeds = {}
    for split in SPLITS:
        s = make_suite(split, 12, 1, scenarios=("ci-tiny",), rops=12, detectable_check=False)
        seeds[split] = {e.seed for e in s.episodes}
        assert all(e.seed % 3 == SPLITS.index(split) and e.split == split for e in s.episodes)
    assert not seeds["train"] & seeds["dev"] and not seeds["dev"] & seeds["test"]


def test_same_arguments_same_suite():
    a = make_suite("test", 10, 4, scenarios=("ci-tiny",), rops=12, detectable_check=False)
    b = make_suite("test", 10, 4, scenarios=("ci-tiny",), rops=12, detectable_check=False)
    assert a == b
    c = make_suite("test", 10, 5, scenarios=("ci-tiny",), rops=12, detectable_check=False)
    assert a != c


def test_round_trip(tmp_path, suite):
    path = save_suite(suite, tmp_path / "s.json")
    back = load_suite(path)
    assert back == suite
    ep = back.episodes[0]
    assert SuiteEpisode.from_dict(ep.to_dict()) == ep


def _write(tmp_path, d):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    return p


def _base():
    return {"name": "hand", "split": "custom", "seed": 0, "version": 1,
            "episodes": [{"id": "e1", "scenario": "ci-tiny", "seed": 123456789, "rops": 10,
                          "faults": [{"kind": "pa_degradation", "cells": [4], "severity": 0.5, "onset_rop": 4}]}]}


def test_hand_written_suite_with_unseen_seed_loads(tmp_path):
    s = load_suite(_write(tmp_path, _base()))
    e = s.episodes[0]
    assert e.seed == 123456789 and not e.control and e.cause == "pa_degradation"


@pytest.mark.parametrize("patch, err, needle", [
    ({"scenario": "mars-1"}, ConfigError, "mars-1"),
    ({"seed": -4}, ConfigError, "seed"),
    ({"rops": 1}, ConfigError, "rops"),
    ({"colour": "red"}, ConfigError, "colour"),
    ({"faults": [{"kind": "pa_degradation", "cells": [99], "onset_rop": 2}]}, FaultError, "99"),
    ({"faults": [{"kind": "pa_degradation", "cells": [1], "severity": 3.0}]}, FaultError, "severity"),
    ({"faults": [{"kind": "gremlins", "cells": [1]}]}, FaultError, "gremlins"),
    ({"faults": [{"kind": "pa_degradation", "cells": [1], "onset_rop": 10}]}, FaultError, "onset_rop"),
    ({"faults": [{"kind": "pa_degradation", "cells": [1], "when": 3}]}, FaultError, "when"),
    ({"faults": [{"kind": "ho_misconfig", "cells": [1], "mode": "sideways"}]}, FaultError, "sideways"),
    ({"control": True}, ConfigError, "control"),
    ({"focus_cells": [50]}, ConfigError, "focus_cells"),
])
def test_validation_names_the_bad_field(tmp_path, patch, err, needle):
    d = _base()
    d["episodes"][0].update(patch)
    with pytest.raises(err, match=needle):
        load_suite(_write(tmp_path, d))


def test_suite_level_errors(tmp_path):
    d = _base()
    d["episodes"].append(dict(d["episodes"][0]))
    with pytest.raises(ConfigError, match="e1"):
        load_suite(_write(tmp_path, d))
    with pytest.raises(ConfigError, match="version"):
        load_suite(_write(tmp_path, _base() | {"version": 9}))
    with pytest.raises(ConfigError, match="does not exist"):
        load_suite(tmp_path / "missing.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ConfigError, match="JSON"):
        load_suite(tmp_path / "junk.json")
    with pytest.raises(ConfigError, match="split"):
        make_suite("holdout", 5, 0)


def test_moved_kpis_rule():
    rng = np.random.default_rng(0)
    clean = {"K": rng.normal(10.0, 1.0, (12, 3))}
    same = {"K": clean["K"].copy()}
    shifted = {"K": clean["K"] + np.where(np.arange(12)[:, None] >= 6, [5.0, 0.0, 0.0], 0.0)}
    active = np.arange(12) >= 6
    scope = np.array([0, 1, 2])
    assert moved_kpis(same, clean, scope, active) == []
    assert moved_kpis(shifted, clean, scope, active) == ["K@0"]
    assert moved_kpis(shifted, clean, np.array([1, 2]), active) == []


def test_a_stray_event_count_is_noise_but_a_burst_or_a_raised_alarm_is_not():
    rops, active, scope = 24, np.arange(24) >= 8, np.array([0])
    quiet = np.zeros((rops, 1))  # a cell that saw no RLF (and raised no alarm) in the no-fault run
    two = quiet.copy()
    two[[10, 17]] = 1.0  # two RLFs over 16 faulted ROPs: a Poisson rate of 1 per run explains them
    four = two.copy()
    four[[12, 20]] = 1.0  # four do not (3 standard errors of a 16-ROP mean at that rate: 2.4 events)
    assert moved_kpis({"RLF.Count": two}, {"RLF.Count": quiet}, scope, active) == []
    assert moved_kpis({"RLF.Count": four}, {"RLF.Count": quiet}, scope, active) == ["RLF.Count@0"]
    # a deterministic count keeps the old rule: one raised alarm moved it
    one_alarm = quiet.copy()
    one_alarm[8:] = 1.0
    assert moved_kpis({"Alarm.Count": one_alarm}, {"Alarm.Count": quiet}, scope, active) == ["Alarm.Count@0"]
    assert moved_kpis({"Alarm.Count": two}, {"Alarm.Count": quiet}, scope, active) == ["Alarm.Count@0"]


def test_an_outage_is_detectable_and_a_control_is_never_flagged():
    ep = SuiteEpisode("x", "ci-tiny", 3, 10, (Fault("cell_outage", (4,), onset_rop=4),))
    assert not is_undetectable(ep)
    assert not is_undetectable(SuiteEpisode("c", "ci-tiny", 3, 10, (), control=True))
