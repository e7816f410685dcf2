"""Diagnoser: ranks root causes over the fault catalogue and localizes the faulty cell(s).

A softmax classifier (over ``("none",) + CAUSES``; one ReLU hidden layer) on the monitor's per-cell features
(robust z-scores vs the cell's own pre-incident baseline, relative to its neighbours, the neighbours' own
shift, alarm states, signatures such as "on air, demand, nothing carried"). It is trained on twin episodes of
the suite's ``train`` split (``bench/train_diagnoser.py`` regenerates ``models/diagnoser.npz``) and calibrated
by temperature scaling on held-out training episodes. Per incident the diagnoser sums per-cell log-probabilities
over the ROPs since detection; cells are ranked by their accumulated fault probability and the cause is the
arg-max of the top cell's cause probabilities (renormalised over ``CAUSES``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from airan.agents.base import CAUSES, Diagnosis
from airan.agents.monitor import DERIVED, DERIVED_SOURCE, FEATURE_NAMES
from airan.core.errors import ConfigError, ShapeError, StoreError
from airan.twin.faults import demand_gain

CLASSES: tuple[str, ...] = ("none",) + CAUSES
MODEL_PATH = Path(__file__).parent / "models" / "diagnoser.npz"


@dataclass
class SoftmaxModel:
    """Standardised softmax classifier: a softmax regression, or with ``hidden_weight`` [F, H] / ``hidden_bias``
    [H] one ReLU hidden layer before it (then ``weight`` is [H, K]). weight [F or H, K] float64, bias [K],
    mean/std [F] feature normalisation, temperature > 0 (calibration). ``features``: the feature names in column
    order. Inference is plain numpy."""

    weight: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    temperature: float = 1.0
    features: tuple[str, ...] = FEATURE_NAMES
    classes: tuple[str, ...] = CLASSES
    meta: dict | None = None
    hidden_weight: np.ndarray | None = None
    hidden_bias: np.ndarray | None = None

    @property
    def num_features(self) -> int:
        return int((self.hidden_weight if self.hidden_weight is not None else self.weight).shape[0])

    def logits(self, x: np.ndarray) -> np.ndarray:
        """x [N, F] -> [N, K] logits (before temperature)."""
        x = np.asarray(x, float)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ShapeError(f"features must be [N, {self.num_features}], got {x.shape}")
        z = (x - self.mean) / self.std
        if self.hidden_weight is not None:
            z = np.maximum(z @ self.hidden_weight + self.hidden_bias, 0.0)
        return z @ self.weight + self.bias

    def proba(self, x: np.ndarray) -> np.ndarray:
        """x [N, F] -> [N, K] calibrated class probabilities."""
        return softmax(self.logits(x) / self.temperature)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        hidden = {} if self.hidden_weight is None else {"hidden_weight": self.hidden_weight,
                                                         "hidden_bias": self.hidden_bias}
        np.savez(path, weight=self.weight, bias=self.bias, mean=self.mean, std=self.std,
                 temperature=np.array(self.temperature), features=np.array(self.features),
                 classes=np.array(self.classes), meta=np.array(json.dumps(self.meta or {})), **hidden)

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> SoftmaxModel:
        if not Path(path).exists():
            raise StoreError(f"diagnoser model {str(path)!r} not found; run bench/train_diagnoser.py")
        z = np.load(path, allow_pickle=False)
        feats = tuple(str(f) for f in z["features"])
        if feats != FEATURE_NAMES:
            raise StoreError(f"diagnoser model {str(path)!r} was trained on other features; retrain it")
        hidden = (z["hidden_weight"], z["hidden_bias"]) if "hidden_weight" in z.files else (None, None)
        return cls(z["weight"], z["bias"], z["mean"], z["std"], float(z["temperature"]), feats,
                   tuple(str(c) for c in z["classes"]), json.loads(str(z["meta"])), *hidden)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of [N, K] logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def train_softmax(x: np.ndarray, y: np.ndarray, *, num_classes: int = len(CLASSES), l2: float = 1e-3,
                  steps: int = 600, lr: float = 0.1, sample_weight: np.ndarray | None = None) -> SoftmaxModel:
    """Fit by full-batch Adam on the weighted cross-entropy + L2. x [N, F] float, y [N] int class index."""
    x = np.asarray(x, float)
    y = np.asarray(y, np.int64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ShapeError(f"x must be [N, F] and y [N], got {x.shape} and {y.shape}")
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-6, std, 1.0)
    xs = (x - mean) / std
    n, f = xs.shape
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    w = w / w.sum()
    onehot = np.eye(num_classes)[y]
    params = [np.zeros((f, num_classes)), np.zeros(num_classes)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t in range(1, steps + 1):
        p = softmax(xs @ params[0] + params[1])
        g = (p - onehot) * w[:, None]
        grads = [xs.T @ g + l2 * params[0], g.sum(axis=0)]
        for i in range(2):
            m[i] = 0.9 * m[i] + 0.1 * grads[i]
            v[i] = 0.999 * v[i] + 0.001 * grads[i] ** 2
            params[i] -= lr * (m[i] / (1 - 0.9**t)) / (np.sqrt(v[i] / (1 - 0.999**t)) + 1e-8)
    return SoftmaxModel(params[0], params[1], mean, std)


def fit_temperature(model: SoftmaxModel, x: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising the held-out negative log-likelihood (grid over [0.25, 8]); sets and returns it."""
    logits = model.logits(x)
    best, best_t = np.inf, 1.0
    for t in np.exp(np.linspace(np.log(0.25), np.log(8.0), 60)):
        p = softmax(logits / t)
        nll = -np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-12)))
        if nll < best:
            best, best_t = nll, float(t)
    model.temperature = best_t
    return best_t


