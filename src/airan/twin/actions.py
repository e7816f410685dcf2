"""Action catalogue: typed, bounded, reversible operator actions.

Each action records the knob's pre-state so it can be rolled back exactly. Knobs live in ``CellKnobs``
(per-cell arrays); the twin reads them every evaluation, so re-evaluating an action never redraws the channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from airan.core.errors import ActionError

TTT_VALUES_MS = (0, 40, 64, 80, 100, 128, 160, 256, 320, 480, 512, 640, 1024, 1280, 2560, 5120)  # TS 38.331
ACTION_KINDS = ("tilt", "power", "cell_on", "cell_off", "restart", "sleep", "cio", "ttt", "hysteresis")
SLEEP_MODES = {"awake": 0, "micro": 1, "deep": 2}
POWER_OFFSET_BOUNDS_DB = (-10.0, 3.0)
CIO_BOUNDS_DB = (-10.0, 10.0)
HYS_BOUNDS_DB = (0.0, 10.0)


@dataclass
class CellKnobs:
    """Operator settings per cell [num_cells]: tilt [deg below horizon], power offset [dB], admin state,
    sleep mode (0 awake, 1 micro, 2 deep), CIO [dB], TTT [ms], hysteresis [dB], restart countdown [ROPs]."""

    tilt_deg: np.ndarray
    power_offset_db: np.ndarray
    admin_on: np.ndarray
    sleep_mode: np.ndarray
    cio_db: np.ndarray
    ttt_ms: np.ndarray
    hysteresis_db: np.ndarray
    restart_rops: np.ndarray

    def copy(self) -> CellKnobs:
        return CellKnobs(**{k: v.copy() for k, v in self.__dict__.items()})


@dataclass(frozen=True)
class Action:
    """One action on one cell. ``value``: tilt/power -> delta [deg]/[dB]; cio/hysteresis [dB], ttt [ms] -> new
    value; sleep -> ``mode`` in awake/micro/deep."""

    kind: str
    cell: int
    value: float = 0.0
    mode: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ACTION_KINDS:
            raise ActionError(f"unknown action kind {self.kind!r}; choose one of {ACTION_KINDS}")
        if self.kind == "sleep" and self.mode not in SLEEP_MODES:
            raise ActionError(f"sleep mode must be one of {sorted(SLEEP_MODES)}, got {self.mode!r}")
        if self.kind == "ttt" and int(self.value) not in TTT_VALUES_MS:
            raise ActionError(f"ttt must be one of {TTT_VALUES_MS} ms, got {self.value!r}")
        if not np.isfinite(self.value):
            raise ActionError(f"action value must be finite, got {self.value!r}")


@dataclass(frozen=True)
class ActionRecord:
    """What an applied action changed: the knob name, the cell, its value before and after."""

    action: Action
    knob: str
    pre: float
    post: float
    detail: dict[str, Any] = field(default_factory=dict)


_KNOB = {"tilt": "tilt_deg", "power": "power_offset_db", "cell_on": "admin_on", "cell_off": "admin_on",
         "restart": "restart_rops", "sleep": "sleep_mode", "cio": "cio_db", "ttt": "ttt_ms",
         "hysteresis": "hysteresis_db"}


def apply_action(knobs: CellKnobs, action: Action, tilt_bounds_deg: tuple[float, float]) -> ActionRecord:
    """Apply ``action`` in place; raise ``ActionError`` (naming the value) if it leaves the knob's bounds."""
    n = knobs.tilt_deg.shape[0]
    if not 0 <= action.cell < n:
        raise ActionError(f"action {action.kind!r}: cell {action.cell!r} out of range [0, {n - 1}]")
    name = _KNOB[action.kind]
    arr = getattr(knobs, name)
    pre = float(arr[action.cell])
    k = action.kind
    if k == "tilt":
        post = pre + action.value
        lo, hi = tilt_bounds_deg
        if not lo <= post <= hi:
            raise ActionError(f"tilt {pre:+.1f}{action.value:+.1f} = {post:.1f} deg outside [{lo}, {hi}] deg")
    elif k == "power":
        post = pre + action.value
        lo, hi = POWER_OFFSET_BOUNDS_DB
        if not lo <= post <= hi:
            raise ActionError(f"power offset {post:+.1f} dB (delta {action.value:+.1f}) outside [{lo}, {hi}] dB")
    elif k in ("cell_on", "cell_off"):
        post = 1.0 if k == "cell_on" else 0.0
    elif k == "restart":
        post = 1.0
    elif k == "sleep":
        post = float(SLEEP_MODES[action.mode])
    elif k == "cio":
        post = action.value
        if not CIO_BOUNDS_DB[0] <= post <= CIO_BOUNDS_DB[1]:
            raise ActionError(f"cio {post!r} dB outside {CIO_BOUNDS_DB} dB")
    elif k == "hysteresis":
        post = action.value
        if not HYS_BOUNDS_DB[0] <= post <= HYS_BOUNDS_DB[1]:
            raise ActionError(f"hysteresis {post!r} dB outside {HYS_BOUNDS_DB} dB")
    else:  # ttt
        post = float(int(action.value))
    arr[action.cell] = post
    return ActionRecord(action=action, knob=name, pre=pre, post=post)


def rollback(knobs: CellKnobs, record: ActionRecord) -> None:
    """Restore the knob ``record`` changed to its pre-state."""
    getattr(knobs, record.knob)[record.action.cell] = record.pre
