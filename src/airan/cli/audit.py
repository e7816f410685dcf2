"""``airan audit``: a configuration audit of a network from its UEs' first measurement reports.

The operator's twin (the planning model, with the hidden power and tilt errors every real twin has) is
calibrated to what the UEs report in the first ROPs (``agents.mr_calibration``), as the healing policy's verifier
does. A cell whose fitted power correction lies far beyond the twin's calibration accuracy does not radiate as
planned: the audit flags it (``--threshold-db``, 4 dB by default: no healthy calibration window of 871 exceeded
3.56 dB, ``bench/heal_config_audit.py``), and the fault-pattern test (``Verifier.audit_patterns``) says which
fault of the cell, an uptilt, a downtilt or a PA degradation, reproduces those reports best, and at which
severity. When no cell is beyond the threshold, the test runs on every cell, with the tilt errors' non-linear
covariance, and flags the best fit from ``--scan-log-lr`` nats that also reads 10 nats above what the test gives
that cell in ``--null-draws`` simulated healthy networks (``Verifier.audit_null``), the test carrying each UE's
movement over the report ROPs (``--position-draws``; 10 nats, 8 draws and 8 positions, as the healing policy's
``AiranConfig.audit_scan_log_lr`` / ``audit_scan_null_draws`` / ``audit_scan_position_draws``; ``--no-scan``
skips the scan). The network here is the twin's true network, with the faults given (``--fault``, as ``airan
simulate``): a misconfiguration there from the start is what an audit is for.
"""

from __future__ import annotations

import numpy as np
import typer
from rich.table import Table

from airan.agents.verifier import (
    AUDIT_SCAN_LOG_LR,
    AUDIT_SCAN_NULL_DRAWS,
    AUDIT_SCAN_NULL_MARGIN,
    AUDIT_SCAN_POSITION_DRAWS,
)
from airan.cli.output import Format, console, emit_json, fail, progress_bar
from airan.cli.specs import parse_fault
from airan.core.errors import AiranError

DEFAULT_THRESHOLD_DB = 4.0
SHORT = {"uptilt_overshoot": "uptilt", "excessive_downtilt": "downtilt", "pa_degradation": "PA", "none": "none"}


