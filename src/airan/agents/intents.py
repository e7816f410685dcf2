"""Typed operator intents in the spirit of 3GPP TS 28.312 (an expectation: scope, KPI, statistic, target,
priority), parsed from a small natural-language grammar or loaded from YAML/JSON, and checked in the twin.

Grammar (case-insensitive; ``[]`` optional)::

    keep <scope> [<kpi words>] (above|below|over|under|at least|at most|>=|<=) <number> [<unit>]
         [<statistic>] [with priority <int>]
    scope     := all cells['] | cell(s) <int>[, <int> ...] | <area> cells[']     (area: the scenario's name)
    statistic := mean | median | p5 | p95 (default mean)

e.g. "keep stadium cells above 50 Mbps median", "keep all cells' PRB utilisation below 80 %",
"keep cell 3 RLF below 2". With no KPI words the unit picks the KPI (Mbps -> DL UE throughput).

An intent's value is the statistic over the per-cell KPI values of its scope's cells over the ROPs checked.
``check_intent`` rejects unknown KPIs and cells, unit mismatches and physically impossible targets, then runs
the twin: already met, reachable by a bounded action set (and not harmful: no higher-priority intent broken,
no other cell's DL throughput cut by more than ``harm_margin``), or infeasible, each with a reason.
``priority``: 1 is the most important; larger numbers yield to smaller ones.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from airan.core.errors import ConfigError
from airan.twin.actions import Action
from airan.twin.kpis import KPI_NAMES, KPI_UNITS

STATISTICS = ("mean", "median", "p5", "p95")
OPS = (">=", "<=")
_OP_WORDS = {"above": ">=", "over": ">=", "at least": ">=", ">=": ">=", "below": "<=", "under": "<=",
             "at most": "<=", "<=": "<="}
# unit word -> (canonical unit, factor to that unit)
_UNITS: dict[str, tuple[str, float]] = {
    "mbps": ("Mbit/s", 1.0), "mbit/s": ("Mbit/s", 1.0), "gbps": ("Mbit/s", 1000.0), "gbit/s": ("Mbit/s", 1000.0),
    "kbps": ("Mbit/s", 1e-3), "kbit/s": ("Mbit/s", 1e-3), "%": ("%", 1.0), "percent": ("%", 1.0),
    "db": ("dB", 1.0), "dbm": ("dBm", 1.0), "ms": ("ms", 1.0), "s": ("ms", 1000.0), "kwh": ("kWh", 1.0),
    "wh": ("kWh", 1e-3), "ues": ("UEs", 1.0), "users": ("UEs", 1.0), "count": ("count", 1.0),
    "ratio": ("ratio", 1.0), "0/1": ("0/1", 1.0),
}
# KPI words -> KPI name (longest phrase wins); exact KPI names are accepted too.
_KPI_WORDS: dict[str, str] = {
    "throughput": "DRB.UEThpDl", "dl throughput": "DRB.UEThpDl", "downlink throughput": "DRB.UEThpDl",
    "ul throughput": "DRB.UEThpUl", "uplink throughput": "DRB.UEThpUl", "cell edge throughput": "DRB.UEThpDl.p5",
    "cell throughput": "DRB.CellThpDl", "prb utilisation": "RRU.PrbUsedDl", "prb utilization": "RRU.PrbUsedDl",
    "prb": "RRU.PrbUsedDl", "load": "RRU.PrbUsedDl", "connected users": "RRC.ConnMean", "users": "RRC.ConnMean",
    "rsrp": "L1M.RSRP", "sinr": "L1M.SINR", "handovers": "HO.AttOut", "ping-pong": "HO.PingPong",
    "ping-pongs": "HO.PingPong", "ping pongs": "HO.PingPong", "rlf": "RLF.Count", "rlfs": "RLF.Count",
    "radio link failures": "RLF.Count", "energy": "PEE.Energy", "latency": "BH.LatencyMs",
    "backhaul latency": "BH.LatencyMs", "packet loss": "BH.LossRate", "loss": "BH.LossRate",
    "availability": "Cell.Available", "alarms": "Alarm.Count",
}
_UNIT_DEFAULT_KPI = {"Mbit/s": "DRB.UEThpDl", "%": "RRU.PrbUsedDl", "dBm": "L1M.RSRP", "dB": "L1M.SINR",
                     "ms": "BH.LatencyMs", "kWh": "PEE.Energy", "UEs": "RRC.ConnMean"}
# Physical range of each unit (and of ratios / availability).
_LIMITS = {"%": (0.0, 100.0), "ratio": (0.0, 1.0), "0/1": (0.0, 1.0), "dB": (-30.0, 60.0),
           "dBm": (-160.0, 50.0), "count": (0.0, np.inf), "UEs": (0.0, np.inf), "ms": (0.0, np.inf),
           "kWh": (0.0, np.inf), "Mbit/s": (0.0, np.inf)}
MAX_SPECTRAL_EFFICIENCY = 7.4063  # bit/s/Hz, 256QAM rate 948/1024 x 8 (TS 38.214 Table 5.1.3.1-2)


@dataclass(frozen=True)
class Intent:
    """One expectation. ``scope``: "all", an area name, or a tuple of cell indices; ``target`` in ``unit``."""

    scope: str | tuple[int, ...]
    kpi: str
    statistic: str
    op: str
    target: float
    unit: str
    priority: int = 1
    text: str = ""

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise ConfigError(f"intent statistic {self.statistic!r} not one of {STATISTICS}")
        if self.op not in OPS:
            raise ConfigError(f"intent op {self.op!r} not one of {OPS}")
        if not isinstance(self.target, (int, float)) or not np.isfinite(self.target):
            raise ConfigError(f"intent target must be a finite number, got {self.target!r}")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int) or self.priority < 1:
            raise ConfigError(f"intent priority must be an integer >= 1, got {self.priority!r}")
        if isinstance(self.scope, tuple):
            if not self.scope or not all(isinstance(c, int) and not isinstance(c, bool) for c in self.scope):
                raise ConfigError(f"intent scope cells must be a non-empty tuple of ints, got {self.scope!r}")
        elif not isinstance(self.scope, str) or not self.scope:
            raise ConfigError(f"intent scope must be 'all', an area name or cell indices, got {self.scope!r}")

    def met(self, value: float) -> bool:
        return bool(np.isfinite(value) and (value >= self.target if self.op == ">=" else value <= self.target))

    def to_dict(self) -> dict[str, Any]:
        return {"scope": list(self.scope) if isinstance(self.scope, tuple) else self.scope, "kpi": self.kpi,
                "statistic": self.statistic, "op": self.op, "target": self.target, "unit": self.unit,
                "priority": self.priority, "text": self.text}


# ---------------------------------------------------------------------- parsing
_SCOPE = re.compile(r"^(?:(all)\s+cells?'?|cells?\s+(\d+(?:\s*(?:,|and)\s*\d+)*)|([a-z][\w-]*)\s+cells?'?)\s*")
_OP = re.compile(r"\s*(at least|at most|above|below|over|under|>=|<=)\s*")
_NUM = re.compile(r"^(-?\d+(?:\.\d+)?)\s*")
_PRIO = re.compile(r"\s*(?:with\s+)?priority\s+(\S+)\s*$")


def _unit_word(tok: str) -> tuple[str, float] | None:
    return _UNITS.get(tok.lower())


def parse_intent(text: str, default_priority: int = 1) -> Intent:
    """Parse one sentence of the grammar above; ``ConfigError`` names the token it could not read."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"intent text must be a non-empty string, got {text!r}")
    s = " ".join(text.strip().rstrip(".").split()).lower()
    for lead in ("make sure ", "ensure ", "keep "):
        if s.startswith(lead):
            s = s[len(lead):]
            break
    else:
        raise ConfigError(f"intent must start with 'keep' (or 'ensure'), got {text.split()[0]!r}")
    priority = default_priority
    if m := _PRIO.search(s):
        if not m.group(1).isdigit():
            raise ConfigError(f"priority must be an integer, got {m.group(1)!r} in {text!r}")
        priority, s = int(m.group(1)), s[:m.start()]
    m = _SCOPE.match(s)
    if not m:
        raise ConfigError(f"cannot read the scope at {s.split()[0]!r} in {text!r}: say 'all cells', "
                          "'cell 3' or '<area> cells'")
    scope: str | tuple[int, ...]
    if m.group(1):
        scope = "all"
    elif m.group(2):
        scope = tuple(int(x) for x in re.findall(r"\d+", m.group(2)))
    else:
        scope = m.group(3)
    rest = s[m.end():]
    mo = _OP.search(rest)
    if not mo:
        raise ConfigError(f"no comparison in {text!r}: use above/below/at least/at most/>=/<=")
    kpi_words, tail = rest[:mo.start()].strip(), rest[mo.end():]
    mn = _NUM.match(tail)
    if not mn:
        bad = tail.split()[0] if tail.split() else "<end>"
        raise ConfigError(f"expected a number after {mo.group(1)!r}, got {bad!r} in {text!r}")
    target = float(mn.group(1))
    unit, statistic, factor = "", "mean", 1.0
    for tok in tail[mn.end():].split():
        if tok in STATISTICS:
            statistic = tok
        elif (u := _unit_word(tok)) is not None and not unit:
            unit, factor = u
        else:
            raise ConfigError(f"unknown token {tok!r} after the target in {text!r} (units: {sorted(_UNITS)}; "
                              f"statistics: {STATISTICS})")
    kpi = _kpi_from_words(kpi_words, unit, text)
    return Intent(scope, kpi, statistic, _OP_WORDS[mo.group(1)], target * factor, unit or KPI_UNITS.get(kpi, ""),
                  priority, text)


