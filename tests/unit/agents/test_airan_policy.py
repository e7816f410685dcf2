import dataclasses
import json

import numpy as np
import pytest

from airan.agents.base import Decision, Diagnosis, Observation, is_high_risk
from airan.agents.diagnoser import MODEL_PATH, SHIFT_HANDOVER_LIKELIHOOD
from airan.agents.policies.airan import AiranConfig, AiranPolicy
from airan.agents.reporter import Incident
from airan.agents.suite import SuiteEpisode
from airan.core.errors import ConfigError
from airan.twin.actions import Action
from airan.twin.env import NetworkTwin
from airan.twin.faults import Fault

from ._helpers import SEED, tiny_ctx

pytestmark = pytest.mark.skipif(not MODEL_PATH.exists(), reason="diagnoser artefact not generated")


def _run(faults, rops=13, cfg=None, policy=False):
    """A minimal runner: approvals granted one ROP after the request, actions applied at the next step.
    Returns (decision logs, report), and the policy too with ``policy``."""
    twin = NetworkTwin("ci-tiny")
    twin.reset(seed=SEED, options={"faults": faults})
    pol = AiranPolicy(cfg)
    pol.reset(tiny_ctx(twin, "ep"))
    hist, pending, requested, granted, log, applied = {}, [], {}, set(), [], []
    for r in range(rops):
        granted |= {i for i, when in requested.items() if r - when >= 1}
        _, _, _, _, info = twin.step([p.action for p in pending])
        acts = [e for e in info["events"] if e.kind == "action"]
        applied += [(r, p.action, e.detail["pre"], e.detail["post"]) for p, e in zip(pending, acts, strict=True)]
        for k, v in info["kpis"].items():
            hist.setdefault(k, []).append(v)
        obs = Observation(r, info["kpis"], {k: np.stack(v) for k, v in hist.items()}, info["events"],
                          frozenset(granted), list(applied), mr_rsrp_dbm=info["mr_rsrp_dbm"],
                          ue_serving=info["ue_serving"], ue_dl_demand_mbps=info["ue_dl_demand_mbps"])
        dec = pol.decide(obs)
        requested.update({q.id: r for q in dec.approval_requests})
        for p in dec.actions:  # the approval gate holds
            assert not is_high_risk([p.action]) or p.approval in granted or p.preauthorized
        pending = dec.actions
        log.append(dec.to_dict())
    return (log, pol.report(), pol) if policy else (log, pol.report())


def test_sleeping_cell_detected_diagnosed_and_deterministic():
    faults = [Fault("sleeping_cell", (4,), onset_rop=6)]
    log, report = _run(faults)
    log2, report2 = _run(faults)
    assert json.dumps(log) == json.dumps(log2) and report == report2  # replay bit for bit
    first = next(r for r, d in enumerate(log) if any(x["cell"] == 4 for x in d["detections"]))
    assert 6 <= first <= 8
    diag = next(d["diagnosis"] for d in log if d["diagnosis"])
    assert diag["cells"][0] == 4
    assert "cell 4" in report


def test_quiet_network_takes_no_action():
    log, report = _run([], rops=10)
    assert all(not d["actions"] and not d["approval_requests"] for d in log)
    assert "no anomaly" in report or "incident" in report


def test_monitor_takes_the_threshold_calibrated_with_the_model():
    from airan.agents.diagnoser import SoftmaxModel
    from airan.agents.monitor import MonitorConfig
    from airan.agents.policies.airan import AiranConfig

    model = SoftmaxModel.load()
    model.meta = {"detection_threshold": 0.97, "persistence": 3, "min_baseline_rops": 4}
    assert AiranPolicy(AiranConfig(score_persistence=None), model=model).monitor_config() == MonitorConfig(
        threshold=0.97, persistence=3, min_baseline_rops=4)
    assert AiranPolicy(model=model).monitor_config().persistence == 4  # the default holds the score 4 ROPs
    model.meta |= {"coverage_shift_db": 3.5, "coverage_drop_db": 5.5, "demand_surge_log2": 0.7}
    cfg = AiranPolicy(model=model).monitor_config()
    assert (cfg.coverage_shift_db, cfg.coverage_drop_db, cfg.demand_surge_log2) == (3.5, None, 0.7)
    assert AiranPolicy(AiranConfig(edge_drop_detects=True), model=model).monitor_config().coverage_drop_db == 5.5
    own = MonitorConfig(threshold=0.6)
    assert AiranPolicy(AiranConfig(monitor=own), model=model).monitor_config() is own
    model.meta = {"detection_threshold": 0.97, "persistence": 3, "min_baseline_rops": 4}
    assert AiranPolicy(AiranConfig(score_persistence=5), model=model).monitor_config().persistence == 5
    assert AiranPolicy(AiranConfig(score_persistence=None), model=model).monitor_config().persistence == 3
    with pytest.raises(ConfigError, match="score_persistence.*0"):
        AiranConfig(score_persistence=0)
    model.meta = {}
    assert AiranPolicy(model=model).monitor_config().threshold == 0.9


def test_pingpong_misconfiguration_is_detected_diagnosed_and_reset():
    log, _ = _run([Fault("ho_misconfig", (4,), severity=0.9, onset_rop=6, mode="pingpong")], rops=16)
    first = next(r for r, d in enumerate(log) if any(x["cell"] == 4 for x in d["detections"]))
    assert 6 <= first <= 10  # ping-pongs 0, 2, 3, 5 from onset in this drop: the storm (>= 6 in 3 ROPs) at ROP 10
    diag = next(d["diagnosis"] for d in log if d["diagnosis"])
    assert max(diag["causes"], key=diag["causes"].get) == "ho_misconfig" and diag["cells"][0] == 4
    acts = [a for d in log for a in d["actions"]]
    assert {(a["kind"], a["cell"]) for a in acts} >= {("cio", 4), ("ttt", 4), ("hysteresis", 4)}


def test_uptilt_is_seen_in_the_ue_reports_and_only_tilting_back_down_is_considered():
    log, report = _run([Fault("uptilt_overshoot", (4,), severity=1.0, onset_rop=8)], rops=20)
    first = next(r for r, d in enumerate(log) if any(x["cell"] == 4 for x in d["detections"]))
    assert 8 <= first <= 11  # the KPIs of a 4-UE cell hide it; what the other cells' UEs report does not
    diag = next(d["diagnosis"] for d in log if d["diagnosis"])
    assert diag["cells"][0] == 4 and max(diag["causes"], key=diag["causes"].get) == "uptilt_overshoot"
    assert diag["evidence"]["mr.rsrp_shift_db"] > 3.0
    # the planner proposes tilting cell 4 back down and the (imperfect) twin judges every step; whether one is
    # taken depends on what the twin predicts for this one drop (the suites measure how often it is)
    judged = [n for d in log for n in d.get("notes", []) if n.startswith("verifier: 'downtilt")]
    assert {n.split("'")[1] for n in judged} >= {"downtilt 2 deg", "downtilt 4 deg", "downtilt 6 deg"}
    tilts = [a for d in log for a in d["actions"] if a["kind"] == "tilt" and a["cell"] == 4]
    assert all(a["value"] > 0 for a in tilts if a["rollback_of"] < 0)  # never further up
    assert "Most likely cause: antenna uptilt" in report


def test_overload_is_seen_in_the_ue_trace_and_diagnosed_as_overload():
    log, report = _run([Fault("overload_hotspot", (4,), severity=0.6, onset_rop=8)], rops=14)
    first = next(r for r, d in enumerate(log) if any(x["cell"] == 4 for x in d["detections"]))
    assert 9 <= first <= 10  # 2.8x what each of its UEs asked: two ROPs of it
    diag = next(d["diagnosis"] for d in log if d["diagnosis"])
    assert diag["cells"][0] == 4 and max(diag["causes"], key=diag["causes"].get) == "overload_hotspot"
    assert diag["evidence"]["ue.dl_demand_surge_log2"] > 1.0
    assert "overload" in report.lower()


@pytest.mark.parametrize("cell", [4, 11])
def test_an_alarmed_cell_leads_the_diagnosis(cell):
    log, _ = _run([Fault("external_interference", (cell,), severity=0.9, onset_rop=7)], rops=11)
    diag = next(d["diagnosis"] for d in log if d["diagnosis"])
    assert diag["cells"][0] == cell  # UL_INTERFERENCE names the cell: the classifier's ranking does not override it


def _overload_policy(cfg=None):
    """An airan policy reset on ci-tiny with an overload hotspot on cell 4 from ROP 3 (for ``_plan`` tests)."""
    twin = NetworkTwin("ci-tiny")
    twin.reset(seed=SEED, options={"faults": [Fault("overload_hotspot", (4,), severity=0.8, onset_rop=3)]})
    pol = AiranPolicy(cfg)
    pol.reset(tiny_ctx(twin, "ep"))
    return pol, twin


def _watched(pol, twin, rops):
    """Step ``twin`` ``rops`` ROPs with no action while ``pol``'s monitor watches every one (its features feed the
    diagnoser once, at the end); returns the last ROP's Observation (history: [rops, num_cells] per KPI)."""
    hist = {}
    for r in range(rops):
        _, _, _, _, info = twin.step()
        for k, v in info["kpis"].items():
            hist.setdefault(k, []).append(v)
        obs = Observation(r, info["kpis"], {k: np.stack(v) for k, v in hist.items()}, info["events"], frozenset(),
                          [], mr_rsrp_dbm=info["mr_rsrp_dbm"], ue_serving=info["ue_serving"],
                          ue_dl_demand_mbps=info["ue_dl_demand_mbps"])
        pol.monitor.update(obs)
    pol.diagnoser.observe(pol.monitor.features)
    return obs