def run_audit(scenario: str, seed: int, faults: list[str], rops: int, threshold_db: float,
              cells: list[int], show_progress: bool = True, scan_log_lr: float | None = None,
              null_draws: int = 0, position_draws: int = 0) -> dict:
    """The audit as a dict (``audit``'s JSON): per flagged or requested cell its calibrated power [dB] and tilt
    [deg] corrections and the pattern test (log likelihood ratio [nats] per cause against no fault, and the most
    likely severity); ``flagged_by``: "power", "scan" or "" (requested). ``scan_log_lr``: with no cell beyond
    ``threshold_db``, scan every cell and flag the best fit from this many nats (None: no scan) that reads
    ``AUDIT_SCAN_NULL_MARGIN`` above ``null_draws`` simulated healthy networks (0: not checked), else the next;
    ``scan_null``: the draws' largest reading of each cell checked; ``position_draws``: the scan's test carries
    each UE's movement over the report ROPs (``PatternTestConfig.position_draws``)."""
    from airan.agents.mr_calibration import (
        TILT_GRID_DEG,
        CalibrationConfig,
        PatternTestConfig,
        marginal_log_lr,
    )
    from airan.agents.runner import imperfect_factory
    from airan.agents.suite import SuiteEpisode
    from airan.agents.verifier import AUDIT_SEVERITIES, Verifier, VerifierConfig, most_likely_severity
    from airan.twin.env import NetworkTwin
    from airan.twin.scenarios import get_scenario

    if not np.isfinite(threshold_db) or threshold_db <= 0:
        raise AiranError(f"--threshold-db must be a finite number of dB > 0, got {threshold_db!r}")
    if scan_log_lr is not None and not np.isfinite(scan_log_lr):
        raise AiranError(f"--scan-log-lr must be a finite number of nats, got {scan_log_lr!r}")
    if null_draws < 0 or position_draws < 0:
        raise AiranError(f"--null-draws and --position-draws must be >= 0, got {null_draws!r} / {position_draws!r}")
    cfg = get_scenario(scenario)
    fault_objs = [parse_fault(s) for s in faults]
    for f in fault_objs:
        f.validate_for(cfg.num_cells)
    bad = [c for c in cells if not 0 <= c < cfg.num_cells]
    if bad:
        raise AiranError(f"--cell {bad[0]} is out of range [0, {cfg.num_cells - 1}] for {cfg.name}")
    ep = SuiteEpisode(id="audit", scenario=cfg.name, seed=seed, rops=rops, faults=tuple(fault_objs))
    verifier = Verifier(imperfect_factory(ep), VerifierConfig(calibration=CalibrationConfig(rops=rops)))
    net = NetworkTwin(cfg)
    progress = progress_bar(disable=not show_progress)
    with progress:
        task = progress.add_task(f"{cfg.name}: measurement reports", total=rops)
        net.reset(seed=seed, options={"faults": fault_objs})
        for r in range(rops):
            verifier.observe_reports(r, net.step()[4]["mr_rsrp_dbm"])
            progress.update(task, advance=1, description=f"{cfg.name}: reports of ROP {r + 1}/{rops}")
    cal = verifier.calibration_of(verifier.cfg.seeds[0])
    power = np.asarray(cal["power_db"], dtype=np.float64)  # [num_cells] dB
    tilt = np.asarray(cal["tilt_deg"], dtype=np.float64)  # [num_cells] deg
    flagged = [int(c) for c in np.argsort(-np.abs(power), kind="stable") if abs(power[c]) >= threshold_db]
    by = dict.fromkeys(flagged, "power")
    scanned: dict[int, dict] = {}
    nulls: dict[int, float] = {}  # cell -> the simulated healthy networks' largest reading [nats]
    scan_max = None
    fits: dict[int, float] = {}  # cell -> its best ratio against no fault in the scan [nats]
    if not flagged and scan_log_lr is not None:
        grid = PatternTestConfig(tilt_grid_deg=TILT_GRID_DEG, position_draws=position_draws)
        scan = verifier.audit_scan(range(power.size), scan_log_lr, null_draws=null_draws,
                                   null_margin=AUDIT_SCAN_NULL_MARGIN, cfg=grid)
        scanned, fits = scan.tests, scan.best
        scan_max = max(fits.values(), default=None)
        nulls = {c: float(np.max(v)) for c, v in scan.nulls.items()}
        if scan.cell is not None:
            flagged, by = [scan.cell], {scan.cell: "scan"}
    rows = []
    for c in flagged + [c for c in dict.fromkeys(cells) if c not in flagged]:
        row = {"cell": c, "flagged": c in flagged, "flagged_by": by.get(c, ""), "power_db": float(power[c]),
               "tilt_deg": float(tilt[c]), "reports": int(cal["reports"][c])}
        llr = scanned[c] if by.get(c) == "scan" else verifier.audit_patterns(c, skip_mates=[f for f in flagged
                                                                                             if f != c])
        if llr:
            marg = {k: marginal_log_lr(x) for k, x in llr.items()}
            best = max(marg, key=marg.get)
            row |= {"log_lr": marg, "most_likely": best if marg[best] > 0 else "none",
                    "severity": most_likely_severity(llr[best], AUDIT_SEVERITIES) if marg[best] > 0 else None}
        rows.append(row)
    return {"scenario": cfg.name, "seed": seed, "rops": rops, "faults": faults, "threshold_db": threshold_db,
            "scan_log_lr": scan_log_lr, "scan_max_log_lr": scan_max, "null_draws": null_draws,
            "position_draws": position_draws,
            "scan_null": {str(c): v for c, v in nulls.items()},
            "scan_best": {str(c): float(fits[c]) for c in nulls}, "num_cells": cfg.num_cells,
            "max_abs_power_db": float(np.max(np.abs(power))), "cells": rows}


