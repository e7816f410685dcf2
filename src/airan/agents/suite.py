"""Healing suites: reproducible sets of fault episodes (and no-fault controls) that every policy is scored on.

A suite is plain JSON (``save_suite`` / ``load_suite``) so anyone can write one, with any scenario known to
airan and any seed; ``load_suite`` validates every field and names the bad one.

How ``make_suite(split, n, seed)`` builds a suite (all draws from one generator keyed by (split, seed)):

* **splits** ``train`` / ``dev`` / ``test`` use different seed streams, and every twin seed of split ``k``
  is ``== k (mod 3)``, so no network of one split ever appears in another (the diagnoser trains on
  ``train`` without seeing dev/test).
* **scenarios and length**: by default 45 % ci-tiny, 25 % rma-7, 20 % stadium, 10 % umi-19 (21, 21, 21 and 57
  cells) and ``DEFAULT_ROPS`` = 24 ROPs. Measured on 2 CPU cores: 350 / 210 / 230 / 75 twin steps/s and
  0.05 / 0.1-0.3 / 1.1 / 3.6 s per new drop, so one episode (healed run + two reference runs) costs ~0.3 s
  of twin time on average and 300 episodes x 5 policies leave most of the hour to the policies themselves.
  The choice is recorded in the suite (``rops``, ``scenarios``).
* **faults**: one fault per episode cycling over all 10 causes (``ho_misconfig`` alternating ``pingpong`` /
  ``too_late``), on a random cell; onset after ``>= 6`` clean ROPs (the agents need a baseline; shorter
  suites scale this down), severity U(0.4, 1) (1 for the hard faults: outage, backhaul failure, sleeping
  cell), a linear ramp of 0-3 ROPs in 40 % of episodes, and a finite duration in 20 % (most last to the end).
* **controls**: ``ceil(0.22 n)`` episodes (>= 20 %), half with no fault at all, half with a ``benign_surge``
  (a demand surge of x1.2-1.6 on 1-3 neighbouring cells that is not a fault).
* **look-alike pairs**: ``n // 12`` pairs of episodes on the *same* network and cell whose symptoms
  resemble each other: PA degradation vs excessive downtilt, external interference vs overload, backhaul
  congestion vs overload, sleeping cell vs low demand (a control whose ``focus_cells`` is the cell that
  carries the least traffic). Both episodes carry the pair's name in ``lookalike``.
* **undetectable** (``detectable_check``): the faulted episode and its no-fault twin (same seed) are run;
  the scope is the fault cells (all cells of the site for backhaul faults) plus their 6 sector neighbours.
  For every KPI and scope cell, noise is the std of the no-fault run's ROP-to-ROP differences divided by
  sqrt(2) (floored at 1e-6 of the KPI's scale); the KPI *moved* when the mean |faulted - no-fault| over the
  fault's active ROPs exceeds 3 x noise. The noise of a stochastic event count (handover attempts,
  successes, ping-pongs, RLFs) is at least the Poisson standard error of its mean over the ``n`` active
  ROPs, ``sqrt(rate / n)``, the rate at least one event per run: a cell with no RLF in the no-fault run does
  not make one or two RLFs in the faulted run a detectable fault (three or more over 16 ROPs are).
  An episode in which nothing moved is flagged ``undetectable`` and the scorer reports it apart. NaN KPIs
  (cells with no UE) count as 0.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from airan.agents.base import CAUSES
from airan.agents.monitor import sector_neighbours
from airan.core.errors import ConfigError, FaultError
from airan.twin.env import NetworkTwin
from airan.twin.faults import FAULT_KINDS, SITE_FAULTS, Fault
from airan.twin.scenarios import get_scenario

SUITE_VERSION = 1
SPLITS = ("train", "dev", "test")
_SPLIT_KEY = {"train": 0x7A11, "dev": 0xDE5, "test": 0x7E57}
DEFAULT_SCENARIOS: tuple[str, ...] = ("ci-tiny", "rma-7", "stadium", "umi-19")
DEFAULT_WEIGHTS: tuple[float, ...] = (0.45, 0.25, 0.20, 0.10)
DEFAULT_ROPS = 24
CONTROL_SHARE = 0.22
HARD_FAULTS = ("cell_outage", "backhaul_failure", "sleeping_cell")
LOOKALIKE_PAIRS: dict[str, tuple[str, str]] = {
    "pa_vs_downtilt": ("pa_degradation", "excessive_downtilt"),
    "interference_vs_overload": ("external_interference", "overload_hotspot"),
    "backhaul_vs_overload": ("backhaul_congestion", "overload_hotspot"),
    "sleeping_vs_low_demand": ("sleeping_cell", "low_demand"),
}
FAULT_SLOTS: tuple[tuple[str, str], ...] = tuple((c, "") for c in CAUSES if c != "ho_misconfig") + (
    ("ho_misconfig", "pingpong"), ("ho_misconfig", "too_late"))
NOISE_K = 3.0
# Stochastic event counts: a cell that saw none of them in the no-fault run has a zero ROP-to-ROP std, which
# says nothing about their rate; their noise is floored at the Poisson standard error of a mean over the
# active ROPs, with the rate at least one event per run. Alarm.Count is a count too, but deterministic: an
# alarm the no-fault run never raised is signal, not noise.
EVENT_COUNT_KPIS = ("HO.AttOut", "HO.SuccOut", "HO.PingPong", "RLF.Count")


@dataclass(frozen=True)
class SuiteEpisode:
    """One episode: a network (scenario + seed), its length, injected faults (ground truth) and tags.

    control: no fault (nothing or only ``benign_surge``); lookalike: the look-alike pair it belongs to ("" if
    none); undetectable: the fault moved no KPI beyond noise (see the module docstring); focus_cells: the cells
    a control is about (the low-demand cell of a sleeping-vs-low-demand pair, the benign surge's cells)."""

    id: str
    scenario: str
    seed: int
    rops: int
    faults: tuple[Fault, ...] = ()
    control: bool = False
    lookalike: str = ""
    undetectable: bool = False
    split: str = "dev"
    focus_cells: tuple[int, ...] = ()

    @property
    def cause(self) -> str | None:
        """The true root cause (first real fault), None for a control."""
        real = [f for f in self.faults if f.kind != "benign_surge"]
        return real[0].kind if real else None

    @property
    def onset_rop(self) -> int | None:
        real = [f for f in self.faults if f.kind != "benign_surge"]
        return min(f.onset_rop for f in real) if real else None

    def to_dict(self) -> dict[str, Any]:
        return episode_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SuiteEpisode:
        return episode_from_dict(d)


@dataclass(frozen=True)
class Suite:
    """A named set of episodes. ``rops``/``scenarios``: the defaults it was made with (informational)."""

    name: str
    split: str
    seed: int
    episodes: tuple[SuiteEpisode, ...]
    version: int = SUITE_VERSION
    rops: int = DEFAULT_ROPS
    scenarios: tuple[str, ...] = DEFAULT_SCENARIOS
    meta: dict[str, Any] = field(default_factory=dict)

    def episode(self, episode_id: str) -> SuiteEpisode:
        for e in self.episodes:
            if e.id == episode_id:
                return e
        raise ConfigError(f"suite {self.name!r} has no episode {episode_id!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "split": self.split, "seed": self.seed, "version": self.version,
                "rops": self.rops, "scenarios": list(self.scenarios), "meta": dict(self.meta),
                "episodes": [episode_to_dict(e) for e in self.episodes]}


# ---------------------------------------------------------------------------------------------- (de)serialising
def fault_to_dict(f: Fault) -> dict[str, Any]:
    d = asdict(f)
    d["cells"] = [int(c) for c in f.cells]
    return d


def episode_to_dict(ep: SuiteEpisode) -> dict[str, Any]:
    return {"id": ep.id, "scenario": ep.scenario, "seed": int(ep.seed), "rops": int(ep.rops),
            "faults": [fault_to_dict(f) for f in ep.faults], "control": bool(ep.control),
            "lookalike": ep.lookalike, "undetectable": bool(ep.undetectable), "split": ep.split,
            "focus_cells": [int(c) for c in ep.focus_cells]}


_FAULT_FIELDS = ("kind", "cells", "severity", "onset_rop", "ramp_rops", "duration_rops", "mode", "params")
_EP_FIELDS = ("id", "scenario", "seed", "rops", "faults", "control", "lookalike", "undetectable", "split",
              "focus_cells")


def _int(where: str, v: Any, lo: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ConfigError(f"{where} must be an integer >= {lo}, got {v!r}")
    return int(v)


def fault_from_dict(d: Any, where: str = "fault") -> Fault:
    if not isinstance(d, dict):
        raise FaultError(f"{where} must be a mapping, got {d!r}")
    unknown = sorted(set(d) - set(_FAULT_FIELDS))
    if unknown:
        raise FaultError(f"{where} has unknown field(s) {unknown}; allowed: {list(_FAULT_FIELDS)}")
    if "kind" not in d or "cells" not in d:
        raise FaultError(f"{where} needs 'kind' and 'cells', got {d!r}")
    cells = d["cells"]
    if isinstance(cells, (int, np.integer)) and not isinstance(cells, bool):
        cells = [cells]
    if not isinstance(cells, (list, tuple)) or not all(
            isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in cells):
        raise FaultError(f"{where}.cells must be a list of integers, got {cells!r}")
    for name in ("onset_rop", "ramp_rops"):
        if name in d and (isinstance(d[name], bool) or not isinstance(d[name], (int, np.integer))):
            raise FaultError(f"{where}.{name} must be an integer, got {d[name]!r}")
    dur = d.get("duration_rops")
    if dur is not None and (isinstance(dur, bool) or not isinstance(dur, (int, np.integer))):
        raise FaultError(f"{where}.duration_rops must be an integer or null, got {dur!r}")
    sev = d.get("severity", 1.0)
    if isinstance(sev, bool) or not isinstance(sev, (int, float)):
        raise FaultError(f"{where}.severity must be a number, got {sev!r}")
    try:
        return Fault(**(d | {"cells": tuple(int(c) for c in cells), "severity": float(sev),
                             "mode": str(d.get("mode", "") or ""), "params": dict(d.get("params") or {})}))
    except FaultError as e:
        raise FaultError(f"{where}: {e}") from None


def episode_from_dict(d: Any, where: str = "episode") -> SuiteEpisode:
    """Rebuild and validate one episode (scenario known, cells in range, fault windows inside the episode)."""
    if not isinstance(d, dict):
        raise ConfigError(f"{where} must be a mapping, got {d!r}")
    unknown = sorted(set(d) - set(_EP_FIELDS))
    if unknown:
        raise ConfigError(f"{where} has unknown field(s) {unknown}; allowed: {list(_EP_FIELDS)}")
    for req in ("id", "scenario", "seed", "rops"):
        if req not in d:
            raise ConfigError(f"{where} is missing the field {req!r}")
    eid = d["id"]
    if not isinstance(eid, str) or not eid:
        raise ConfigError(f"{where}.id must be a non-empty string, got {eid!r}")
    where = f"episode {eid!r}"
    if not isinstance(d["scenario"], str):
        raise ConfigError(f"{where}.scenario must be a scenario name, got {d['scenario']!r}")
    cfg = get_scenario(d["scenario"])  # UnknownScenarioError (a ConfigError) lists the known ones
    seed = _int(f"{where}.seed", d["seed"])
    rops = _int(f"{where}.rops", d["rops"], lo=2)
    raw = d.get("faults", [])
    if not isinstance(raw, (list, tuple)):
        raise FaultError(f"{where}.faults must be a list, got {raw!r}")
    faults = tuple(fault_from_dict(f, f"{where}.faults[{i}]") for i, f in enumerate(raw))
    for i, f in enumerate(faults):
        try:
            f.validate_for(cfg.num_cells)
        except FaultError as e:
            raise FaultError(f"{where}.faults[{i}]: {e}") from None
        if f.onset_rop >= rops:
            raise FaultError(f"{where}.faults[{i}].onset_rop {f.onset_rop} is not inside the episode's {rops} ROPs")
    control = d.get("control")
    is_control = all(f.kind == "benign_surge" for f in faults)
    if control is None:
        control = is_control
    if not isinstance(control, bool):
        raise ConfigError(f"{where}.control must be true/false, got {control!r}")
    if control != is_control:
        raise ConfigError(f"{where}.control is {control!r} but its faults say {is_control!r} "
                          f"(a control holds no fault other than benign_surge)")
    look = d.get("lookalike", "") or ""
    if not isinstance(look, str):
        raise ConfigError(f"{where}.lookalike must be a string, got {look!r}")
    und = d.get("undetectable", False)
    if not isinstance(und, bool):
        raise ConfigError(f"{where}.undetectable must be true/false, got {und!r}")
    split = d.get("split", "dev")
    if not isinstance(split, str) or not split:
        raise ConfigError(f"{where}.split must be a non-empty string, got {split!r}")
    focus = d.get("focus_cells", []) or []
    if not isinstance(focus, (list, tuple)):
        raise ConfigError(f"{where}.focus_cells must be a list of cells, got {focus!r}")
    focus_t = tuple(_int(f"{where}.focus_cells[{i}]", c) for i, c in enumerate(focus))
    bad = [c for c in focus_t if c >= cfg.num_cells]
    if bad:
        raise ConfigError(f"{where}.focus_cells {bad} out of range [0, {cfg.num_cells - 1}]")
    return SuiteEpisode(eid, cfg.name, seed, rops, faults, control, look, und, split, focus_t)


def suite_from_dict(d: Any) -> Suite:
    if not isinstance(d, dict):
        raise ConfigError(f"a suite file holds a JSON object, got {type(d).__name__}")
    for req in ("name", "episodes"):
        if req not in d:
            raise ConfigError(f"suite is missing the field {req!r}")
    version = d.get("version", SUITE_VERSION)
    if version != SUITE_VERSION:
        raise ConfigError(f"suite version {version!r} is not supported (this airan reads version {SUITE_VERSION})")
    if not isinstance(d["episodes"], list) or not d["episodes"]:
        raise ConfigError(f"suite.episodes must be a non-empty list, got {str(d['episodes'])[:80]!r}")
    eps = tuple(episode_from_dict(e, f"suite.episodes[{i}]") for i, e in enumerate(d["episodes"]))
    seen: set[str] = set()
    for e in eps:
        if e.id in seen:
            raise ConfigError(f"suite has two episodes with id {e.id!r}")
        seen.add(e.id)
    split = d.get("split", "custom")
    if not isinstance(split, str) or not split:
        raise ConfigError(f"suite.split must be a non-empty string, got {split!r}")
    scen = d.get("scenarios") or sorted({e.scenario for e in eps})
    meta = d.get("meta") or {}
    if not isinstance(meta, dict):
        raise ConfigError(f"suite.meta must be a mapping, got {meta!r}")
    return Suite(str(d["name"]), split, _int("suite.seed", d.get("seed", 0)), eps, SUITE_VERSION,
                 _int("suite.rops", d.get("rops", max(e.rops for e in eps)), lo=2), tuple(scen), meta)


def save_suite(suite: Suite, path: str | Path) -> Path:
    """Write ``suite`` as JSON (atomically: a temp file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(suite.to_dict(), indent=1))
    tmp.replace(path)
    return path


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite file; raises ``ConfigError``/``FaultError`` naming the bad field."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"suite file {str(path)!r} does not exist")
    try:
        d = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"suite file {str(path)!r} is not valid JSON: {e}") from None
    return suite_from_dict(d)


def pool_suites(runs: list[tuple[Suite, list[dict[str, Any]]]],
                name: str = "pooled") -> tuple[Suite, list[dict[str, Any]]]:
    """One suite and one policy's logs from several (suite, logs) runs, so the scorer's intervals cover all of
    them at once: each episode id (and its log's ``episode_id``) becomes ``"SUITE_NAME/ID"``. Every log must
    match an episode of its own suite and the suite names must differ (``ConfigError`` naming the bad one);
    the pooled suite's ``meta["pooled"]`` lists the suites it holds, in order."""
    if not runs:
        raise ConfigError("pool_suites() needs at least one (suite, logs) run")
    names = [s.name for s, _ in runs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"pool_suites(): suite names must differ, got {dup} more than once")
    episodes: list[SuiteEpisode] = []
    logs: list[dict[str, Any]] = []
    for suite, run_logs in runs:
        ids = {e.id for e in suite.episodes}
        for lg in run_logs:
            if lg.get("episode_id") not in ids:
                raise ConfigError(f"log of episode {lg.get('episode_id')!r} matches no episode of suite "
                                  f"{suite.name!r}")
            logs.append({**lg, "episode_id": f"{suite.name}/{lg['episode_id']}"})
        episodes += [dataclasses.replace(e, id=f"{suite.name}/{e.id}") for e in suite.episodes]
    first = runs[0][0]
    return Suite(name, first.split, first.seed, tuple(episodes), first.version, first.rops, first.scenarios,
                 {"pooled": names}), logs


# ---------------------------------------------------------------------------------------------- detectability
def fault_scope(faults: tuple[Fault, ...], cell_site: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Cells a fault can touch: its cells (all of the site's cells for a backhaul fault) plus their
    neighbours. cell_site [num_cells] int64; neighbours [num_cells, K] int64 (-1 pads). Returns sorted int64."""
    cells: set[int] = set()
    for f in faults:
        cells |= set(cause_scope(f.kind, f.cells, cell_site, neighbours).tolist())
    return np.array(sorted(cells), dtype=np.int64)


def cause_scope(cause: str, cells: tuple[int, ...], cell_site: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """``fault_scope`` of one cause on ``cells`` (a hypothesis: no severity, onset or mode needed)."""
    fc = [int(c) for c in cells]
    if cause in SITE_FAULTS:
        fc = [int(c) for c in np.nonzero(np.isin(cell_site, cell_site[fc]))[0]]
    nb = {int(n) for c in fc for n in neighbours[c] if n >= 0}
    return np.array(sorted(set(fc) | nb), dtype=np.int64)


def step_kpis(twin: NetworkTwin, rops: int, reports: list[np.ndarray] | None = None,
              trace: list[tuple[np.ndarray, np.ndarray]] | None = None) -> dict[str, np.ndarray]:
    """Step a reset ``twin`` ``rops`` ROPs with no action: KPI name -> [rops, num_cells] float64. ``reports``,
    when given, receives each ROP's measurement reports ([num_ues, num_cells] float64 dBm, NaN: none);
    ``trace`` each ROP's UE trace (serving cell [num_ues] int64, offered DL traffic [num_ues] float64 Mbit/s)."""
    out: dict[str, list[np.ndarray]] = {}
    for _ in range(rops):
        info = twin.step()[4]
        kpis = info["kpis"]
        if reports is not None:
            reports.append(info["mr_rsrp_dbm"])
        if trace is not None:
            trace.append((info["ue_serving"], info["ue_dl_demand_mbps"]))
        for k, v in kpis.items():
            out.setdefault(k, []).append(np.asarray(v, dtype=np.float64))
    return {k: np.stack(v) for k, v in out.items()}


def kpi_series(scenario: str, seed: int, rops: int, faults: tuple[Fault, ...] = ()) -> dict[str, np.ndarray]:
    """Run an episode without healing: KPI name -> [rops, num_cells] float64."""
    twin = NetworkTwin(scenario)
    twin.reset(seed=seed, options={"faults": list(faults)})
    return step_kpis(twin, rops)


def moved_kpis(faulted: dict[str, np.ndarray], nofault: dict[str, np.ndarray], scope: np.ndarray,
               active: np.ndarray) -> list[str]:
    """KPIs (``name@cell``) that moved beyond noise (rule in the module docstring). faulted/nofault: name ->
    [rops, num_cells]; scope: cells [M] int64; active: [rops] bool ROPs where the fault is active."""
    moved = []
    if not active.any():
        return moved
    for k in sorted(nofault):
        a = np.nan_to_num(faulted[k][:, scope])  # [rops, M]
        b = np.nan_to_num(nofault[k][:, scope])
        scale = max(float(np.max(np.abs(b))), 1.0)
        noise = np.maximum(np.std(np.diff(b, axis=0), axis=0) / math.sqrt(2.0), 1e-6 * scale)  # [M]
        if k in EVENT_COUNT_KPIS:  # Poisson: the std of a mean rate over the active ROPs, rate >= 1 per run
            rate = np.maximum(b.mean(axis=0), 1.0 / b.shape[0])  # [M] events per ROP
            noise = np.maximum(noise, np.sqrt(rate / int(active.sum())))
        gap = np.mean(np.abs(a[active] - b[active]), axis=0)  # [M]
        for j in np.nonzero(gap > NOISE_K * noise)[0]:
            moved.append(f"{k}@{int(scope[j])}")
    return moved


def is_undetectable(ep: SuiteEpisode) -> bool:
    """True when the episode's fault moves no KPI of its scope beyond the no-fault run's noise."""
    if ep.control:
        return False
    twin = NetworkTwin(ep.scenario)
    twin.reset(seed=ep.seed)
    d = twin.drop
    nb = sector_neighbours(d.site_xy[d.cell_site], d.cell_yaw_deg)
    real = tuple(f for f in ep.faults if f.kind != "benign_surge")
    scope = fault_scope(real, d.cell_site, nb)
    active = np.array([any(f.level(r) > 0 for f in real) for r in range(ep.rops)])
    faulted = kpi_series(ep.scenario, ep.seed, ep.rops, ep.faults)
    nofault = kpi_series(ep.scenario, ep.seed, ep.rops, tuple(f for f in ep.faults if f.kind == "benign_surge"))
    return not moved_kpis(faulted, nofault, scope, active)


def _flag_detectability(episodes: list[SuiteEpisode] | tuple[SuiteEpisode, ...],
                        on_episode: Callable[[int, int], None] | None = None) -> list[SuiteEpisode]:
    out = []
    for k, e in enumerate(episodes):
        out.append(dataclasses.replace(e, undetectable=is_undetectable(e)))
        if on_episode is not None:
            on_episode(k + 1, len(episodes))
    return out


def recheck_suite(suite: Suite, on_episode: Callable[[int, int], None] | None = None) -> tuple[Suite, list[str]]:
    """``suite`` with every episode's ``undetectable`` flag recomputed by the current rule (a suite written by
    hand, or by an older airan), and the ids of the episodes whose flag changed. Episodes are otherwise kept."""
    eps = _flag_detectability(suite.episodes, on_episode)
    changed = [e.id for e, old in zip(eps, suite.episodes, strict=True) if e.undetectable != old.undetectable]
    meta = dict(suite.meta) | {"detectable_check": True, "noise_k": NOISE_K}
    return dataclasses.replace(suite, episodes=tuple(eps), meta=meta), changed


# ---------------------------------------------------------------------------------------------- making suites
def _split_rng(split: str, seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([_SPLIT_KEY[split], seed])))


def _fault(kind: str, mode: str, cell: int, rops: int, rng: np.random.Generator) -> Fault:
    onset_lo = max(2, min(6, rops // 3))
    onset_hi = max(onset_lo, min(10, rops - 6))
    onset = int(rng.integers(onset_lo, onset_hi + 1))
    hard = kind in HARD_FAULTS
    sev = 1.0 if hard else round(float(rng.uniform(0.4, 1.0)), 3)
    ramp = 0 if hard or rng.random() >= 0.4 else int(rng.integers(1, 4))
    left = rops - onset
    dur = int(rng.integers(max(6, left // 2), left)) if rng.random() < 0.2 and left > 8 else None
    return Fault(kind, (int(cell),), severity=sev, onset_rop=onset, ramp_rops=ramp, duration_rops=dur, mode=mode)


def _surge(cell: int, neighbours: np.ndarray, rops: int, rng: np.random.Generator) -> Fault:
    k = int(rng.integers(0, 3))
    cells = (int(cell),) + tuple(int(n) for n in neighbours[cell][:k] if n >= 0)
    onset = int(rng.integers(max(2, min(6, rops // 3)), max(3, rops - 4)))
    return Fault("benign_surge", tuple(sorted(set(cells))), severity=round(float(rng.uniform(0.3, 1.0)), 3),
                 onset_rop=onset, ramp_rops=int(rng.integers(0, 4)))


def _network(ep_seed_rng: np.random.Generator, split: str) -> int:
    return 3 * int(ep_seed_rng.integers(0, 2**29)) + SPLITS.index(split)


def _low_demand_cell(scenario: str, seed: int) -> int:
    twin = NetworkTwin(scenario)
    twin.reset(seed=seed)
    demand = np.zeros(twin.cfg.num_cells)
    for _ in range(3):
        demand += np.nan_to_num(twin.step()[4]["kpis"]["DRB.DemandDl"])
    return int(np.argmin(demand))


def make_suite(split: str, episodes: int, seed: int, *, scenarios: tuple[str, ...] | None = None,
               rops: int = DEFAULT_ROPS, name: str | None = None, detectable_check: bool = True,
               on_episode: Any = None, causes: tuple[str, ...] | None = None, cold_start: bool = False) -> Suite:
    """Build a suite (recipe in the module docstring). ``scenarios`` defaults to the weighted mix
    ``DEFAULT_SCENARIOS``/``DEFAULT_WEIGHTS`` (a custom tuple is drawn uniformly); ``detectable_check`` runs
    every faulted episode twice to set ``undetectable``; ``on_episode(i, n)`` reports progress.
    ``causes`` (None: all 10) focuses the suite on some fault classes: the single-fault episodes cycle over
    those causes only (``ho_misconfig`` still alternating its two modes), a look-alike pair is kept only when
    both its members are among them (``low_demand`` is a control, so ``sleeping_cell`` keeps its pair), and the
    controls stay at ``CONTROL_SHARE``. It is what a study of one compensation needs: the classes it acts on,
    many times, with the same recipe. With ``causes`` None the draws are exactly those of earlier versions, so
    every suite made before reproduces.
    ``cold_start``: every fault is already there at ROP 0 (onset 0, no ramp; a finite duration is kept), as in a
    network the agents are switched on in with a problem it already has: no cell has a clean history to compare
    with. The draws are those of the same suite without it (same networks, cells, causes, severities, controls),
    so the two suites pair episode by episode; the controls' benign surges keep their onsets."""
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {SPLITS}, got {split!r}")
    _int("episodes", episodes, lo=1)
    _int("seed", seed)
    _int("rops", rops, lo=8)
    slots, pairs = FAULT_SLOTS, list(LOOKALIKE_PAIRS)
    if causes is not None:
        causes = tuple(causes)
        bad = [c for c in causes if c not in CAUSES]
        if not causes or bad:
            raise ConfigError(f"causes must name at least one of {CAUSES}, got {bad or list(causes)!r}")
        slots = tuple(s for s in FAULT_SLOTS if s[0] in causes)
        pairs = [p for p in LOOKALIKE_PAIRS
                 if all(m in causes or m == "low_demand" for m in LOOKALIKE_PAIRS[p])]
    if scenarios is None:
        scen, weights = DEFAULT_SCENARIOS, np.array(DEFAULT_WEIGHTS)
    else:
        scen = tuple(scenarios)
        if not scen:
            raise ConfigError("scenarios must name at least one scenario")
        weights = np.full(len(scen), 1.0 / len(scen))
    cfgs = {s: get_scenario(s) for s in scen}
    rng = _split_rng(split, seed)
    n = episodes
    n_pairs = n // 12 if pairs else 0
    pair_names = [pairs[k % len(pairs)] for k in range(n_pairs)]
    n_ctrl_total = min(math.ceil(CONTROL_SHARE * n), n - 1) if n > 1 else 0
    n_ctrl = max(0, n_ctrl_total - pair_names.count("sleeping_vs_low_demand"))
    n_single = n - 2 * n_pairs - n_ctrl
    slot0 = int(rng.integers(0, len(slots)))
    plans: list[tuple[str, Any]] = [("fault", slots[(slot0 + i) % len(slots)]) for i in range(n_single)]
    plans += [("control", "surge" if i % 2 else "none") for i in range(n_ctrl)]
    plans += [("pair", p) for p in pair_names]
    order = rng.permutation(len(plans))
    out: list[SuiteEpisode] = []
    nb_cache: dict[tuple[str, int], np.ndarray] = {}

    def neighbours(s: str, sd: int) -> np.ndarray:
        if (s, sd) not in nb_cache:
            twin = NetworkTwin(s)
            twin.reset(seed=sd)
            nb_cache.clear()
            nb_cache[(s, sd)] = sector_neighbours(twin.drop.site_xy[twin.drop.cell_site], twin.drop.cell_yaw_deg)
        return nb_cache[(s, sd)]

    def faulty(f: Fault) -> Fault:
        return dataclasses.replace(f, onset_rop=0, ramp_rops=0) if cold_start else f

    for j in order:
        kind, arg = plans[j]
        s = str(scen[int(rng.choice(len(scen), p=weights))])
        sd = _network(rng, split)
        cell = int(rng.integers(0, cfgs[s].num_cells))
        i = len(out)
        if kind == "fault":
            f = faulty(_fault(arg[0], arg[1], cell, rops, rng))
            out.append(SuiteEpisode(f"{split}-{i:04d}", s, sd, rops, (f,), split=split))
        elif kind == "control":
            faults = (_surge(cell, neighbours(s, sd), rops, rng),) if arg == "surge" else ()
            focus = faults[0].cells if faults else ()
            out.append(SuiteEpisode(f"{split}-{i:04d}", s, sd, rops, faults, True, split=split, focus_cells=focus))
        else:
            a, b = LOOKALIKE_PAIRS[arg]
            if b == "low_demand":
                cell = _low_demand_cell(s, sd)
            fa = faulty(_fault(a, "", cell, rops, rng))
            out.append(SuiteEpisode(f"{split}-{i:04d}a", s, sd, rops, (fa,), lookalike=arg, split=split))
            if b == "low_demand":
                out.append(SuiteEpisode(f"{split}-{i:04d}b", s, sd, rops, (), True, arg, split=split,
                                        focus_cells=(cell,)))
            else:
                fb = _fault(b, "", cell, rops, rng)
                fb = faulty(Fault(fb.kind, fb.cells, fb.severity, fa.onset_rop, fb.ramp_rops, fb.duration_rops,
                                  fb.mode))
                out.append(SuiteEpisode(f"{split}-{i:04d}b", s, sd, rops, (fb,), lookalike=arg, split=split))
    if detectable_check:
        out = _flag_detectability(out, on_episode)
    meta = {"rops": rops, "scenarios": list(scen), "weights": [float(w) for w in weights],
            "control_share": CONTROL_SHARE, "lookalike_pairs": n_pairs, "detectable_check": detectable_check,
            "noise_k": NOISE_K}
    if causes is not None:
        meta["causes"] = list(causes)
    if cold_start:
        meta["cold_start"] = True
    name = name or f"{split}-{n}-s{seed}" + ("-cold" if cold_start else "")
    return Suite(name, split, seed, tuple(out), SUITE_VERSION, rops, tuple(scen), meta)


def suite_summary(suite: Suite) -> dict[str, Any]:
    """Counts per cause, controls, look-alike pairs, undetectable episodes and scenarios."""
    causes: dict[str, int] = {}
    for e in suite.episodes:
        key = e.cause or "control"
        causes[key] = causes.get(key, 0) + 1
    scen: dict[str, int] = {}
    for e in suite.episodes:
        scen[e.scenario] = scen.get(e.scenario, 0) + 1
    n = len(suite.episodes)
    ctrl = sum(e.control for e in suite.episodes)
    return {"name": suite.name, "split": suite.split, "seed": suite.seed, "episodes": n, "controls": ctrl,
            "control_share": ctrl / n if n else 0.0, "per_cause": causes, "scenarios": scen,
            "lookalike_episodes": sum(bool(e.lookalike) for e in suite.episodes),
            "undetectable": sum(e.undetectable for e in suite.episodes),
            "fault_kinds_known": sorted(FAULT_KINDS)}
