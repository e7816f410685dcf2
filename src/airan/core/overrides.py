"""Settings changed from the command line: ``KEY=VALUE`` assignments applied to a frozen config dataclass.

``airan heal --policy airan --set verifier.seeds=2,3 --set retry_rops=2`` runs the policy with two fields of its
config changed and nothing else: the same code, so no snapshot of the source with an edited default is needed
to try a variant. A dotted key walks into nested config dataclasses (``verifier.seeds`` is the ``seeds`` field of
``AiranConfig.verifier``). The text is read by the field's annotation:

* ``bool``: ``true``/``false`` (also ``1``/``0``, ``yes``/``no``, ``on``/``off``);
* ``int``, ``float``, ``str``: as Python reads them (``inf`` and ``nan`` are floats; the config's own
  validation decides whether they are allowed);
* ``X | None``: ``none`` (or ``null``) for None, otherwise as X;
* ``tuple[X, ...]``, ``frozenset[X]``: comma-separated items (``2,3``; an empty value is the empty one);
* a nested config (``verifier``, ``monitor`` ...): only through its fields (``verifier.seeds=...``).

The new config is built with ``dataclasses.replace``, so every field goes through the dataclass's own validation
(``__post_init__``) and a value it refuses raises its ``ConfigError``. Keys that name no field, and text that does
not read as the field's type, raise ``ConfigError`` naming the key, the value and the fields there are.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from airan.core.errors import ConfigError

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
_NONE = ("none", "null")


def parse_assignments(items: Sequence[str]) -> dict[str, str]:
    """``["a=1", "b.c=x,y"]`` -> ``{"a": "1", "b.c": "x,y"}`` (the value may hold ``=``); a later assignment
    of the same key wins. ``ConfigError`` names an item without ``=`` or with an empty key."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"setting {item!r} is not KEY=VALUE (e.g. verifier.seeds=2,3)")
        out[key] = value.strip()
    return out


def _read(text: str, tp: Any, key: str) -> Any:
    """``text`` read as a value of annotation ``tp`` (module docstring); ``ConfigError`` naming key and text."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and text.lower() in _NONE:
            return None
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _read(text, rest[0], key)
        raise ConfigError(f"setting {key}={text!r}: the field's type {tp} cannot be set from the command line")
    if origin in (tuple, frozenset) and (origin is frozenset or (len(args) == 2 and args[1] is Ellipsis)):
        items = [t.strip() for t in text.split(",")] if text.strip() else []
        return origin(_read(t, args[0], key) for t in items)
    if origin is typing.Literal:
        for a in args:
            if str(a) == text:
                return a
        raise ConfigError(f"setting {key}={text!r}: choose one of {list(args)}")
    if tp is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"setting {key}={text!r} is not a boolean (true or false)")
    if tp in (int, float):
        try:
            return tp(text)
        except ValueError:
            raise ConfigError(f"setting {key}={text!r} is not {'an integer' if tp is int else 'a number'}") from None
    if tp is str:
        return text
    if dataclasses.is_dataclass(tp):
        names = [f.name for f in dataclasses.fields(tp)]
        raise ConfigError(f"setting {key}={text!r}: {key} is a group of settings; set one of its fields "
                          f"({', '.join(f'{key}.{n}' for n in names)})")
    raise ConfigError(f"setting {key}={text!r}: the field's type {tp} cannot be set from the command line")


def apply_overrides(cfg: Any, assignments: Mapping[str, str],
                    fill: Callable[[str, Any], Any] | None = None, _prefix: str = "") -> Any:
    """A copy of the frozen config dataclass ``cfg`` with ``assignments`` (dotted key -> text) applied.

    A nested config that is None (e.g. ``AiranConfig.monitor``: "take the model's calibration") must be made
    concrete before one of its fields is set: ``fill(field, cfg)`` returns the value in effect for ``field`` of
    ``cfg`` (``cfg`` with this call's plain fields already applied), and without ``fill`` (or when it returns
    None) the nested class's defaults are taken. Raises ``ConfigError`` (module docstring)."""
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise ConfigError(f"settings can only be applied to a config dataclass, got {type(cfg).__name__}")
    grouped: dict[str, dict[str, str]] = {}
    direct: dict[str, Any] = {}
    hints = typing.get_type_hints(type(cfg))
    names = [f.name for f in dataclasses.fields(cfg)]
    for key, text in assignments.items():
        head, _, rest = key.partition(".")
        if head not in names:
            raise ConfigError(f"setting {_prefix}{key}={text!r}: {type(cfg).__name__} has no field {head!r}; "
                              f"its fields: {', '.join(names)}")
        if rest:
            grouped.setdefault(head, {})[rest] = text
        else:
            direct[head] = _read(text, hints[head], _prefix + key)
    for head, sub in grouped.items():
        if head in direct:
            raise ConfigError(f"setting {_prefix}{head} is given both whole and by field ({', '.join(sub)})")
        inner = getattr(cfg, head)
        if inner is None and fill is not None:
            inner = fill(head, dataclasses.replace(cfg, **direct))
        if inner is None:
            inner = _nested_class(hints[head], _prefix + head)()
        if not dataclasses.is_dataclass(inner):
            raise ConfigError(f"setting {_prefix}{head}.{next(iter(sub))}: {_prefix}{head} is a single value, "
                              "not a group of settings")
        direct[head] = apply_overrides(inner, sub, _prefix=f"{_prefix}{head}.")
    return dataclasses.replace(cfg, **direct)


def _nested_class(tp: Any, head: str) -> type:
    """The config dataclass of an optional nested field ``X | None``."""
    for a in typing.get_args(tp) or (tp,):
        if dataclasses.is_dataclass(a):
            return a
    raise ConfigError(f"setting {head}.*: {head} is not a group of settings")


def describe(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """Every settable field of ``cfg`` as ``{dotted key: current value}`` (nested configs flattened; a nested
    config that is None lists its class's defaults): what ``--set`` accepts."""
    out: dict[str, Any] = {}
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if v is None:
            try:
                v = _nested_class(hints[f.name], f.name)()
            except ConfigError:
                v = None
        if dataclasses.is_dataclass(v):
            out.update(describe(v, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = v
    return out


__all__ = ["apply_overrides", "describe", "parse_assignments"]