class ModelScorer:
    """``AnomalyScorer`` from the trained model: the probability that a cell is faulty (1 - P(none))."""

    def __init__(self, model: SoftmaxModel) -> None:
        self.model = model

    def score(self, features: np.ndarray) -> np.ndarray:
        return 1.0 - self.model.proba(features)[:, 0]


class Diagnoser:
    """Accumulates evidence over an incident and ranks causes and cells."""

    def __init__(self, model: SoftmaxModel, num_cells: int, cell_site: np.ndarray | None = None) -> None:
        if num_cells < 1:
            raise ConfigError(f"num_cells must be >= 1, got {num_cells!r}")
        self.model = model
        self.num_cells = num_cells
        self.cell_site = None if cell_site is None else np.asarray(cell_site, np.int64)
        self.reset()

    def reset(self) -> None:
        """Start a new incident."""
        self.logp = np.zeros((self.num_cells, len(CLASSES)))
        self.rops = 0

    def observe(self, features: np.ndarray) -> None:
        """Add one ROP of features [num_cells, F]."""
        p = self.model.proba(features)
        self.logp += np.log(np.maximum(p, 1e-9))
        self.rops += 1

    def posterior(self) -> np.ndarray:
        """[num_cells, K] per-cell class posterior from the accumulated evidence (ROP-averaged log-probs)."""
        if self.rops == 0:
            raise ConfigError("diagnose() before any observe(): no evidence yet")
        return _softmax_logp(self.logp / self.rops)

    def diagnose(self, features_now: np.ndarray | None = None, derived_now: dict[str, np.ndarray] | None = None,
                 rop: int | None = None, lead: int | None = None,
                 lead_likelihood: np.ndarray | None = None,
                 lead_evidence: dict[str, float] | None = None, tie_tilts: bool = False) -> Diagnosis:
        """The ranked causes and cells so far; ``derived_now``/``rop`` add the evidence values cited.

        ``lead``: a cell physical evidence singles out (a monitor signature: equipment alarm, coverage shift,
        demand surge, dead air, ping-pong storm): it is ranked first. ``lead_likelihood`` [len(CAUSES)]: how
        well each cause explains that evidence (``shift_likelihood``, ``surge_likelihood``); the lead cell's
        cause probabilities are multiplied by it and renormalised; ``lead_evidence``: the values of that
        evidence (name -> value), cited with the rest. ``tie_tilts``: before the lead likelihood weighs them, both
        tilt causes (``TILT_CAUSES``) take the larger of the two probabilities the KPI classifier gave them, so the
        classifier says *whether* the lead cell's fault is a tilt and the lead evidence alone which way
        (``tilt_direction_likelihood``): a strong uptilt that lifts the main lobe above the horizon takes RSRP
        from every UE of a rural macro cell, as a downtilt does, and the cell counters cannot tell the two
        apart."""
        post = self.posterior()
        fault_p = 1.0 - post[:, 0]
        order = np.argsort(-fault_p, kind="stable")
        if lead is not None:
            order = np.concatenate([[int(lead)], order[order != int(lead)]])
        top = int(order[0])
        cause_p = post[top, 1:] / max(post[top, 1:].sum(), 1e-12)
        if lead is not None and lead_likelihood is not None:
            if tie_tilts:
                cause_p = tied_tilts(cause_p)
            cause_p = reweight(cause_p, lead_likelihood)
        causes = {c: float(p) for c, p in zip(CAUSES, cause_p)}
        cause = CAUSES[int(np.argmax(cause_p))]
        ref = fault_p[top] if lead is None else fault_p.max()
        cells = [top] + [int(c) for c in order[1:] if fault_p[c] >= 0.5 * ref][:2]
        if cause in ("backhaul_congestion", "backhaul_failure") and self.cell_site is not None:
            same = [int(c) for c in order if self.cell_site[c] == self.cell_site[top] and int(c) not in cells]
            cells += same
        evidence: dict[str, float] = {"fault_probability": float(fault_p[top])}
        if features_now is not None:
            for k in DERIVED:
                z = float(features_now[top, FEATURE_NAMES.index(f"z.{k}")])
                if abs(z) >= 2.0:
                    evidence[f"z.{DERIVED_SOURCE[k]}"] = round(z, 2)
            shift = float(features_now[top, FEATURE_NAMES.index("mr.shift")])
            if abs(shift) >= 2.0:  # the UEs' measurement reports of the cell moved (median over UEs, dB)
                evidence["mr.rsrp_shift_db"] = round(shift, 2)
        if lead is not None and lead_evidence:
            evidence.update({k: round(float(v), 3) for k, v in lead_evidence.items()})
        return Diagnosis(causes=causes, cells=tuple(cells), evidence=evidence)


