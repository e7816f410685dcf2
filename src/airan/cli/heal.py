"""``airan heal``: run a healing policy on every episode of a suite and print its score."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from airan.cli.output import Format, console, emit_json, fail
from airan.core.errors import AiranError, ConfigError

HEADLINE = ("detection_recall", "detection_precision", "control_alarm_rate", "control_action_rate",
            "ttd_rops_median", "rca_top1", "rca_top3", "localization_top1", "fkr_median", "full_recovery_rate",
            "mttr_rops_median", "harmful_action_rate", "rollback_within_2_rops", "harmful_action_rate_counterfactual",
            "rollback_within_2_rops_counterfactual", "unapproved_high_risk_actions")


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, dict):
        val, ci = v.get("value"), v.get("ci95")
        if val is None:
            return "-"
        s = f"{val:.3f}" if isinstance(val, float) else str(val)
        if ci and ci[0] is not None:
            s += f" [{ci[0]:.2f}, {ci[1]:.2f}]"
        return s + (f" (n={v['n']})" if "n" in v else "")
    return str(v)


def _print_settings(policy: str, current: dict, overrides: dict[str, str], fmt: Format) -> None:
    """Every ``--set`` key of ``policy`` with its value in effect (a changed one marked)."""
    if fmt is Format.json:
        plain = {k: sorted(v) if isinstance(v, frozenset) else v for k, v in current.items()}
        emit_json({"policy": policy, "settings": plain, "policy_overrides": overrides})
        return
    t = Table(title=f"settings of {policy} (change one with --set KEY=VALUE)")
    t.add_column("key")
    t.add_column("value")
    for k, v in current.items():
        t.add_row(k + (" (set)" if k in overrides else ""), repr(v))
    console.print(t)


def heal(
    suite: Path | None = typer.Option(None, "--suite", help="suite JSON file (airan suite make, or written by hand)"),
    policy: str = typer.Option(..., "--policy", help="airan, none, rules, son, oracle, oracle_blind or "
                               "airan_true_twin (an ablation that needs the truth)"),
    workers: int = typer.Option(1, "--workers", min=1, help="local worker processes (or Ray CPUs)"),
    ray_address: str | None = typer.Option(None, "--ray-address", help="'local', 'auto' or ray://host:port"),
    out: Path | None = typer.Option(None, "--out",
                                    help="directory for logs_POLICY.jsonl, score_POLICY.json, confusion_POLICY.png"),
    audit: Path | None = typer.Option(None, "--audit", help="DuckDB audit file (for airan replay)"),
    approval_delay: int = typer.Option(1, "--approval-delay", min=0, help="ROPs before the operator grants"),
    settings: list[str] = typer.Option([], "--set", help="change one setting of the policy's config for this run, "
                                       "KEY=VALUE (repeatable; e.g. verifier.seeds=2,3 or retry_rops=2; "
                                       "--show-settings lists them)"),
    show_settings: bool = typer.Option(False, "--show-settings",
                                       help="print every setting of POLICY (after --set) and exit; no suite needed"),
    fmt: Format = typer.Option(Format.table, "--format", help="json or table"),
) -> None:
    """Run POLICY on every episode of SUITE in the true twin and score it (pure scorer over the logs)."""
    from airan.agents.policies import make_policy
    from airan.agents.runner import run_suite
    from airan.agents.scorer import plot_confusion, score
    from airan.agents.suite import load_suite
    from airan.core.overrides import describe, parse_assignments

    try:
        overrides = parse_assignments(settings)
        pol = make_policy(policy, overrides)  # an unknown policy or a bad setting fails before any work
        if show_settings:
            cfg = getattr(pol, "effective_config", lambda: getattr(pol, "cfg", None))()
            if cfg is None:
                raise ConfigError(f"policy {policy!r} has no settings")
            _print_settings(policy, describe(cfg), overrides, fmt)
            return
        if suite is None:
            raise ConfigError("--suite is required (a suite JSON file from airan suite make, or written by hand)")
        s = load_suite(suite)
        logs = run_suite(s, policy, workers=workers, ray_address=ray_address, show_progress=True,
                         audit_path=audit, approval_delay_rops=approval_delay, overrides=overrides)
        result = score(s, logs)
    except AiranError as e:
        fail(str(e))
    result["suite_file"] = str(suite)
    if overrides:
        result["policy_overrides"] = overrides
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        with (out / f"logs_{policy}.jsonl").open("w") as f:
            for lg in logs:
                f.write(json.dumps(lg) + "\n")
        png = plot_confusion(result["confusion"], out / f"confusion_{policy}.png", title=f"{policy} on {s.name}")
        result["confusion_png"] = str(png)
        (out / f"score_{policy}.json").write_text(json.dumps(result, indent=1, default=str))
    if fmt is Format.json:
        emit_json(result)
        return
    t = Table(title=f"{policy} on {s.name}: {result['episodes']} episodes")
    t.add_column("metric")
    t.add_column("value [95% CI]")
    for k in HEADLINE:
        t.add_row(k, _fmt(result["metrics"][k]))
    console.print(t)
