"""``KEY=VALUE`` settings on frozen config dataclasses: every field type read from text, nested groups, the
config's own validation, and errors that name the key and the value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from airan.core.errors import ConfigError
from airan.core.overrides import apply_overrides, describe, parse_assignments


@dataclass(frozen=True)
class Inner:
    seeds: tuple[int, ...] = (0, 1)
    gain: float = 0.5

    def __post_init__(self) -> None:
        if self.gain < 0:
            raise ConfigError(f"gain must be >= 0, got {self.gain!r}")


@dataclass(frozen=True)
class Outer:
    rounds: int = 3
    on: bool = False
    mode: str = "a"
    kind: Literal["x", "y"] = "x"
    limit: float | None = None
    kinds: frozenset[str] = frozenset()
    inner: Inner = Inner()
    extra: Inner | None = None


def test_parse_assignments_keeps_equals_in_values_and_names_bad_items():
    assert parse_assignments(["a=1", "b.c= x,y ", "a=2", "d=e=f"]) == {"a": "2", "b.c": "x,y", "d": "e=f"}
    for bad in ("novalue", "=3"):
        with pytest.raises(ConfigError, match="KEY=VALUE"):
            parse_assignments([bad])


def test_every_field_type_reads_from_text():
    cfg = apply_overrides(Outer(), {"rounds": "5", "on": "true", "mode": "b", "kind": "y", "limit": "2.5",
                                    "kinds": "power,tilt", "inner.seeds": "2,3", "inner.gain": "1e-2"})
    assert cfg == Outer(5, True, "b", "y", 2.5, frozenset({"power", "tilt"}), Inner((2, 3), 0.01), None)
    assert apply_overrides(cfg, {"limit": "none", "on": "off", "inner.seeds": ""}) == Outer(
        5, False, "b", "y", None, frozenset({"power", "tilt"}), Inner((), 0.01))
    assert Outer() == Outer() and apply_overrides(Outer(), {}) == Outer()  # nothing set: nothing changes


def test_a_none_group_is_filled_before_its_field_is_set():
    assert apply_overrides(Outer(), {"extra.gain": "2"}).extra == Inner((0, 1), 2.0)  # the class defaults
    seen = {}

    def fill(field, cfg):
        seen[field] = cfg.rounds  # the plain fields of the same call are already applied
        return Inner((7,), 1.0)

    cfg = apply_overrides(Outer(), {"extra.gain": "3", "rounds": "9"}, fill=fill)
    assert cfg.extra == Inner((7,), 3.0) and seen == {"extra": 9}


@pytest.mark.parametrize("key, text, match", [
    ("round", "1", r"round=.*no field 'round'.*rounds"),
    ("inner.seed", "1", r"inner\.seed=.*Inner has no field 'seed'"),
    ("rounds", "three", r"rounds='three' is not an integer"),
    ("inner.gain", "lots", r"inner\.gain='lots' is not a number"),
    ("on", "maybe", r"on='maybe' is not a boolean"),
    ("kind", "z", r"kind='z': choose one of \['x', 'y'\]"),
    ("inner", "1", r"inner is a group of settings.*inner\.seeds"),
    ("rounds.x", "1", r"rounds is a single value"),
    ("inner.gain", "-1", r"gain must be >= 0, got -1.0"),  # the config's own validation
])
def test_errors_name_the_key_and_the_value(key, text, match):
    with pytest.raises(ConfigError, match=match):
        apply_overrides(Outer(), {key: text})


def test_describe_lists_every_settable_key_with_its_value():
    d = describe(Outer(rounds=4))
    assert d["rounds"] == 4 and d["inner.seeds"] == (0, 1) and d["extra.gain"] == 0.5
    assert "inner" not in d and len(d) == 10
    with pytest.raises(ConfigError, match="config dataclass"):
        apply_overrides(Outer, {"rounds": "1"})
