"""bench/heal_config_audit.py: the twin's calibration read as a configuration audit."""

import pytest

from airan.agents.suite import SuiteEpisode
from airan.twin.faults import Fault

from ._helpers import SEED, load_bench


@pytest.fixture(scope="module")
def mod():
    return load_bench("heal_config_audit")


def test_a_fault_from_the_start_is_taken_into_its_cells_correction_and_a_late_one_is_not(mod):
    # cell 4 of ci-tiny with its PA down 0.9 from ROP 0: the fit lowers that cell's power by several dB; the same
    # fault from ROP 6 leaves the 4 calibration ROPs healthy
    cold = SuiteEpisode("a-0", "ci-tiny", SEED, 12, (Fault("pa_degradation", (4,), severity=0.9, onset_rop=0),))
    warm = SuiteEpisode("a-1", "ci-tiny", SEED, 12, (Fault("pa_degradation", (4,), severity=0.9, onset_rop=6),))
    rc, rw = mod._job(("s", cold, 4)), mod._job(("s", warm, 4))
    assert not rc["healthy"] and rc["cell"] == 4 and rc["power_db"] < -3.0 and rc["max_cell"] == 4
    assert rc["pattern_cause"] == "pa_degradation" and rc["pattern_log_lr"]["pa_degradation"] > 0
    assert abs(rc["pattern_severity"] - 0.9) <= 0.1
    assert rw["healthy"] and "power_db" not in rw and rw["max_abs_power_db"] < 3.0


def test_summary_counts_false_flags_on_healthy_windows_and_flags_per_class(mod):
    rows = [{"healthy": True, "cause": "control", "max_abs_power_db": 2.0},
            {"healthy": True, "cause": "control", "max_abs_power_db": 3.6},
            {"healthy": False, "cause": "uptilt_overshoot", "power_db": 6.0, "tilt_deg": 0.5, "max_abs_power_db": 6.0,
             "pattern_cause": "uptilt_overshoot", "severity": 0.55, "pattern_severity": 0.5,
             "pattern_log_lr": {"uptilt_overshoot": 30.0, "pa_degradation": -4.0}},
            {"healthy": False, "cause": "uptilt_overshoot", "power_db": 1.0, "tilt_deg": 0.1, "max_abs_power_db": 4.5}]
    s = mod.summary(rows)
    assert s["healthy_windows"] == 2 and s["healthy_max_abs_power_db"] == 3.6
    assert s["healthy_flagged"] == {"3.0": 1, "3.5": 1, "4.0": 0, "5.0": 0}
    u = s["faulty_from_start"]["uptilt_overshoot"]
    assert u["n"] == 2 and (u["power_db_min"], u["power_db_max"]) == (1.0, 6.0)
    assert u["flagged_on_the_faulty_cell"] == {"3.0": 1, "3.5": 1, "4.0": 1, "5.0": 1}
    assert u["flagged_elsewhere_only"] == {"3.0": 1, "3.5": 1, "4.0": 1, "5.0": 0}
    assert (u["pattern_tested"], u["pattern_names_the_cause"]) == (1, 1)
    assert u["pattern_severity_error_max"] == pytest.approx(0.05)
    assert u["pattern_best_log_lr_max"] == 30.0 and u["pattern_best_log_lr_over_10"] == 1


def test_the_scan_tests_every_cell_with_the_non_linear_tilt_covariance_and_summarises_it(mod):
    cold = SuiteEpisode("s-0", "ci-tiny", SEED, 12, (Fault("uptilt_overshoot", (4,), severity=0.8, onset_rop=0),))
    calm = SuiteEpisode("s-1", "ci-tiny", SEED, 12, ())
    rc, rh = mod._job(("s", cold, 4, (-0.75, -0.25, 0.25, 0.75))), mod._job(("s", calm, 4, (-0.75, -0.25, 0.25, 0.75)))
    assert rc["scan_max_cell"] == 4 and rc["scan_faulty_log_lr"] == rc["scan_max_log_lr"] > 20
    assert rh["healthy"] and rh["scan_max_log_lr"] < rc["scan_faulty_log_lr"] and "scan_faulty_log_lr" not in rh
    assert "scan_max_log_lr" not in mod._job(("s", calm, 4))  # no grid, no scan
    s = mod.summary([rc, rh])["scan"]
    assert s["healthy_windows"] == 1 and s["healthy_max_log_lr"] == rh["scan_max_log_lr"]
    assert s["faulty_cell"]["uptilt_overshoot"] == {"n": 1, "min": rc["scan_faulty_log_lr"],
                                                    "max": rc["scan_faulty_log_lr"], "above_healthy_max": 1}


def test_null_draws_test_the_best_and_the_faulty_cell_and_the_summary_counts_flags_with_and_without_them(mod):
    cold = SuiteEpisode("n-0", "ci-tiny", SEED, 12, (Fault("uptilt_overshoot", (4,), severity=0.8, onset_rop=0),))
    rc = mod._job(("s", cold, 4, (-0.75, -0.25, 0.25, 0.75), 2))
    assert rc["scan_max_cell"] == 4 and rc["scan_faulty_null"] == rc["scan_max_null"] < rc["scan_max_log_lr"] - 10
    assert "scan_max_null" not in mod._job(("s", cold, 4, (-0.75, -0.25, 0.25, 0.75)))  # no draws asked
    base = {"max_abs_power_db": 1.0, "scan_faulty_log_lr": None, "power_db": -1.0, "tilt_deg": 0.1}
    rows = [base | {"healthy": True, "episode": "h", "cause": "control", "scan_max_log_lr": 31.0, "scan_max_cell": 10,
                    "scan_max_null": 23.7},
            base | {"healthy": False, "episode": "f", "cause": "excessive_downtilt", "cell": 2, "scan_max_cell": 2,
                    "scan_max_log_lr": 40.0, "scan_max_null": 1.0, "scan_faulty_null": 1.0},
            base | {"healthy": False, "episode": "o", "cause": "overload_hotspot", "cell": 5, "scan_max_cell": 5,
                    "scan_max_log_lr": 31.0, "scan_max_null": 23.0, "scan_faulty_null": 23.0}]
    pol = mod.summary(rows)["scan"]["policy"]
    assert pol["threshold_log_lr"] == 10.0 and pol["margin_log_lr"] == 10.0
    assert pol["without_draws"] == {"healthy_flagged": ["h"], "faulty_flagged_right": 1,
                                    "faulty_flagged_wrong": ["o (overload_hotspot, cell 5)"]}
    assert pol["with_draws"] == {"healthy_flagged": [], "faulty_flagged_right": 1, "faulty_flagged_wrong": []}