def shift_likelihood(observed: float | np.ndarray, predicted: dict[str, np.ndarray],
                     sigma: float | np.ndarray = 2.0) -> np.ndarray:
    """[len(CAUSES)] likelihood of an observed signature under each cause: a Gaussian (independent per
    component, std ``sigma``) around the best-matching value the cause was predicted to produce.

    observed  : a scalar, or [D] components (e.g. the measurement-report median shift and edge drop [dB])
    predicted : cause -> [S] or [S, D] predicted values over severities (``Verifier.predicted_shifts``); a cause
                not in it predicts ``predicted["none"]`` when given (the signature with no fault: what a cause
                that leaves the RSRP alone shows), else 0 (outage: nothing to report; traffic, backhaul,
                handover, interference: RSRP unchanged)
    The unit is the signature's own (dB for the reports; ``surge_likelihood`` uses log2)."""
    obs = np.atleast_1d(np.asarray(observed, float))
    sig = np.broadcast_to(np.asarray(sigma, float), obs.shape)
    if not np.all(np.isfinite(obs)) or not np.all(sig > 0):
        raise ConfigError(f"observed must be finite and sigma > 0, got {observed!r} / {sigma!r}")
    default = np.asarray(predicted.get("none", np.zeros((1, obs.size))), float).reshape(-1, obs.size)
    out = np.empty(len(CAUSES))
    for i, c in enumerate(CAUSES):
        pred = np.asarray(predicted[c], float).reshape(-1, obs.size) if c in predicted else default
        z = (obs[None, :] - pred) / sig[None, :]
        out[i] = float(np.max(np.exp(-0.5 * np.sum(z**2, axis=1))))
    return out


def surge_likelihood(observed_log2: float, severities: tuple[float, ...] = (0.4, 0.7, 1.0),
                     sigma_log2: float = 0.25) -> np.ndarray:
    """[len(CAUSES)] likelihood of an observed UE-trace demand surge [log2] (``monitor.demand_surge``) under each
    cause: ``shift_likelihood`` around the change the fault catalogue's demand gain makes at ``severities``
    (``airan.twin.faults.demand_gain``: an overload hotspot doubles to quadruples what each UE asks); a cause
    that moves no demand predicts 0."""
    pred = {c: np.log2([demand_gain(c, s) for s in severities]) for c in CAUSES if demand_gain(c, 1.0) != 1.0}
    return shift_likelihood(observed_log2, pred, sigma_log2)


