"""``airan heal``: run a healing policy on every episode of a suite and print its score."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from airan.cli.output import Format, console, emit_json, fail
from airan.core.errors import AiranError

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


def heal(
    suite: Path = typer.Option(..., "--suite", help="suite JSON file (airan suite make, or written by hand)"),
    policy: str = typer.Option(..., "--policy", help="airan, none, rules, son, oracle, oracle_blind or "
                               "airan_true_twin (an ablation that needs the truth)"),
    workers: int = typer.Option(1, "--workers", min=1, help="local worker processes (or Ray CPUs)"),
    ray_address: str | None = typer.Option(None, "--ray-address", help="'local', 'auto' or ray://host:port"),
    out: Path | None = typer.Option(None, "--out",
                                    help="directory for logs_POLICY.jsonl, score_POLICY.json, confusion_POLICY.png"),
    audit: Path | None = typer.Option(None, "--audit", help="DuckDB audit file (for airan replay)"),
    approval_delay: int = typer.Option(1, "--approval-delay", min=0, help="ROPs before the operator grants"),
    fmt: Format = typer.Option(Format.table, "--format", help="json or table"),
) -> None:
    """Run POLICY on every episode of SUITE in the true twin and score it (pure scorer over the logs)."""
    from airan.agents.runner import run_suite
    from airan.agents.scorer import plot_confusion, score
    from airan.agents.suite import load_suite

    try:
        s = load_suite(suite)
        logs = run_suite(s, policy, workers=workers, ray_address=ray_address, show_progress=True,
                         audit_path=audit, approval_delay_rops=approval_delay)
        result = score(s, logs)
    except AiranError as e:
        fail(str(e))
    result["suite_file"] = str(suite)
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