def _steps(twin, rops):
    """Step ``twin`` ``rops`` ROPs with no action: the last ROP's info and a flat KPI history of that ROP."""
    for _ in range(rops):
        _, _, _, _, info = twin.step()
    return info, {k: np.tile(v, (rops, 1)) for k, v in info["kpis"].items()}


def test_a_diagnosis_that_blames_the_incidents_own_knobs_does_not_undo_them():
    """An offloading CIO on an overloaded cell makes its handovers look misconfigured; the planner keeps
    planning for the overload instead of 'restoring' the CIO it set itself."""
    pol, twin = _overload_policy()
    overload = Diagnosis({"overload_hotspot": 0.9, "ho_misconfig": 0.1}, (4, 0))
    ho = Diagnosis({"overload_hotspot": 0.2, "ho_misconfig": 0.8}, (4, 0))
    pol.open = Incident(detected_rop=5, cells=(4,), diagnosis=overload, actions=["ROP 5: CIO"])
    mine = [(6, Action("cio", 4, 6.0), 0.0, 6.0)]
    assert pol.self_inflicted("ho_misconfig", 4, mine) == ("cio",)
    assert pol.self_inflicted("ho_misconfig", 0, mine) == ()  # another cell's handover knobs: a real suspect
    assert pol.self_inflicted("ho_misconfig", 4, [(5, Action("cio", 4, 6.0), 0.0, 6.0)]) == ()  # before it
    assert pol.self_inflicted("overload_hotspot", 4, mine) == ()  # blames no knob
    for r in range(8):
        _, _, _, _, info = twin.step([Action("cio", 4, 6.0)] if r == 6 else None)
    hist = {k: np.tile(v, (8, 1)) for k, v in info["kpis"].items()}
    dec = Decision()
    pol._plan(Observation(7, info["kpis"], hist, [], frozenset(), mine), dec, ho)
    assert any("blames knobs this incident set (cio); planning for overload_hotspot" in n for n in dec.notes)
    verified = [n for n in dec.notes if n.startswith("verifier:")]
    assert verified and not any("restore" in n for n in verified)


def test_waiting_for_changed_cells_to_settle_spends_no_action_round():
    """Right after a change (e.g. a rollback) the coordinator keeps the cells locked for its window; the planner
    waits instead of burning its action rounds on ROPs where nothing may be applied."""
    pol, twin = _overload_policy()
    diag = Diagnosis({"overload_hotspot": 0.9}, (4, 0))
    pol.open = Incident(detected_rop=5, cells=(4,), diagnosis=diag)
    info, hist = _steps(twin, 8)
    cells = {a.cell for c in pol.planner.propose("overload_hotspot", (4,), pol.knobs) for a in c.actions}
    pol.coordinator.last_change.update({c: 7 for c in cells})  # every candidate's cells changed this ROP
    dec = Decision()
    pol._plan(Observation(7, info["kpis"], hist, [], frozenset(), []), dec, diag)
    assert pol.rounds == 0 and any("wait for their cells to settle" in n for n in dec.notes)
    assert not any(n.startswith("verifier:") for n in dec.notes)
    dec = Decision()
    pol._plan(Observation(9, info["kpis"], hist, [], frozenset(), []), dec, diag)  # window passed
    assert pol.rounds == 1 and any(n.startswith("verifier:") for n in dec.notes)


@pytest.mark.parametrize("retry_rops", [0, 2])
def test_a_round_where_nothing_passes_the_verifier_is_retried_later_when_configured(retry_rops):
    """With ``retry_rops`` a round whose candidates the verifier all rejects spends no action round; the planner
    asks again ``retry_rops`` ROPs later, at most ``max_retries`` times. Without it every round counts."""
    from airan.agents.policies.airan import AiranConfig
    from airan.agents.verifier import VerifierConfig

    never = VerifierConfig(seeds=(0,), severities=(1.0,), min_gain=9.0, consistent_gain=9.0)  # nothing can pass
    pol, twin = _overload_policy(AiranConfig(verifier=never, retry_rops=retry_rops, max_retries=1))
    diag = Diagnosis({"overload_hotspot": 0.9}, (4, 0))
    pol.open = Incident(detected_rop=5, cells=(4,), diagnosis=diag)
    info, hist = _steps(twin, 8)
    dec = Decision()
    pol._plan(Observation(7, info["kpis"], hist, [], frozenset(), []), dec, diag)
    assert any(n.startswith("verifier:") and n.endswith("rejected") for n in dec.notes)
    assert not pol.executor.busy and not dec.actions
    if retry_rops == 0:
        assert pol.rounds == 1 and pol.next_plan_rop == -1
        return
    assert pol.rounds == 0 and pol.retries == 1 and pol.next_plan_rop == 9
    assert any("asking again at ROP 9" in n for n in dec.notes)
    dec = Decision()
    pol._plan(Observation(9, info["kpis"], hist, [], frozenset(), []), dec, diag)
    assert pol.rounds == 1 and pol.retries == 1  # the retry budget is spent: this rejection counts
    with pytest.raises(ConfigError, match="retry_rops"):
        AiranConfig(retry_rops=-1)


def test_the_guarded_scope_is_the_lead_cells_neighbourhood_not_the_runner_up_suspects():
    """A busy runner-up suspect far away would dominate the carried/offered ratio and hide a regression
    around the lead cell, so the executor guards the lead hypothesis' scope (the impact scope's definition)."""
    from airan.agents.suite import cause_scope, fault_scope

    pol, twin = _overload_policy()
    ctx = pol.ctx
    far = 13  # another site, not a neighbour of cell 4
    assert far not in ctx.neighbours[4]
    diag = Diagnosis({"overload_hotspot": 0.9}, (4, far))
    pol.open = Incident(detected_rop=5, cells=(4, far), diagnosis=diag)
    info, hist = _steps(twin, 8)
    dec = Decision()
    pol._plan(Observation(7, info["kpis"], hist, [], frozenset(), []), dec, diag)
    assert pol.executor.busy
    scope = pol.executor.trial.scope if pol.executor.trial is not None else pol.executor.pending[2]
    want = cause_scope("overload_hotspot", (4,), ctx.cell_site, ctx.neighbours)
    assert far not in scope and np.array_equal(scope, want)
    assert np.array_equal(want, fault_scope((Fault("overload_hotspot", (4,)),), ctx.cell_site, ctx.neighbours))
    site = cause_scope("backhaul_failure", (4,), ctx.cell_site, ctx.neighbours)
    assert {3, 4, 5} <= set(site.tolist())  # a site fault's hypothesis covers the site


def test_ues_held_by_a_cell_lead_the_diagnosis_to_a_handover_misconfiguration():
    """Synthetic measurement reports on a quiet ci-tiny network: two UEs report cell 5 8 dB above cell 4 all
    along; from ROP 6 cell 4 serves them and keeps them, and hands no UE over (what a too-late handover setting
    does). The reports themselves never change, so no coverage shift competes."""
    twin = NetworkTwin("ci-tiny")
    twin.reset(seed=SEED)
    pol = AiranPolicy()
    pol.reset(tiny_ctx(twin, "ep"))
    hist, log = {}, []
    for r in range(12):
        _, _, _, _, info = twin.step()
        info["kpis"]["HO.AttOut"] = np.where(np.arange(len(info["kpis"]["HO.AttOut"])) == 4, 0.0,
                                             info["kpis"]["HO.AttOut"])
        for k, v in info["kpis"].items():
            hist.setdefault(k, []).append(v)
        mr = np.full((3, info["mr_rsrp_dbm"].shape[1]), np.nan)
        mr[:, 4], mr[:, 5] = -90.0, [-82.0, -82.0, -96.0]
        srv = np.array([4, 4, 4]) if r >= 6 else np.array([5, 5, 4])
        obs = Observation(r, info["kpis"], {k: np.stack(v) for k, v in hist.items()}, info["events"],
                          mr_rsrp_dbm=mr, ue_serving=srv, ue_dl_demand_mbps=np.ones(3))
        log.append(pol.decide(obs).to_dict())
    first = next(r for r, d in enumerate(log) if any(x["cell"] == 4 for x in d["detections"]))
    assert first == 9  # overdue and held by cell 4 at ROPs 6-9, no handover attempt: the signature fires at once
    diag = next(d["diagnosis"] for d in log if d["diagnosis"])
    assert diag["cells"][0] == 4 and max(diag["causes"], key=diag["causes"].get) == "ho_misconfig"
    assert diag["evidence"]["ue.late_handover_held_rops"] >= 4.0
    assert "L1M.SINR of cell 4" in pol.report()  # the report cites what a too-late setting moves