def _kpi_from_words(words: str, unit: str, text: str) -> str:
    words = words.strip().strip("'").strip()
    for prefix in ("the ", "their ", "its "):
        if words.startswith(prefix):
            words = words[len(prefix):]
    if not words:
        if unit in _UNIT_DEFAULT_KPI:
            return _UNIT_DEFAULT_KPI[unit]
        raise ConfigError(f"no KPI named in {text!r} and no unit to infer one from")
    exact = {k.lower(): k for k in KPI_NAMES}
    if words in exact:
        return exact[words]
    if words in _KPI_WORDS:
        return _KPI_WORDS[words]
    raise ConfigError(f"unknown KPI {words!r} in {text!r}; say one of {sorted(_KPI_WORDS)} or a KPI name")


def intent_from_dict(d: dict[str, Any]) -> Intent:
    """An intent from a mapping (YAML/JSON): either ``{"text": ...}`` or the fields of ``Intent``."""
    if not isinstance(d, dict):
        raise ConfigError(f"an intent entry must be a mapping, got {d!r}")
    if set(d) <= {"text", "priority"} and "text" in d:
        return parse_intent(d["text"], int(d.get("priority", 1)))
    missing = [k for k in ("scope", "kpi", "op", "target") if k not in d]
    if missing:
        raise ConfigError(f"intent entry {d!r} lacks {missing}")
    unknown = set(d) - {"scope", "kpi", "statistic", "op", "target", "unit", "priority", "text"}
    if unknown:
        raise ConfigError(f"intent entry has unknown field(s) {sorted(unknown)}")
    scope = d["scope"]
    scope = tuple(int(c) for c in scope) if isinstance(scope, (list, tuple)) else scope
    unit = str(d.get("unit", KPI_UNITS.get(str(d["kpi"]), "")))
    factor = 1.0
    if (u := _unit_word(unit)) is not None:
        unit, factor = u
    try:
        target = float(d["target"]) * factor
    except (TypeError, ValueError):
        raise ConfigError(f"intent target must be a number, got {d['target']!r}") from None
    return Intent(scope, str(d["kpi"]), str(d.get("statistic", "mean")), _OP_WORDS.get(str(d["op"]), str(d["op"])),
                  target, unit, d.get("priority", 1), str(d.get("text", "")))