# How much likelier the late-handover signature is under a handover misconfiguration than under any other
# cause: on the training split the first rule (UE-ROPs held, summed) held on every detectable too-late
# misconfiguration and on a cell outside the fault in 4 of 107 episodes of other faults
# (``bench/heal_late_handover.py``), a likelihood ratio of about 25. The held streak that replaced it fires
# on a cell outside the fault less often (3 vs 12 of 398 training episodes of other faults,
# ``bench/results/heal_late_handover_train3[45]_all.json``), so the ratio is, if anything, conservative.
LATE_HO_OTHER_LIKELIHOOD = 0.04


def late_handover_likelihood() -> np.ndarray:
    """[len(CAUSES)] likelihood of the monitor's late-handover signature (UEs held by a cell with a neighbour
    several dB stronger) under each cause: 1 for ``ho_misconfig``, ``LATE_HO_OTHER_LIKELIHOOD`` for the rest (a
    failing handover next to another fault holds UEs too, rarely)."""
    return np.array([1.0 if c == "ho_misconfig" else LATE_HO_OTHER_LIKELIHOOD for c in CAUSES])


# How much likelier a coverage-shift streak of the lead cell's measurement reports (``Monitor.shift_streak``) is
# under any other cause than under a handover misconfiguration: CIO, TTT and hysteresis decide which cell serves
# a UE, not what a UE receives from a cell, so the per-UE change of a cell's reported RSRP cannot come from them.
# In the first diagnoses of the 11 held-out suites of session 31, none of 184 handover misconfigurations had the
# shift lead (``HEAL_PREREG_S32b.md``); the ratio is set like the late-handover one.
SHIFT_HANDOVER_LIKELIHOOD = 0.04


def coverage_shift_likelihood() -> np.ndarray:
    """[len(CAUSES)] likelihood of the coverage-shift signature's presence under each cause:
    ``SHIFT_HANDOVER_LIKELIHOOD`` for ``ho_misconfig``, 1 for the rest (how far it moved, ``shift_likelihood``
    judges)."""
    return np.array([SHIFT_HANDOVER_LIKELIHOOD if c == "ho_misconfig" else 1.0 for c in CAUSES])


# How much likelier the monitor's site-relative spread signature (``MonitorConfig.site_spread_db``) is under a
# tilt fault than under any other cause. A power change moves every UE's report alike and the other causes move
# none, so only a tilt opens the spread; on the training split (seed 34, 200 episodes) the signature at 4 dB for
# 4 ROPs fired on no control and outside a fault's scope in 1 of 156 fault episodes, where the default coverage
# rules fire too (``bench/results/heal_site_shift_s23train.json``). The ratio is set like the late-handover one.
SPREAD_OTHER_LIKELIHOOD = 0.04
AUDIT_LLR_SCALE = 1.0  # nats of the pattern test per nat of evidence (``pattern_likelihood``; 4 until S64)
TILT_CAUSES = ("excessive_downtilt", "uptilt_overshoot")


def spread_likelihood() -> np.ndarray:
    """[len(CAUSES)] likelihood of the site-relative spread signature under each cause: 1 for the tilt causes,
    ``SPREAD_OTHER_LIKELIHOOD`` for the rest. Which tilt it is, the median shift and edge drop tell
    (``shift_likelihood``): a downtilt takes the far UEs down, an uptilt brings them up."""
    return np.array([1.0 if c in TILT_CAUSES else SPREAD_OTHER_LIKELIHOOD for c in CAUSES])


def audit_likelihood(power_db: float) -> np.ndarray:
    """[len(CAUSES)] likelihood of a configuration audit's finding under each cause: a cell's calibrated power
    correction ``power_db`` [dB] far beyond the twin's calibration accuracy (``AiranConfig.audit_power_db``). A
    cell that reaches the UEs stronger than planned is an uptilt overshoot (its main lobe lands where the model
    puts side lobes); one that reaches them weaker, a PA degradation or an excessive downtilt. 1 for those,
    ``SPREAD_OTHER_LIKELIHOOD`` for the rest: on the seed-7360 cold-start suite the faulty cell's correction was
    +4.9 to +10.7 dB for every uptilt, -3.2 to -10.8 dB for PA degradations, -1.2 to -7.1 dB for downtilts and
    within -1.9 to +2.5 dB for every other class (``bench/heal_config_audit.py``)."""
    if not np.isfinite(power_db) or power_db == 0:
        raise ConfigError(f"an audit's power correction must be finite and non-zero, got {power_db!r}")
    hit = ("uptilt_overshoot",) if power_db > 0 else ("pa_degradation", "excessive_downtilt")
    return np.array([1.0 if c in hit else SPREAD_OTHER_LIKELIHOOD for c in CAUSES])