def test_a_spread_leads_to_the_site_cell_whose_own_reports_moved_at_either_quartile():
    from airan.agents.policies.airan import AiranConfig

    pol, _ = _overload_policy(AiranConfig(spread_lead="site_quartiles"))
    mon, site = pol.monitor, pol.ctx.cell_site
    n = site.size
    mates = np.flatnonzero(site == site[4])  # cell 4's site: 3 cells
    mon.drop_db, mon.rise_db, mon.site_spread_db = np.zeros(n), np.zeros(n), np.zeros(n)
    mon.sure, mon.spread_streak = np.zeros(n), np.zeros(n, np.int64)
    other = int(mates[mates != 4][0])
    mon.sure[other], mon.spread_streak[other] = 1.0, mon.cfg.site_spread_rops  # the mate's spread fired
    mon.site_spread_db[other] = 6.0
    mon.rise_db[4] = 5.0  # an uptilt: cell 4's far UEs hear it louder; the mates' own reports did not move
    mon.drop_db[other] = 1.0
    assert pol.lead_evidence() == (4, "spread")
    mon.rise_db[4], mon.drop_db[4] = 0.0, 7.0  # a downtilt: its far UEs lose
    assert pol.evidence_lead() == 4
    mon.drop_db[4] = 0.0
    assert pol.lead_evidence() == (other, "spread")  # nothing moved of its own: the firing cell itself
    mon.shift_streak = np.zeros(n, np.int64)
    mon.spread_streak[other] = 0
    mon.sure[other] = 0.0
    assert pol.lead_evidence() == (None, "")
    with pytest.raises(ConfigError, match="site"):
        AiranConfig(spread_lead="site")


def test_a_spread_led_by_the_edge_drop_picks_among_the_firing_cells():
    pol, _ = _overload_policy()
    assert pol.cfg.spread_lead == "edge_drop"
    mon, n = pol.monitor, pol.ctx.cell_site.size
    mon.drop_db, mon.rise_db, mon.site_spread_db = np.zeros(n), np.zeros(n), np.zeros(n)
    mon.sure, mon.spread_streak = np.zeros(n), np.zeros(n, np.int64)
    mon.sure[[3, 4]], mon.spread_streak[[3, 4]] = 1.0, mon.cfg.site_spread_rops
    mon.drop_db[[3, 4, 5]] = [1.0, 4.0, 9.0]  # cell 5 does not fire: not a candidate
    assert pol.lead_evidence() == (4, "spread")


def test_a_spread_led_by_the_ue_fit_picks_the_firing_cell_whose_own_reports_moved():
    """``spread_lead="ue_fit"``: after a 9 deg downtilt of cell 4 its UEs' per-UE reports of it moved as the twin
    predicts, while what they report of a site mate did not, so the mate's larger edge drop (its population
    changed when cell 4's far UEs came over) does not take the lead; with no firing cell that fits a change
    better than no change, or without the observation, the edge drop decides."""
    fault = [Fault("excessive_downtilt", (4,), severity=0.9, onset_rop=6)]
    _, _, pol = _run(fault, rops=10, cfg=AiranConfig(spread_lead="ue_fit"), policy=True)
    mon, site = pol.monitor, pol.ctx.cell_site
    n = site.size
    mate = int(np.flatnonzero((site == site[4]) & (np.arange(n) != 4))[0])
    mon.drop_db, mon.sure, mon.spread_streak = np.zeros(n), np.zeros(n), np.zeros(n, np.int64)
    mon.shift_streak, mon.site_streak = np.zeros(n, np.int64), np.zeros(n, np.int64)
    mon.sure[[4, mate]], mon.spread_streak[[4, mate]] = 1.0, mon.cfg.site_spread_rops
    mon.drop_db[[4, mate]] = [3.0, 5.0]
    obs = Observation(9, {}, {}, [], frozenset(), [])
    gains = pol.ue_fit_gains(np.array([4, mate]), obs)
    assert gains[0] > 5 > gains[1]  # cell 4's reports fit a change of what it radiates; the mate's do not
    assert pol.lead_evidence(obs) == (4, "spread")
    assert pol.lead_evidence() == (mate, "spread")  # no observation: the edge drop
    pol.ue_cause_predictions = {c: {} for c in (4, mate)}  # twins that cannot predict an RSRP
    assert np.isnan(pol.ue_fit_gains(np.array([4, mate]), obs)).all()
    assert pol.lead_evidence(obs) == (mate, "spread")
    assert AiranConfig().spread_lead == "edge_drop"


def test_the_per_ue_fit_scan_detects_and_leads_a_downtilt_the_kpis_miss():
    """``fit_scan_nats``: a 0.5-severity downtilt of cell 4 on ci-tiny from ROP 6 raises no detection by ROP 12
    without the scan; with it, the UEs' per-UE report changes of cell 4 fit a change of what it radiates far better
    than no change from ROP 7, so cell 4 detects at ROP 8, leads the diagnosis ("fit") and is read as a downtilt,
    citing the scan's gain."""
    fault = [Fault("excessive_downtilt", (4,), severity=0.5, onset_rop=6)]
    log, _, pol = _run(fault, rops=12, cfg=AiranConfig(), policy=True)
    assert not any(d["detections"] for d in log) and pol.monitor.change_fit is None
    log, _, pol = _run(fault, rops=12, cfg=AiranConfig(fit_scan_nats=8.0), policy=True)
    assert pol.monitor.cfg.fit_scan_nats == 8.0 and pol.effective_config().monitor.fit_scan_nats == 8.0
    first = next(r for r, d in enumerate(log) if d["detections"])
    assert first == 8 and [x["cell"] for x in log[first]["detections"]] == [4]
    diag = log[first]["diagnosis"]
    assert diag["cells"][0] == 4 and max(diag["causes"], key=diag["causes"].get) == "excessive_downtilt"
    assert diag["evidence"]["mr.ue_fit_scan_nats"] >= 8.0
    with pytest.raises(ConfigError, match="fit_scan_nats"):
        AiranConfig(fit_scan_nats=-1.0)


@pytest.mark.parametrize("follow_up", [False, True])
def test_a_kept_compensation_is_followed_up_without_waiting_for_a_detection(follow_up):
    """A compensation masks the signature that opened the incident, so with ``follow_up`` a kept compensation
    keeps the incident open and the next round is planned on the same diagnosis with no detection; without it
    the quiet incident closes. A rollback, or a cause the catalogue cures, asks for no follow-up."""
    from airan.agents.policies.airan import AiranConfig

    pol, twin = _overload_policy(AiranConfig(follow_up=follow_up, follow_up_gain=None))  # gate: the next test
    diag = Diagnosis({"overload_hotspot": 0.9}, (4, 0))
    obs = _watched(pol, twin, 8)
    pol.open = Incident(detected_rop=5, cells=(4,), diagnosis=diag, actions=["ROP 5: CIO +6 dB"])
    pol.diagnosis, pol.rounds, pol.quiet = diag, 1, 2
    pol._follow("kept")
    assert pol.following is follow_up
    dec = Decision()
    pol._incident_step(obs, dec, [])  # a third quiet ROP
    if not follow_up:
        assert pol.open is None and not any(n.startswith("verifier:") for n in dec.notes)
        return
    assert pol.open is not None and pol.rounds == 2
    assert any(n.startswith("planner: follow-up round 2 for overload_hotspot on cell 4") for n in dec.notes)
    assert any(n.startswith("verifier:") for n in dec.notes)
    pol._follow("rollback")
    assert not pol.following
    pol.open.diagnosis = Diagnosis({"sleeping_cell": 0.9}, (4,))  # a restart cures: nothing left to compensate
    pol._follow("kept")
    assert not pol.following


def test_follow_up_gain_asks_the_network_before_the_next_round():
    """With ``follow_up_gain`` a kept compensation is followed up only when the executor measured at least that
    change of the guarded objective over its window; with None any kept set is; a bad value is refused."""
    from airan.agents.policies.airan import AiranConfig

    pol, _ = _overload_policy(AiranConfig(follow_up=True, follow_up_gain=0.0))
    pol.open = Incident(detected_rop=5, cells=(4,), diagnosis=Diagnosis({"overload_hotspot": 0.9}, (4, 0)))
    pol.executor.history = [{"rop": 5, "candidate": "CIO +6 dB", "pre": 0.80, "tolerance": 0.02, "post": 0.79,
                             "outcome": "kept"}]
    pol._follow("kept")
    assert not pol.following  # kept (within tolerance) but the ratio fell: no follow-up
    pol.executor.history[-1]["post"] = 0.83
    pol._follow("kept")
    assert pol.following
    pol.executor.history = []  # nothing measured: no follow-up
    pol._follow("kept")
    assert not pol.following
    assert not AiranConfig().follow_up  # off since session 47 (HEAL_PREREG_S57.md, S57a)
    assert AiranConfig().follow_up_gain == 0.0  # the gate a follow-up uses when it is on
    ungated, _ = _overload_policy(AiranConfig(follow_up=True, follow_up_gain=None))
    ungated.open = pol.open
    ungated.executor.history = [{"pre": 0.80, "post": 0.70}]
    ungated._follow("kept")
    assert ungated.following
    for bad in (float("nan"), "0.01", True):
        with pytest.raises(ConfigError, match="follow_up_gain"):
            AiranConfig(follow_up=True, follow_up_gain=bad)


