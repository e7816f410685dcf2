"""Executor: applies the chosen candidate, holds high-risk sets for approval, watches a verification window
and rolls back automatically when the guarded objective of the affected neighbourhood regresses.

Timeline (the runner applies a Decision's actions at the start of the next ROP): actions decided at ROP r
act in ROP r+1; the window is ROPs r+1 .. r+``window_rops``; a regression seen at any of them triggers the
rollback at once, so it acts within 2 ROPs. A regression is the guarded objective falling below the pre-action
level (the lower of ROP r and the mean of ROPs r-1, r) by more than ``k_sigma`` times its ROP-to-ROP noise
(robust: 1.4826 x median |difference| / sqrt 2 over the history before the action), and at least ``margin``.
The scorer judges harm on the healed-minus-unhealed difference, which is free of traffic noise; the executor
has no counterfactual, so its test must sit well above the traffic noise or every busy hour looks like harm.

With ``guard_mobility``, a set planned for any cause but a handover misconfiguration is also watched on the
neighbourhood's handover failures (ping-pongs + radio link failures, the handover fault's objective), under the
same rule with that series' own noise and ``margin_ho``: a tilt or power change that keeps the traffic but makes
the cells' UEs bounce or drop is a regression too (a too-late handover fault read as a downtilt, uptilted).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from airan.agents.base import ApprovalRequest, PlannedAction, is_high_risk
from airan.agents.planner import Candidate, KnobView
from airan.agents.verifier import objective, objective_series
from airan.core.errors import ConfigError
from airan.twin.actions import Action


def pre_action_level(series: np.ndarray) -> float:
    """The level an action starts from, from the guarded objective's ``series`` [rops] up to the deciding ROP:
    the lower of the last ROP and the last two ROPs' mean, so a ROP before the fault (or before the previous
    action took effect) does not inflate it."""
    return float(min(series[-1], np.mean(series[-2:])))


def rop_noise(series: np.ndarray) -> float:
    """ROP-to-ROP noise of a guarded objective ``series`` [rops] (robust: 1.4826 x median |difference| / sqrt 2
    over its finite values; 0 with fewer than 3 differences), in the objective's unit."""
    d = np.diff(series[np.isfinite(series)])
    return 1.4826 * float(np.median(np.abs(d))) / np.sqrt(2.0) if d.size >= 3 else 0.0


@dataclass(frozen=True)
class ExecutorConfig:
    """window_rops: ROPs watched after an action; k_sigma: regression tolerance in units of the guarded
    objective's ROP-to-ROP noise; margin: the smallest tolerance of the carried/offered ratio, 1.5 % of the
    offered traffic (in a quiet network the ratio sits near 1 with almost no noise, and a 2 % loss is a
    regression; on the training split 1.5 % caught one more harmful set than 2 % and no more helpful ones);
    ``margin_ho``: the same in handover failures for a handover fault; preauthorized: policy names that cover
    high-risk sets without a request (e.g. {"restart"}: any set whose high-risk part is a restart);
    guard_mobility: also roll back a set (planned for any other cause than ``ho_misconfig``) on a regression of
    the neighbourhood's handover failures (module docstring). Off: judged on a never-used suite (seed 7320,
    ``bench/results/HEAL_PREREG_S27.md``) it rolled back 133 sets instead of 17 and cost 0.094 of paired FKR; a
    compensation's own handover transient (UEs moved off a switched-off site) reads as a regression.
    ``k_sigma`` 3 and 2 were screened on dev in session 45 (S52, docs/healing_journal.md "A tighter guard"): they
    rolled back 23 and 33 sets instead of 15, and harmful ones sooner (within 2 ROPs 10 -> 12 of 17 and 15 of
    20), but took no fewer harmful actions (17 -> 17 and 20) and recovered no more (paired FKR -0.004 and
    +0.001): a tighter guard also undoes sets that were helping (dev-0031b, FKR 0.36 -> 0.00)."""

    window_rops: int = 2
    k_sigma: float = 4.0
    margin: float = 0.015
    margin_ho: float = 3.0
    preauthorized: frozenset[str] = frozenset()
    guard_mobility: bool = False

    def __post_init__(self) -> None:
        if self.window_rops < 1 or self.window_rops > 2:
            raise ConfigError(f"window_rops must be 1 or 2 (rollback within 2 ROPs), got {self.window_rops!r}")
        if self.margin < 0 or self.margin_ho < 0 or self.k_sigma < 0:
            raise ConfigError(f"margins must be >= 0, got {self.margin!r}/{self.margin_ho!r}/{self.k_sigma!r}")


@dataclass
class Trial:
    """An applied candidate under watch."""

    candidate: Candidate
    rop: int
    pre: float
    scope: np.ndarray
    inverse: list[Action]
    tolerance: float
    seen: list[float] = field(default_factory=list)
    approval: str = ""
    pre_ho: float | None = None  # the handover-failure objective's pre-action level (``guard_mobility``)
    tolerance_ho: float = 0.0