def load_intents(path: str | Path) -> list[Intent]:
    """Intents from a ``.json``, ``.yaml`` or ``.yml`` file holding a list (or ``{"intents": [...]}``)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"intent file {str(p)!r} does not exist")
    raw = p.read_text()
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as e:
            raise ConfigError(f"intent file {str(p)!r} is not valid JSON: {e}") from None
    elif p.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ConfigError(f"reading {str(p)!r} needs PyYAML; install pyyaml or use JSON") from None
        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise ConfigError(f"intent file {str(p)!r} is not valid YAML: {e}") from None
    else:
        raise ConfigError(f"intent file suffix {p.suffix!r} not one of .json, .yaml, .yml")
    if isinstance(data, dict) and "intents" in data:
        data = data["intents"]
    if not isinstance(data, list):
        raise ConfigError(f"intent file {str(p)!r} must hold a list of intents, got {type(data).__name__}")
    return [parse_intent(e) if isinstance(e, str) else intent_from_dict(e) for e in data]


# ---------------------------------------------------------------------- checking in the twin
@dataclass(frozen=True)
class IntentCheck:
    """Outcome of ``check_intent``. ``current_value``: the intent's value with no action; ``best_value``: the
    best any bounded action set reached in the twin; ``action``: the set that meets it (empty when none)."""

    feasible: bool
    reason: str
    current_value: float = float("nan")
    best_value: float = float("nan")
    action: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"feasible": self.feasible, "reason": self.reason, "current_value": self.current_value,
                "best_value": self.best_value, "action": self.action}


def area_names(twin: Any) -> tuple[str, ...]:
    """Areas a scope may name in ``twin``: "all" and the scenario's own name (its crowd, if it has one)."""
    return ("all", twin.cfg.name)