@pytest.mark.parametrize("follow_unrecovered", [False, True])
def test_an_incident_whose_neighbourhood_has_not_recovered_stays_open(follow_unrecovered):
    """With ``follow_unrecovered`` a quiet incident that acted does not close while its neighbourhood's guarded
    objective sits below its pre-incident level by more than the executor's tolerance: it plans a follow-up round
    on its diagnosis; once the rounds are spent it closes and says why. Without the switch it closes, and its
    report does not claim the network is back. A neighbourhood back at its level closes either way."""
    from airan.agents.policies.airan import AiranConfig
    from airan.agents.verifier import objective

    assert not AiranConfig().follow_unrecovered  # on in sessions 42-47 (HEAL_PREREG_S44.md), off since S59a
    pol, twin = _overload_policy(AiranConfig(follow_unrecovered=follow_unrecovered))
    diag = Diagnosis({"overload_hotspot": 0.9}, (4, 0))
    obs = _watched(pol, twin, 10)
    watched = {k: v.copy() for k, v in obs.history.items()}
    pol.monitor.freeze(5)
    start, stop = pol.monitor.baseline_window(9)
    scope = np.array([4] + [int(n) for n in pol.ctx.neighbours[4] if n >= 0])
    ratio = [objective({k: v[r] for k, v in obs.history.items()}, scope, "overload_hotspot") for r in range(10)]
    level = float(np.mean(ratio[start:stop]))
    for k in ("DRB.CellThpDl",):  # the last two ROPs carry a third of what the network carried before
        obs.history[k][-2:] = obs.history[k][start:stop].mean(axis=0) * level / 3
    pol.open = Incident(detected_rop=6, cells=(4,), diagnosis=diag, actions=["ROP 6: CIO +6 dB"])
    gap = pol.unrecovered(obs, pol.open)
    assert gap is not None and gap[0] < gap[1] - gap[2] and gap[1] == pytest.approx(level)
    pol.diagnosis, pol.rounds, pol.quiet, pol.following = diag, 1, 2, False
    dec = Decision()
    pol._incident_step(obs, dec, [])  # a third quiet ROP
    if not follow_unrecovered:
        assert pol.open is None
        assert pol.incidents[-1].closed_why.endswith("still carries less of its offered traffic than before the "
                                                     "incident")
        return
    assert pol.open is not None and pol.rounds == 2
    assert any(n.startswith("planner: the neighbourhood's guarded objective") for n in dec.notes)
    assert any(n.startswith("planner: follow-up round 2 for overload_hotspot on cell 4") for n in dec.notes)
    pol.executor.pending = pol.executor.trial = None  # the round's set settled
    pol.rounds, pol.following = pol.cfg.max_rounds, False  # every round spent: it closes, saying why
    pol._incident_step(obs, Decision(), [])
    assert pol.open is None and pol.incidents[-1].closed_why.endswith("and no action round is left")
    obs.history.update(watched)  # back at the level: nothing holds the incident open
    assert pol.unrecovered(obs, Incident(detected_rop=6, cells=(4,), diagnosis=diag)) is None
    assert pol.unrecovered(obs, Incident(detected_rop=6, cells=(4,), diagnosis=Diagnosis({"sleeping_cell": 1.0},
                                                                                        (4,)))) is None


@pytest.mark.parametrize("stop", [False, True])
def test_stop_when_recovered_holds_a_later_round_while_the_neighbourhood_is_back(stop):
    """With ``stop_when_recovered`` an incident that has acted plans no further round for a compensating cause
    while its neighbourhood's guarded objective is at or above its pre-incident level, and drops the follow-up it
    had asked for; below that level it plans. The incident's first round is never held back."""
    from airan.agents.policies.airan import AiranConfig

    assert not AiranConfig().stop_when_recovered
    pol, twin = _overload_policy(AiranConfig(stop_when_recovered=stop))
    diag = Diagnosis({"overload_hotspot": 0.9}, (4, 0))
    obs = _watched(pol, twin, 10)
    pol.monitor.freeze(5)
    obs.history["DRB.CellThpDl"][-2:] = obs.history["DRB.DemandDl"][-2:]  # the last two ROPs carry everything
    inc = Incident(detected_rop=6, cells=(4,), diagnosis=diag, actions=["ROP 6: CIO +6 dB"])
    now, level, _ = pol.neighbourhood_level(obs, inc)
    assert now >= level - 1e-9
    pol.open, pol.diagnosis, pol.rounds, pol.quiet, pol.following = inc, diag, 1, 0, True
    dec = Decision()
    pol._incident_step(obs, dec, [])  # the follow-up round a kept set asked for
    held = any("is back at its pre-incident" in n for n in dec.notes)
    assert held is stop and pol.following is not stop
    assert any(n.startswith("verifier:") for n in dec.notes) is not stop and pol.rounds == (1 if stop else 2)
    if not stop:
        return
    obs.history["DRB.CellThpDl"][-2:] *= 0.5  # the neighbourhood falls again: the round is planned
    pol.following, dec = True, Decision()
    pol._incident_step(obs, dec, [])
    assert pol.rounds == 2 and any(n.startswith("verifier:") for n in dec.notes)
    pol.open = Incident(detected_rop=9, cells=(4,), diagnosis=diag)  # no action yet: its round is never held back
    pol.rounds, pol.following = 0, True
    pol.executor.pending = pol.executor.trial = None
    obs.history["DRB.CellThpDl"][-2:] = obs.history["DRB.DemandDl"][-2:]
    assert pol.neighbourhood_level(obs, pol.open)[0] >= pol.neighbourhood_level(obs, pol.open)[1] - 1e-9
    dec = Decision()
    pol._incident_step(obs, dec, [])
    assert pol.rounds == 1 and any(n.startswith("verifier:") for n in dec.notes)


@pytest.mark.parametrize("setting", ["both", "storm", "evidence"])
def test_handover_modes_follow_the_signature_on_the_lead_cell(setting):
    """With ``handover_modes="evidence"`` a handover hypothesis is verified in the mode its signature measured on
    the lead cell this ROP (ping-pong storm: pingpong; late-handover streak: too_late; both or neither: every
    mode), with ``"storm"`` (the default) only a storm narrows it; other causes and ``"both"`` always take every
    mode. A bad setting is refused by name."""
    from airan.agents.policies.airan import AiranConfig

    pol, twin = _overload_policy(AiranConfig(handover_modes=setting))
    n = pol.ctx.cell_site.size
    storm, late = np.zeros(n, bool), np.zeros(n, bool)
    pol.monitor.pingpong_storm = lambda rop: storm
    pol.monitor.late_fire = late
    storm[4], late[5], late[6], storm[6] = True, True, True, True
    got = {c: pol._modes("ho_misconfig", c, 9) for c in (3, 4, 5, 6)}
    expected = {"both": {3: None, 4: None, 5: None, 6: None},
                "storm": {3: None, 4: ("pingpong",), 5: None, 6: None},
                "evidence": {3: None, 4: ("pingpong",), 5: ("too_late",), 6: None}}
    assert got == expected[setting]
    assert pol._modes("overload_hotspot", 4, 9) is None
    # the planner hands the measured mode to the verifier and says so
    seen = []
    pol.verifier.verify = lambda cause, cells, scope, cands, sevs=None, modes=None: seen.append(modes) or []
    info, hist = _steps(twin, 8)
    dec = Decision()
    pol._plan(Observation(9, info["kpis"], hist, [], frozenset(), []), dec, Diagnosis({"ho_misconfig": 0.9}, (4,)))
    assert seen == [None if setting == "both" else ("pingpong",)]
    assert any("rolled out as pingpong only" in n for n in dec.notes) == (setting != "both")
    assert AiranConfig().handover_modes == "storm"  # the default since session 38
    with pytest.raises(ConfigError, match="handover_modes"):
        AiranConfig(handover_modes="pingpong")


def test_an_rlf_burst_signs_a_handover_diagnosis_only_with_an_overdue_ue():
    """A too-late signature is UEs held late, or an RLF burst on a cell one of whose UEs is overdue now; an RLF
    burst alone (an interfered cell fails its UEs without handing over too) is not, so a confident handover
    diagnosis there still waits for its evidence."""
    pol, _ = _overload_policy(AiranConfig())
    n = pol.ctx.cell_site.size
    late, burst, overdue = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n)
    pol.monitor.pingpong_storm = lambda rop: np.zeros(n, bool)
    pol.monitor.rlf_burst = lambda rop: burst
    pol.monitor.late_fire, pol.monitor.late_count = late, overdue
    late[2], burst[3], burst[4], overdue[4] = True, True, True, 1.0
    assert [pol._late_signed(c, 9) for c in (1, 2, 3, 4)] == [False, True, False, True]
    ho = Diagnosis({"ho_misconfig": 0.95}, (3,))
    assert pol.handover_unsigned(ho, 9)
    assert not pol.handover_unsigned(Diagnosis({"ho_misconfig": 0.95}, (4,)), 9)


@pytest.mark.parametrize("per_cell", [False, True])
def test_a_cure_applied_on_one_cell_is_offered_again_on_another_when_configured(per_cell):
    """Within an incident a chosen candidate is not proposed again; with ``tried_per_cell`` only on the same lead
    cell, so "restore the defaults" applied to a wrongly localised cell can still go to the cell the diagnosis
    moves to."""
    from airan.agents.policies.airan import AiranConfig

    pol, twin = _overload_policy(AiranConfig(tried_per_cell=per_cell))
    seen = []
    pol.verifier.verify = lambda cause, cells, scope, cands, sevs=None, modes=None: seen.append(
        (int(cells[0]), [c.name for c in cands])) or []
    info, hist = _steps(twin, 8)
    where = 4 if per_cell else None
    pol.tried = {("restore CIO/TTT/hysteresis defaults", where)}  # chosen for cell 4 earlier in the incident
    for cell in (4, 5):
        pol._plan(Observation(9, info["kpis"], hist, [], frozenset(), []), Decision(),
                  Diagnosis({"ho_misconfig": 0.9}, (cell,)))
    restore = {c: "restore CIO/TTT/hysteresis defaults" in names for c, names in seen}
    assert restore == {4: False, 5: per_cell}
    assert all(names for _, names in seen)  # the other candidates are still offered
    assert AiranConfig().tried_per_cell  # the default since session 38


