"""A healing run against itself with other verifier seeds -> bench/results/heal_seed_noise_TAG.json

``airan`` is deterministic for a given configuration, so a rerun of a variant reproduces its logs. But the
verifier's what-if twins draw their propagation perturbation and future from ``VerifierConfig.seeds``, and any
other pair of seeds is an equally good verifier. Runs of the same suite that differ only in those seeds (the
*draws*) show how much of a difference between two configurations the choice of seeds alone can make: each
draw's headline counts, and every pair of draws compared episode by episode as ``heal_paired_fkr.py`` compares
two policies (mean FKR difference with a bootstrap 95 % interval, episodes moved by more than 0.05 either way).
``--compare LABEL=LOGS`` adds variant runs, each paired with the first draw, or with draw D when the label is
``NAME@D`` (the variant run with D's seeds), so a variant's difference can be read against the draws' spread;
a variant run with several draws' seeds is summarised over them (``variants``: the mean paired FKR over its
draws, and each count a judgement reads, summed over its draws, against the same draws' defaults), and every
variant run lists the episodes whose applied actions differ from its draw's. ``--judge NAME=keep`` (the default
is the candidate, the variant is the setting it would lose) or ``NAME=adopt`` (the variant is the candidate)
applies the four-draw rule of the pre-registrations since S56 to variant NAME (``judge``); ``+recall`` asks the
candidate's detection recall to be no lower instead of within the tolerance, as for a monitor setting;
``+one_sided`` asks the other counts only not to be worse by more than the tolerance (the rule since S61);
``+s68`` applies the stricter rules of S68 and S69 instead (``judge_s68``: no loss in clipped or unclipped paired
FKR, no more scorer-harmful actions or worsened episodes); ``+s68+one_sided`` makes its last rule one-sided, and
``+rca`` (with ``+s68``) adds that the candidate's summed RCA top-1 be higher than the other's, the rule of S72 for
a diagnosis change: a setting that exists to diagnose more right must; ``+det`` (with ``+s68``) adds the same for
the summed detections, the rule of S73 for a detection change.

A draw is one run with the seeds set from the command line (the logs then carry them as ``policy_overrides``):

    .venv/bin/python bench/heal_dev.py --suite bench/results/heal_dev_suite.json --policies airan \\
        --set verifier.seeds=2,3 --tag d23 --logs D23        # a variant: add its own --set KEY=VALUE
    .venv/bin/python bench/heal_seed_noise.py --suite bench/results/heal_dev_suite.json \\
        --draws 0,1=D01/logs_airan.jsonl 2,3=D23/logs_airan.jsonl \\
        --compare retry@0,1=V01/logs_airan.jsonl retry@2,3=V23/logs_airan.jsonl --judge retry=adopt --tag dev
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heal_fkr_by_loss import read_logs  # noqa: E402
from heal_paired_fkr import fkr_by_episode, paired  # noqa: E402
from machine import machine_info, write_result  # noqa: E402

from airan.agents.scorer import score  # noqa: E402
from airan.agents.suite import load_suite  # noqa: E402

COUNTS = ("fkr_median", "full_recovery_rate", "worsened_rate", "harmful_action_rate",
          "harmful_action_rate_counterfactual", "detection_recall", "control_alarm_rate", "control_action_rate",
          "rca_top1_micro", "localization_top1")


def labelled(items: list[str], flag: str) -> list[tuple[str, Path]]:
    """``LABEL=PATH`` items -> [(label, path)]; exits naming the item that is malformed or repeated."""
    out: list[tuple[str, Path]] = []
    for it in items:
        label, sep, path = it.partition("=")
        if not sep or not label or not path:
            raise SystemExit(f"{flag} takes LABEL=LOGS items, got {it!r}")
        if label in {lb for lb, _ in out}:
            raise SystemExit(f"{flag}: label {label!r} given twice")
        out.append((label, Path(path)))
    return out


def headline(suite, path: Path) -> dict:
    """The counts a judgement reads, from one run's logs: FKR median, full recovery, harmful actions (scorer and
    counterfactual, with the number of actions), recall and control alarms."""
    m = score(suite, list(read_logs(path).values()))["metrics"]
    out = {}
    for k in COUNTS:
        v = m[k]
        out[k] = {"value": v.get("value"), "k": v.get("k"), "n": v.get("n")} if isinstance(v, dict) else v
    return out


def summarise(rows: dict[str, dict], compared: dict[str, dict], base: dict[str, tuple[str, str]]) -> dict:
    """Each variant NAME over the draws it ran with: the mean of its paired FKR differences (``compared``, keyed
    ``"LABEL - DRAW"``), and for every count of ``COUNTS`` (all but the FKR median) its sum over those runs
    against the sum over the same draws' defaults; the two harm counts also with their summed actions.
    ``base``: variant label -> (NAME, the draw it is paired with)."""
    out = {}
    for name in dict.fromkeys(n for n, _ in base.values()):
        mine = [v for v in base if base[v][0] == name]
        diffs = [compared[f"{v} - {base[v][1]}"]["mean_diff"] for v in mine]
        raw = [compared[f"{v} - {base[v][1]}"]["mean_diff_raw"] for v in mine]
        out[name] = {"draws": [base[v][1] for v in mine], "paired_fkr_mean": float(np.mean(diffs)),
                     "paired_fkr": diffs, "paired_fkr_raw_mean": float(np.mean(raw)), "paired_fkr_raw": raw,
                     "counts": {}}
        for k in COUNTS[1:]:
            out[name]["counts"][k] = {"default": int(sum(rows[base[v][1]][k]["k"] for v in mine)),
                                      "variant": int(sum(rows[v][k]["k"] for v in mine)),
                                      "n_default": int(sum(rows[base[v][1]][k]["n"] for v in mine)),
                                      "n_variant": int(sum(rows[v][k]["n"] for v in mine))}
        for k in ("harmful_action_rate", "harmful_action_rate_counterfactual"):
            c = out[name]["counts"][k]
            out[name][k] = {"default": c["default"], "variant": c["variant"], "actions_default": c["n_default"],
                            "actions_variant": c["n_variant"]}
    return out


def actions_differ(a: dict[str, dict], b: dict[str, dict]) -> list[str]:
    """Ids of the episodes in both logs (episode id -> log) whose applied actions (ROP, kind, cell, value)
    differ."""
    def acts(log: dict) -> list[tuple]:
        return [(x["rop"], x["kind"], x["cell"], x["value"]) for x in log["applied"]]

    return [i for i in a if i in b and acts(a[i]) != acts(b[i])]


# the four-draw rule of the pre-registrations since S56: each single-draw adoption rule's tolerance times four
RULE_TOLERANCE = {"full_recovery_rate": 4, "harmful": 8, "other": 4}
OTHER_COUNTS = ("detection_recall", "control_alarm_rate", "control_action_rate", "rca_top1_micro",
                "localization_top1")
LOWER_IS_BETTER = ("control_alarm_rate", "control_action_rate")


# the rule of the pre-registrations S68 and S69 (``+s68``): the paired FKR, clipped and unclipped, not below 0;
# full recovery not lower by more than 2; no more scorer-harmful actions or worsened episodes; at most 4 more
# counterfactual-harmful actions; the detection and diagnosis counts within 4
S68_TOLERANCE = {"full_recovery_rate": 2, "harmful_action_rate": 0, "harmful_action_rate_counterfactual": 4,
                 "worsened_rate": 0, "other": 4}


def other_count_rules(c: dict, cand: str, other: str, tol: int, one_sided: bool,
                      recall_not_lower: bool = False) -> list[tuple[str, float, float, bool]]:
    """The last rule of both families: each of ``OTHER_COUNTS`` of ``cand`` within ``tol`` of ``other``'s, or with
    ``one_sided`` not worse by more than ``tol`` (not lower; not higher for ``LOWER_IS_BETTER``), and with
    ``recall_not_lower`` the detection recall not lower at all."""
    rules = []
    for k in OTHER_COUNTS:
        x, y = c[k][cand], c[k][other]
        if k == "detection_recall" and recall_not_lower:
            rules.append((f"{k} not lower", x, y, x >= y))
        elif one_sided and k in LOWER_IS_BETTER:
            rules.append((f"{k} not higher by > {tol}", x, y, x <= y + tol))
        elif one_sided:
            rules.append((f"{k} not lower by > {tol}", x, y, x >= y - tol))
        else:
            rules.append((f"{k} within {tol}", x, y, abs(x - y) <= tol))
    return rules


def judge_s68(variant: dict, side: str, one_sided: bool = False, rca_gain: bool = False,
              det_gain: bool = False) -> list[tuple[str, float, float, bool]]:
    """The rules of S68/S69 (``S68_TOLERANCE``) as (rule, candidate, other, holds) rows; ``side`` as ``judge``.
    ``one_sided``: the other counts need only not be worse by more than the tolerance (recall, RCA, localization
    not lower; control alarms and actions not higher). ``rca_gain``: one more rule, the candidate's summed RCA
    top-1 higher than the other's (S72); ``det_gain``: the same for the summed detections (S73)."""
    cand, other = ("default", "variant") if side == "keep" else ("variant", "default")
    c, tol, sign = variant["counts"], S68_TOLERANCE, (-1.0 if side == "keep" else 1.0)
    rules = [(f"paired {what}FKR >= 0", sign * variant[key], 0.0, sign * variant[key] >= 0)
             for what, key in (("", "paired_fkr_mean"), ("unclipped ", "paired_fkr_raw_mean"))]
    full = c["full_recovery_rate"]
    rules.append((f"full recovery not lower by > {tol['full_recovery_rate']}", full[cand], full[other],
                  full[cand] >= full[other] - tol["full_recovery_rate"]))
    for k in ("harmful_action_rate", "harmful_action_rate_counterfactual", "worsened_rate"):
        rules.append((f"{k} at most + {tol[k]}", c[k][cand], c[k][other], c[k][cand] <= c[k][other] + tol[k]))
    rules += other_count_rules(c, cand, other, tol["other"], one_sided)
    for gain, k in ((rca_gain, "rca_top1_micro"), (det_gain, "detection_recall")):
        if gain:
            x, y = c[k][cand], c[k][other]
            rules.append((f"{k} higher", x, y, x > y))
    return rules