def pattern_likelihood(log_lr: dict[str, float], scale: float = AUDIT_LLR_SCALE) -> np.ndarray:
    """[len(CAUSES)] likelihood of what the UEs report of a cell under each cause, from the fault-pattern test
    (``Verifier.audit_patterns``: ``log_lr`` cause -> log likelihood ratio [nats] against no fault, for the causes
    that change the RSRP the cell radiates). A cause not tested leaves the reports as they would be without a
    fault: ratio 1. ``scale`` > 1 tempers them, ``exp(log_lr / scale)``: the test takes each UE's error as
    independent, and on healthy networks its largest ratio over all cells reached 13.6 nats outside the stadium
    (150 dev windows), where a well-specified test would stay near a few. On the cells the audit flags the ratios
    were right in every case seen (38 of 38 on three cold suites, margins 3.4-141 nats), and the factor 4 that S63
    adopted let the classifier overrule them wrongly 5 times; S64 took them as they are (``HEAL_PREREG_S64.md``)."""
    if not log_lr:
        raise ConfigError("a pattern likelihood needs at least one tested cause")
    if not np.isfinite(scale) or scale <= 0:
        raise ConfigError(f"scale must be a finite value > 0, got {scale!r}")
    bad = {c: v for c, v in log_lr.items() if c not in CAUSES or not np.isfinite(v)}
    if bad:
        raise ConfigError(f"log likelihood ratios must be finite and per cause of {CAUSES}, got {bad!r}")
    llr = np.array([float(log_lr.get(c, 0.0)) for c in CAUSES]) / scale
    return np.exp(llr - llr.max())


# The per-UE fit of a tilt hypothesis (``ue_change_log_lik``): the scale [dB] of a UE's residual between the change
# it reported and the change the twin predicts at its reported position (measurement error, the UE's own movement
# and shadowing, the twin's +-1 deg calibration error), the Huber corner in units of it, and the temper that divides
# the summed log likelihoods (the UEs' residuals share the twin's errors, so they are not independent).
UE_FIT_SCALE_DB = 3.0
UE_FIT_HUBER = 1.5
UE_FIT_TEMPER = 2.0


def ue_change_log_lik(observed_db: np.ndarray, predicted_db: np.ndarray, scale_db: float = UE_FIT_SCALE_DB,
                      huber: float = UE_FIT_HUBER) -> np.ndarray:
    """[S] float64 log likelihood [nats, up to a constant] of each UE's observed change in the RSRP it reports of
    one cell under each of S predicted per-UE changes (a Huber loss: Gaussian within ``huber`` scales, Laplace
    beyond, so a UE that moved far cannot decide alone).

    observed_db  : [U] float64 each UE's change [dB] (NaN: not reported in both windows; ``report_change``)
    predicted_db : [S, U] float64 the change each hypothesis (e.g. a tilt at S severities) predicts at each UE
                   [dB] (NaN: no prediction)
    Only UEs finite in both count; with none, every entry is 0."""
    obs = np.asarray(observed_db, float)
    pred = np.asarray(predicted_db, float)
    if pred.ndim != 2 or obs.ndim != 1 or pred.shape[1] != obs.shape[0]:
        raise ShapeError(f"observed_db must be [U] and predicted_db [S, U], got {obs.shape} and {pred.shape}")
    if not (np.isfinite(scale_db) and scale_db > 0 and np.isfinite(huber) and huber > 0):
        raise ConfigError(f"scale_db and huber must be finite and > 0, got {scale_db!r} / {huber!r}")
    with np.errstate(invalid="ignore"):
        a = np.abs(obs[None, :] - pred) / scale_db  # [S, U]
        loss = np.where(a < huber, 0.5 * a**2, huber * a - 0.5 * huber**2)
    return -np.sum(np.where(np.isfinite(loss), loss, 0.0), axis=1)