@pytest.mark.parametrize("undo", ["off", "moved", "all"])
def test_the_incidents_own_changes_are_verified_for_undoing_when_configured(undo):
    """With ``undo_candidate`` a round of an incident that moved knobs also verifies the set putting them back to
    their values before the incident first moved them, beside the planner's candidates: every such knob
    (``"all"``), or only those last moved for another cause than the round's (``"moved"``). Off: never."""
    from airan.agents.policies.airan import UNDO_INCIDENT

    pol, twin = _overload_policy(AiranConfig(undo_candidate=undo))
    seen = []
    pol.verifier.verify = lambda cause, cells, scope, cands, sevs=None, modes=None: seen.append(
        {c.name: c.actions for c in cands}) or []
    info, hist = _steps(twin, 8)
    diag = Diagnosis({"external_interference": 0.9}, (4,))
    pol.open = Incident(detected_rop=5, cells=(4,), diagnosis=diag)
    pol._plan(Observation(8, info["kpis"], hist, [], frozenset(), []), Decision(), diag)
    assert UNDO_INCIDENT not in seen[-1] and pol.undo_set("external_interference") is None  # nothing moved yet
    # the incident uptilted cell 4 by 10 deg for a downtilt, then set cell 5's CIO for the interference twice
    pol.incident_pre = {("tilt", 4): 10.0, ("cio", 5): 0.0}
    pol.incident_owner = {("tilt", 4): "excessive_downtilt", ("cio", 5): "external_interference"}
    applied = [(9, Action("tilt", 4, -10.0), 10.0, 0.0), (12, Action("cio", 5, 3.0), 0.0, 3.0),
               (14, Action("cio", 5, 6.0), 3.0, 6.0)]
    pol.knobs.sync(applied)
    pol._plan(Observation(16, info["kpis"], hist, [], frozenset(), applied), Decision(), diag)
    want = {"off": None, "moved": (Action("tilt", 4, 10.0),),
            "all": (Action("cio", 5, 0.0), Action("tilt", 4, 10.0))}[undo]
    assert seen[-1].get(UNDO_INCIDENT) == want
    assert len(seen[-1]) > 1  # the planner's own candidates are verified too
    if undo == "off":
        return
    pol.knobs.sync(applied + [(17, Action("cio", 5, 0.0), 6.0, 0.0), (17, Action("tilt", 4, 10.0), 0.0, 10.0)])
    assert pol.undo_set("external_interference") is None  # every knob is back


def test_undo_candidate_must_be_a_known_mode():
    assert AiranConfig().undo_candidate == "off"
    with pytest.raises(ConfigError, match="undo_candidate must be one of .*'sometimes'"):
        AiranConfig(undo_candidate="sometimes")


@pytest.mark.parametrize("repeat", [False, True])
def test_a_set_the_network_confirmed_may_be_chosen_again_when_configured(repeat):
    """With ``repeat_confirmed`` the follow-up round after a kept set the network confirmed offers that set again,
    as a step from the knobs now; a set the network did not confirm and a rolled-back set are not offered again.
    Without the switch no chosen set is."""
    from airan.agents.policies.airan import AiranConfig
    from airan.twin.actions import Action

    assert not AiranConfig().repeat_confirmed  # off by default
    pol, twin = _overload_policy(AiranConfig(follow_up=True, repeat_confirmed=repeat))
    seen = []
    pol.verifier.verify = lambda cause, cells, scope, cands, sevs=None, modes=None: seen.append(
        [c.name for c in cands]) or []
    info, hist = _steps(twin, 8)
    obs = Observation(9, info["kpis"], hist, [], frozenset(), [])
    diag = Diagnosis({"overload_hotspot": 0.9}, (4,))
    pol.open = Incident(detected_rop=5, cells=(4,), diagnosis=diag)

    def offered_after(name, actions, post):
        pol.tried, pol._chosen, pol._last_trial_actions = {(name, 4)}, (name, 4), actions
        pol.executor.history = [{"pre": 0.80, "post": post}]
        pol._follow("kept")
        seen.clear()
        pol._plan(obs, Decision(), diag)
        return name in seen[-1]

    down = (Action("tilt", 4, 2.0),)
    assert offered_after("downtilt 2 deg", down, 0.83) is repeat
    assert not offered_after("downtilt 2 deg", down, 0.79)  # the network did not confirm it
    assert offered_after("CIO +3 dB (offload to neighbours)", (Action("cio", 4, 3.0),), 0.83) is repeat
    pol.tried, pol._chosen, pol._last_trial_actions = {("downtilt 2 deg", 4)}, ("downtilt 2 deg", 4), down
    pol.executor.history = [{"pre": 0.80, "post": 0.83}]
    pol._follow("kept")
    pol._follow("rollback")
    pol._plan(obs, Decision(), diag)
    assert "downtilt 2 deg" not in seen[-1]


@pytest.mark.parametrize("cure_first", [False, True])
def test_the_handover_cure_can_be_chosen_over_a_compensation_predicted_to_gain_more(cure_first):
    """Both handover candidates accepted, the neighbours' hysteresis predicted to gain more: by default the
    larger predicted gain wins; with ``handover_cure_first`` the restore of the cell's own defaults does."""
    from airan.agents.planner import HANDOVER_RESTORE
    from airan.agents.verifier import Prediction

    pol, twin = _overload_policy(AiranConfig(handover_cure_first=cure_first))

    def verify(cause, cells, scope, cands, sevs=None, modes=None):
        by = {c.name: c for c in cands}
        return [Prediction(by["neighbour hysteresis +2 dB"], 0.833, 0.667, 1.0, True),
                Prediction(by[HANDOVER_RESTORE], 0.583, 0.333, 0.667, True)]

    pol.verifier.verify = verify
    pol.open = Incident(detected_rop=7, cells=(4,))
    info, hist = _steps(twin, 10)
    dec = Decision()
    pol._plan(Observation(9, info["kpis"], hist, [], frozenset(), []), dec, Diagnosis({"ho_misconfig": 0.9}, (4,)))
    chosen = {name for name, _ in pol.tried}
    assert chosen == {HANDOVER_RESTORE if cure_first else "neighbour hysteresis +2 dB"}
    assert any("the cure before a compensation" in n for n in dec.notes) == cure_first
    assert not AiranConfig().handover_cure_first  # off by default


def test_the_true_twin_ablation_verifies_in_the_true_network_and_needs_it():
    """``airan_true_twin`` rolls candidates out in clones of the true network (the fault it really has, the
    present state, a fresh future per seed) rather than in the imperfect twins; without the truth it refuses."""
    from airan.agents.policies import make_policy
    from airan.agents.runner import episode_context

    twin = NetworkTwin("ci-tiny")
    twin.reset(seed=SEED, options={"faults": [Fault("overload_hotspot", (4,), severity=0.8, onset_rop=3)]})
    pol = make_policy("airan_true_twin")
    with pytest.raises(ConfigError, match="true_twin"):
        pol.reset(tiny_ctx(twin, "ep"))
    pol.reset(episode_context(SuiteEpisode("ep", "ci-tiny", SEED, 12, ()), twin, oracle=True))
    assert pol.verifier.true_twin is not None
    for _ in range(6):
        twin.step()
    cands = pol.planner.propose("overload_hotspot", (4,), pol.knobs)[:2]
    scope = np.array([4, 3, 5], np.int64)
    got = pol.verifier.rollouts("overload_hotspot", (4,), scope, cands)
    assert all(len(v) == len(pol.cfg.verifier.seeds) for v in got.values())  # one future per seed, no severities
    assert pol.verifier.rollouts("overload_hotspot", (4,), scope, cands) == got  # paired, reproducible
    assert pol.verifier._predicted == {}  # the imperfect twins' rollouts were never asked for


@pytest.mark.parametrize("withdraw_after_rops", [0, 1])
def test_a_compensation_is_withdrawn_once_its_fault_alarm_clears(withdraw_after_rops):
    """A backhaul failure on cell 4's site (cells 3-5) from ROP 8 to 16: the site is switched off and the
    neighbours compensate. With ``withdraw_after_rops`` the BH_LINK_DOWN alarm clearing brings every knob the
    compensation moved back to its value before it; without it the site stays dark after its backhaul is back."""
    from airan.agents.policies.airan import AiranConfig

    faults = [Fault("backhaul_failure", (4,), onset_rop=8, duration_rops=8)]
    log, report, pol = _run(faults, rops=22, cfg=AiranConfig(withdraw_after_rops=withdraw_after_rops), policy=True)
    offs = [r for r, d in enumerate(log) for a in d["actions"] if a["kind"] == "cell_off"]
    assert offs and max(offs) < 16  # the premise: the site was switched off during the failure
    withdrawn = [(r, a) for r, d in enumerate(log) for a in d["actions"] if a["reason"].startswith("withdraw")]
    site = [3, 4, 5]
    if not withdraw_after_rops:
        assert not withdrawn and (pol.knobs.admin_on[site] == 0).all()
        assert {pol.settings.get(("cell_off", c)) for c in site} == {"backhaul_failure"}  # kept sets' knobs
        return
    assert min(r for r, _ in withdrawn) >= 16  # never while the alarm is raised
    assert {a["cell"] for _, a in withdrawn if a["kind"] == "cell_on"} == set(site)
    assert "BH_LINK_DOWN clear since ROP 16" in withdrawn[0][1]["reason"]
    defaults = AiranPolicy()
    defaults.reset(pol.ctx)
    for kind in ("tilt", "power", "cell_off"):
        assert [pol.knobs.value(kind, c) for c in range(pol.ctx.num_cells)] == \
            [defaults.knobs.value(kind, c) for c in range(pol.ctx.num_cells)], kind
    assert "withdraw the compensation for backhaul_failure" in report