def judge(variant: dict, side: str, recall_not_lower: bool = False, one_sided: bool = False,
          s68: bool = False, rca_gain: bool = False, det_gain: bool = False) -> dict:
    """The pre-registered four-draw rule on one ``summarise`` entry. ``side`` "keep": the default is the
    candidate and the variant is the other setting; "adopt": the variant is the candidate. The candidate wins iff
    (1) the mean paired FKR (candidate - other) > 0; (2) its summed full recoveries are not lower by more than 4;
    (3, 4) its summed harmful actions, by the scorer and against the counterfactual, are at most 8 more; (5) its
    summed detection recall, control alarms, control actions, RCA top-1 and localization are within 4 of the
    other's (recall not lower instead, with ``recall_not_lower``). With ``one_sided`` (the rule of the
    pre-registrations since S61) rule 5 asks only that the candidate be not *worse* by more than 4 (recall, RCA
    and localization not lower, control alarms and actions not higher): the symmetric form also failed a
    candidate that diagnosed 12 more right (S59c). With ``s68`` the rules of S68/S69 (``judge_s68``, with
    ``one_sided``, ``rca_gain`` and ``det_gain`` passed on) replace these, and ``recall_not_lower`` must be off;
    ``rca_gain`` and ``det_gain`` need ``s68``."""
    if side not in ("keep", "adopt"):
        raise ValueError(f"side must be 'keep' or 'adopt', got {side!r}")
    if s68 and recall_not_lower:
        raise ValueError("the s68 rule does not take recall_not_lower")
    if (rca_gain or det_gain) and not s68:
        raise ValueError("rca_gain and det_gain are rules of the s68 family: pass s68 too")
    if s68:
        cand = "default" if side == "keep" else "variant"
        rules = judge_s68(variant, side, one_sided, rca_gain, det_gain)
        return {"side": side, "candidate": cand, "recall_not_lower": False, "one_sided": one_sided, "s68": True,
                "rca_gain": rca_gain, "det_gain": det_gain,
                "rules": [{"rule": r, "candidate": x, "other": y, "holds": bool(h)} for r, x, y, h in rules],
                "candidate_wins": all(h for *_, h in rules)}
    cand, other = ("default", "variant") if side == "keep" else ("variant", "default")
    c, tol = variant["counts"], RULE_TOLERANCE
    fkr = -variant["paired_fkr_mean"] if side == "keep" else variant["paired_fkr_mean"]
    rules = [("paired FKR > 0", fkr, 0.0, fkr > 0)]
    full = c["full_recovery_rate"]
    rules.append((f"full recovery not lower by > {tol['full_recovery_rate']}", full[cand], full[other],
                  full[cand] >= full[other] - tol["full_recovery_rate"]))
    for k in ("harmful_action_rate", "harmful_action_rate_counterfactual"):
        rules.append((f"{k} at most + {tol['harmful']}", c[k][cand], c[k][other],
                      c[k][cand] <= c[k][other] + tol["harmful"]))
    rules += other_count_rules(c, cand, other, tol["other"], one_sided, recall_not_lower)
    return {"side": side, "candidate": cand, "recall_not_lower": recall_not_lower, "one_sided": one_sided,
            "s68": False, "rules": [{"rule": r, "candidate": x, "other": y, "holds": bool(h)} for r, x, y, h in rules],
            "candidate_wins": all(h for *_, h in rules)}