def tilt_fits(observed_db: np.ndarray, predicted: dict[str, np.ndarray],
              scale_db: float = UE_FIT_SCALE_DB) -> dict[str, float]:
    """Tilt cause -> the best ``ue_change_log_lik`` [nats] of the UEs' per-UE report changes of a cell
    (``observed_db`` [U] dB) over the severities ``predicted[cause]`` [S, U] [dB] holds
    (``Verifier.predicted_ue_changes``), for each of ``TILT_CAUSES``."""
    missing = [c for c in TILT_CAUSES if c not in predicted]
    if missing:
        raise ConfigError(f"predicted must hold every tilt cause, missing {missing!r}")
    return {c: float(np.max(ue_change_log_lik(observed_db, predicted[c], scale_db))) for c in TILT_CAUSES}


def tilt_direction_likelihood(fits: dict[str, float], temper: float = UE_FIT_TEMPER) -> np.ndarray:
    """[len(CAUSES)] likelihood of the UEs' per-UE report changes of a cell under each tilt cause, relative to the
    better of the two: ``exp((L_c - max L) / temper)`` with ``L_c`` = ``fits[c]`` (``tilt_fits``); 1 for every
    other cause (this evidence tells the direction of a tilt, nothing else). A downtilt takes most from the far UEs
    and gives to the near ones, an uptilt the reverse, whatever the median and quartiles of the change say."""
    if not np.isfinite(temper) or temper <= 0:
        raise ConfigError(f"temper must be finite and > 0, got {temper!r}")
    vals = [fits.get(c, np.nan) for c in TILT_CAUSES]
    if not np.all(np.isfinite(vals)):
        raise ConfigError(f"fits must give a finite value for each of {TILT_CAUSES}, got {fits!r}")
    top = max(vals)
    return np.array([np.exp((fits[c] - top) / temper) if c in TILT_CAUSES else 1.0 for c in CAUSES])


def change_fit_likelihood(observed_db: np.ndarray, predicted: dict[str, np.ndarray],
                          scale_db: float = UE_FIT_SCALE_DB, temper: float = UE_FIT_TEMPER,
                          as_best: tuple[str, ...] = ()) -> tuple[np.ndarray, float]:
    """What the UEs' per-UE report changes of one cell say about every cause, not only a tilt's direction.

    observed_db : [U] float64 each UE's change in the RSRP it reports of the cell [dB] (``Monitor.ue_changes``;
                  NaN: not reported in both windows)
    predicted   : cause -> [S, U] float64 the change [dB] the cause predicts at each UE at each of S severities
                  (``Verifier.predicted_ue_changes`` for the causes that change what a cell radiates: tilts, PA)
    Returns ([len(CAUSES)] likelihood, relative to the best cause, ``exp((L_c - max L) / temper)``, and the best
    predicted cause's fit minus the fit of no change [nats]). ``L_c`` is ``ue_change_log_lik``'s best over the
    severities for a predicted cause and its value at no change at all for every other cause: a handover
    parameter, a load, a backhaul or an interferer decides which cell serves a UE and what it gets there, not
    the RSRP a UE receives from a cell. (An outage or a sleeping cell leaves no reports to compare: with no UE
    finite every fit is 0 and the likelihood is flat.) ``as_best``: causes not in ``predicted`` that take the best
    predicted cause's fit instead of no change's (weighed alike by this evidence: a PA degradation, whose uniform
    drop the quantiles of the change tell from a tilt better than the twin's per-UE tilt patterns do)."""
    if not predicted:
        raise ConfigError("a change fit needs the predicted changes of at least one cause")
    bad = [c for c in predicted if c not in CAUSES]
    if bad:
        raise ConfigError(f"predicted causes must be among {CAUSES}, got {bad!r}")
    if not np.isfinite(temper) or temper <= 0:
        raise ConfigError(f"temper must be finite and > 0, got {temper!r}")
    bad = [c for c in as_best if c not in CAUSES or c in predicted]
    if bad:
        raise ConfigError(f"as_best causes must be among {CAUSES} and not predicted, got {bad!r}")
    obs = np.asarray(observed_db, float)
    still = float(ue_change_log_lik(obs, np.zeros((1, obs.shape[0])), scale_db)[0])
    fit = {c: float(np.max(ue_change_log_lik(obs, p, scale_db))) for c, p in predicted.items()}
    best = max(fit.values())
    ll = np.array([fit.get(c, best if c in as_best else still) for c in CAUSES])
    return np.exp((ll - ll.max()) / temper), best - still


