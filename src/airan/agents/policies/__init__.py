"""Healing policies, by name. ``make_policy(name)`` imports the policy's module lazily, so a policy whose
module is missing (or fails to import) only breaks that policy, with a ``ConfigError`` naming it."""

from __future__ import annotations

import importlib

from airan.agents.base import Policy
from airan.core.errors import ConfigError

POLICIES: dict[str, str] = {
    "airan": "airan.agents.policies.airan:AiranPolicy",
    "none": "airan.agents.policies.none:NonePolicy",
    "rules": "airan.agents.policies.rules:RulesPolicy",
    "son": "airan.agents.policies.son:SonPolicy",
    "oracle": "airan.agents.policies.oracle:OraclePolicy",
    "oracle_blind": "airan.agents.policies.oracle:BlindOraclePolicy",
    "airan_true_twin": "airan.agents.policies.airan:AiranTrueTwinPolicy",
}


def policy_class(name: str) -> type[Policy]:
    """The class registered as ``name``; ``ConfigError`` naming the policy when unknown or not importable."""
    if name not in POLICIES:
        raise ConfigError(f"unknown policy {name!r}; choose one of {sorted(POLICIES)}")
    module, _, attr = POLICIES[name].partition(":")
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(f"policy {name!r} is not available: cannot import {module} ({e})") from None
    cls = getattr(mod, attr, None)
    if cls is None:
        raise ConfigError(f"policy {name!r} is not available: {module} defines no {attr}")
    return cls


def make_policy(name: str) -> Policy:
    """A fresh instance of the policy registered as ``name`` with its default configuration."""
    return policy_class(name)()


def available_policies() -> list[str]:
    """Registered policies whose module imports."""
    out = []
    for n in POLICIES:
        try:
            policy_class(n)
            out.append(n)
        except ConfigError:
            pass
    return out


__all__ = ["POLICIES", "available_policies", "make_policy", "policy_class"]