class Executor:
    """State: at most one pending approval and one trial at a time."""

    def __init__(self, knobs: KnobView, cfg: ExecutorConfig | None = None, episode_id: str = "") -> None:
        self.knobs = knobs
        self.cfg = cfg or ExecutorConfig()
        self.episode_id = episode_id
        self.pending: tuple[ApprovalRequest, Candidate, np.ndarray] | None = None
        self.trial: Trial | None = None
        self.history: list[dict] = []
        self._n_req = 0

    @property
    def busy(self) -> bool:
        return self.pending is not None or self.trial is not None

    def granted(self, approvals: frozenset[str]) -> bool:
        """Whether the pending approval request is among ``approvals`` (its set would be applied this ROP)."""
        return self.pending is not None and self.pending[0].id in approvals

    def withdraw(self) -> ApprovalRequest:
        """Drop the pending request unapplied (granted or not) and return it; the executor is then idle."""
        if self.pending is None:
            raise ConfigError("executor has no pending approval request to withdraw")
        req = self.pending[0]
        self.pending = None
        return req

    def covering_policy(self, actions: tuple[Action, ...]) -> str:
        kinds = {a.kind for a in actions if is_high_risk([a])}
        if kinds and kinds <= set(self.cfg.preauthorized) and len({a.cell for a in actions}) <= 3:
            return "+".join(sorted(kinds))
        return ""

    def submit(self, cand: Candidate, scope: np.ndarray, rop: int, history: dict[str, np.ndarray],
               reason: str) -> tuple[list[PlannedAction], list[ApprovalRequest]]:
        """Apply ``cand`` now, or request approval when it is high-risk and no pre-authorised policy covers it."""
        if self.busy:
            raise ConfigError("executor is busy: one pending approval or trial at a time")
        pre_auth = self.covering_policy(cand.actions)
        if is_high_risk(list(cand.actions)) and not pre_auth:
            self._n_req += 1
            backout = tuple(inv for inv in (self.knobs.inverse(a) for a in cand.actions) if inv is not None)
            req = ApprovalRequest(id=f"{self.episode_id}-req{self._n_req}", actions=cand.actions, reason=reason,
                                  backout=backout)
            self.pending = (req, cand, scope)
            return [], [req]
        return self._apply(cand, scope, rop, history, reason, approval="", preauthorized=pre_auth), []

    def _apply(self, cand: Candidate, scope: np.ndarray, rop: int, history: dict[str, np.ndarray], reason: str,
               approval: str, preauthorized: str) -> list[PlannedAction]:
        inverse = []
        for a in cand.actions:
            inv = self.knobs.inverse(a)
            if inv is not None:
                inverse.append(inv)
            self.knobs.apply(a)
        pre, tol = self._baseline(history, scope, rop, cand.cause)
        self.trial = Trial(cand, rop, pre, scope, inverse, tol, approval=approval)
        if self.cfg.guard_mobility and cand.cause != "ho_misconfig":
            self.trial.pre_ho, self.trial.tolerance_ho = self._baseline(history, scope, rop, "ho_misconfig")
        self.history.append({"rop": rop, "candidate": cand.name, "pre": pre, "tolerance": tol})
        return [PlannedAction(a, reason=reason, approval=approval, preauthorized=preauthorized)
                for a in cand.actions]

    def _baseline(self, history: dict[str, np.ndarray], scope: np.ndarray, rop: int,
                  cause: str) -> tuple[float, float]:
        """(pre-action level, regression tolerance) of ``cause``'s guarded objective on ``scope``."""
        series = objective_series(history, scope, cause, rop + 1)
        return pre_action_level(series), self.tolerance(series, cause)

    def tolerance(self, series: np.ndarray, cause: str) -> float:
        """Regression tolerance for a guarded objective ``series`` [rops] (its history up to the action)."""
        floor = self.cfg.margin_ho if cause == "ho_misconfig" else self.cfg.margin
        return max(self.cfg.k_sigma * rop_noise(series), floor)

    def on_rop(self, rop: int, kpis: dict[str, np.ndarray], history: dict[str, np.ndarray],
               approvals: frozenset[str]) -> tuple[list[PlannedAction], str]:
        """Advance the state machine one ROP. Returns actions to apply now and an outcome word: ''
        (nothing), 'approved' (a granted set applied), 'rollback', 'kept' (window passed without regression)."""
        if self.pending is not None:
            req, cand, scope = self.pending
            if req.id in approvals:
                self.pending = None
                return self._apply(cand, scope, rop, history, f"approved: {req.reason}", approval=req.id,
                                   preauthorized=""), "approved"
            return [], ""
        if self.trial is None:
            return [], ""
        t = self.trial
        if rop <= t.rop:
            return [], ""
        now = objective(kpis, t.scope, t.candidate.cause)
        t.seen.append(now)
        restarting = any(a.kind == "restart" for a in t.candidate.actions) and len(t.seen) == 1
        margin = t.tolerance
        now_ho = objective(kpis, t.scope, "ho_misconfig") if t.pre_ho is not None else 0.0
        traffic = now < t.pre - margin
        mobility = t.pre_ho is not None and now_ho < t.pre_ho - t.tolerance_ho
        if not restarting and (traffic or mobility):
            self.trial = None
            for inv in t.inverse:
                self.knobs.apply(inv)
            self.history[-1].update(outcome="rollback", post=now)
            if traffic:
                reason = (f"rollback: guarded objective {now:.3f} < pre-action {t.pre:.3f} - {margin:.3f} "
                          f"after '{t.candidate.name}'")
            else:
                reason = (f"rollback: handover failures {-now_ho:.0f} > pre-action {-t.pre_ho:.1f} + "
                          f"{t.tolerance_ho:.1f} after '{t.candidate.name}'")
            # an approved change's rollback is covered by the same approval (its back-out plan)
            return [PlannedAction(a, reason=reason, rollback_of=t.rop + 1, approval=t.approval)
                    for a in t.inverse], "rollback"
        if len(t.seen) >= self.cfg.window_rops:
            self.trial = None
            self.history[-1].update(outcome="kept", post=now)
            return [], "kept"
        return [], ""