def audit(
    scenario: str = typer.Option(..., "--scenario", help="scenario name (see `airan scenarios`)"),
    seed: int = typer.Option(0, "--seed", min=0, help="seed of the network's drop and random processes"),
    fault: list[str] = typer.Option([], "--fault", help="a fault already there, e.g. "
                                    "uptilt_overshoot:cell=4,severity=0.8 (as `airan simulate`)"),
    rops: int = typer.Option(4, "--rops", min=1, help="ROPs of measurement reports the calibration uses"),
    threshold_db: float = typer.Option(DEFAULT_THRESHOLD_DB, "--threshold-db",
                                       help="flag a cell whose power correction is beyond +-this [dB]"),
    cell: list[int] = typer.Option([], "--cell", help="also test this cell (repeatable)"),
    scan: bool = typer.Option(True, "--scan/--no-scan", help="with no cell beyond the threshold, run the pattern "
                              "test on every cell"),
    scan_log_lr: float = typer.Option(AUDIT_SCAN_LOG_LR, "--scan-log-lr",
                                      help="the scan flags the best fit from this many nats"),
    null_draws: int = typer.Option(AUDIT_SCAN_NULL_DRAWS, "--null-draws", min=0,
                                   help="check a scan finding against this many simulated healthy networks"),
    position_draws: int = typer.Option(AUDIT_SCAN_POSITION_DRAWS, "--position-draws", min=0,
                                       help="the scan's test carries each UE's movement, from this many positions"),
    fmt: Format = typer.Option(Format.table, "--format", help="json or table"),
) -> None:
    """Audit a network's configuration from its UEs' first measurement reports: flag the cells that do not
    radiate as planned and name the fault that reproduces their reports."""
    try:
        res = run_audit(scenario, seed, fault, rops, threshold_db, cell, show_progress=fmt is not Format.json,
                        scan_log_lr=scan_log_lr if scan else None, null_draws=null_draws,
                        position_draws=position_draws)
    except AiranError as e:
        fail(str(e))
    if fmt is Format.json:
        emit_json(res)
        return
    if not res["cells"]:
        scanned = "" if res["scan_max_log_lr"] is None else (
            f", and no cell's reports fit a fault from {scan_log_lr:g} nats (best {res['scan_max_log_lr']:+.1f})")
        if res["scan_null"]:
            scanned = ", and no cell's reports fit a fault clearly above what simulated healthy networks give it (" + \
                ", ".join(f"cell {c} {v:+.1f} against up to {res['scan_null'][c]:+.1f}" for c, v in
                          res["scan_best"].items()) + f", {AUDIT_SCAN_NULL_MARGIN:g} nats needed)"
        console.print(f"no cell's power correction is beyond +-{threshold_db:g} dB (largest "
                      f"{res['max_abs_power_db']:.2f} dB){scanned}: the network radiates as planned")
        return
    t = Table(title=f"configuration audit: {res['scenario']} (seed {seed}), {rops} ROPs of reports")
    for col in ("cell", "flag", "dP dB", "dtilt", "fault", "sev", "nats up/down/PA"):
        t.add_column(col, no_wrap=True)
    for r in res["cells"]:
        lr = r.get("log_lr", {})
        t.add_row(str(r["cell"]), r["flagged_by"] or "no", f"{r['power_db']:+.1f}", f"{r['tilt_deg']:+.2f}",
                  SHORT.get(r.get("most_likely", ""), "untested"),
                  "-" if r.get("severity") is None else f"{r['severity']:g}",
                  "/".join(f"{lr[k]:+.1f}" if k in lr else "-" for k in SHORT if k != "none"))
    console.print(t)
