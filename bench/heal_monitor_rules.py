"""Replay the airan monitor without healing, score detection-rule variants -> bench/results/heal_monitor_rules_TAG.json

Each episode runs in the true twin with no action, and the ``airan`` policy's monitor (its calibrated threshold,
persistence and signatures) ingests every ROP, so what fires is what the network shows; before its first
action a policy sees exactly this, so the first detection of every variant below is the one a full run would
make (later ones can differ: a run freezes the baseline once an incident opens). Per variant it counts
controls with any cell firing, detectable fault episodes whose fault scope fires after onset (recall, per
class), and fault episodes with a firing outside the scope or before onset (false leads). Variants:

- ``calibrated``: the monitor with the model's calibrated persistence (2 ROPs; ``AiranConfig(score_persistence=
  None)``), the reference of the others;
- ``bad>=G``: a model-score detection (no signature) also needs a KPI moved at least G robust z in its bad
  direction, on the cell and against its neighbours (the rule scorer's statistic);
  (each variant also lists, per class, the detectable episodes it detects later than ``calibrated`` or not at
  all)
- ``persist=P``: model-score detections need P consecutive ROPs (4: the ``airan`` default);
- ``pp>=M/K``: the ping-pong signature at M ping-pongs over K ROPs (default 5 over 3 since session 40, 6
  before), with the calibrated persistence; ``persist=4,pp>=M/K`` the same with the default persistence;
- ``persist=4,steady=M/K``: the default persistence with the steady ping-pong rule at a ping-pong in at least M
  of the last K ROPs (``MonitorConfig.pingpong_steady_min`` / ``pingpong_steady_rops``; the default asks for
  one in each of 6; docs/healing_journal.md, "Ping-pongs in most, not all, of the last ROPs"). Every variant
  replays the default steady rule (before session 38 the replay left it out, so recall of ping-pong faults could
  read lower than a run's);
- ``persist=4,ppratio=M/K@F``: the default persistence, plus a cell firing when its ping-pongs over the last K ROPs
  number at least M and at least F of its outgoing handover attempts (``HO.AttOut``) over them: a surge adds
  handovers and ping-pongs alike, a misconfiguration makes most handovers ping-pong (session 40, offline: it does
  not separate, docs/healing_journal.md);
- ``persist=4,rlf>=M/K``: the default persistence, plus a cell firing at M or more radio link failures
  (``RLF.Count``) over the last K ROPs, handovers or not: a too-late handover misconfiguration holds UEs until
  their link fails, and on seed 7344 half of the missed too-late faults moved the fault cell's RLF count and little
  else (session 41). Every variant replays the monitor's own RLF burst (2 over 3 ROPs with no handover out, the
  default since session 41; the ``_s41`` result files were replayed before it was, without it);
- ``persist=4,deadair=A`` / ``...=A+B``: the default persistence with the dead-air signature of a one-UE cell
  read from that UE's reports alone (``MonitorConfig(dead_air_evidence="reports")``), and also at a 0.1 Mbit/s
  demand floor (``dead_air_min_demand_mbps=0.1``; ``bench/results/HEAL_PREREG_S31b.md``);
- ``persist=4,deadair=C`` / ``...=C+B``: the same with the lone UE's own SINR report deciding instead
  (``dead_air_evidence="ue_sinr"``; ``bench/results/HEAL_PREREG_S32.md``), and ``E`` / ``E+B`` accepting
  either that or the pre-session-32 evidence (``"sinr_or_ue_sinr"``; E+B is the default since session 32, and
  ``persist=4,deadair=pre32`` replays the one before). Each variant also
  lists the detectable episodes it detects later or not at all, and earlier or newly, than ``persist=4``, the
  ``airan`` default.

    .venv/bin/python bench/heal_monitor_rules.py --suite SUITE.json --workers 2 --tag train
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing as mp
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info, peak_rss_mib, write_result  # noqa: E402

from airan.agents.base import Observation  # noqa: E402
from airan.agents.monitor import BAD_DIRECTION, FEATURE_NAMES, MonitorConfig, pingpong_storm_cells  # noqa: E402
from airan.agents.policies.airan import AiranConfig, AiranPolicy  # noqa: E402
from airan.agents.runner import episode_context  # noqa: E402
from airan.agents.suite import SuiteEpisode, fault_scope, load_suite  # noqa: E402
from airan.twin.env import NetworkTwin  # noqa: E402

_BAD = [(FEATURE_NAMES.index(f"z.{k}"), FEATURE_NAMES.index(f"rel.{k}"), s) for k, s in BAD_DIRECTION.items()]
VARIANTS: tuple[tuple[str, dict], ...] = (
    ("calibrated", {}), ("bad>=2", {"bad": 2.0}), ("bad>=3", {"bad": 3.0}), ("persist=3", {"persist": 3}),
    ("persist=4", {"persist": 4}), ("pp>=3/3", {"pp": (3, 3)}), ("pp>=4/2", {"pp": (4, 2)}),
    ("pp>=4/3", {"pp": (4, 3)}), ("pp>=5/3", {"pp": (5, 3)}),
    ("persist=4,deadair=A", {"persist": 4, "dead": "A"}), ("persist=4,deadair=A+B", {"persist": 4, "dead": "A+B"}),
    ("persist=4,deadair=C", {"persist": 4, "dead": "C"}), ("persist=4,deadair=C+B", {"persist": 4, "dead": "C+B"}),
    ("persist=4,deadair=E", {"persist": 4, "dead": "E"}), ("persist=4,deadair=E+B", {"persist": 4, "dead": "E+B"}),
    ("persist=4,deadair=pre32", {"persist": 4, "dead": "pre32"}),
    *((f"persist=4,steady={m}/{k}", {"persist": 4, "steady": (m, k)}) for m, k in ((5, 6), (4, 6), (5, 8), (4, 8))),
    *((f"persist=4,pp>={m}/{k}", {"persist": 4, "pp": (m, k)}) for m, k in ((5, 3), (4, 2))),
    *((f"persist=4,ppratio={m}/{k}@{f:g}", {"persist": 4, "ratio": (m, k, f)})
      for m, k in ((3, 3), (4, 3), (4, 4), (4, 6)) for f in (0.5, 0.7)),
    *((f"persist=4,rlf>={m}/{k}", {"persist": 4, "rlf": (m, k)})
      for m, k in ((2, 2), (3, 3), (3, 4), (4, 4), (3, 6), (4, 6), (5, 6), (6, 6))),
)
# dead-air evidence replayed per ROP: name -> MonitorConfig changes (``replay`` records each as ``dead:NAME``)
# (explicit values: "default" is the current MonitorConfig, E+B since session 32; "pre32" the one before)
DEAD_AIR = {"default": {}, "pre32": {"dead_air_evidence": "sinr_and_reports", "dead_air_min_demand_mbps": 0.5},
            "A": {"dead_air_evidence": "reports", "dead_air_min_demand_mbps": 0.5},
            "A+B": {"dead_air_evidence": "reports", "dead_air_min_demand_mbps": 0.1},
            "C": {"dead_air_evidence": "ue_sinr", "dead_air_min_demand_mbps": 0.5},
            "C+B": {"dead_air_evidence": "ue_sinr", "dead_air_min_demand_mbps": 0.1},
            "E": {"dead_air_evidence": "sinr_or_ue_sinr", "dead_air_min_demand_mbps": 0.5},
            "E+B": {"dead_air_evidence": "sinr_or_ue_sinr", "dead_air_min_demand_mbps": 0.1}}


def replay(ep: SuiteEpisode) -> dict:
    """Per ROP and cell ([R, C] float64 each) the monitor's model score, the signatures that hold without the
    ping-pong one (``sig``, 0/1), the worst bad-direction z (``bad``), the ping-pong counts (``pp``) and the
    outgoing handover attempts (``ho``)."""
    twin = NetworkTwin(ep.scenario)
    twin.reset(seed=ep.seed, options={"faults": list(ep.faults)})
    ctx = episode_context(ep, twin)
    policy = AiranPolicy(AiranConfig(score_persistence=None))
    policy.reset(ctx)
    mon = policy.monitor
    cfg = mon.cfg
    r_n, c_n = ep.rops, ctx.num_cells
    rec = {k: np.zeros((r_n, c_n)) for k in ("score", "sig", "bad", "pp", *(f"dead:{n}" for n in DEAD_AIR))}
    dead_cfgs = {n: dataclasses.replace(cfg, **kw) for n, kw in DEAD_AIR.items()}
    hist: dict[str, list[np.ndarray]] = {}
    for r in range(r_n):
        info = twin.step()[4]
        for k, v in info["kpis"].items():
            hist.setdefault(k, []).append(np.asarray(v, float))
        mon.update(Observation(rop=r, kpis=dict(info["kpis"]), history={k: np.stack(v) for k, v in hist.items()},
                               events=list(info["events"]), mr_rsrp_dbm=info["mr_rsrp_dbm"],
                               ue_serving=info["ue_serving"], ue_dl_demand_mbps=info["ue_dl_demand_mbps"],
                               mr_sinr_db=info["mr_sinr_db"]))
        sig = mon.hard_alarms() > 0  # every signature but dead air, which ``fires`` adds per variant
        for n, c in dead_cfgs.items():
            rec[f"dead:{n}"][r] = mon.dead_air(r, c)
        sig |= (cfg.coverage_shift_rops > 0) & (mon.shift_streak >= cfg.coverage_shift_rops)
        sig |= (cfg.site_shift_rops > 0) & (mon.site_streak >= cfg.site_shift_rops)
        sig |= mon.spread_fire()
        sig |= mon.late_fire | ((cfg.demand_surge_rops > 0) & (mon.surge_streak >= cfg.demand_surge_rops))
        sig |= mon.rlf_burst(r)  # the default RLF burst (since session 41; before it, replays had none)
        rec["score"][r], rec["sig"][r] = mon.scores, sig
        if mon.features is not None:
            f = mon.features
            rec["bad"][r] = np.max([np.minimum(s * f[:, iz], s * f[:, ir]) for iz, ir, s in _BAD], axis=0)
    rec["pp"] = np.nan_to_num(np.stack(hist["HO.PingPong"]))
    rec["ho"] = np.nan_to_num(np.stack(hist["HO.AttOut"]))
    rec["rlf"] = np.nan_to_num(np.stack(hist["RLF.Count"]))
    real = [f for f in ep.faults if f.kind != "benign_surge"]
    return {"id": ep.id, "control": ep.control, "undetectable": ep.undetectable,
            "cause": (ep.cause or "control") + (f"/{real[0].mode}" if real and real[0].mode else ""),
            "onset": min(f.onset_rop for f in real) if real else None,
            "scope": fault_scope(tuple(real), ctx.cell_site, ctx.neighbours) if real else np.zeros(0, np.int64),
            "threshold": cfg.threshold, "persistence": cfg.persistence, "rec": rec}


def fires(e: dict, cfg: MonitorConfig, bad: float | None = None, persist: int | None = None,
          pp: tuple[int, int] | None = None, dead: str = "default",
          steady: tuple[int, int] | None = None, ratio: tuple[int, int, float] | None = None,
          rlf: tuple[int, int] | None = None) -> np.ndarray:
    """[R, C] bool: where the variant's monitor detects (``dead``: which ``DEAD_AIR`` evidence; ``steady``: the
    steady ping-pong rule as (ROPs with a ping-pong, of the last ROPs), default the monitor's; ``ratio``: also
    fire at >= M ping-pongs over the last K ROPs that are >= F of the handover attempts, as (M, K, F); ``rlf``: also
    fire at >= M radio link failures over the last K ROPs, as (M, K))."""
    rec = e["rec"]
    dead_streak = np.zeros(rec["score"].shape[1])
    hot = rec["score"] > e["threshold"]
    if bad is not None:
        hot &= rec["bad"] >= bad
    need = e["persistence"] if persist is None else persist
    pcfg = dataclasses.replace(cfg, **({} if pp is None else {"pingpong_min": pp[0], "pingpong_rops": pp[1]}),
                               **({} if steady is None else {"pingpong_steady_min": steady[0],
                                                             "pingpong_steady_rops": steady[1]}))
    streak = np.zeros(hot.shape[1])
    out = np.zeros(hot.shape, bool)
    for r in range(hot.shape[0]):
        streak = np.where(hot[r], streak + 1, 0)
        storm = pingpong_storm_cells(rec["pp"], r, pcfg)
        dead_streak = np.where(rec[f"dead:{dead}"][r] > 0, dead_streak + 1, 0)
        dead_air = (cfg.dead_air_rops > 0) & (dead_streak >= cfg.dead_air_rops)
        out[r] = (streak >= need) | (rec["sig"][r] > 0) | storm | dead_air
        if ratio is not None and r + 1 >= ratio[1]:
            pp_k, ho_k = (rec[k][r + 1 - ratio[1]: r + 1].sum(axis=0) for k in ("pp", "ho"))
            out[r] |= (pp_k >= ratio[0]) & (pp_k >= ratio[2] * ho_k)
        if rlf is not None and r + 1 >= rlf[1]:
            out[r] |= rec["rlf"][r + 1 - rlf[1]: r + 1].sum(axis=0) >= rlf[0]
    return out


def score_variant(eps: list[dict], cfg: MonitorConfig, **kw) -> dict:
    ctrl, det, leads, per, per_n, first = [], 0, [], Counter(), Counter(), {}
    for e in eps:
        f = fires(e, cfg, **kw)
        if e["control"]:
            ctrl += [e["id"]] if f.any() else []
            continue
        if e["undetectable"]:
            continue
        rops = np.nonzero(f[e["onset"]:][:, e["scope"]].any(axis=1))[0]
        hit = bool(rops.size)
        first[e["id"]] = int(rops[0]) if hit else None  # ROPs after onset
        det += hit
        per[e["cause"]] += hit
        per_n[e["cause"]] += 1
        outside = np.ones_like(f)
        outside[e["onset"]:, e["scope"]] = False
        leads += [e["id"]] if (f & outside).any() else []
    n_fault = sum(per_n.values())
    return {"controls_alarmed": len(ctrl), "controls": sum(e["control"] for e in eps), "alarmed_controls": ctrl,
            "detected": det, "detectable": n_fault, "false_lead_episodes": len(leads), "false_lead_ids": leads,
            "per_class": {c: [per[c], per_n[c]] for c in sorted(per_n)}, "first_detection_rop": first}


def earlier_than(v: dict, ref: dict) -> list[str]:
    """Detectable episodes the variant ``v`` detects earlier than ``ref`` or that ``ref`` misses."""
    return sorted(i for i, t in ref["first_detection_rop"].items()
                  if v["first_detection_rop"][i] is not None and (t is None or v["first_detection_rop"][i] < t))


def later_than(v: dict, ref: dict, eps: list[dict]) -> dict[str, int]:
    """Per class, detectable episodes the variant ``v`` detects later than ``ref`` (or not at all)."""
    cause = {e["id"]: e["cause"] for e in eps}
    out: Counter = Counter()
    for i, t in ref["first_detection_rop"].items():
        u = v["first_detection_rop"][i]
        if t is not None and (u is None or u > t):
            out[cause[i]] += 1
    return dict(sorted(out.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tag", default="")
    a = ap.parse_args()
    t0 = time.perf_counter()
    suite = load_suite(a.suite)
    with ProcessPoolExecutor(max(1, a.workers), mp_context=mp.get_context("spawn")) as ex:
        eps = list(ex.map(replay, suite.episodes, chunksize=2))
    cfg = AiranPolicy(AiranConfig(score_persistence=None)).monitor_config()
    variants = {name: score_variant(eps, cfg, **kw) for name, kw in VARIANTS}
    for v in variants.values():
        v["later_than_calibrated"] = later_than(v, variants["calibrated"], eps)
        v["later_than_default"] = later_than(v, variants["persist=4"], eps)
        v["earlier_than_default"] = earlier_than(v, variants["persist=4"])
    out = {"machine": machine_info(), "command": "heal_monitor_rules.py " + " ".join(sys.argv[1:]),
           "suite_file": str(a.suite), "episodes": len(eps), "variants": variants,
           "wall_s": time.perf_counter() - t0, "peak_rss_mib": peak_rss_mib()}
    path = write_result("heal_monitor_rules", a.tag, out)
    for name, v in variants.items():
        print(f"{name:10s} controls {v['controls_alarmed']}/{v['controls']}  recall {v['detected']}/{v['detectable']}"
              f"  false-lead episodes {v['false_lead_episodes']}  later: {v['later_than_calibrated']}")
    print(f"wrote {path} ({out['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
