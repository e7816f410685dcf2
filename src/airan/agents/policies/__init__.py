"""Healing policies, by name. ``make_policy(name)`` imports the policy's module lazily, so a policy whose
module is missing (or fails to import) only breaks that policy, with a ``ConfigError`` naming it."""

from __future__ import annotations

import dataclasses
import importlib
import typing
from collections.abc import Mapping

from airan.agents.base import Policy
from airan.core.errors import ConfigError
from airan.core.overrides import apply_overrides

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


def policy_config_class(name: str) -> type | None:
    """The config dataclass the policy ``name`` takes as ``cfg`` (None for a policy with no settings)."""
    cls = policy_class(name)
    hint = typing.get_type_hints(cls.__init__).get("cfg")
    for tp in typing.get_args(hint) or (hint,):
        if dataclasses.is_dataclass(tp):
            return tp
    return None


def make_policy(name: str, overrides: Mapping[str, str] | None = None) -> Policy:
    """A fresh instance of the policy registered as ``name``: its default configuration with ``overrides``
    (dotted field -> text, ``airan.core.overrides``) applied. A group of settings the config leaves None is
    filled with what the policy would use (its ``effective_config()``, e.g. the monitor calibrated with the
    model) before one of its fields is set. ``ConfigError`` names a policy with no settings, an unknown field or
    a value the config refuses."""
    cls = policy_class(name)
    if not overrides:
        return cls()
    cfg_cls = policy_config_class(name)
    if cfg_cls is None:
        raise ConfigError(f"policy {name!r} has no settings; cannot apply {dict(overrides)}")

    def in_effect(field: str, cfg: object) -> object:  # a None group's values as the policy would use them
        effective = getattr(cls(cfg=cfg), "effective_config", None)
        return getattr(effective(), field) if effective is not None else None

    return cls(cfg=apply_overrides(cfg_cls(), overrides, fill=in_effect))


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


__all__ = ["POLICIES", "available_policies", "make_policy", "policy_class", "policy_config_class"]