JUDGE_EXTRAS = ("recall", "one_sided", "s68", "rca", "det")


def judgements(items: list[str], names: set[str]) -> dict[str, tuple[str, bool, bool, bool, bool, bool]]:
    """``NAME=keep|adopt[+recall][+one_sided][+s68][+rca][+det]`` items -> {NAME: (side, recall_not_lower, one_sided,
    s68, rca_gain, det_gain)}; exits naming a bad item (``+s68`` does not combine with ``+recall``; ``+rca`` and
    ``+det`` need ``+s68``)."""
    out = {}
    for it in items:
        name, sep, how = it.partition("=")
        side, *extras = how.split("+")
        if not sep or name not in names or side not in ("keep", "adopt") or \
                any(e not in JUDGE_EXTRAS for e in extras) or len(set(extras)) < len(extras) or \
                ("s68" in extras and "recall" in extras) or \
                (("rca" in extras or "det" in extras) and "s68" not in extras):
            raise SystemExit(f"--judge takes NAME=keep|adopt[+recall][+one_sided] or "
                             f"NAME=keep|adopt+s68[+one_sided][+rca][+det] for a compared NAME {sorted(names)}, "
                             f"got {it!r}")
        out[name] = (side, "recall" in extras, "one_sided" in extras, "s68" in extras, "rca" in extras,
                     "det" in extras)
    return out