def test_a_compensation_waits_for_its_own_alarm_and_is_never_retried_once_rolled_back():
    """Only a set planned while its cause's alarm is raised on the diagnosed cell is remembered; it is withdrawn
    only after the alarm has been clear for ``withdraw_after_rops`` ROPs; a withdrawal the coordinator banned (its
    rollback said the network needed the compensation) is dropped without acting."""
    from airan.agents.monitor import ALARM_NAMES
    from airan.agents.policies.airan import AiranConfig, _Submitted

    pol, twin = _overload_policy(AiranConfig(withdraw_after_rops=2))
    info, hist = _steps(twin, 8)
    obs = Observation(7, info["kpis"], hist, [], frozenset(), [])
    down = ALARM_NAMES.index("CELL_DOWN")
    assert pol._evidence_now("cell_outage", 0, (0,), 7)[0] == "CELL_DOWN"  # checked when kept
    assert pol._evidence_now("overload_hotspot", 0, (0,), 7)[0] is None  # no alarm, and surges are not watched
    assert pol._evidence_now("backhaul_congestion", 0, (0,), 7)[0] is None  # its alarm a compensation can clear
    comp_acts = [Action("power", 8, 3.0), Action("tilt", 8, -1.0)]
    pre = {(a.kind, a.cell): pol.knobs.value(a.kind, a.cell) for a in comp_acts}
    pol._submitted = _Submitted("cell_outage", 0, (0,), dict(pre))
    pol._remember_compensation(5)
    assert pol.compensations == []  # nothing to wait on
    pol._submitted = _Submitted("cell_outage", 0, (0,), dict(pre), evidence="CELL_DOWN")
    pol._remember_compensation(5)
    assert pol.compensations == []  # no CELL_DOWN on cell 0 when it was kept
    pol.monitor.alarms[0, down] = 1.0
    pol._submitted = _Submitted("cell_outage", 0, (0,), dict(pre), evidence="CELL_DOWN")
    pol._remember_compensation(5)
    for a in comp_acts:
        pol.knobs.apply(a)
    assert len(pol.compensations) == 1
    dec = Decision()
    pol._withdraw(obs, dec)
    assert not dec.actions  # the alarm is still raised
    pol.monitor.alarms[0, down] = 0.0
    pol._withdraw(obs, dec)
    assert not dec.actions and pol.compensations[0].clear_rops == 1  # clear for 1 ROP of the 2 asked
    pol._withdraw(obs, dec)
    assert sorted((p.action.kind, p.action.value) for p in dec.actions) == [("power", -3.0), ("tilt", 1.0)]
    assert pol.compensations[0].done and pol.executor.busy
    # a banned withdrawal: dropped, nothing applied
    pol2, _ = _overload_policy(AiranConfig(withdraw_after_rops=1))
    pol2.monitor.alarms[0, down] = 1.0
    pol2._submitted = _Submitted("cell_outage", 0, (0,), dict(pre), evidence="CELL_DOWN")
    pol2._remember_compensation(5)
    pol2.monitor.alarms[0, down] = 0.0
    for a in comp_acts:
        pol2.knobs.apply(a)
    pol2.coordinator.ban((Action("power", 8, -3.0),))
    dec2 = Decision()
    pol2._withdraw(obs, dec2)
    assert not dec2.actions and pol2.compensations[0].done and not pol2.executor.busy


def test_a_hotspot_compensation_is_withdrawn_once_the_ue_trace_says_the_surge_is_over():
    """An overload hotspot on cell 4 from ROP 8 to 16 raises no alarm; with ``withdraw_surges`` the UE trace's
    demand surge on the hot cell, against the baseline before the incident, is the evidence: the compensation
    is withdrawn after it has fallen below half the detection threshold, never while the surge lasts. (The
    crowd it hands to a neighbour keeps asking 4x there, so that neighbour may get a compensation of its own.)"""
    from airan.agents.planner import KNOB_FIELDS
    from airan.agents.policies.airan import AiranConfig

    faults = [Fault("overload_hotspot", (4,), severity=0.8, onset_rop=8, duration_rops=8)]
    log, _, pol = _run(faults, rops=22, cfg=AiranConfig(withdraw_after_rops=1, withdraw_surges=True), policy=True)
    comp = next(c for c in pol.compensations if c.cell == 4)
    assert comp.cause == "overload_hotspot" and comp.alarm == "demand surge" and comp.window[1] <= 8
    assert comp.done and comp.cleared_rop >= 16
    withdrawn = [r for r, d in enumerate(log) for a in d["actions"]
                 if "withdraw the compensation for overload_hotspot on cell 4" in a["reason"]]
    assert withdrawn and min(withdrawn) > comp.cleared_rop
    for (kind, cell), pre in comp.pre.items():  # every knob of the compensation is back where it was
        assert getattr(pol.knobs, KNOB_FIELDS[kind])[cell] == pytest.approx(pre), (kind, cell)
        assert pol.settings.get((kind, cell)) != "overload_hotspot"
    log0, _, pol0 = _run(faults, rops=22, cfg=AiranConfig(withdraw_after_rops=1), policy=True)
    assert pol0.compensations == [] and not any("withdraw" in a["reason"] for d in log0 for a in d["actions"])


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_withdraw_after_rops_must_be_a_count(bad):
    from airan.agents.policies.airan import AiranConfig

    with pytest.raises(ConfigError, match=f"withdraw_after_rops.*{bad!r}"):
        AiranConfig(withdraw_after_rops=bad)


@pytest.mark.parametrize("guard", [False, True])
def test_a_later_incident_does_not_undo_a_compensation_the_policy_keeps_in_place(guard):
    """The offload CIO an earlier incident kept for an overload makes the cell's handovers look misconfigured in
    a later incident, whose first diagnosis is then the misconfiguration itself. With ``guard_own_knobs`` the
    planner leaves the compensation's knobs alone; without it the verifier weighs "restoring" the default."""
    from airan.agents.policies.airan import AiranConfig, _Submitted

    pol, twin = _overload_policy(AiranConfig(guard_own_knobs=guard))
    info, hist = _steps(twin, 8)
    pol._submitted = _Submitted("overload_hotspot", 4, (4,), {("cio", 4): 0.0})
    for key in pol._submitted.pre:
        pol.settings[key] = pol._submitted.cause
    ho = Diagnosis({"ho_misconfig": 0.9, "overload_hotspot": 0.1}, (4, 0))
    pol.open = Incident(detected_rop=7, cells=(4,), diagnosis=ho)
    applied = [(3, Action("cio", 4, 6.0), 0.0, 6.0)]  # before this incident: not its own knob
    assert pol.self_inflicted("ho_misconfig", 4, applied) == ()
    dec = Decision()
    pol._plan(Observation(7, info["kpis"], hist, [], frozenset(), applied), dec, ho)
    verified = [n for n in dec.notes if n.startswith("verifier:")]
    if guard:
        assert not verified and not dec.actions
        assert any("blames knobs a kept set moved for overload_hotspot" in n for n in dec.notes)
    else:
        assert any("restore" in n for n in verified)
        return
    # a knob the policy set for the same cause is not guarded (restoring defaults twice is the planner's call)
    pol.settings[("cio", 4)] = "ho_misconfig"
    dec = Decision()
    pol._plan(Observation(7, info["kpis"], hist, [], frozenset(), applied), dec, ho)
    assert any(n.startswith("verifier:") for n in dec.notes)


def test_a_confident_handover_diagnosis_without_a_handover_signature_waits_when_configured():
    """``handover_waits``: the classifier's confidence alone does not make a first diagnosis of a handover
    misconfiguration unless the diagnosed cell shows a ping-pong storm or UEs held late; other causes, and the
    switch off, are not affected."""
    _, _, pol = _run([], rops=8, cfg=AiranConfig(handover_waits=True), policy=True)
    ho = Diagnosis({"ho_misconfig": 0.97, "excessive_downtilt": 0.03}, (4,))
    tilt = Diagnosis({"ho_misconfig": 0.03, "excessive_downtilt": 0.97}, (4,))
    assert not pol.monitor.pingpong_storm(7)[4] and not pol.monitor.late_fire[4]  # a quiet network
    assert pol.handover_unsigned(ho, 7)
    assert not pol.handover_unsigned(tilt, 7)
    pol.monitor.late_fire[4] = True  # UEs held late by cell 4: a handover signature
    assert not pol.handover_unsigned(ho, 7)
    pol.monitor.late_fire[4] = False
    pol.monitor.derived["pp"][5:8, 4] = 3.0  # a ping-pong storm out of cell 4
    assert not pol.handover_unsigned(ho, 7)
    assert pol.handover_unsigned(ho, 4)  # the storm had not started by ROP 4: no signature then
    _, _, default = _run([], rops=8, cfg=AiranConfig(handover_waits=False), policy=True)
    assert not default.handover_unsigned(ho, 7)
    assert default.unsigned(ho, 7)  # still unsigned, which ``handover_ue_fit`` reads whether or not it waits


