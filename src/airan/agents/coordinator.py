"""Coordinator: arbitrates proposals so that safety comes first, then granted/intended changes, then
optimisation; one change per cell per window; never re-applies an action that was rolled back (no flapping)."""

from __future__ import annotations

from dataclasses import dataclass

from airan.core.errors import ConfigError
from airan.twin.actions import Action

PRIORITY = {"safety": 0, "intent": 1, "optimization": 2}


@dataclass(frozen=True)
class Proposal:
    """Actions one agent wants applied now, with its priority class (``PRIORITY`` key) and reason."""

    actions: tuple[Action, ...]
    priority: str
    reason: str = ""

    def __post_init__(self) -> None:
        if self.priority not in PRIORITY:
            raise ConfigError(f"priority must be one of {sorted(PRIORITY)}, got {self.priority!r}")


def _key(a: Action) -> tuple:
    return (a.kind, a.cell, round(a.value, 3), a.mode)


class Coordinator:
    """``arbitrate(proposals, rop)`` -> the proposals admitted this ROP (whole proposals, never split)."""

    def __init__(self, window_rops: int = 2) -> None:
        if window_rops < 1:
            raise ConfigError(f"window_rops must be >= 1, got {window_rops!r}")
        self.window_rops = window_rops
        self.last_change: dict[int, int] = {}
        self.banned: set[tuple] = set()

    def is_banned(self, actions: tuple[Action, ...]) -> bool:
        return any(_key(a) in self.banned for a in actions)

    def ban(self, actions: tuple[Action, ...]) -> None:
        """Remember rolled-back actions so they are never proposed again this episode."""
        self.banned.update(_key(a) for a in actions)

    def cells_free(self, actions: tuple[Action, ...], rop: int) -> bool:
        return all(rop - self.last_change.get(a.cell, -10**9) >= self.window_rops for a in actions)

    def arbitrate(self, proposals: list[Proposal], rop: int) -> list[Proposal]:
        admitted: list[Proposal] = []
        touched: set[int] = set()
        for p in sorted(proposals, key=lambda p: PRIORITY[p.priority]):
            cells = {a.cell for a in p.actions}
            if cells & touched:
                continue
            # safety (rollbacks) and intents (sets the operator granted) were vetted when proposed
            if p.priority == "optimization" and (self.is_banned(p.actions) or not self.cells_free(p.actions, rop)):
                continue
            admitted.append(p)
            touched |= cells
        for p in admitted:
            for a in p.actions:
                self.last_change[a.cell] = rop
        return admitted
