"""bench/heal_seed_noise.py: its LABEL=LOGS arguments and the spread over draws."""

from pathlib import Path

import pytest

from ._helpers import load_bench


@pytest.fixture(scope="module")
def mod():
    return load_bench("heal_seed_noise")


def test_labelled_runs_keep_their_order_and_a_bad_item_is_named(mod):
    assert mod.labelled(["0,1=a/logs.jsonl", "2,3=b/logs.jsonl"], "--draws") == [
        ("0,1", Path("a/logs.jsonl")), ("2,3", Path("b/logs.jsonl"))]
    for bad in (["logs.jsonl"], ["=logs.jsonl"], ["x="]):
        with pytest.raises(SystemExit, match=repr(bad[0]).replace("[", r"\[")):
            mod.labelled(bad, "--draws")
    with pytest.raises(SystemExit, match="'x' given twice"):
        mod.labelled(["x=a", "x=b"], "--compare")


def test_the_spread_over_draws_skips_unmeasured_values(mod):
    rows = {"a": {"m": {"k": 17}}, "b": {"m": {"k": 8}}, "c": {"m": {"k": None}}, "d": {"m": {"k": 12}}}
    assert mod.spread(rows, "m", "k") == {"min": 8.0, "max": 17.0, "range": 9.0}
    assert mod.spread({"a": {"m": {"k": None}}}, "m", "k") == {}