def test_a_pingpong_storm_is_diagnosed_as_early_when_handover_diagnoses_wait():
    fault = [Fault("ho_misconfig", (4,), severity=0.9, onset_rop=6, mode="pingpong")]
    base, _ = _run(fault, rops=12, cfg=AiranConfig(handover_waits=False))
    waits, _ = _run(fault, rops=12, cfg=AiranConfig(handover_waits=True))
    assert AiranConfig().handover_waits  # the default since session 33
    first = [next(r for r, d in enumerate(log) if d["diagnosis"]) for log in (base, waits)]
    assert first[0] == first[1]


def test_a_coverage_shift_weighs_against_a_handover_cause_only_when_configured():
    """``shift_excludes_handover``: a coverage-shift streak on the lead cell scales the handover cause's
    likelihood by ``SHIFT_HANDOVER_LIKELIHOOD``; off (the default since session 49, S61a) it does not."""
    fault = [Fault("uptilt_overshoot", (4,), severity=1.0, onset_rop=8)]
    first = {}
    for on in (True, False):
        log, _ = _run(fault, rops=10, cfg=AiranConfig(shift_excludes_handover=on))
        diag = next(d["diagnosis"] for d in log if d["diagnosis"])
        assert diag["cells"][0] == 4
        first[on] = diag["causes"]["ho_misconfig"]
    assert first[True] == pytest.approx(SHIFT_HANDOVER_LIKELIHOOD * first[False], rel=0.01)
    assert not AiranConfig().shift_excludes_handover


def test_the_edge_rise_enters_the_shift_likelihood_when_configured():
    log, _, pol = _run([Fault("uptilt_overshoot", (4,), severity=1.0, onset_rop=8)], rops=14,
                       cfg=AiranConfig(shift_uses_rise=True), policy=True)
    assert pol.shift_predictions and all(p.shape[1] == 3 for preds in pol.shift_predictions.values()
                                         for p in preds.values())
    diag = next(d["diagnosis"] for d in log if d["diagnosis"])
    assert diag["cells"][0] == 4 and max(diag["causes"], key=diag["causes"].get) == "uptilt_overshoot"
    assert AiranConfig().shift_uses_rise  # the default since session 33


@pytest.mark.parametrize("on", [True, False])
def test_the_ues_own_reports_tell_which_way_a_tilt_went_when_configured(on):
    """``tilt_direction_per_ue``: the coverage likelihood of the two tilts is tied and the per-UE fit of each UE's
    report change in the imperfect twin says which way; the diagnosis cites the fit's log ratio."""
    log, _, pol = _run([Fault("uptilt_overshoot", (4,), severity=1.0, onset_rop=8)], rops=12,
                       cfg=AiranConfig(tilt_direction_per_ue=on), policy=True)
    diag = next(d["diagnosis"] for d in log if d["diagnosis"])
    assert diag["cells"][0] == 4 and max(diag["causes"], key=diag["causes"].get) == "uptilt_overshoot"
    cited = diag["evidence"].get("mr.ue_fit_uptilt_vs_downtilt_nats")
    if on:
        assert set(pol.ue_predictions) == {4} and cited > 0  # the uptilt fits the UEs' changes better
    else:
        assert not pol.ue_predictions and cited is None
    assert AiranConfig().tilt_direction_per_ue  # the default since session 56 (S72)


@pytest.mark.parametrize("peer", [True, False])
def test_an_outage_already_there_at_rop_0_is_diagnosed_from_the_peers_and_compensated(peer):
    # the agents are switched on in a network whose cell 4 is already down: its alarm detects at ROP 0, and with no
    # history of its own the cell is compared with its peers; without that the incident is never diagnosed
    base = AiranPolicy()
    mon = dataclasses.replace(base.monitor_config(), peer_baseline=peer)  # the calibrated monitor, one switch moved
    log, report = _run([Fault("cell_outage", (4,), onset_rop=0)], rops=6,
                       cfg=dataclasses.replace(base.cfg, monitor=mon))
    assert any(x["cell"] == 4 for x in log[0]["detections"])
    diags = [(r, d["diagnosis"]) for r, d in enumerate(log) if d["diagnosis"]]
    if not peer:
        assert not diags and not any(d["actions"] for d in log) and "no action was taken" in report
        return
    r, first = diags[0]
    assert r == 1 and first["cells"][0] == 4 and max(first["causes"], key=first["causes"].get) == "cell_outage"
    assert any(d["actions"] for d in log)
    assert "already there when the telemetry starts" in report and "median of the" in report


@pytest.mark.parametrize("audit,patterns", [(4.0, True), (4.0, False), (None, True)])
def test_an_uptilt_already_there_is_found_by_the_audit_and_tilted_back(audit, patterns):
    # cell 4 uptilted from ROP 0 moves no history of its own; the twin's calibration to the first 4 ROPs puts its
    # radiated power several dB above the planning model, and that finding leads to the downtilt; the pattern test
    # says which fault reproduces the UEs' reports of the cell, and at which severity
    base = AiranPolicy()
    log, report = _run([Fault("uptilt_overshoot", (4,), severity=0.9, onset_rop=0)], rops=8,
                       cfg=dataclasses.replace(base.cfg, audit_power_db=audit, audit_patterns=patterns))
    notes = [n for d in log for n in d["notes"] if n.startswith("audit:")]
    if audit is None:
        assert not notes and not any(d["detections"] for d in log[:6])
        return
    assert len(notes) == (2 if patterns else 1) and "cell 4" in notes[0]
    if patterns:  # the uptilt first, at the severity the reports point to
        assert notes[1].split(": ")[2].startswith("uptilt_overshoot +") and "severity 0.9" in notes[1]
        assert "A configuration audit singled the cell out" in report and "uptilt" in report.split("audit")[1]
    else:
        assert "A configuration audit singled the cell out" in report and "reproduces" not in report
    first = next(r for r, d in enumerate(log) if d["detections"])
    assert first == 4 and log[first]["detections"][0]["cell"] == 4
    diag = next(d["diagnosis"] for d in log if d["diagnosis"])
    assert diag["cells"][0] == 4 and max(diag["causes"], key=diag["causes"].get) == "uptilt_overshoot"
    acts = [a for d in log for a in d["actions"]]
    assert acts and all(a["kind"] == "tilt" and a["cell"] == 4 and a["value"] > 0 for a in acts)


@pytest.mark.parametrize("scan", [5.0, None])
def test_a_downtilt_within_the_power_threshold_is_found_by_the_audit_scan(scan):
    # cell 4 downtilted from ROP 0 moves its calibrated power less than the audit's 4 dB, so only the pattern scan
    # of every cell finds it: the downtilt's pattern fits the UEs' reports of cell 4 best, and leads the diagnosis
    base = AiranPolicy()
    log, report = _run([Fault("excessive_downtilt", (4,), severity=1.0, onset_rop=0)], rops=6,
                       cfg=dataclasses.replace(base.cfg, audit_scan_log_lr=scan, audit_scan_null_draws=0))
    notes = [n for d in log for n in d["notes"] if n.startswith("audit:")]
    if scan is None:
        assert not notes and not any(d["detections"] for d in log)
        return
    assert len(notes) == 1 and "pattern scan" in notes[0] and "flags cell 4 (from 5 nats)" in notes[0]
    assert notes[0].split("no fault: ")[1].startswith("excessive_downtilt +")
    first = next(r for r, d in enumerate(log) if d["detections"])
    assert first == 4 and log[first]["detections"][0]["cell"] == 4
    diag = next(d["diagnosis"] for d in log if d["diagnosis"])
    assert diag["cells"][0] == 4 and max(diag["causes"], key=diag["causes"].get) == "excessive_downtilt"
    assert "A configuration audit singled the cell out" in report and "downtilt" in report.split("audit")[1]
    cfg = AiranConfig()  # S66 and S67
    assert (cfg.audit_scan_log_lr, cfg.audit_scan_null_draws, cfg.audit_scan_position_draws) == (10.0, 8, 8)


@pytest.mark.parametrize("margin", [0.0, 1000.0])
def test_the_audit_scan_checks_its_finding_against_simulated_healthy_networks(margin):
    # the same downtilt: the null draws read far below it, so a margin of 0 flags it; one of 1000 nats cannot be met
    base = AiranPolicy()
    log, _ = _run([Fault("excessive_downtilt", (4,), severity=1.0, onset_rop=0)], rops=5,
                  cfg=dataclasses.replace(base.cfg, audit_scan_log_lr=5.0, audit_scan_null_draws=3,
                                          audit_scan_null_margin=margin))
    notes = [n for d in log for n in d["notes"] if n.startswith("audit:")]
    if margin == 0.0:
        assert len(notes) == 1 and "flags cell 4" in notes[0] and "simulated healthy networks read at most" in notes[0]
        assert log[4]["detections"] and log[4]["detections"][0]["cell"] == 4
    else:
        assert notes and "cell 4 at +" in notes[0] and "is not a finding" in notes[0] and "3 draws" in notes[0]
        assert not any("flags cell" in n for n in notes) and not any(d["detections"] for d in log)


def test_audit_power_db_must_be_a_positive_number():
    for bad in (0.0, -1.0, float("nan"), True):
        with pytest.raises(ConfigError, match="audit_power_db"):
            AiranConfig(audit_power_db=bad)
        with pytest.raises(ConfigError, match="audit_llr_scale"):
            AiranConfig(audit_llr_scale=bad)
    for bad in (float("nan"), float("inf"), True, "25"):
        with pytest.raises(ConfigError, match="audit_scan_log_lr"):
            AiranConfig(audit_scan_log_lr=bad)
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError, match="audit_scan_null_draws"):
            AiranConfig(audit_scan_null_draws=bad)
        with pytest.raises(ConfigError, match="audit_scan_position_draws"):
            AiranConfig(audit_scan_position_draws=bad)
    for bad in (-1.0, float("nan"), True):
        with pytest.raises(ConfigError, match="audit_scan_null_margin"):
            AiranConfig(audit_scan_null_margin=bad)


