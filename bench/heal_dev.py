"""Healing benchmark on the dev suite -> bench/results/heal_dev.json + bench/results/HEAL_DEV.md.

Makes (or loads) the dev suite, runs every policy (airan, none, rules, son, oracle; a policy whose module is
missing is skipped with a note), scores each with ``airan.agents.scorer.score`` and writes all scores, the
machine, the command and wall times, plus a markdown table per headline metric with 95 % intervals, the
issue-5 targets, pass/fail and the gap to the oracle.

    .venv/bin/python bench/heal_dev.py                      # 300 episodes, all policies (the lead's run)
    .venv/bin/python bench/heal_dev.py --episodes 10 --tag smoke --policies none,oracle   # smoke run
    .venv/bin/python bench/heal_dev.py --suite S.json --policies airan --set verifier.seeds=2,3 --tag s23  # a variant
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine_info, peak_rss_mib

from airan.agents.policies import POLICIES, policy_class
from airan.agents.runner import run_suite
from airan.agents.scorer import plot_confusion, recovery_vs_reference, score
from airan.agents.suite import load_suite, make_suite, save_suite, suite_summary
from airan.core.errors import ConfigError
from airan.core.overrides import parse_assignments

RESULTS = Path(__file__).parent / "results"
# metric -> (comparison, target); "mttr" is checked against son separately
TARGETS: dict[str, tuple[str, float]] = {
    "detection_recall": (">=", 0.97), "hard_fault_recall": (">=", 1.0), "detection_precision": (">=", 0.95),
    "control_alarm_rate": ("<=", 0.05), "rca_top1": (">=", 0.90), "localization_top1": (">=", 0.95),
    "fkr_median": (">=", 0.90), "full_recovery_rate": (">=", 0.60), "harmful_action_rate": ("<=", 0.01),
    "rollback_within_2_rops": (">=", 1.0), "unapproved_high_risk_actions": ("<=", 0),
    # the same two targets with harm judged against each action set's own counterfactual (scorer docstring)
    "harmful_action_rate_counterfactual": ("<=", 0.01), "rollback_within_2_rops_counterfactual": (">=", 1.0),
}
TABLE = ("detection_recall", "hard_fault_recall", "detection_precision", "control_alarm_rate", "control_action_rate",
         "ttd_rops_median", "rca_top1", "rca_top3", "localization_top1", "fkr_median", "full_recovery_rate",
         "worsened_rate", "mttr_rops_median", "harmful_action_rate", "rollback_within_2_rops",
         "harmful_action_rate_counterfactual", "rollback_within_2_rops_counterfactual", "approvals_held",
         "unapproved_high_risk_actions", "post_fault_lingering_rate", "post_fault_gain_median")


def value(m: Any) -> float | None:
    return m.get("value") if isinstance(m, dict) else m


def check(metric: str, m: Any, son_mttr: float | None) -> str:
    """'pass' / 'FAIL' / 'n/a' of one metric against its target (point estimate)."""
    v = value(m)
    if metric == "mttr_rops_median":
        if v is None or son_mttr is None:
            return "n/a"
        return "pass" if v <= son_mttr / 2 else "FAIL"
    if metric not in TARGETS:
        return ""
    if m is None:  # not measured (logs without counterfactual records)
        return "n/a"
    if v is None:  # no harmful action to roll back
        return "pass" if metric.startswith("rollback_within_2_rops") else "n/a"
    op, t = TARGETS[metric]
    return "pass" if (v >= t if op == ">=" else v <= t) else "FAIL"


def better(metric: str, a: float, b: float) -> bool:
    """Whether ``a`` is strictly better than ``b`` on ``metric`` (direction of its target; MTTR lower)."""
    op = TARGETS[metric][0] if metric in TARGETS else "<="
    return a > b if op == ">=" else a < b


def beats(scores: dict[str, Any], metrics: list[str]) -> list[str]:
    """Lines saying on which headline metrics ``airan`` beats ``rules`` and ``son`` (point estimates)."""
    if "airan" not in scores:
        return []
    out = []
    for base in ("rules", "son"):
        if base not in scores:
            continue
        wins, ties, losses = [], [], []
        for m in metrics:
            a, b = value(scores["airan"]["metrics"].get(m)), value(scores[base]["metrics"].get(m))
            if a is None or b is None:
                continue
            (wins if better(m, a, b) else ties if a == b else losses).append(m)
        out.append(f"- airan vs {base}: better on {len(wins)} ({', '.join(wins) or '-'}), equal on {len(ties)} "
                   f"({', '.join(ties) or '-'}), worse on {len(losses)} ({', '.join(losses) or '-'}).")
    return out


def fmt(m: Any) -> str:
    v = value(m)
    if v is None:
        return "-"
    s = f"{v:.3f}" if isinstance(v, float) else str(v)
    if isinstance(m, dict) and m.get("ci95") and m["ci95"][0] is not None:
        s += f" [{m['ci95'][0]:.2f}, {m['ci95'][1]:.2f}]"
    return s


def recovery_split(scores: dict[str, Any]) -> list[str]:
    """Markdown: each policy's recovery on the episodes the oracle fully recovered and on the rest."""
    oracle = scores.get("oracle")
    rows = [(name, recovery_vs_reference(sc, oracle)) for name, sc in scores.items() if oracle and name != "oracle"]
    rows = [(name, r) for name, r in rows if r is not None]
    if not rows:
        return []
    out = ["## Recovery where the catalogue can recover", "",
           "Compensable episodes with a defined FKR, split by whether the oracle (grid search in the true twin) "
           "fully recovered the episode (`airan.agents.scorer.recovery_vs_reference`): the first columns measure "
           "the policy where full recovery is possible, the last ones where not even the oracle got there.", "",
           "| policy | oracle fully recovered: n | full recovery | FKR median (oracle's) | not fully recovered by "
           "the oracle: n | full recovery | FKR median (oracle's) |", "|---|---|---|---|---|---|---|"]
    for name, r in rows:
        a, b = r["recoverable"], r["not_recoverable"]
        out.append(f"| {name} | {a['episodes']} | {fmt(a['full_recovery_rate'])} | {fmt(a['fkr_median'])} "
                   f"({fmt(a['reference_fkr_median'])}) | {b['episodes']} | {fmt(b['full_recovery_rate'])} | "
                   f"{fmt(b['fkr_median'])} ({fmt(b['reference_fkr_median'])}) |")
    return out + [""]


