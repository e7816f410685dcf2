"""Events of a twin run: faults, actions, rollbacks and alarms, each tied to a ROP and (maybe) a cell."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EVENT_KINDS = ("fault", "action", "rollback", "alarm")


@dataclass(frozen=True)
class Event:
    """One event. ``detail`` is JSON-serialisable (numbers, strings, lists, dicts)."""

    rop: int
    kind: str
    name: str
    cell: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"event kind must be one of {EVENT_KINDS}, got {self.kind!r}")
