"""Parse command-line specs ``kind:key=value,...`` into faults and scheduled actions.

Faults:  ``cell_outage:cell=4,start=3``  keys: cell | cells (a+b+c), start, ramp, duration, severity, mode
Actions: ``tilt:cell=5,delta_deg=2,at=6``  keys: cell, at, and per kind delta_deg | delta_db | value | db | ms | mode
"""

from __future__ import annotations

from airan.core.errors import ActionError, FaultError, SpecError
from airan.twin.actions import ACTION_KINDS, Action
from airan.twin.faults import FAULT_KINDS, Fault

_FAULT_KEYS = {"cell", "cells", "start", "ramp", "duration", "severity", "mode"}
_ACTION_VALUE_KEYS = {"tilt": ("delta_deg",), "power": ("delta_db",), "cio": ("db", "value"),
                      "hysteresis": ("db", "value"), "ttt": ("ms", "value"), "sleep": (), "cell_on": (),
                      "cell_off": (), "restart": ()}


def _split(spec: str) -> tuple[str, dict[str, str]]:
    if ":" not in spec:
        kind, body = spec.strip(), ""
    else:
        kind, body = spec.split(":", 1)
    kind = kind.strip()
    if not kind:
        raise SpecError(f"spec {spec!r} has no kind before ':'")
    kv: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in body.split(","))):
        if "=" not in part:
            raise SpecError(f"spec {spec!r}: {part!r} is not key=value")
        k, v = (x.strip() for x in part.split("=", 1))
        if not k or not v:
            raise SpecError(f"spec {spec!r}: empty key or value in {part!r}")
        if k in kv:
            raise SpecError(f"spec {spec!r}: key {k!r} given twice")
        kv[k] = v
    return kind, kv


def _num(spec: str, key: str, value: str, cast=float):
    try:
        return cast(value)
    except ValueError:
        raise SpecError(f"spec {spec!r}: {key}={value!r} is not a valid {cast.__name__}") from None


def parse_fault(spec: str) -> Fault:
    kind, kv = _split(spec)
    if kind not in FAULT_KINDS:
        raise SpecError(f"unknown fault {kind!r} in spec {spec!r}; choose one of {sorted(FAULT_KINDS)}")
    unknown = set(kv) - _FAULT_KEYS
    if unknown:
        raise SpecError(f"spec {spec!r}: unknown key(s) {sorted(unknown)}; allowed {sorted(_FAULT_KEYS)}")
    if "cells" in kv:
        cells = tuple(_num(spec, "cells", c, int) for c in kv["cells"].split("+"))
    elif "cell" in kv:
        cells = (_num(spec, "cell", kv["cell"], int),)
    else:
        raise SpecError(f"spec {spec!r}: fault needs cell=N or cells=A+B")
    duration = kv.get("duration")
    try:
        return Fault(kind=kind, cells=cells, severity=_num(spec, "severity", kv.get("severity", "1")),
                     onset_rop=_num(spec, "start", kv.get("start", "0"), int),
                     ramp_rops=_num(spec, "ramp", kv.get("ramp", "0"), int),
                     duration_rops=None if duration is None else _num(spec, "duration", duration, int),
                     mode=kv.get("mode", "pingpong" if kind == "ho_misconfig" else ""))
    except FaultError as e:
        raise SpecError(f"spec {spec!r}: {e}") from None


def parse_action(spec: str) -> tuple[int, Action]:
    """Return ``(rop, action)``; ``at`` defaults to ROP 0."""
    kind, kv = _split(spec)
    if kind not in ACTION_KINDS:
        raise SpecError(f"unknown action {kind!r} in spec {spec!r}; choose one of {list(ACTION_KINDS)}")
    allowed = {"cell", "at", "mode", *_ACTION_VALUE_KEYS[kind]}
    unknown = set(kv) - allowed
    if unknown:
        raise SpecError(f"spec {spec!r}: unknown key(s) {sorted(unknown)}; allowed {sorted(allowed)}")
    if "cell" not in kv:
        raise SpecError(f"spec {spec!r}: action needs cell=N")
    value = 0.0
    names = _ACTION_VALUE_KEYS[kind]
    given = [k for k in names if k in kv]
    if names and not given:
        raise SpecError(f"spec {spec!r}: action {kind!r} needs {' or '.join(names)}=VALUE")
    if given:
        value = _num(spec, given[0], kv[given[0]])
    try:
        action = Action(kind=kind, cell=_num(spec, "cell", kv["cell"], int), value=value, mode=kv.get("mode", ""))
    except ActionError as e:
        raise SpecError(f"spec {spec!r}: {e}") from None
    at = _num(spec, "at", kv.get("at", "0"), int)
    if at < 0:
        raise SpecError(f"spec {spec!r}: at={at} must be >= 0")
    return at, action