RESCORED = " (rescored: "


def rescored(run_command: str, command: str) -> str:
    """A policy's command line after rescoring its saved logs with ``command``: the run that made the logs, then
    the latest rescore (earlier rescores are dropped; each rescore used to append one more, so a file rescored
    five times carried five)."""
    return f"{run_command.split(RESCORED, 1)[0]}{RESCORED}{command})"


def markdown(result: dict[str, Any]) -> str:
    scores = result["policies"]
    son = value(scores["son"]["metrics"]["mttr_rops_median"]) if "son" in scores else None
    oracle = scores.get("oracle")
    split = result["suite"].get("split", "dev")
    lines = [f"# Healing on the {split} suite ({result['suite']['episodes']} episodes)", "",
             f"Machine (this command): {result['machine']['cpu']} ({result['machine']['cores']} cores). Command: "
             f"`{result['command']}`. Wall time {result['wall_s']:.0f} s.", "",
             f"Suite: {json.dumps(result['suite']['per_cause'])}; controls {result['suite']['controls']}, "
             f"undetectable {result['suite']['undetectable']} (scored apart), look-alike episodes "
             f"{result['suite']['lookalike_episodes']}.", ""]
    if result["skipped"]:
        lines += [f"Skipped: {', '.join(f'{k} ({v})' for k, v in result['skipped'].items())}", ""]
    cmds = result.get("policy_commands") or {}
    machines = result.get("policy_machines") or {}

    def ran_on(p: str) -> str:
        m = machines.get(p, result["machine"]) if machines else result["machine"]
        return f"{m['cpu']}, {m['cores']} cores" if m else "machine not recorded"

    def wall(p: str) -> str:
        w = result["policy_wall_s"].get(p)
        return "wall time not recorded" if w is None or w != w else f"{w:.0f} s"  # w != w: NaN in older files

    lines += ["Per policy: " + "; ".join(f"{p} `{cmds.get(p, result['command'])}` ({wall(p)}, {ran_on(p)})"
                                         for p in scores), ""]
    head = [m for m in TABLE if m in TARGETS or m == "mttr_rops_median"]
    lines += ["## Summary (point estimates; details and 95 % intervals below)", "",
              "| policy | " + " | ".join(head) + " |", "|---|" + "---|" * len(head)]
    for name, sc in scores.items():
        lines.append(f"| {name} | " + " | ".join(
            "-" if value(sc["metrics"].get(m)) is None else f"{value(sc['metrics'].get(m)):.3g}" for m in head) + " |")
    lines += [""] + beats(scores, head) + [""]
    lines += recovery_split(scores)
    for metric in TABLE:
        target = TARGETS.get(metric)
        tgt = f"{target[0]} {target[1]}" if target else ("<= son / 2" if metric == "mttr_rops_median" else "-")
        lines += [f"## {metric} (target {tgt})", "", "| policy | value [95% CI] | n | target | gap to oracle |",
                  "|---|---|---|---|---|"]
        for name, sc in scores.items():
            m = sc["metrics"].get(metric)
            gap = "-"
            ov = value(oracle["metrics"].get(metric)) if oracle else None
            if value(m) is not None and ov is not None and name != "oracle":
                gap = f"{value(m) - ov:+.3f}"
            n = m.get("n", "") if isinstance(m, dict) else ""
            lines.append(f"| {name} | {fmt(m)} | {n} | {check(metric, m, son)} | {gap} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--suite", type=Path, default=None, help="load this suite instead of making one")
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tag", default="", help="suffix of the output files (e.g. smoke)")
    ap.add_argument("--logs", type=Path, default=None,
                    help="also write each policy's episode logs here (logs_POLICY.jsonl), for scorer-free analysis")
    ap.add_argument("--from-logs", type=Path, default=None,
                    help="score the logs_POLICY.jsonl saved here by an earlier --logs run instead of running")
    ap.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                    help="change one setting of each policy run (repeatable; e.g. verifier.seeds=2,3; "
                         "airan heal --policy P --show-settings lists them); recorded as the policy's "
                         "policy_overrides")
    ap.add_argument("--merge", nargs="*", type=Path, default=None,
                    help="keep the scores of policies not rerun from earlier results on the same suite (no file: "
                         "this tag's result); with --policies '' nothing reruns")
    args = ap.parse_args()
    overrides = parse_assignments(args.settings)
    t0 = time.perf_counter()
    suffix = f"_{args.tag}" if args.tag else ""
    RESULTS.mkdir(parents=True, exist_ok=True)
    suite_path = args.suite or RESULTS / f"heal_dev_suite{suffix}.json"
    if suite_path.is_file():
        suite = load_suite(suite_path)
        if args.suite is None and (len(suite.episodes) != args.episodes or suite.seed != args.seed):
            suite = None
    else:
        suite = None
    if suite is None:
        print(f"making the dev suite ({args.episodes} episodes, seed {args.seed}) ...", file=sys.stderr)
        suite = make_suite("dev", args.episodes, args.seed)
        save_suite(suite, suite_path)
    suite_s = time.perf_counter() - t0
    scores, skipped, walls, commands, machines = {}, {}, {}, {}, {}
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    if args.merge is not None:
        for earlier in args.merge or [RESULTS / f"heal_dev{suffix}.json"]:
            if not earlier.is_file():
                continue
            old = json.loads(earlier.read_text())
            if old.get("suite_file") != str(suite_path):
                raise SystemExit(f"{earlier} was scored on {old.get('suite_file')!r}, not {str(suite_path)!r}")
            scores.update(old["policies"])
            walls.update(old["policy_wall_s"])
            old_cmds = old.get("policy_commands") or {p: old["command"] for p in old["policies"]}
            commands.update(old_cmds)
            # a file without per-policy machines names the machine of its own command only: policies it merged
            # in from elsewhere ran on a machine it did not record (None)
            machines.update(old.get("policy_machines") or
                            {p: old["machine"] if old_cmds.get(p) == old["command"] else None for p in old["policies"]})
    for name in [p.strip() for p in args.policies.split(",") if p.strip()]:
        try:
            policy_class(name)
        except ConfigError as e:
            skipped[name] = str(e)
            print(f"skipping {name}: {e}", file=sys.stderr)
            continue
        t1 = time.perf_counter()
        if args.from_logs is not None:  # rescore saved logs (e.g. after a scorer change); keep the run's wall time
            path = args.from_logs / f"logs_{name}.jsonl"
            if not path.is_file():
                raise SystemExit(f"--from-logs: no {path}")
            logs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            walls.setdefault(name, None)  # not recorded: the run's own result (--merge FILE) carries it
            commands[name] = rescored(commands.get(name, "?"), command)
        else:
            logs = run_suite(suite, name, workers=args.workers, show_progress=True, overrides=overrides)
            walls[name] = time.perf_counter() - t1
            commands[name] = command
            machines[name] = machine_info()
        if args.logs is not None:
            args.logs.mkdir(parents=True, exist_ok=True)
            (args.logs / f"logs_{name}.jsonl").write_text("".join(json.dumps(lg) + "\n" for lg in logs))
        scores[name] = score(suite, logs)
        ran_with = next((lg["policy_overrides"] for lg in logs if lg.get("policy_overrides")), None)
        if ran_with:
            scores[name]["policy_overrides"] = ran_with
        plot_confusion(scores[name]["confusion"], RESULTS / f"heal_dev{suffix}_confusion_{name}.png",
                       title=f"{name} on {suite.name}")
    result = {"machine": machine_info(), "command": command, "policy_commands": commands,
              "policy_machines": {p: machines.get(p) for p in scores},
              "suite_file": str(suite_path), "suite": suite_summary(suite) | {"rops": suite.rops},
              "suite_s": suite_s, "wall_s": time.perf_counter() - t0, "policy_wall_s": walls,
              "peak_rss_mib": peak_rss_mib(), "targets": {k: list(v) for k, v in TARGETS.items()},
              "skipped": skipped, "policies": scores}
    (RESULTS / f"heal_dev{suffix}.json").write_text(json.dumps(result, indent=1, default=str))
    (RESULTS / f"HEAL_DEV{suffix.upper()}.md").write_text(markdown(result))
    print(json.dumps({k: {m: value(v["metrics"].get(m)) for m in TABLE} for k, v in scores.items()}, indent=1))


if __name__ == "__main__":
    main()