def scope_cells(intent: Intent, twin: Any) -> np.ndarray:
    """[k] int64 cells the intent covers in ``twin`` (reset). The scenario's name as an area means the cells
    serving its event crowd (all cells when it has none). ``ConfigError`` names an unknown area or cell."""
    n = twin.cfg.num_cells
    if isinstance(intent.scope, tuple):
        bad = [c for c in intent.scope if not 0 <= c < n]
        if bad:
            raise ConfigError(f"intent cell(s) {bad} out of range [0, {n - 1}] in scenario {twin.cfg.name!r}")
        return np.unique(np.asarray(intent.scope, np.int64))
    if intent.scope == "all":
        return np.arange(n, dtype=np.int64)
    if intent.scope == twin.cfg.name:
        crowd = twin.cfg.crowd_ues
        if crowd == 0:
            return np.arange(n, dtype=np.int64)
        srv = twin.serving[-crowd:]
        return np.unique(srv[srv >= 0]).astype(np.int64)
    raise ConfigError(f"unknown area {intent.scope!r} in scenario {twin.cfg.name!r}; "
                      f"known: {list(area_names(twin))} or cell indices")


def statistic_of(values: np.ndarray, statistic: str) -> float:
    """``statistic`` over the finite entries of ``values`` (any shape); NaN when none is finite."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    if statistic == "mean":
        return float(v.mean())
    return float(np.percentile(v, {"median": 50, "p5": 5, "p95": 95}[statistic]))


def intent_value(intent: Intent, kpi_rows: list[dict[str, np.ndarray]], cells: np.ndarray) -> float:
    """The intent's value over ROP KPI dicts (name -> [num_cells]) restricted to ``cells``."""
    return statistic_of(np.stack([k[intent.kpi][cells] for k in kpi_rows]), intent.statistic)


def validate_intent(intent: Intent, twin: Any) -> str:
    """Static checks (no simulation): '' when fine, else the reason to reject."""
    if intent.kpi not in KPI_UNITS:
        return f"unknown KPI {intent.kpi!r}; known: {list(KPI_NAMES)}"
    unit = KPI_UNITS[intent.kpi]
    if intent.unit != unit:
        return f"unit {intent.unit!r} does not match KPI {intent.kpi} [{unit}]"
    lo, hi = _LIMITS.get(unit, (-np.inf, np.inf))
    if unit == "Mbit/s":
        hi = MAX_SPECTRAL_EFFICIENCY * twin.cfg.bandwidth_hz / 1e6
    if not lo <= intent.target <= hi:
        return f"target {intent.target:g} {unit} outside the physical range [{lo:g}, {hi:g}] of {intent.kpi}"
    try:
        scope_cells(intent, twin)
    except ConfigError as e:
        return str(e)
    return ""


def candidate_actions(cells: np.ndarray, twin: Any, neighbours: np.ndarray | None = None,
                      max_cells: int = 3) -> list[tuple[str, tuple[Action, ...]]]:
    """Bounded action sets tried for an intent: +-2 deg tilt, +3 dB power, CIO +-6 dB on (up to ``max_cells``
    of) the scope's cells, and -3 dB on the nearest other cells (less interference). Sets stay inside the
    knob bounds of ``twin``."""
    kn, a = twin.knobs, twin.cfg.antenna
    cs = [int(c) for c in cells[:max_cells]]
    out: list[tuple[str, tuple[Action, ...]]] = []

    def add(name: str, acts: list[Action]) -> None:
        if acts:
            out.append((name, tuple(acts)))

    add("uptilt 2 deg", [Action("tilt", c, -2.0) for c in cs if kn.tilt_deg[c] - 2 >= a.min_tilt_deg])
    add("downtilt 2 deg", [Action("tilt", c, 2.0) for c in cs if kn.tilt_deg[c] + 2 <= a.max_tilt_deg])
    add("+3 dB power", [Action("power", c, 3.0 - kn.power_offset_db[c]) for c in cs if kn.power_offset_db[c] < 3])
    add("CIO +6 dB (offload)", [Action("cio", c, min(kn.cio_db[c] + 6.0, 10.0)) for c in cs])
    add("CIO -6 dB (attract)", [Action("cio", c, max(kn.cio_db[c] - 6.0, -10.0)) for c in cs])
    if neighbours is not None:
        nb = [int(x) for x in neighbours if x >= 0 and x not in cs][:max_cells]
        add("neighbours -3 dB", [Action("power", x, -3.0) for x in nb if kn.power_offset_db[x] - 3 >= -10])
    return out


