"""The ``none`` policy: no healing. It never detects, diagnoses or acts, so its episodes measure what the
faults cost when nobody intervenes (the floor every other policy is compared with)."""

from __future__ import annotations

from airan.agents.base import Decision, EpisodeContext, Observation, Policy


class NonePolicy(Policy):
    """Does nothing, every ROP."""

    name = "none"

    def reset(self, ctx: EpisodeContext) -> None:
        self.episode_id = ctx.episode_id
        self.rops_seen = 0

    def decide(self, obs: Observation) -> Decision:
        self.rops_seen += 1
        return Decision()

    def report(self) -> str:
        return f"Episode {self.episode_id}: no healing policy ran ({self.rops_seen} ROPs observed, no action)."