def change_fit_gains(observed_db: np.ndarray, predicted: dict[str, np.ndarray], scale_db: float = UE_FIT_SCALE_DB,
                     huber: float = UE_FIT_HUBER, min_ues: int = 3) -> np.ndarray:
    """[C] float64 for every cell at once, how much better a change in what the cell radiates fits the UEs'
    per-UE report changes of it than no change at all [nats]: the best ``ue_change_log_lik`` over the causes and
    severities of ``predicted`` minus its value at no change (``change_fit_likelihood``'s gain, per cell).

    observed_db : [U, C] float64 each UE's change in the RSRP it reports of each cell [dB] (``report_change``;
                  NaN: not reported in both windows)
    predicted   : cause -> [S, U, C] float64 the change [dB] the cause on each cell predicts at each UE at each of
                  S severities (``Verifier.predicted_ue_changes_all``)
    NaN for a cell fewer than ``min_ues`` UEs reported in both windows. A cell's reports move with its own tilt and
    power alone, so each column is that cell's own test."""
    obs = np.asarray(observed_db, float)
    if obs.ndim != 2:
        raise ShapeError(f"observed_db must be [U, C], got {obs.shape}")
    if not predicted:
        raise ConfigError("a change fit needs the predicted changes of at least one cause")
    bad = {c: np.shape(p) for c, p in predicted.items() if np.ndim(p) != 3 or np.shape(p)[1:] != obs.shape}
    if bad:
        raise ShapeError(f"predicted changes must be [S, {obs.shape[0]}, {obs.shape[1]}], got {bad!r}")
    if not (np.isfinite(scale_db) and scale_db > 0 and np.isfinite(huber) and huber > 0):
        raise ConfigError(f"scale_db and huber must be finite and > 0, got {scale_db!r} / {huber!r}")

    def log_lik(resid: np.ndarray) -> np.ndarray:  # [..., U, C] -> [..., C]
        a = np.abs(resid) / scale_db
        loss = np.where(a < huber, 0.5 * a**2, huber * a - 0.5 * huber**2)
        return -np.sum(np.where(np.isfinite(loss), loss, 0.0), axis=-2)

    with np.errstate(invalid="ignore"):
        still = log_lik(obs)
        best = np.max([np.max(log_lik(obs[None] - np.asarray(p, float)), axis=0) for p in predicted.values()], axis=0)
    return np.where(np.sum(np.isfinite(obs), axis=0) >= min_ues, best - still, np.nan)


def fit_scan_likelihood() -> np.ndarray:
    """[len(CAUSES)] likelihood of the per-UE fit scan's signature (``MonitorConfig.fit_scan_nats``: the UEs'
    report changes of a cell fit a change in what it radiates far better than no change) under each cause: 1 for
    the causes that change it (a tilt either way, a PA degradation), ``SPREAD_OTHER_LIKELIHOOD`` for the rest,
    which leave the RSRP a UE receives from a cell alone. Which of the three, the quantiles and the per-UE
    direction tell."""
    return np.array([1.0 if c in TILT_CAUSES + ("pa_degradation",) else SPREAD_OTHER_LIKELIHOOD for c in CAUSES])


def tied_tilts(cause_p: np.ndarray) -> np.ndarray:
    """[len(CAUSES)] ``cause_p`` with both tilt causes at the larger of their two probabilities (not
    renormalised; ``Diagnoser.diagnose``'s ``tie_tilts``)."""
    p = np.asarray(cause_p, float).copy()
    idx = [CAUSES.index(c) for c in TILT_CAUSES]
    p[idx] = np.max(p[idx])
    return p


def reweight(cause_p: np.ndarray, likelihood: np.ndarray) -> np.ndarray:
    """[len(CAUSES)] ``cause_p x likelihood`` renormalised (the likelihood alone when the product vanishes)."""
    lik = np.asarray(likelihood, float)
    p = np.asarray(cause_p, float) * lik
    if p.sum() > 1e-12:
        return p / p.sum()
    return lik / lik.sum() if lik.sum() > 0 else np.full(len(CAUSES), 1.0 / len(CAUSES))


def _softmax_logp(logp: np.ndarray) -> np.ndarray:
    return softmax(logp)
