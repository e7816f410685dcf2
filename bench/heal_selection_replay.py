"""What the verifier's other accepted candidates would have done, in the true twin -> heal_selection_replay_TAG.json

At every ROP where an ``airan`` log's action set took effect, the verifier had accepted one or more candidates
(the log's notes: name, predicted change and its range) and the policy applied the best-ranked. This replays the
log in the true twin (``agents.counterfactual``: the replay must reproduce the logged impact) and, from the state
just before that ROP, rolls a clone ``CF_HORIZON_ROPS`` ROPs for each accepted candidate (rebuilt by the planner
from the knobs as they were at the decision) and one with no action, on the same random future. Each
candidate's *pure* effect is the mean impact difference to holding still, with no follow-up action (no
rollback, no next round): what choosing it instead would have done first.

That is an off-policy screen for the selection rule: for each rule (``RULES``) it sums, over the logged sets, the
pure effects and the harmful actions (effect below ``-HARM_K`` x the episode's noise, as the scorer counts) of
the candidate the rule would have picked. It cannot see what a different pick would have changed later (the
next rounds, the executor's verdict), so a rule that looks better here still has to be judged by running it.

    .venv/bin/python bench/heal_selection_replay.py --suite bench/results/heal_dev_suite.json \\
        --logs LOGDIR/logs_airan.jsonl --workers 2 --tag dev

Arrays: impact series ``[CF_HORIZON_ROPS] float64`` in the impact KPI's unit (``runner.impact_kpi_name``).
"""

from __future__ import annotations

import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heal_fkr_by_loss import log_replay_parser, parse_workers, read_logs  # noqa: E402
from machine import machine_info, peak_rss_mib, write_result  # noqa: E402

from airan.agents.counterfactual import REPLAY_ATOL, logged_action, with_counterfactuals  # noqa: E402
from airan.agents.planner import KnobView, Planner  # noqa: E402
from airan.agents.runner import CF_HORIZON_ROPS, counterfactual_series, episode_context, impact_value  # noqa: E402
from airan.agents.scorer import HARM_K, noise_sigma  # noqa: E402
from airan.agents.suite import SuiteEpisode, load_suite  # noqa: E402
from airan.twin.actions import Action  # noqa: E402
from airan.twin.env import NetworkTwin  # noqa: E402

NOTE = re.compile(r"verifier: '(.+?)' predicted change ([-+]\d+\.\d+) \[([-+]\d+\.\d+), ([-+]\d+\.\d+)\] "
                  r"(accepted|rejected)")
REASON = re.compile(r"^(?:approved: )?(.+?) for (\w+) on cell (\d+) \(predicted")
COMBINED = ("cell_outage", "backhaul_failure")  # causes whose sets may move a neighbour's power and tilt together


def _accepted(decisions: dict[int, dict], rop: int) -> tuple[int, list[tuple]] | None:
    """(decision ROP, accepted candidates as (name, mean, low, high)) of the last verifier round at or before
    ``rop`` (an approved set was judged when it was requested, rounds earlier)."""
    for q in range(rop, -1, -1):
        found = [m.groups() for n in decisions.get(q, {}).get("notes", []) for m in [NOTE.search(n)] if m]
        if found:
            return q, [(g[0], float(g[1]), float(g[2]), float(g[3])) for g in found if g[4] == "accepted"]
    return None


def proposed_at(planner: Planner, ctx: Any, applied: list[dict], q: int, cause: str, cell: int) -> dict[str, Any]:
    """The planner's candidates (name -> ``Candidate``) for ``cause`` on ``cell`` rebuilt from the knobs as they
    were when ROP ``q`` decided: every logged action decided before ``q`` applied."""
    knobs = KnobView(ctx)
    for e in applied:
        if int(e["decided_rop"]) < q:
            knobs.apply(logged_action(e))
    return {c.name: c for c in planner.propose(cause, (cell,), knobs)}


def pure_effect(twin: NetworkTwin, first: list[Action], hold: np.ndarray, cells: np.ndarray, kpi: str) -> float:
    """Mean impact difference to ``hold`` [h] of a clone of ``twin`` that applies ``first`` now and nothing
    after (``twin`` is not advanced)."""
    clone = twin.clone()
    v = [impact_value(clone.step(first if i == 0 else [])[4]["kpis"], cells, kpi) for i in range(len(hold))]
    return float(np.mean(np.asarray(v) - hold))