def spread(rows: dict[str, dict], key: str, field: str) -> dict:
    """min / max / range of ``rows[label][key][field]`` over the labels where it is measured ({} if nowhere)."""
    vals = [r[key][field] for r in rows.values() if r[key][field] is not None]
    return {"min": float(min(vals)), "max": float(max(vals)), "range": float(max(vals) - min(vals))} if vals else {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", type=Path, required=True)
    ap.add_argument("--draws", nargs="+", required=True,
                    help="LABEL=logs_airan.jsonl of runs differing only in the verifier's seeds (>= 2)")
    ap.add_argument("--compare", nargs="*", default=[],
                    help="LABEL=logs_airan.jsonl of a variant with the first draw's seeds; NAME@D=... with draw D's")
    ap.add_argument("--judge", nargs="*", default=[],
                    help="NAME=keep|adopt[+recall][+one_sided]: apply the four-draw rule to variant NAME; "
                         "NAME=keep|adopt+s68[+one_sided][+rca][+det]: the rules of the S68/S69 "
                         "pre-registrations instead (one-sided last rule; +rca: RCA top-1 must rise, S72; +det: "
                         "detections must rise, S73)")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    draws, variants = labelled(args.draws, "--draws"), labelled(args.compare, "--compare")
    if len(draws) < 2:
        raise SystemExit(f"--draws needs at least 2 runs, got {len(draws)}")
    t0 = time.perf_counter()
    suite = load_suite(args.suite)
    runs = draws + variants
    rows = {label: headline(suite, path) for label, path in runs}
    fkr = {label: fkr_by_episode(path, suite) for label, path in runs}
    fkr_raw = {label: fkr_by_episode(path, suite, "fkr_raw") for label, path in runs}

    def pair(a: str, b: str, by: dict = fkr) -> dict:
        ids = sorted(set(by[a]) & set(by[b]))
        return paired(np.array([by[a][i][1] for i in ids]), np.array([by[b][i][1] for i in ids]))

    draw_pairs = {f"{b} - {a}": pair(a, b) for (a, _), (b, _) in itertools.combinations(draws, 2)}
    first, labels = draws[0][0], [lb for lb, _ in draws]
    base = {}
    for v, _ in variants:
        name, at, d = v.partition("@")
        if at and d not in labels:
            raise SystemExit(f"--compare {v!r}: no draw labelled {d!r} (draws: {labels})")
        base[v] = (name, d if at else first)
    compared = {f"{v} - {base[v][1]}": pair(base[v][1], v)
                | {"mean_diff_raw": pair(base[v][1], v, fkr_raw)["mean_diff"]}
                for v, _ in variants}
    logs = {label: read_logs(path) for label, path in runs}
    for v, _ in variants:
        ids = actions_differ(logs[base[v][1]], logs[v])
        compared[f"{v} - {base[v][1]}"]["actions_differ"] = {"episodes": len(ids), "ids": ids}
    summary = summarise(rows, compared, base)
    for name, (side, floor, one_sided, s68, rca, det) in judgements(args.judge, set(summary)).items():
        summary[name]["judgement"] = judge(summary[name], side, floor, one_sided, s68, rca, det)
    drawn = {lb: rows[lb] for lb in labels}
    out = {"machine": machine_info(), "command": "heal_seed_noise.py " + " ".join(sys.argv[1:]),
           "suite_file": str(args.suite), "draws": {lb: str(p) for lb, p in draws},
           "compare": {lb: str(p) for lb, p in variants}, "headline": rows,
           "draw_spread": {"fkr_median": spread(drawn, "fkr_median", "value"),
                           **{k: spread(drawn, k, "k") for k in ("full_recovery_rate", "harmful_action_rate",
                                                                 "harmful_action_rate_counterfactual")},
                           "actions": spread(drawn, "harmful_action_rate", "n"),
                           "paired_fkr_abs_max": max(abs(p["mean_diff"]) for p in draw_pairs.values())},
           "draw_pairs": draw_pairs, "compared": compared, "variants": summary, "wall_s": time.perf_counter() - t0}
    path = write_result("heal_seed_noise", args.tag, out)
    for label, _ in runs:
        r = rows[label]
        h, hc = r["harmful_action_rate"], r["harmful_action_rate_counterfactual"]
        print(f"{label:>10}: FKR median {r['fkr_median']['value']:.3f}, full {r['full_recovery_rate']['k']}/"
              f"{r['full_recovery_rate']['n']}, harmful {h['k']} / {hc['k']} of {h['n']} actions")
    for name, p in {**draw_pairs, **compared}.items():
        print(f"{name:>16}: paired FKR {p['mean_diff']:+.3f} [{p['ci95'][0]:+.3f}, {p['ci95'][1]:+.3f}], "
              f"{p['better']} better, {p['worse']} worse"
              + (f", actions differ in {p['actions_differ']['episodes']} episodes" if "actions_differ" in p else ""))
    for name, v in summary.items():
        h, hc = v["harmful_action_rate"], v["harmful_action_rate_counterfactual"]
        print(f"{name:>16}: over draws {', '.join(v['draws'])}: mean paired FKR {v['paired_fkr_mean']:+.3f} (unclipped "
              f"{v['paired_fkr_raw_mean']:+.3f}); harmful "
              f"{h['default']} -> {h['variant']} (scorer), {hc['default']} -> {hc['variant']} (counterfactual), "
              f"actions {h['actions_default']} -> {h['actions_variant']}")
        print(" " * 18 + "summed counts, default -> variant: " + ", ".join(
            f"{k} {c['default']} -> {c['variant']}" for k, c in v["counts"].items()))
        if "judgement" in v:
            j = v["judgement"]
            for r in j["rules"]:
                print(" " * 18 + f"{'holds' if r['holds'] else 'FAILS'}: {r['rule']} ({j['candidate']} "
                      f"{r['candidate']:.4g}, other {r['other']:.4g})")
            print(" " * 18 + f"the {j['candidate']} ({j['side']}) " + ("wins" if j["candidate_wins"] else "loses"))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