def _rollout(twin: Any, actions: tuple[Action, ...], rops: int) -> list[dict[str, np.ndarray]]:
    t = twin.clone()
    rows = []
    for r in range(rops):
        _, _, _, _, info = t.step(list(actions) if r == 0 else None)
        rows.append(info["kpis"])
    return rows


def check_intent(intent: Intent, twin: Any, others: tuple[Intent, ...] = (), *, rops: int = 3,
                 harm_margin: float = 0.1) -> IntentCheck:
    """Is ``intent`` valid, and reachable in ``twin`` (a reset ``NetworkTwin``; never modified: clones run)
    without harm? ``others``: the operator's other intents (smaller priority number = more important)."""
    if rops < 1 or not 0 <= harm_margin < 1:
        raise ConfigError(f"rops must be >= 1 and harm_margin in [0, 1), got {rops!r}/{harm_margin!r}")
    if why := validate_intent(intent, twin):
        return IntentCheck(False, why)
    cells = scope_cells(intent, twin)
    if cells.size == 0:
        return IntentCheck(False, f"area {intent.scope!r} covers no cell in scenario {twin.cfg.name!r}")
    base = _rollout(twin, (), rops)
    now = intent_value(intent, base, cells)
    if intent.met(now):
        return IntentCheck(True, f"already met: {intent.statistic} {intent.kpi} = {now:.3g} {intent.unit} "
                                 f"{intent.op} {intent.target:g}", now, now, "none")
    higher = [(o, scope_cells(o, twin)) for o in others
              if o.priority < intent.priority and not validate_intent(o, twin)]
    higher = [(o, c) for o, c in higher if o.met(intent_value(o, base, c))]  # those met now must stay met
    others_cells = np.setdiff1d(np.arange(twin.cfg.num_cells), cells)
    base_thp = float(np.nansum([k["DRB.CellThpDl"][others_cells] for k in base]))
    sign = 1.0 if intent.op == ">=" else -1.0
    xy = twin.cell_xy
    d = np.linalg.norm(xy - xy[cells].mean(axis=0), axis=1)
    best, best_name, harms = now, "none", []
    for name, acts in candidate_actions(cells, twin, np.argsort(d, kind="stable")):
        rows = _rollout(twin, acts, rops)
        v = intent_value(intent, rows, cells)
        if np.isfinite(v) and (not np.isfinite(best) or sign * v > sign * best):
            best, best_name = v, name
        if not intent.met(v):
            continue
        broken = [o for o, c in higher if not o.met(intent_value(o, rows, c))]
        thp = float(np.nansum([k["DRB.CellThpDl"][others_cells] for k in rows]))
        if broken:
            harms.append(f"'{name}' breaks higher-priority intent {broken[0].text or broken[0].to_dict()!r}")
        elif others_cells.size and base_thp > 0 and thp < (1 - harm_margin) * base_thp:
            harms.append(f"'{name}' cuts the other cells' DL traffic by {100 * (1 - thp / base_thp):.0f} % "
                         f"(> {100 * harm_margin:.0f} %)")
        else:
            return IntentCheck(True, f"reachable in the twin by '{name}': {intent.statistic} {intent.kpi} "
                                     f"{now:.3g} -> {v:.3g} {intent.unit} (target {intent.op} {intent.target:g})",
                               now, v, name)
    if harms:
        return IntentCheck(False, "harmful: every action set that meets it " + "; ".join(harms), now, best,
                           best_name)
    return IntentCheck(False, f"infeasible: no bounded action set reaches {intent.op} {intent.target:g} "
                              f"{intent.unit}; now {now:.3g}, best {best:.3g} by '{best_name}'", now, best, best_name)