@pytest.mark.parametrize("cold_cal", [True, False])
def test_a_detection_at_rop_0_can_calibrate_the_twin_around_the_detected_cells(cold_cal):
    # cell 4 down from ROP 0: by default the first detection ends the calibration reports, so the twin keeps its
    # hidden errors; with cold_calibration the other cells' reports of the calibration ROPs still calibrate it
    base = AiranPolicy()
    log, _, pol = _run([Fault("cell_outage", (4,), onset_rop=0)], rops=5,
                       cfg=dataclasses.replace(base.cfg, cold_calibration=cold_cal), policy=True)
    assert any(x["cell"] == 4 for x in log[0]["detections"])
    cal = pol.verifier.calibration_of(pol.verifier.cfg.seeds[0])
    if not cold_cal:
        assert cal == {}
        return
    assert 4 in cal["excluded"] and cal["rops"] == 4 and cal["power_db"][4] == 0.0
    assert any(v != 0 for c, v in enumerate(cal["power_db"]) if c != 4)


def _granted_obs(pol, twin, rop, approvals, applied=()):
    """Step ``twin`` one more ROP (``rop``) and return its Observation with ``approvals`` granted."""
    _, _, _, _, info = twin.step()
    hist = {k: np.tile(v, (rop + 1, 1)) for k, v in info["kpis"].items()}
    return Observation(rop, info["kpis"], hist, info["events"], frozenset(approvals), list(applied),
                       mr_rsrp_dbm=info["mr_rsrp_dbm"], ue_serving=info["ue_serving"],
                       ue_dl_demand_mbps=info["ue_dl_demand_mbps"])


@pytest.mark.parametrize("recheck", [False, True])
def test_an_approved_set_is_withdrawn_when_the_diagnosis_has_moved_on_when_configured(recheck):
    """With ``recheck_approved`` a granted set is applied only while the diagnosis still ranks the cause it was
    planned for first: a 10 deg uptilt requested for a downtilt is withdrawn unapplied once the next ROP's
    diagnosis leads with an interference on the cell, and its action round is given back. Off: it is applied."""
    from airan.agents.planner import Candidate
    from airan.agents.policies.airan import _Submitted

    pol, twin = _overload_policy(AiranConfig(recheck_approved=recheck))
    planned = []
    pol.verifier.verify = lambda cause, cells, scope, cands, sevs=None, modes=None: planned.append(cause) or []
    obs = _watched(pol, twin, 8)
    downtilt = Diagnosis({"excessive_downtilt": 0.95, "external_interference": 0.05}, (4,))
    pol.open = Incident(detected_rop=5, cells=(4,), diagnosis=downtilt, actions=["ROP 7: requested approval"])
    pol.diagnosis, pol.rounds = downtilt, 1
    uptilt = Candidate("uptilt 10 deg", (Action("tilt", 4, -10.0),), "excessive_downtilt")
    pol._submitted = _Submitted("excessive_downtilt", 4, (4,))
    _, reqs = pol.executor.submit(uptilt, np.array([4]), 7, obs.history, "uptilt 10 deg for excessive_downtilt")
    assert reqs and pol.executor.pending is not None
    interference = Diagnosis({"external_interference": 0.99, "excessive_downtilt": 0.01}, (4,))
    pol._diag_memo = (8, interference, None)  # what the diagnoser reads at ROP 8
    dec = pol.decide(_granted_obs(pol, twin, 8, {reqs[0].id}))
    tilts = [p for p in dec.actions if p.action == Action("tilt", 4, -10.0)]
    if not recheck:
        assert tilts and tilts[0].approval == reqs[0].id and "executor: approved" in dec.notes
        return
    assert not tilts and pol.executor.trial is None
    assert any(n.startswith(f"executor: withdrew approved request {reqs[0].id}") and "external_interference on "
               "cell 4 first, not excessive_downtilt (p = 0.99)" in n for n in dec.notes)
    assert any("withdrew approved request" in a for a in pol.open.actions)
    # the withdrawn round was given back: only a round the planner ran for the new lead this ROP is counted
    assert pol._submitted is None and set(planned) <= {"external_interference"} and pol.rounds == len(planned)


def test_an_approved_set_is_kept_when_the_new_lead_blames_the_incidents_own_knobs():
    """The recheck does not withdraw a set because the diagnosis now blames knobs the incident itself moved (an
    earlier uptilt read as an uptilt overshoot): the planner treats that reading as self-inflicted too."""
    from airan.agents.planner import Candidate
    from airan.agents.policies.airan import _Submitted

    pol, twin = _overload_policy(AiranConfig(recheck_approved=True))
    obs = _watched(pol, twin, 8)
    downtilt = Diagnosis({"excessive_downtilt": 0.95}, (4,))
    pol.open = Incident(detected_rop=5, cells=(4,), diagnosis=downtilt)
    pol.diagnosis, pol.rounds = downtilt, 2
    more = Candidate("uptilt 4 deg", (Action("tilt", 4, -4.0),), "excessive_downtilt")
    pol._submitted = _Submitted("excessive_downtilt", 4, (4,))
    _, reqs = pol.executor.submit(more, np.array([4]), 7, obs.history, "uptilt 4 deg")  # > 2 deg: high-risk
    rid = reqs[0].id
    pol._diag_memo = (8, Diagnosis({"uptilt_overshoot": 0.9, "excessive_downtilt": 0.1}, (4,)), None)
    dec = pol.decide(_granted_obs(pol, twin, 8, {rid}, applied=[(6, Action("tilt", 4, -4.0), 10.0, 6.0)]))
    assert "executor: approved" in dec.notes and not any("withdrew" in n for n in dec.notes)
    assert any(p.action == Action("tilt", 4, -4.0) and p.approval == rid for p in dec.actions)


def test_an_unsigned_handover_diagnosis_is_weighed_by_what_the_ues_report_of_the_cell():
    """``handover_ue_fit``: a handover misconfiguration blamed on a cell without a handover signature is weighed
    again by the UEs' per-UE report changes of that cell. After a 9 deg downtilt the far UEs' reports fell as
    the twin predicts for a downtilt, which no handover parameter can do; on a quiet network nothing moved and
    the diagnosis stands."""
    ho = Diagnosis({"ho_misconfig": 0.9, "excessive_downtilt": 0.1}, (4,))
    fault = [Fault("excessive_downtilt", (4,), severity=0.9, onset_rop=6)]
    for faults, moved in ((fault, True), ([], False)):
        _, _, pol = _run(faults, rops=10, cfg=AiranConfig(handover_ue_fit=True), policy=True)
        pol.diagnoser.reset()
        pol.diagnoser.observe(pol.monitor.features)
        assert pol.handover_unsigned(ho, 9)
        obs = Observation(9, {}, {}, [], frozenset(), [])
        diag = pol._ue_fit_diagnosis(obs, ho)
        kind, cell, gain = pol.lead_signal
        assert kind == "ue_fit" and cell == 4 and diag.cells[0] == 4
        assert diag.evidence["mr.ue_fit_rsrp_cause_vs_unchanged_nats"] == round(gain, 3)
        if moved:  # the downtilt fits the reports far better than no change
            assert gain > 5 and diag.causes["excessive_downtilt"] > 0.9
        else:
            assert gain < 2 and diag.top(1) == ["ho_misconfig"]
    assert AiranConfig().handover_ue_fit  # the default since session 58 (S74)


@pytest.mark.parametrize("mode", ["all", "tilts", "off"])
def test_a_measured_lead_weighs_every_cause_by_the_per_ue_fit_when_configured(mode):
    """``lead_change_fit``: under a coverage-shift lead the per-UE fit weighs a PA degradation and no change at
    all too ("all"), or the tilts against no change ("tilts"), not only a tilt's direction; the diagnosis cites how
    much better the best fitted cause does than no change."""
    log, _, pol = _run([Fault("uptilt_overshoot", (4,), severity=1.0, onset_rop=8)], rops=12,
                       cfg=AiranConfig(lead_change_fit=mode), policy=True)
    diag = next(d["diagnosis"] for d in log if d["diagnosis"])
    assert diag["cells"][0] == 4 and max(diag["causes"], key=diag["causes"].get) == "uptilt_overshoot"
    assert diag["evidence"]["mr.ue_fit_uptilt_vs_downtilt_nats"] > 0
    gain = diag["evidence"].get("mr.ue_fit_rsrp_cause_vs_unchanged_nats")
    if mode == "all":
        assert set(pol.ue_cause_predictions) == {4} and not pol.ue_predictions
        assert set(pol.ue_cause_predictions[4]) == {"excessive_downtilt", "uptilt_overshoot", "pa_degradation"}
    else:
        assert set(pol.ue_predictions) == {4} and not pol.ue_cause_predictions
    if mode == "off":
        assert gain is None
    else:
        assert gain > 5  # the reports moved far more than no change explains
        assert diag["causes"]["ho_misconfig"] < 1e-3
    assert AiranConfig().lead_change_fit == "off"  # the default (S75 stopped at its screen, S75b lost)
    with pytest.raises(ConfigError, match="lead_change_fit"):
        AiranConfig(lead_change_fit="some")