def replay_sets(ep: SuiteEpisode, log: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per logged action set: ``{"episode", "rop", "cause", "chosen", "sigma", "effect_logged",
    "alternatives": [{"name", "pred", "low", "high", "actions", "effect"}]}`` (``effect``: the pure effect; the
    chosen set is among the alternatives when the verifier accepted it in the round that chose it)."""
    if "counterfactual" not in log:  # logs written before the runner recorded the sets
        log = with_counterfactuals(ep, log)
    sets = {int(s["rop"]): s for s in log["counterfactual"]["sets"]}
    if not sets:
        return []
    applied = log["applied"]
    cells = np.asarray(log["impact"]["cells"], dtype=np.int64)
    kpi = str(log["impact"]["kpi"])
    sigma = noise_sigma(np.asarray(log["impact"]["nofault"], dtype=np.float64))
    decisions = {int(d["rop"]): d for d in log["decisions"]}
    by_rop: dict[int, list[Action]] = defaultdict(list)
    for a in applied:
        by_rop[int(a["rop"])].append(logged_action(a))
    twin = NetworkTwin(ep.scenario)
    twin.reset(seed=ep.seed, options={"faults": list(ep.faults)})
    ctx = episode_context(ep, twin)
    planner = Planner(ctx)

    out = []
    logged = np.asarray(log["impact"]["healed"], dtype=np.float64)
    for r in range(max(sets) + 1):
        s = sets.get(r)
        if s is not None and r + CF_HORIZON_ROPS <= len(logged):
            first = applied[s["actions"][0]]
            m = REASON.match(str(first.get("reason", "")))
            hold = counterfactual_series(twin, CF_HORIZON_ROPS, cells, kpi)
            rec = {"episode": ep.id, "rop": r, "cause": m.group(2) if m else None, "kpi": kpi,
                   "chosen": m.group(1) if m else first.get("reason", ""), "sigma": sigma,
                   "scored_population": not ep.undetectable, "effect_logged": float(s["effect"]),
                   "alternatives": []}
            found = _accepted(decisions, int(first["decided_rop"])) if m else None
            if found is not None:
                q, accepted = found
                proposed = proposed_at(planner, ctx, applied, q, m.group(2), int(m.group(3)))
                for name, mean, low, high in accepted:
                    cand = proposed.get(name)
                    if cand is None:  # a withdrawal or a set the planner builds elsewhere
                        continue
                    eff = pure_effect(twin, list(cand.actions), hold, cells, kpi)
                    rec["alternatives"].append({"name": name, "pred": mean, "low": low, "high": high,
                                                "actions": len(cand.actions), "effect": eff})
            out.append(rec)
        step = twin.step(by_rop.get(r, []))
        if abs(impact_value(step[4]["kpis"], cells, kpi) - logged[r]) > REPLAY_ATOL:
            raise SystemExit(f"{ep.id}: replay diverged from the log at ROP {r}")
    return out


def _pick_mean(alts: list[dict], cause: str | None) -> dict | None:
    return max(alts, key=lambda a: a["pred"])


def _pick_low(alts: list[dict], cause: str | None) -> dict | None:
    return max(alts, key=lambda a: (a["low"], a["pred"]))


def _pick_fewest(delta: float) -> Callable[[list[dict], str | None], dict | None]:
    def pick(alts: list[dict], cause: str | None) -> dict | None:
        best = max(a["pred"] for a in alts)
        return min((a for a in alts if a["pred"] >= best - delta), key=lambda a: (a["actions"], -a["pred"]))
    return pick


def _pick_single_knob(alts: list[dict], cause: str | None) -> dict | None:
    if cause not in COMBINED:
        return _pick_mean(alts, cause)
    ok = [a for a in alts if "dB + uptilt" not in a["name"]]
    return max(ok, key=lambda a: a["pred"]) if ok else None


def _pick_best_true(alts: list[dict], cause: str | None) -> dict | None:
    return max(alts, key=lambda a: a["effect"])


# rule -> (alternatives, cause) -> the candidate it would have taken (None: no action)
RULES: dict[str, Callable[[list[dict], str | None], dict | None]] = {
    "mean (the default ranking)": _pick_mean,
    "low (the worst rollout first)": _pick_low,
    "fewest actions within 0.01 of the best": _pick_fewest(0.01),
    "fewest actions within 0.03 of the best": _pick_fewest(0.03),
    "single_knob (no neighbour power + uptilt together)": _pick_single_knob,
    "best true effect (a ceiling: needs the truth)": _pick_best_true,
}


def rule_summary(records: list[dict]) -> dict[str, dict]:
    """Per rule: sets it acts on, actions, harmful sets/actions, sets where it picks differently from the default,
    and the sum of pure effects per impact KPI (``sum_effect``: KPI -> sum; the carried/offered ratio and minus
    the handover failures per ROP do not add up). Only records whose alternatives include the logged choice count
    (the others were chosen in a way this screen cannot rebuild)."""
    usable = [r for r in records if r["alternatives"] and r["scored_population"]
              and any(a["name"] == r["chosen"] for a in r["alternatives"])]
    out = {}
    for name, pick in RULES.items():
        acts = harm_sets = harm_acts = changed = acting = 0
        gain = {k: 0.0 for k in sorted({r["kpi"] for r in usable})}
        for r in usable:
            a = pick(r["alternatives"], r["cause"])
            changed += a is None or a["name"] != _pick_mean(r["alternatives"], r["cause"])["name"]
            if a is None:
                continue
            acting += 1
            acts += a["actions"]
            gain[r["kpi"]] += a["effect"]
            if a["effect"] < -HARM_K * r["sigma"]:
                harm_sets += 1
                harm_acts += a["actions"]
        out[name] = {"sets": len(usable), "acting": acting, "changed": changed, "actions": acts,
                     "harmful_sets": harm_sets, "harmful_actions": harm_acts,
                     "harmful_rate": harm_acts / acts if acts else None, "sum_effect": gain}
    return out


def main() -> None:
    args = parse_workers(log_replay_parser(__doc__.splitlines()[0], "airan logs_*.jsonl (heal_dev --logs)"))
    t0 = time.perf_counter()
    suite = load_suite(args.suite)
    from rich.console import Console
    from rich.progress import Progress

    records: list[dict] = []
    with ProcessPoolExecutor(args.workers) as pool, Progress(console=Console(stderr=True)) as progress:
        for path in args.logs:
            logs = read_logs(path)
            jobs = [(ep, logs[ep.id]) for ep in suite.episodes if ep.id in logs and logs[ep.id]["applied"]]
            task = progress.add_task(f"alternatives {path.name}", total=len(jobs))
            for recs in pool.map(replay_sets, *zip(*jobs, strict=True), chunksize=1):
                records.extend(recs)
                progress.advance(task)
    summary = rule_summary(records)
    out = {"machine": machine_info(), "command": "heal_selection_replay.py " + " ".join(sys.argv[1:]),
           "suite_file": str(args.suite), "logs": [str(p) for p in args.logs], "horizon_rops": CF_HORIZON_ROPS,
           "rules": summary, "records": records, "wall_s": time.perf_counter() - t0, "peak_rss_mib": peak_rss_mib()}
    path = write_result("heal_selection_replay", args.tag, out)
    print("| rule | sets acted on | picks changed | actions | harmful sets | harmful actions | sum of effects "
          "(carried/offered; -HO failures per ROP) |")
    print("|---|---|---|---|---|---|---|")
    for name, s in summary.items():
        rate = "-" if s["harmful_rate"] is None else f"{100 * s['harmful_rate']:.2f} %"
        print(f"| {name} | {s['acting']}/{s['sets']} | {s['changed']} | {s['actions']} | {s['harmful_sets']} | "
              f"{s['harmful_actions']} ({rate}) | {s['sum_effect'].get('dl_served_ratio', 0.0):+.3f}; "
              f"{s['sum_effect'].get('ho_failures_neg', 0.0):+.1f} |")
    print(f"wrote {path} ({out['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
