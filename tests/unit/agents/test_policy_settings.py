"""Policy settings from the command line (``--set``): ``make_policy`` applies them to the policy's config,
the runner carries them into every log and the audit, ``airan replay`` re-runs them, and ``airan heal``
lists them and refuses bad ones by name."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from airan.agents.policies import make_policy, policy_config_class
from airan.agents.policies.rules import RulesConfig
from airan.agents.runner import run_suite
from airan.agents.suite import make_suite, save_suite
from airan.cli.main import app
from airan.core.errors import ConfigError


def test_make_policy_applies_settings_and_leaves_the_default_alone():
    assert policy_config_class("rules") is RulesConfig and policy_config_class("none") is None
    assert make_policy("rules", {"persist_rops": "1"}).cfg.persist_rops == 1
    assert make_policy("rules").cfg.persist_rops == RulesConfig().persist_rops == 2
    with pytest.raises(ConfigError, match="'none' has no settings"):
        make_policy("none", {"x": "1"})
    with pytest.raises(ConfigError, match=r"verifier\.seedz=.*no field 'seedz'"):
        make_policy("airan", {"verifier.seedz": "1"})


def test_a_monitor_setting_keeps_the_model_calibrated_monitor():
    default = make_policy("airan")
    assert default.cfg.monitor is None  # the monitor's threshold comes from the model's calibration
    changed = make_policy("airan", {"monitor.dead_air_rops": "5", "verifier.seeds": "2,3"})
    calibrated = default.monitor_config()
    assert changed.cfg.monitor.threshold == calibrated.threshold and calibrated.threshold != 0.9
    assert changed.cfg.monitor.dead_air_rops == 5 != calibrated.dead_air_rops
    assert changed.cfg.verifier.seeds == (2, 3) and default.cfg.verifier.seeds == (0, 1)


@pytest.fixture(scope="module")
def tiny_suite(tmp_path_factory):
    suite = make_suite("dev", 8, 11, scenarios=("ci-tiny",), rops=10)
    path = tmp_path_factory.mktemp("suite") / "suite.json"
    save_suite(suite, path)
    return suite, path


def test_the_runner_runs_with_the_settings_and_logs_them(tiny_suite):
    suite, _ = tiny_suite
    default = run_suite(suite, "rules", show_progress=False)
    eager = run_suite(suite, "rules", show_progress=False, overrides={"persist_rops": "1"})
    assert all("policy_overrides" not in lg for lg in default)
    assert all(lg["policy_overrides"] == {"persist_rops": "1"} for lg in eager)

    def first_detection(logs):
        return [next((d["rop"] for d in lg["decisions"] if d["detections"]), None) for lg in logs]

    first, first_eager = first_detection(default), first_detection(eager)
    assert first != first_eager  # one ROP of persistence less: some detection comes earlier
    assert all(e <= d for d, e in zip(first, first_eager) if d is not None and e is not None)
    with pytest.raises(ConfigError, match="persist_rop"):
        run_suite(suite, "rules", show_progress=False, overrides={"persist_rop": "1"})


def test_cli_heal_with_settings_is_replayed_with_them(tiny_suite, tmp_path):
    _, path = tiny_suite
    audit = tmp_path / "audit.duckdb"
    res = CliRunner().invoke(app, ["heal", "--suite", str(path), "--policy", "rules", "--set", "persist_rops=1",
                                   "--audit", str(audit), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["policy_overrides"] == {"persist_rops": "1"}
    from airan.agents.audit import AuditLog

    with AuditLog(audit) as log:
        run_id = next(r for r in log.runs() if log.entries(r, "action"))
        assert log.episode(run_id)["overrides"] == {"persist_rops": "1"}
    res = CliRunner().invoke(app, ["replay", run_id, "--audit", str(audit), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["identical"]


def test_cli_heal_lists_settings_and_names_bad_ones():
    res = CliRunner().invoke(app, ["heal", "--policy", "son", "--show-settings", "--set", "max_steps=4",
                                   "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["settings"]["max_steps"] == 4 and out["policy_overrides"] == {"max_steps": "4"}
    bad = CliRunner().invoke(app, ["heal", "--policy", "son", "--set", "max_steps=four", "--suite", "nowhere.json"])
    assert bad.exit_code != 0 and "max_steps='four' is not an integer" in bad.output
    nosuite = CliRunner().invoke(app, ["heal", "--policy", "son"])
    assert nosuite.exit_code != 0 and "--suite is required" in nosuite.output
